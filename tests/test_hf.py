"""`from_hf`: Hugging Face token-classification checkpoints as spaCy pipelines,
checked against the checkpoint's own logits and `transformers.pipeline`.

Offline: the checkpoints are tiny random XLM-R encoders whose classifier is
fitted (on frozen features, in the fixture) to tag words by their first piece,
so that predictions look like NER output: entities of one to three words, and
some stray "I-X" tags on shuffled text.
"""
import importlib.util
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Sequence, Tuple

import numpy
import pytest
import spacy
import torch
from spacy.training.iob_utils import biluo_tags_to_spans, iob_to_biluo
from typer.testing import CliRunner
from transformers import AutoConfig, AutoTokenizer, XLMRobertaForTokenClassification, pipeline

from spacy_xlmr_ner.hf import IO_TIE_BREAK, from_hf, map_labels
from helpers.tiny_models import TRAINING_TEXT
from helpers import REPO

# The checkpoint's label order differs from ours (labels sorted: LOC, ORG, PER).
IOB2_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
IO_LABELS = ["O", "PER", "ORG", "LOC"]
ROLE_PLAN = ["B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"] * 2
SCRIPTS = REPO / "scripts"


def load_script_app(name: str):
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def clean_words(tokenizer) -> Dict[str, str]:
    """Words of the tokenizer's training text with their first piece, keeping
    those whose first piece is "▁" plus characters. For them, HF's first
    sub-token (`word_ids`), the pipeline's word split and spaCy's tokens agree
    (a bare "▁" first piece does not: see test_bare_metaspace_piece)."""
    words = {w for text in TRAINING_TEXT for w in text.split() if w.isalpha()}
    pieces = {w: tokenizer.tokenize(w) for w in words}
    unk = tokenizer.unk_token
    return {w: p[0] for w, p in sorted(pieces.items()) if len(p[0]) > 1 and unk not in p}


def words_by_tag(tokenizer, seed: int) -> Dict[str, List[str]]:
    """Give each first piece an IOB2 tag at random: words sharing a first
    piece get the same features from the tiny encoder, so the same tag."""
    first = clean_words(tokenizer)
    pieces = sorted(set(first.values()))
    plan = ROLE_PLAN + ["O"] * (len(pieces) - len(ROLE_PLAN))
    role = dict(zip(numpy.random.default_rng(seed).permutation(pieces), plan))
    out: Dict[str, List[str]] = {}
    for word, piece in first.items():
        out.setdefault(role[piece], []).append(word)
    return out


def make_sentence(rng, by_tag: Dict[str, List[str]]) -> Tuple[List[str], List[str]]:
    """Words and gold IOB2 tags: a few entities (1-3 words) between other words."""
    words, tags = [], []
    for _ in range(rng.integers(2, 6)):
        if rng.random() < 0.5:
            label, n = rng.choice(["PER", "ORG", "LOC"]), int(rng.integers(0, 3))
            words += [rng.choice(by_tag[f"B-{label}"]), *rng.choice(by_tag[f"I-{label}"], n)]
            tags += [f"B-{label}"] + [f"I-{label}"] * n
        else:
            n = int(rng.integers(1, 3))
            words += list(rng.choice(by_tag["O"], n))
            tags += ["O"] * n
    return words, tags


def first_pieces(encoding, n_words: int) -> List[int]:
    """Index of each word's first sub-token, as HF's NER recipes label it."""
    word_ids = encoding.word_ids()
    return [word_ids.index(i) for i in range(n_words)]


def save_checkpoint(
    encoder: Path, out_dir: Path, labels: Sequence[str], *, seed: int = 0, noise: float = 0.3
) -> Path:
    """Save a tiny `XLMRobertaForTokenClassification` with `labels`, its
    classifier fitted to `words_by_tag(seed)` plus N(0, noise) weight noise."""
    tokenizer = AutoTokenizer.from_pretrained(str(encoder))
    label2id = {label: i for i, label in enumerate(labels)}
    config = AutoConfig.from_pretrained(
        str(encoder), id2label=dict(enumerate(labels)), label2id=label2id
    )
    torch.manual_seed(seed)
    model = XLMRobertaForTokenClassification(config).eval()
    if "O" in labels:
        rng, by_tag = numpy.random.default_rng(seed), words_by_tag(tokenizer, seed)
        features, gold = [], []
        with torch.no_grad():
            for words, tags in (make_sentence(rng, by_tag) for _ in range(80)):
                enc = tokenizer(" ".join(words), return_tensors="pt")
                hidden = model.roberta(**enc).last_hidden_state[0]
                features.append(hidden[first_pieces(enc, len(words))])
                gold += [label2id[t] if t in label2id else label2id[t[2:]] for t in tags]  # IO
        X, y = torch.cat(features), torch.tensor(gold)
        head = torch.nn.Linear(X.shape[1], len(labels))
        optimizer = torch.optim.Adam(head.parameters(), lr=0.1)
        for _ in range(200):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(head(X), y).backward()
            optimizer.step()
        with torch.no_grad():
            model.classifier.weight.copy_(head.weight + noise * torch.randn(head.weight.shape))
            model.classifier.bias.copy_(head.bias)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return out_dir


CASES = [("iob2", 0), ("iob2", 1), ("io", 2)]  # (label scheme, seed)


@pytest.fixture(scope="module", params=CASES, ids=[f"{scheme}-{seed}" for scheme, seed in CASES])
def case(request, tiny_encoder, tmp_path_factory):
    scheme, seed = request.param
    labels = IOB2_LABELS if scheme == "iob2" else IO_LABELS
    path = save_checkpoint(tiny_encoder, tmp_path_factory.mktemp(f"hf_{scheme}"), labels, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = XLMRobertaForTokenClassification.from_pretrained(str(path)).eval()
    rng, by_tag = numpy.random.default_rng(seed + 100), words_by_tag(tokenizer, seed)
    # Fresh sentences (mostly valid predictions), then shuffled ones (stray I-X).
    texts = [" ".join(make_sentence(rng, by_tag)[0]) for _ in range(30)]
    texts += [" ".join(rng.permutation(make_sentence(rng, by_tag)[0])) for _ in range(20)]
    case = SimpleNamespace(scheme=scheme, model=model, tokenizer=tokenizer, texts=texts)
    case.nlp = from_hf(str(path))
    case.pipe = pipeline(
        "token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="first"
    )
    case.docs = list(case.nlp.pipe(texts))
    case.logits = [word_logits(case, text) for text in texts]
    return case


def word_logits(case, text: str) -> numpy.ndarray:
    """The checkpoint's logits at each word's first sub-token."""
    enc = case.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = case.model(**enc).logits[0].numpy()
    return logits[first_pieces(enc, len(text.split()))]


def softmax(x: numpy.ndarray) -> numpy.ndarray:
    e = numpy.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def tag_columns(case) -> Tuple[List[int], numpy.ndarray]:
    """For each of our tags, the checkpoint's label whose logit it takes (the
    same name in IOB2, the entity's label in IO) and what is added to it (the
    tie break of I-X in IO)."""
    label2id = case.model.config.label2id
    tags = case.nlp.get_pipe("xlmr_ner").tags
    cols = [label2id[tag] if tag in label2id else label2id[tag[2:]] for tag in tags]
    shift = [IO_TIE_BREAK * (tag not in label2id and tag[0] == "I") for tag in tags]
    return cols, numpy.asarray(shift)


def stray_inside(tags: List[str]) -> List[int]:
    """Positions of "I-X" tags that do not continue an X entity (invalid IOB2)."""
    return [
        k for k, tag in enumerate(tags)
        if tag.startswith("I-") and (k == 0 or tags[k - 1][2:] != tag[2:])
    ]


def pipeline_entities(case, text: str) -> List[Tuple[int, int, str, float]]:
    with warnings.catch_warnings():  # XLM-R has no subword prefix: HF splits words at spaces
        warnings.filterwarnings("ignore", message="Tokenizer does not support real words")
        groups = case.pipe(text)
    out = []
    for group in groups:
        # An XLMRobertaTokenizerFast converted from a sentencepiece model puts
        # the space that a word-initial "▁" stands for into the piece's
        # offsets, so every entity not at the start of the text starts at the
        # space before it; spaCy's entities start at the word.
        start = group["start"]
        assert start == 0 or text[start] == " "
        label, score = group["entity_group"], float(group["score"])
        out.append((start + (start > 0), group["end"], label, score))
    return out


def ents_of(doc) -> List[Tuple[int, int, str]]:
    return [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]


def test_token_probabilities_match_checkpoint(case):
    ner = case.nlp.get_pipe("xlmr_ner")
    assert ner.labels == ("LOC", "ORG", "PER")
    cols, shift = tag_columns(case)
    if case.scheme == "iob2":  # a pure permutation
        assert sorted(cols) == list(range(len(IOB2_LABELS))) and not shift.any()
    for text, doc, logits in zip(case.texts, case.docs, case.logits):
        assert [t.text for t in doc] == text.split()
        expected = softmax(logits[:, cols] + shift)
        numpy.testing.assert_allclose(ner.predict([doc])[0], expected, atol=1e-5, rtol=0)


def test_entities_match_transformers_pipeline(case):
    """Where the argmax over words is valid IOB2 (always, for IO labels), the
    constrained Viterbi returns it, so the entities are the pipeline's."""
    id2label = case.model.config.id2label
    n_texts = n_ents = n_multiword = 0
    for text, doc, logits in zip(case.texts, case.docs, case.logits):
        if stray_inside([id2label[i] for i in logits.argmax(-1)]):  # invalid IOB2
            continue
        theirs = pipeline_entities(case, text)
        assert ents_of(doc) == [ent[:3] for ent in theirs], text
        if case.scheme == "iob2":  # same softmax and tags, so the same confidences
            scores = doc.spans["xlmr_ner"].attrs["scores"]
            numpy.testing.assert_allclose(scores, [ent[3] for ent in theirs], atol=1e-5, rtol=0)
        n_texts += 1
        n_ents += len(theirs)
        n_multiword += sum(" " in text[start:end] for start, end, *_ in theirs)
    assert n_texts >= 10 and n_ents >= 15 and n_multiword >= 3, (n_texts, n_ents, n_multiword)


def test_invalid_argmax_differs_only_at_stray_inside_tags(case):
    """The pipeline opens an entity at a stray I-X (it reads it as B-X); ours
    decodes the most probable valid sequence, which differs from the argmax
    only around stray I-X tags and may drop, shorten or merge the entity."""
    id2label, label2id = case.model.config.id2label, case.model.config.label2id
    n_invalid = n_differ = 0
    for text, doc, logits in zip(case.texts, case.docs, case.logits):
        tags = [id2label[i] for i in logits.argmax(-1)]
        stray = stray_inside(tags)
        if not stray:
            continue
        n_invalid += 1
        repaired = [f"B{tag[1:]}" if k in stray else tag for k, tag in enumerate(tags)]
        pipeline_ents = [ent[:3] for ent in pipeline_entities(case, text)]
        assert pipeline_ents == ents_of_tags(doc, repaired), text
        ours = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ != "O" else "O" for t in doc]
        assert not stray_inside(ours)
        # Every run of words where ours left the argmax holds a stray I-X or
        # ends just before one: elsewhere the argmax was already the best.
        changed = [k for k in range(len(tags)) if ours[k] != tags[k]]
        assert changed
        for run in numpy.split(changed, numpy.nonzero(numpy.diff(changed) > 1)[0] + 1):
            assert any(k in stray for k in run) or run[-1] + 1 in stray, (text, tags, ours)
        log_probs = numpy.log(softmax(logits))
        ours_score, repaired_score = (
            sum(log_probs[k, label2id[t]] for k, t in enumerate(seq)) for seq in (ours, repaired)
        )
        assert ours_score >= repaired_score - 1e-4
        if ents_of(doc) != pipeline_ents:
            n_differ += 1
            assert ours_score > repaired_score
    if case.scheme == "io":  # plain labels cannot form an invalid sequence
        assert n_invalid == 0
    else:
        assert n_invalid >= 5 and n_differ >= 1, (n_invalid, n_differ)


def ents_of_tags(doc, tags: List[str]) -> List[Tuple[int, int, str]]:
    spans = biluo_tags_to_spans(doc, iob_to_biluo(tags))
    return [(span.start_char, span.end_char, span.label_) for span in spans]


def test_bare_metaspace_piece(case):
    """A word whose first piece is a bare "▁": HF's word_ids() (and so its
    fine-tuning recipes) make that "▁" the word's first sub-token, but its
    offsets cover the space before the word, so spacy-transformers aligns the
    word to the piece after it, and that is the one the component reads."""
    text = "Angela besuchte gestern Berlin"
    offsets = case.tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    enc = case.tokenizer(text, return_tensors="pt")
    first = first_pieces(enc, 4)[2]
    assert enc.tokens()[first] == "▁" and text[slice(*offsets[first])] == " "
    with torch.no_grad():
        logits = case.model(**enc).logits[0].numpy()
    cols, shift = tag_columns(case)
    probs = case.nlp.get_pipe("xlmr_ner").predict([case.nlp(text)])[0][2]
    expected = softmax(logits[first + 1, cols] + shift)
    numpy.testing.assert_allclose(probs, expected, atol=1e-5, rtol=0)
    log_probs = numpy.log(softmax(logits[first, cols] + shift))
    assert not numpy.allclose(numpy.log(probs), log_probs, atol=0.1)


def test_serialization_without_checkpoint(tiny_encoder, tmp_path):
    checkpoint = save_checkpoint(tiny_encoder, tmp_path / "checkpoint", IOB2_LABELS, seed=3)
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    rng, by_tag = numpy.random.default_rng(3), words_by_tag(tokenizer, 3)
    texts = [" ".join(make_sentence(rng, by_tag)[0]) for _ in range(10)]
    nlp = from_hf(str(checkpoint))
    docs = list(nlp.pipe(texts))
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(checkpoint)
    docs2 = list(spacy.load(tmp_path / "pipeline").pipe(texts))
    assert sum(len(doc.ents) for doc in docs) >= 5
    assert [ents_of(doc) for doc in docs2] == [ents_of(doc) for doc in docs]
    scores = [[doc.spans["xlmr_ner"].attrs["scores"] for doc in d] for d in (docs, docs2)]
    assert scores[1] == scores[0]


def test_import_cli(tiny_encoder, tmp_path):
    app = load_script_app("import_hf")
    checkpoint = save_checkpoint(tiny_encoder, tmp_path / "checkpoint", IO_LABELS, seed=4)
    result = CliRunner().invoke(app, [str(checkpoint), str(tmp_path / "pipeline")])
    assert result.exit_code == 0, result.output
    assert "LOC, ORG, PER" in result.output
    assert spacy.load(tmp_path / "pipeline").get_pipe("xlmr_ner").labels == ("LOC", "ORG", "PER")
    result = CliRunner().invoke(app, [str(tiny_encoder), str(tmp_path / "other")])
    assert result.exit_code == 1
    assert "no token-classification head" in " ".join(result.output.split())
    assert not (tmp_path / "other").exists()


def test_no_token_classification_head(tiny_encoder):
    # The tiny encoder is a bare XLMRobertaModel: transformers would give it
    # a random head without complaint.
    with pytest.raises(ValueError, match="no token-classification head") as err:
        from_hf(str(tiny_encoder))
    assert str(tiny_encoder) in str(err.value)


def test_generic_labels(tiny_encoder, tmp_path):
    checkpoint = save_checkpoint(tiny_encoder, tmp_path, ["LABEL_0", "LABEL_1", "LABEL_2"])
    with pytest.raises(ValueError, match=r"id2label.*\['LABEL_0', 'LABEL_1', 'LABEL_2'\]"):
        from_hf(str(checkpoint))


def test_map_labels():
    # BIOES: S-X reads as B-X, E-X as I-X; ids merge into one tag
    bioes = ["S-LOC", "B-PER", "O", "I-PER", "E-PER", "S-PER", "B-LOC", "E-LOC"]
    labels, rows = map_labels(dict(enumerate(bioes)))
    assert labels == ["LOC", "PER"]
    assert rows == [[2], [0, 6], [7], [1, 5], [3, 4]]
    labels, rows = map_labels({0: "outside", 1: "PER", 2: "LOC"})
    assert (labels, rows) == (["LOC", "PER"], [[0], [2], [2], [1], [1]])
    for bad in [{0: "O", 1: "B-PER", 2: "LOC"}, {0: "PER", 1: "LOC"}, {0: "O", 1: "0", 2: "PER"}]:
        with pytest.raises(ValueError, match="Cannot read the labels"):
            map_labels(bad)
