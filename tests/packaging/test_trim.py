"""Trimming a trained pipeline's encoder vocabulary: text whose pieces are
all kept gets exactly the same entities and scores, other text still works,
and the trimmed pipeline saves, loads, packages and reports what it kept."""
import json
import shutil
import subprocess
import sys

import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin
from spacy.training.initialize import init_nlp
from spacy.util import load_config

from helpers import REPO, make_nlp, write_spacy_corpus
from helpers.serve import TRAIN_DATA, served_pipeline  # noqa: F401 (a fixture)
from spacy_xlmr_ner._compat import hf_objects
from spacy_xlmr_ner.packaging.trim import trim_pipeline

KEPT = [text for text, _ in TRAIN_DATA[:4]]
HELD_OUT = [text for text, _ in TRAIN_DATA[4:]] + ["Lech Wałęsa odwiedził Gdańsk z przedstawicielami Orlenu."]
ROWS = {
    "de": [("Angela Merkel besuchte Berlin".split(), ["B-PER", "I-PER", "O", "B-LOC"])],
    "ru": [("Путин был в Москве".split(), ["B-PER", "O", "O", "B-LOC"])],
}


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def predictions(nlp, texts):
    docs = list(nlp.pipe(texts))
    return [
        ([(e.start_char, e.end_char, e.label_) for e in doc.ents], list(doc.spans["xlmr_ner"].attrs["scores"]))
        for doc in docs
    ]


def encoder_of(nlp):
    return hf_objects(nlp.get_pipe("transformer").model)


def safetensors_dtypes(path):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return {f.get_slice(key).get_dtype() for key in f.keys()}


@pytest.fixture(scope="module")
def trained(served_pipeline, tmp_path_factory):  # noqa: F811
    """The tiny trained pipeline, trimmed to the pieces of the first four
    training texts only."""
    root = tmp_path_factory.mktemp("trim")
    corpus = write_lines(root / "kept.txt", KEPT)
    held = write_lines(root / "held.txt", HELD_OUT)
    report = trim_pipeline(served_pipeline, root / "trimmed", [corpus], check=[held], frequent=0)
    return served_pipeline, root / "trimmed", report


@pytest.fixture(scope="module")
def corpus_pipeline(tiny_encoder, tmp_path_factory):
    """An initialized pipeline whose config names its training corpus."""
    root = tmp_path_factory.mktemp("trim_corpus")
    write_spacy_corpus(root / "corpus", ROWS, splits=("train", "dev"))
    overrides = {
        "paths.train": str(root / "corpus"), "paths.dev": str(root / "corpus"), "paths.encoder": str(tiny_encoder),
        "corpora.train.langs": "de,ru",
    }
    nlp = init_nlp(load_config(REPO / "configs" / "cpu.cfg", overrides=overrides, interpolate=False))
    nlp.to_disk(root / "model")
    return root


def test_kept_text_gets_exactly_the_same_entities_and_scores(trained):
    original, trimmed, _ = trained
    before, after = spacy.load(original), spacy.load(trimmed)
    expected = predictions(before, KEPT)
    assert [ents for ents, _ in expected] == [ents for _, ents in TRAIN_DATA[:4]]  # the pipeline did learn them
    assert predictions(after, KEPT) == expected  # bit for bit, scores included


def test_held_out_text_still_works(trained):
    original, trimmed, report = trained
    before, after = spacy.load(original), spacy.load(trimmed)
    tokenizer_before, tokenizer_after = encoder_of(before).tokenizer, encoder_of(after).tokenizer
    for text in HELD_OUT + ["", "   ", "\u200b\u0301 ✨"]:
        doc = after(text)
        assert all(0 <= e.start_char < e.end_char <= len(text) for e in doc.ents)
        pieces = tokenizer_after.tokenize(text)
        assert "".join(pieces) == "".join(tokenizer_before.tokenize(text))  # smaller pieces, same text
        assert pieces.count("<unk>") == tokenizer_before.tokenize(text).count("<unk>")
    assert report.check[str(trimmed.parent / "held.txt")]["changed"] > 0


def test_report_embedding_table_and_meta_agree(trained):
    original, trimmed, report = trained
    assert report.changed == 0 and report.docs == len(KEPT) and report.text_pieces > 0
    assert report.pieces_used < report.pieces_after < report.pieces_before
    assert report.rows_after == report.pieces_after + 2  # <pad> and <mask> are not sentencepiece pieces
    assert report.params_before - report.params_after == (report.rows_before - report.rows_after) * 32
    assert 0 < report.bytes_after < report.bytes_before
    nlp = spacy.load(trimmed)
    hf = encoder_of(nlp)
    assert hf.transformer.get_input_embeddings().weight.shape[0] == len(hf.tokenizer) == report.rows_after
    assert hf.transformer.config.vocab_size == report.rows_after
    assert hf.tokenizer.convert_tokens_to_ids("<mask>") == report.rows_after - 1
    meta = srsly.read_json(trimmed / "meta.json")
    assert meta["vocab_trim"]["pieces_after"] == report.pieces_after and meta["name"] == "serve_test"
    # The other components' files are copied as they are.
    assert (trimmed / "xlmr_ner" / "model").read_bytes() == (original / "xlmr_ner" / "model").read_bytes()
    # spaCy's string store keeps the labels, not the words of the training texts.
    labels = sorted(nlp.get_pipe("xlmr_ner").labels)
    assert srsly.read_json(trimmed / "vocab" / "strings.json") == labels
    assert report.strings_after == len(labels) < report.strings_before == len(srsly.read_json(original / "vocab" / "strings.json"))


def test_frequent_pieces_keep_kept_text_exact_and_cut_held_out_text_less(trained, tmp_path):
    original, trimmed, report = trained
    corpus = trimmed.parent / "kept.txt"
    held = trimmed.parent / "held.txt"
    more = trim_pipeline(original, tmp_path / "more", [corpus], check=[held], frequent=10)
    by_default = trim_pipeline(original, tmp_path / "default", [corpus], check=[held])
    assert report.pieces_frequent == 0 and more.pieces_frequent == 10
    # The tiny encoder has fewer such pieces than the default (100,000) keeps: all of them.
    assert by_default.pieces_frequent > 10
    assert by_default.pieces_after == report.pieces_after + by_default.pieces_frequent
    assert by_default.check[str(held)]["changed"] <= more.check[str(held)]["changed"]
    assert more.pieces_after == report.pieces_after + more.pieces_frequent
    assert more.pieces_used == report.pieces_used and more.changed == 0
    assert more.check[str(held)]["changed"] < report.check[str(held)]["changed"]
    assert srsly.read_json(tmp_path / "more" / "meta.json")["vocab_trim"]["pieces_frequent"] == more.pieces_frequent
    before, after = spacy.load(original), spacy.load(tmp_path / "more")
    assert predictions(after, KEPT) == predictions(before, KEPT)
    with pytest.raises(ValueError, match="frequent must be 0 or more"):
        trim_pipeline(original, tmp_path / "bad", [corpus], frequent=-1)
    assert not (tmp_path / "bad").exists()


def test_docs_of_the_trimmed_pipeline_serialize(trained):
    _, trimmed, _ = trained
    nlp = spacy.load(trimmed)
    docs = list(nlp.pipe(KEPT + HELD_OUT))
    restored = list(DocBin(docs=docs, store_user_data=True).get_docs(spacy.blank("xx").vocab))
    assert [[(e.text, e.label_) for e in d.ents] for d in restored] == [[(e.text, e.label_) for e in d.ents] for d in docs]
    assert [Doc(nlp.vocab).from_bytes(d.to_bytes()).text for d in docs] == KEPT + HELD_OUT


def test_trimmed_pipeline_round_trips(trained, tmp_path):
    _, trimmed, _ = trained
    nlp = spacy.load(trimmed)
    nlp.to_disk(tmp_path / "again")
    assert predictions(spacy.load(tmp_path / "again"), KEPT + HELD_OUT) == predictions(nlp, KEPT + HELD_OUT)
    assert predictions(nlp.from_bytes(nlp.to_bytes()), KEPT) == predictions(nlp, KEPT)


def test_half_precision_storage(trained, tmp_path):
    original, trimmed, _ = trained
    corpus = trimmed.parent / "kept.txt"
    report = trim_pipeline(original, tmp_path / "half", [corpus], half=True, prune_strings=False)
    assert report.strings_after == report.strings_before > 10
    assert report.half and safetensors_dtypes(tmp_path / "half" / "transformer" / "model" / "model.safetensors") == {"F16"}
    assert safetensors_dtypes(trimmed / "transformer" / "model" / "model.safetensors") == {"F32"}
    weights = "transformer/model/model.safetensors"
    assert (tmp_path / "half" / weights).stat().st_size < 0.55 * (trimmed / weights).stat().st_size
    nlp = spacy.load(tmp_path / "half")
    assert {p.dtype for p in encoder_of(nlp).transformer.parameters()} == {__import__("torch").float32}
    expected = predictions(spacy.load(trimmed), KEPT)
    got = predictions(nlp, KEPT)
    assert [ents for ents, _ in got] == [ents for ents, _ in expected]
    for (_, a), (_, b) in zip(got, expected):
        assert a == pytest.approx(b, abs=0.02)
    bf16 = spacy.load(tmp_path / "half", config={"components": {"transformer": {"precision": "bf16"}}})
    assert [ents for ents, _ in predictions(bf16, KEPT)] == [ents for ents, _ in expected]


def test_bfloat16_storage_is_used_as_stored_at_bf16(trained, tmp_path):
    original, trimmed, _ = trained
    corpus = trimmed.parent / "kept.txt"
    report = trim_pipeline(original, tmp_path / "bf16", [corpus], half="bfloat16")
    assert report.half and report.stored_dtype == "bfloat16"
    assert safetensors_dtypes(tmp_path / "bf16" / "transformer" / "model" / "model.safetensors") == {"BF16"}
    at_bf16 = {"components": {"transformer": {"precision": "bf16"}}}
    nlp = spacy.load(tmp_path / "bf16", config=at_bf16)
    assert {p.dtype for p in encoder_of(nlp).transformer.parameters()} == {__import__("torch").bfloat16}
    # The same bf16 weights as the float32 pipeline cast at load: the same scores.
    assert predictions(nlp, KEPT) == predictions(spacy.load(trimmed, config=at_bf16), KEPT)
    fp32 = spacy.load(tmp_path / "bf16")
    assert {p.dtype for p in encoder_of(fp32).transformer.parameters()} == {__import__("torch").float32}
    assert [ents for ents, _ in predictions(fp32, KEPT)] == [ents for ents, _ in predictions(spacy.load(trimmed), KEPT)]
    with pytest.raises(ValueError, match="half must be"):
        trim_pipeline(original, tmp_path / "other", [corpus], half="int8")


def test_a_pipeline_stored_in_half_precision_saves_as_float32_and_can_train(trained, tmp_path):
    import torch

    original, trimmed, _ = trained
    trim_pipeline(original, tmp_path / "half", [trimmed.parent / "kept.txt"], half=True)
    nlp = spacy.load(tmp_path / "half")
    table = encoder_of(nlp).transformer.get_input_embeddings().weight
    assert table.dtype == torch.float16 and not table.requires_grad
    want = predictions(nlp, KEPT)
    nlp.to_disk(tmp_path / "saved")
    assert safetensors_dtypes(tmp_path / "saved" / "transformer" / "model" / "model.safetensors") == {"F32"}
    assert predictions(spacy.load(tmp_path / "saved"), KEPT) == want
    table = encoder_of(nlp).transformer.get_input_embeddings().weight
    assert table.dtype == torch.float32 and table.requires_grad
    assert any(p is table for p in encoder_of(nlp).transformer.parameters())

def test_fast_tokenizer_pipeline(tiny_encoder, tmp_path):
    nlp = make_nlp(tiny_encoder, use_fast=True)
    nlp.get_pipe("xlmr_ner").add_label("PER")
    nlp.initialize()
    nlp.to_disk(tmp_path / "fast")
    assert (tmp_path / "fast" / "transformer" / "model" / "tokenizer.json").is_file()
    trim_pipeline(tmp_path / "fast", tmp_path / "trimmed", [write_lines(tmp_path / "kept.txt", KEPT)])
    assert (tmp_path / "trimmed" / "transformer" / "model" / "tokenizer.json").is_file()
    trimmed = spacy.load(tmp_path / "trimmed")
    assert encoder_of(trimmed).tokenizer.is_fast
    assert predictions(trimmed, KEPT) == predictions(spacy.load(tmp_path / "fast"), KEPT)


def test_default_corpus_is_the_training_corpus(corpus_pipeline, tmp_path):
    report = trim_pipeline(corpus_pipeline / "model", tmp_path / "trimmed")
    texts = write_lines(tmp_path / "train.txt", [" ".join(words) for rows in ROWS.values() for words, _ in rows])
    same = trim_pipeline(corpus_pipeline / "model", tmp_path / "from-text", [texts])
    assert report.docs == 2 and report.pieces_used == same.pieces_used and report.pieces_after == same.pieces_after
    more = trim_pipeline(
        corpus_pipeline / "model", tmp_path / "more", extra_texts=[write_lines(tmp_path / "x.txt", HELD_OUT)]
    )
    assert more.docs == 2 + len(HELD_OUT) and more.pieces_used > report.pieces_used
    spacy_file = trim_pipeline(corpus_pipeline / "model", tmp_path / "spacy", [corpus_pipeline / "corpus" / "de" / "train.spacy"])
    assert spacy_file.docs == 1


def test_missing_training_corpus_and_bad_input_are_named(corpus_pipeline, tmp_path):
    moved = tmp_path / "model"
    shutil.copytree(corpus_pipeline / "model", moved)
    config = (moved / "config.cfg").read_text(encoding="utf-8")
    (moved / "config.cfg").write_text(config.replace(str(corpus_pipeline / "corpus"), str(tmp_path / "gone")), encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"training corpus .*gone \(paths.train in its config\) is not here"):
        trim_pipeline(moved, tmp_path / "out")
    bad = tmp_path / "bad.txt"
    bad.write_bytes("Berlin\nM\u00fcnchen\n".encode("utf-8") + b"K\xf6ln\n")
    with pytest.raises(ValueError, match=rf"{bad}:3: not UTF-8 text"):
        trim_pipeline(moved, tmp_path / "out", [bad])
    with pytest.raises(FileNotFoundError, match="nowhere.txt: no such file"):
        trim_pipeline(moved, tmp_path / "out", [tmp_path / "nowhere.txt"])
    with pytest.raises(ValueError, match="gave no documents"):
        trim_pipeline(moved, tmp_path / "out", [write_lines(tmp_path / "empty.txt", ["", "  "])])
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="exists"):
        trim_pipeline(moved, tmp_path / "out", [bad])
    with pytest.raises(ValueError, match="is the pipeline itself"):
        trim_pipeline(moved, moved, overwrite=True)
    blank = tmp_path / "blank"
    spacy.blank("xx").to_disk(blank)
    with pytest.raises(ValueError, match="exactly one transformer component; the pipeline has 0"):
        trim_pipeline(blank, tmp_path / "out2", [bad])


def test_script(corpus_pipeline, tmp_path):
    run = subprocess.run(
        [sys.executable, "scripts/trim.py", str(corpus_pipeline / "model"), str(tmp_path / "trimmed"),
         "--extra-text", str(write_lines(tmp_path / "x.txt", HELD_OUT)), "--report", str(tmp_path / "report.json"),
         "--bf16", "--frequent", "20"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = srsly.read_json(tmp_path / "report.json")
    assert 0 < report["pieces_frequent"] <= 20
    assert f"{report['pieces_after']:,} of {report['pieces_before']:,}" in run.stdout
    assert report["stored_dtype"] == "bfloat16" and "bfloat16" in run.stdout
    assert spacy.load(tmp_path / "trimmed").pipe_names == ["transformer", "xlmr_ner"]
    again = subprocess.run(
        [sys.executable, "scripts/trim.py", str(corpus_pipeline / "model"), str(tmp_path / "trimmed")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert again.returncode == 1 and "exists" in again.stdout + again.stderr
    both = subprocess.run(
        [sys.executable, "scripts/trim.py", str(corpus_pipeline / "model"), str(tmp_path / "other"), "--half", "--bf16"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert both.returncode == 1 and "Choose one of --half and --bf16" in both.stdout + both.stderr
    assert not (tmp_path / "other").exists()


@pytest.mark.slow
def test_package_a_trimmed_wheel(corpus_pipeline, tmp_path):
    import zipfile

    run = subprocess.run(
        [sys.executable, "scripts/package.py", str(corpus_pipeline / "model"), str(tmp_path / "packages"),
         "--name", "tiny_trimmed", "--version", "1.0.0", "--trim", "bf16", "--trim-output", str(tmp_path / "trimmed"),
         "--trim-text", str(write_lines(tmp_path / "x.txt", KEPT)), "--trim-frequent", "10"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Trimmed to" in run.stdout
    wheel = tmp_path / "packages" / "xx_tiny_trimmed-1.0.0" / "dist" / "xx_tiny_trimmed-1.0.0-py3-none-any.whl"
    inside = "xx_tiny_trimmed/xx_tiny_trimmed-1.0.0/"
    with zipfile.ZipFile(wheel) as archive:
        meta = json.loads(archive.read(inside + "meta.json"))
        sp_model = archive.read(inside + "transformer/model/sentencepiece.bpe.model")
    assert sp_model == (tmp_path / "trimmed" / "transformer" / "model" / "sentencepiece.bpe.model").read_bytes()
    assert meta["vocab_trim"]["half"] is True and meta["vocab_trim"]["stored_dtype"] == "bfloat16"
    assert meta["vocab_trim"]["docs"] == 2 + len(KEPT)
    assert 0 < meta["vocab_trim"]["pieces_frequent"] <= 10
    assert meta["vocab_trim"]["pieces_after"] < meta["vocab_trim"]["pieces_before"]


@pytest.mark.slow
def test_real_encoder_trimmed_to_its_training_corpus(e5_dir, tmp_path):
    """XLM-R's 250,000-piece sentencepiece model (multilingual-e5-small):
    trimmed to 300 German sentences, those sentences get the same scores bit
    for bit, and Russian text, most of whose pieces were dropped, still runs."""
    from helpers import SHARED
    from spacy_xlmr_ner.io.docbin import convert_iob_file

    wikiann = SHARED / "data" / "wikiann"
    if not (wikiann / "de" / "train.iob").exists():
        pytest.skip(f"needs the shared WikiANN data in {wikiann}")
    corpus = tmp_path / "corpus"
    for split in ("train", "dev"):
        convert_iob_file(wikiann / "de" / f"{split}.iob", corpus / "de" / f"{split}.spacy", limit=300)
    convert_iob_file(wikiann / "ru" / "test.iob", tmp_path / "ru.spacy", limit=100)
    overrides = {"paths.train": str(corpus), "paths.dev": str(corpus), "paths.encoder": str(e5_dir)}
    nlp = init_nlp(load_config(REPO / "configs" / "cpu.cfg", overrides=overrides, interpolate=False))
    nlp.to_disk(tmp_path / "model")
    report = trim_pipeline(tmp_path / "model", tmp_path / "trimmed", check=[tmp_path / "ru.spacy"], frequent=0)
    assert report.docs == 300 and report.changed == 0
    assert report.pieces_before == 250_000 and report.pieces_after < 20_000
    assert report.check[str(tmp_path / "ru.spacy")]["changed"] > 0
    trimmed = spacy.load(tmp_path / "trimmed")
    german = [doc.text for doc in DocBin().from_disk(corpus / "de" / "train.spacy").get_docs(nlp.vocab)]
    assert predictions(trimmed, german) == predictions(nlp, german)
    # The frequent pieces kept besides are written in the German corpus's characters.
    more = trim_pipeline(tmp_path / "model", tmp_path / "more", check=[tmp_path / "ru.spacy"], frequent=20_000)
    assert more.pieces_frequent == 20_000 and more.pieces_after == report.pieces_after + 20_000
    sp_model = encoder_of(spacy.load(tmp_path / "more")).tokenizer.sp_model
    assert not any("\u0400" <= ch <= "\u04ff" for i in range(sp_model.get_piece_size()) if len(p := sp_model.id_to_piece(i)) > 1 for ch in p)
    assert predictions(spacy.load(tmp_path / "more"), german) == predictions(nlp, german)
    russian = [doc.text for doc in DocBin().from_disk(tmp_path / "ru.spacy").get_docs(nlp.vocab)]
    before, after = encoder_of(nlp).tokenizer, encoder_of(trimmed).tokenizer
    for text in russian:
        assert "".join(after.tokenize(text)) == "".join(before.tokenize(text))
    assert len(predictions(trimmed, russian)) == len(russian)


def test_a_pipeline_saved_for_reduced_precision_is_trimmed_in_full(corpus_pipeline, tmp_path):
    int8 = tmp_path / "int8"
    shutil.copytree(corpus_pipeline / "model", int8)
    config = (int8 / "config.cfg").read_text(encoding="utf-8")
    assert 'precision = "fp32"' in config
    (int8 / "config.cfg").write_text(config.replace('precision = "fp32"', 'precision = "int8"'), encoding="utf-8")
    trim_pipeline(int8, tmp_path / "nested" / "out", [write_lines(tmp_path / "k.txt", KEPT)])
    assert safetensors_dtypes(tmp_path / "nested" / "out" / "transformer" / "model" / "model.safetensors") == {"F32"}
    assert spacy.load(tmp_path / "nested" / "out").get_pipe("transformer").precision == "int8"
