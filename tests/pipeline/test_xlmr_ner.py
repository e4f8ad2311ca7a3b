import shutil

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example

from helpers import make_nlp

def _offsets(text_or_words, entities):
    """Entity character offsets from (entity text, label) pairs, in order."""
    text = "".join(text_or_words) if isinstance(text_or_words, list) else text_or_words
    out, pos = [], 0
    for ent_text, label in entities:
        start = text.index(ent_text, pos)
        out.append((start, start + len(ent_text), label))
        pos = start + len(ent_text)
    return text_or_words, out


# (raw text, entities as (start_char, end_char, label)): the pipeline's
# tokenizer splits the scripts written without spaces (zh, ja, th).
TRAIN_DATA = [
    _offsets(t, e)
    for t, e in [
        ("Angela Merkel besuchte gestern Berlin .", [("Angela Merkel", "PER"), ("Berlin", "LOC")]),
        ("Barack Obama visited the United Nations in New York .", [("Barack Obama", "PER"), ("United Nations", "ORG"), ("New York", "LOC")]),
        ("Владимир Путин встретился с представителями Газпрома в Москве .", [("Владимир Путин", "PER"), ("Газпрома", "ORG"), ("Москве", "LOC")]),
        ("زار محمد بن سلمان مدينة الرياض مع وفد من شركة أرامكو .", [("محمد بن سلمان", "PER"), ("الرياض", "LOC"), ("أرامكو", "ORG")]),
        ("नरेंद्र मोदी ने नई दिल्ली में टाटा समूह से मुलाकात की ।", [("नरेंद्र मोदी", "PER"), ("नई दिल्ली", "LOC"), ("टाटा समूह", "ORG")]),
        ("习近平在北京会见了华为公司。", [("习近平", "PER"), ("北京", "LOC"), ("华为公司", "ORG")]),
        ("安倍晋三は東京でトヨタの社長と会談した。", [("安倍晋三", "PER"), ("東京", "LOC"), ("トヨタ", "ORG")]),
        ("ประยุทธ์ จันทร์โอชา เดินทางไปเชียงใหม่กับผู้บริหารของปตท.", [("ประยุทธ์ จันทร์โอชา", "PER"), ("เชียงใหม่", "LOC"), ("ปตท", "ORG")]),
        ("문재인 대통령과 부산 시민들이 삼성전자 공장을 방문했다 .", [("문재인", "PER"), ("부산", "LOC"), ("삼성전자", "ORG")]),
        ("Rais Samia Suluhu Hassan alitembelea Dodoma na maafisa wa Vodacom .", [("Samia Suluhu Hassan", "PER"), ("Dodoma", "LOC"), ("Vodacom", "ORG")]),
        ("Recep Tayyip Erdoğan dün İstanbul ' u ziyaret etti .", [("Recep Tayyip Erdoğan", "PER"), ("İstanbul", "LOC")]),
        ("Hakuna habari mpya leo .", []),
    ]
]


def make_doc(nlp, text_or_words):
    if isinstance(text_or_words, list):
        return Doc(nlp.vocab, words=text_or_words, spaces=[False] * len(text_or_words))
    return nlp.make_doc(text_or_words)


def make_examples(nlp, data=TRAIN_DATA):
    return [
        Example.from_dict(make_doc(nlp, t), {"entities": ents}) for t, ents in data
    ]


def ents_of(doc):
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def predict_all(nlp, data=TRAIN_DATA):
    return [ents_of(nlp(make_doc(nlp, t))) for t, _ in data]


def train(nlp, examples, n_iter=200, learn_rate=1e-3, until_exact=None):
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = learn_rate
    losses = {}
    for i in range(n_iter):
        losses = nlp.update(examples, sgd=optimizer, losses={})
        if until_exact is not None and i % 10 == 9:
            if predict_all(nlp, until_exact) == [e for _, e in until_exact]:
                break
    return losses


@pytest.fixture(scope="module")
def trained(tiny_encoder):
    """A pipeline overfit on TRAIN_DATA (shared by the tests that only read it)."""
    spacy.util.fix_random_seed(0)
    nlp = make_nlp(tiny_encoder)
    train(nlp, make_examples(nlp), until_exact=TRAIN_DATA)
    return nlp


def test_overfitting_several_scripts(trained):
    # en, de, ru, ar, hi, zh, ja, th, ko, tr, sw and a sentence without
    # entities: every entity recovered exactly from raw text.
    assert predict_all(trained) == [ents for _, ents in TRAIN_DATA]
    labels_seen = {label for _, ents in TRAIN_DATA for *_, label in ents}
    assert trained.get_pipe("xlmr_ner").labels == tuple(sorted(labels_seen))


def test_scores_are_stored_with_the_spans(trained):
    doc = trained(TRAIN_DATA[1][0])
    group = doc.spans["xlmr_ner"]
    assert [(s.start_char, s.end_char, s.label_) for s in group] == ents_of(doc)
    scores = group.attrs["scores"]
    assert len(scores) == len(doc.ents) == 3
    # The score of an entity is the mean probability of its decoded tags.
    ner = trained.get_pipe("xlmr_ner")
    (probs,) = ner.predict([trained.get_pipe("transformer")(trained.make_doc(doc.text))])
    for ent, score in zip(doc.ents, scores):
        tags = [f"B-{ent.label_}"] + [f"I-{ent.label_}"] * (len(ent) - 1)
        ids = [ner.tags.index(tag) for tag in tags]
        expected = numpy.mean([probs[i, t] for i, t in zip(range(ent.start, ent.end), ids)])
        assert score == pytest.approx(float(expected), rel=1e-5)
        assert 1 / len(ner.tags) < score <= 1.0


def test_pipe_equals_call_and_empty_docs(trained):
    texts = ["", "   ", "\n", TRAIN_DATA[0][0], "😀‍👩 ‏ \u200b", TRAIN_DATA[2][0], ""]
    piped = list(trained.pipe(texts, batch_size=3))
    assert len(piped) == len(texts)
    for text, doc in zip(texts, piped):
        assert doc.text == text
        assert ents_of(doc) == ents_of(trained(text))
    assert ents_of(piped[0]) == [] and ents_of(piped[1]) == []
    assert ents_of(piped[3]) == TRAIN_DATA[0][1]
    assert list(piped[1].spans["xlmr_ner"].attrs["scores"]) == []


def test_serialization_round_trip_without_the_encoder(trained, tiny_encoder, tmp_path):
    before = [trained(make_doc(trained, t)) for t, _ in TRAIN_DATA]
    trained.to_disk(tmp_path / "pipeline")
    # The encoder directory the config names is gone: loading must not need it
    # (nor the network).
    moved = tmp_path / "elsewhere"
    shutil.copytree(tiny_encoder, moved)
    shutil.rmtree(tiny_encoder)
    try:
        nlp2 = spacy.load(tmp_path / "pipeline")
        after = [nlp2(make_doc(nlp2, t)) for t, _ in TRAIN_DATA]
    finally:
        shutil.copytree(moved, tiny_encoder)
    assert nlp2.get_pipe("xlmr_ner").labels == trained.get_pipe("xlmr_ner").labels
    assert nlp2.get_pipe("xlmr_ner").cfg == trained.get_pipe("xlmr_ner").cfg
    for a, b in zip(before, after):
        assert ents_of(a) == ents_of(b)
        numpy.testing.assert_allclose(
            a.spans["xlmr_ner"].attrs["scores"], b.spans["xlmr_ner"].attrs["scores"], rtol=1e-5
        )
    # to_bytes / from_bytes as well
    ner_bytes = trained.get_pipe("xlmr_ner").to_bytes()
    assert nlp2.get_pipe("xlmr_ner").from_bytes(ner_bytes).labels == ("LOC", "ORG", "PER")


def test_scorer_reports_ner_metrics(trained):
    examples = make_examples(trained)
    scores = trained.evaluate(examples)
    assert scores["ents_f"] == pytest.approx(1.0)
    assert set(scores["ents_per_type"]) == {"LOC", "ORG", "PER"}


def test_labels_given_explicitly(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    examples = make_examples(nlp, TRAIN_DATA[:1])
    # As in a training config: [initialize.components.xlmr_ner] labels = [...]
    nlp.config["initialize"]["components"]["xlmr_ner"] = {"labels": ["PER", "ORG", "LOC", "MISC"]}
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("xlmr_ner")
    assert ner.labels == ("PER", "ORG", "LOC", "MISC")
    assert ner.tags == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    assert ner.model.get_dim("nO") == 9
    with pytest.raises(ValueError, match="already initialized"):
        ner.add_label("DATE")


def test_no_labels_is_an_error(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    examples = make_examples(nlp, [("Nichts hier .", [])])
    with pytest.raises(ValueError, match="No entity labels"):
        nlp.initialize(lambda: examples)


def test_unknown_gold_is_ignored_not_counted_as_outside(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    ner = nlp.get_pipe("xlmr_ner")
    examples = make_examples(nlp, TRAIN_DATA[1:2])  # PER, ORG, LOC
    nlp.initialize(lambda: examples)
    doc = nlp.make_doc("Angela Merkel besuchte gestern Berlin .")
    # Gold only for the first two tokens; the others are missing ("-").
    partial = Example.from_dict(doc, {"entities": ["B-PER", "L-PER", "-", "-", "-", "-"]})
    scores = [ner.model.ops.asarray2f(numpy.full((6, 7), 1 / 7, dtype="f"))]
    loss, (d_scores,) = ner.get_loss([partial], scores)
    assert numpy.abs(d_scores[:2]).sum() > 0
    assert numpy.abs(d_scores[2:]).sum() == 0
    # Mean over the 2 known tokens: -log(1/7).
    assert loss == pytest.approx(numpy.log(7), rel=1e-5)
    # A gold label the component does not predict is missing too.
    other = Example.from_dict(nlp.make_doc("Berlin ist groß ."), {"entities": [(0, 6, "MISC")]})
    scores = [ner.model.ops.asarray2f(numpy.full((4, 7), 1 / 7, dtype="f"))]
    loss, (d_scores,) = ner.get_loss([other], scores)
    assert numpy.abs(d_scores[0]).sum() == 0 and numpy.abs(d_scores[1:]).sum() > 0


def test_update_with_empty_and_whitespace_docs(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    examples = make_examples(nlp, TRAIN_DATA[:2])
    optimizer = nlp.initialize(lambda: examples)
    empty = [Example.from_dict(nlp.make_doc(t), {"entities": []}) for t in ("", "")]
    assert nlp.update(empty, sgd=optimizer)["xlmr_ner"] == 0.0
    # A whitespace-only doc has one whitespace token (gold "O") with no word
    # piece: it trains on a zero vector instead of crashing.
    blank = Example.from_dict(nlp.make_doc("  \n "), {"entities": []})
    assert len(blank.predicted) == 1
    assert nlp.update([blank], sgd=optimizer)["xlmr_ner"] > 0.0
    losses = nlp.update(empty[:1] + examples + [blank] + empty[1:], sgd=optimizer)
    assert losses["xlmr_ner"] > 0.0


def test_head_starts_small_and_random_not_zero(tiny_encoder):
    # A zero-initialised head makes the encoder collapse during fine-tuning
    # (predictions stuck on one or two tags); see models/token_classifier.py.
    nlp = make_nlp(tiny_encoder)
    nlp.initialize(lambda: make_examples(nlp, TRAIN_DATA[:3]))
    W = nlp.get_pipe("xlmr_ner").model.get_ref("output_layer").get_param("W")
    assert W.shape == (7, 32)
    assert numpy.count_nonzero(W) == W.size
    assert 0.01 < float(W.std()) < 0.03
    # The real-encoder collapse check is tests/test_train_wikiann.py (slow).


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_head_lr_scale_scales_the_output_layer_step_only(tiny_encoder, scale):
    # Adam's first step moves every weight by about its learning rate.
    from thinc.api import Adam

    nlp = make_nlp(tiny_encoder)
    nlp.get_pipe("xlmr_ner").cfg["head_lr_scale"] = scale
    examples = make_examples(nlp, TRAIN_DATA[:3])
    nlp.initialize(lambda: examples)
    output = nlp.get_pipe("xlmr_ner").model.get_ref("output_layer")
    W0 = output.get_param("W").copy()
    nlp.update(examples, sgd=Adam(1e-3, grad_clip=0.0, L2=0.0), drop=0.0)
    head_step = numpy.median(numpy.abs(output.get_param("W") - W0))
    assert head_step == pytest.approx(1e-3 * scale, rel=0.2)


def test_head_lr_scale_must_be_positive(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    with pytest.raises(ValueError, match="head_lr_scale"):
        nlp.add_pipe("xlmr_ner", name="other", config={"head_lr_scale": 0.0})


def test_entities_along_a_100k_character_document(tmp_path):
    # A 100,000-character document made of one paragraph repeated: the
    # entities of every repetition, from the first to the last, are found at
    # their exact offsets. What is tested is that the whole length goes
    # through the encoder and back to the right tokens, so the model must not
    # depend on where in an encoder window a token sits: a frozen encoder with
    # no layers and no position embeddings (only its per-token LayerNorm
    # trains), and a head overfit on the paragraph's sentences. Such a model
    # sees nothing but each token's first word piece, so the paragraph keeps
    # the sentences where that piece tells every token's tag apart.
    import torch
    from spacy.training import offsets_to_biluo_tags
    from transformers import AutoModel

    from spacy_xlmr_ner.models.listener import _filter_alignment
    from helpers.tiny_models import build_tiny_xlmr

    encoder = build_tiny_xlmr(tmp_path / "encoder", hidden_size=64, num_layers=0)
    hf_model = AutoModel.from_pretrained(encoder)
    with torch.no_grad():
        hf_model.embeddings.position_embeddings.weight.zero_()
    hf_model.save_pretrained(encoder)
    spacy.util.fix_random_seed(0)
    nlp = make_nlp(encoder)
    nlp.initialize(lambda: make_examples(nlp, TRAIN_DATA))
    first_tags = {}
    for text, ents in TRAIN_DATA:
        doc = nlp(text)
        trf_data = _filter_alignment(doc._.trf_data)
        strings = numpy.asarray(trf_data.wordpieces.strings, dtype=object).ravel()
        starts = numpy.cumsum(trf_data.align.lengths) - trf_data.align.lengths
        pieces = strings[trf_data.align.dataXd[starts]]
        for piece, tag in zip(pieces, offsets_to_biluo_tags(doc, ents)):
            first_tags.setdefault(piece, set()).add((text, tag))
    ambiguous = {text for pairs in first_tags.values() if len({t for _, t in pairs}) > 1 for text, _ in pairs}
    kept = [(t, e) for t, e in TRAIN_DATA if t not in ambiguous]
    assert len(kept) >= 4 and sum(len(e) for _, e in kept) >= 8

    spacy.util.fix_random_seed(0)
    nlp = make_nlp(encoder)
    optimizer = nlp.initialize(lambda: make_examples(nlp, kept))
    hf = nlp.get_pipe("transformer").model.transformer
    hf.requires_grad_(False)
    hf.embeddings.LayerNorm.requires_grad_(True)  # keeps backprop going
    optimizer.learn_rate = 3e-3
    examples = make_examples(nlp, kept)
    for i in range(400):
        nlp.update(examples, sgd=optimizer)
        if i % 20 == 19 and predict_all(nlp, kept) == [e for _, e in kept]:
            break
    paragraph, ents, pos = [], [], 0
    for text, text_ents in kept:
        paragraph.append(text)
        ents += [(pos + s, pos + e, label) for s, e, label in text_ents]
        pos += len(text) + 1
    paragraph = " ".join(paragraph)
    n_copies = 100_000 // (len(paragraph) + 1) + 1
    text = " ".join([paragraph] * n_copies)
    assert len(text) > 100_000
    found = set(ents_of(nlp(text)))
    expected = {
        (copy * (len(paragraph) + 1) + s, copy * (len(paragraph) + 1) + e, label)
        for copy in range(n_copies)
        for s, e, label in ents
    }
    assert len(expected) == n_copies * len(ents) > 2000
    assert expected <= found


MULTINERD_DATA = [
    ("Der Hund Bello frisst Pizza am Montag .", [(9, 14, "ANIM"), (22, 27, "FOOD"), (31, 37, "TIME")]),
    ("Die Titanic sank bei Grippe und Olympia .", [(4, 11, "VEHI"), (21, 27, "DIS"), (32, 39, "EVE")]),
    ("Zeus liebt Rosen und Netflix in Rom .", [(0, 4, "MYTH"), (11, 16, "PLANT"), (21, 28, "MEDIA"),
                                              (32, 35, "LOC")]),
    ("Die Bank UNO zahlt am 3. Mai 2021 .", [(4, 8, "INST"), (9, 12, "ORG"), (22, 33, "DATE")]),
]


def test_any_label_set_without_code_change(tiny_encoder):
    # MultiNERD-style types and DATE: labels come from the data, nothing is hard-coded.
    spacy.util.fix_random_seed(0)
    nlp = make_nlp(tiny_encoder)
    train(nlp, make_examples(nlp, MULTINERD_DATA), n_iter=300, until_exact=MULTINERD_DATA)
    ner = nlp.get_pipe("xlmr_ner")
    labels = sorted({label for _, ents in MULTINERD_DATA for *_, label in ents})
    assert ner.labels == tuple(labels) and len(ner.tags) == 2 * len(labels) + 1
    assert predict_all(nlp, MULTINERD_DATA) == [ents for _, ents in MULTINERD_DATA]


def test_outside_weight_weighs_the_loss_and_is_undone_before_decoding(tiny_encoder):
    from spacy_xlmr_ner.decoding.labels import unweight_outside

    nlp = make_nlp(tiny_encoder)
    examples = make_examples(nlp, TRAIN_DATA[1:2])
    nlp.initialize(lambda: examples)
    doc = nlp.make_doc("Angela Merkel besuchte gestern Berlin .")
    gold = Example.from_dict(doc, {"entities": ["B-PER", "L-PER", "O", "O", "U-LOC", "O"]})
    rng = numpy.random.default_rng(0)
    raw = rng.random((6, 7)).astype("f")
    probs = raw / raw.sum(axis=1, keepdims=True)
    ner = nlp.get_pipe("xlmr_ner")
    plain_loss, (plain_d,) = ner.get_loss([gold], [ner.model.ops.asarray2f(probs)])
    ner.cfg["outside_weight"] = 0.25
    loss, (d,) = ner.get_loss([gold], [ner.model.ops.asarray2f(probs)])
    tags = ner.tags
    truth = [tags.index(t) for t in ("B-PER", "I-PER", "O", "O", "B-LOC", "O")]
    w = numpy.array([1, 1, 0.25, 0.25, 1, 0.25])
    nll = -numpy.log(probs[numpy.arange(6), truth])
    assert loss == pytest.approx((w * nll).sum() / w.sum(), rel=1e-5)
    assert plain_loss == pytest.approx(nll.mean(), rel=1e-5)
    # Outside rows get a quarter of the entity rows' gradient, relative to the plain loss.
    ratio = numpy.abs(d).sum(axis=1) / numpy.abs(plain_d).sum(axis=1)
    assert ratio[2] / ratio[0] == pytest.approx(0.25, rel=1e-4)
    # A model trained with the weight estimates weight x p(O) (renormalized): the correction undoes it.
    weighted = probs.copy()
    weighted[:, 0] *= 0.25
    weighted /= weighted.sum(axis=1, keepdims=True)
    assert numpy.allclose(unweight_outside(weighted, 0.25), probs, atol=1e-6)
    assert unweight_outside(numpy.zeros((0, 7), dtype="f"), 0.25).shape == (0, 7)
    with pytest.raises(ValueError, match="outside_weight"):
        nlp.add_pipe("xlmr_ner", name="other", config={"outside_weight": 0.0})


def test_outside_weight_is_kept_through_serialization(tiny_encoder, tmp_path):
    nlp = make_nlp(tiny_encoder)
    nlp.get_pipe("xlmr_ner").cfg["outside_weight"] = 0.5
    nlp.initialize(lambda: make_examples(nlp, TRAIN_DATA[:2]))
    nlp.to_disk(tmp_path / "p")
    assert spacy.load(tmp_path / "p").get_pipe("xlmr_ner").cfg["outside_weight"] == 0.5
