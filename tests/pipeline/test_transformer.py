"""`xlmr_transformer`: batching by word pieces, safetensors serialization
and the int8 path give the same (or, for int8, close) predictions."""
import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy_transformers.pipeline_component import Transformer

from conftest import make_nlp
from spacy_xlmr_ner.pipeline.transformer import XLMRTransformer, batch_by_padded_size

TEXTS = [
    "Angela Merkel besuchte gestern Berlin .",
    "",
    "Владимир Путин встретился с представителями Газпрома в Москве .",
    "习近平在北京会见了华为公司。",
    "a",
    "Paris " * 150,  # several windows
    "12345678901234567890 ab",  # few tokens, many pieces
    "   ",
]


@pytest.fixture(scope="module")
def nlp(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    ner = nlp.get_pipe("xlmr_ner")
    for label in ("LOC", "ORG", "PER"):
        ner.add_label(label)
    nlp.initialize()
    return nlp


def probs_one_by_one(nlp, texts):
    ner = nlp.get_pipe("xlmr_ner")
    out = []
    for text in texts:
        doc = nlp.get_pipe("transformer")(nlp.make_doc(text))
        out.append(ner.predict([doc])[0])
    return out


def probs_piped(nlp, texts, batch_size=64):
    ner = nlp.get_pipe("xlmr_ner")
    docs = list(nlp.get_pipe("transformer").pipe((nlp.make_doc(t) for t in texts), batch_size=batch_size))
    return [ner.predict([doc])[0] for doc in docs]


@pytest.mark.parametrize(
    "sizes,max_items",
    [
        ([(1, 10), (1, 3), (1, 7), (2, 5), (0, 0), (1, 40)], 20),
        ([(1, 5)] * 9, 10),
        ([], 8),
        ([(3, 100)], 10),
    ],
)
def test_batch_by_padded_size(sizes, max_items):
    batches = batch_by_padded_size(sizes, max_items)
    assert sorted(i for b in batches for i in b) == list(range(len(sizes)))
    previous_longest = -1
    for batch in batches:
        windows = sum(sizes[i][0] for i in batch)
        longest = max(sizes[i][1] for i in batch)
        assert len(batch) == 1 or windows * longest <= max_items
        assert min(sizes[i][1] for i in batch) >= previous_longest  # sorted by length
        previous_longest = longest


def test_window_sizes_count_pieces(nlp):
    trf = nlp.get_pipe("transformer")
    docs = [nlp.make_doc(t) for t in TEXTS]
    sizes = trf.window_sizes(docs)
    tokenizer = trf.model.tokenizer
    assert sizes[0] == (1, len(tokenizer(TEXTS[0])["input_ids"]))
    assert sizes[1] == (0, 0)
    assert sizes[5][0] > 1
    # Few spaCy tokens, many word pieces: what spaCy's transformer sorts by misses.
    assert sizes[6][1] > 2 * len(docs[6])


@pytest.mark.parametrize("max_items", [1, 64, 10_000])
def test_pipe_in_piece_batches_predicts_as_one_by_one(nlp, max_items):
    trf = nlp.get_pipe("transformer")
    assert isinstance(trf, XLMRTransformer)
    saved = trf.cfg["max_batch_items"]
    trf.cfg["max_batch_items"] = max_items
    try:
        piped = probs_piped(nlp, TEXTS * 2)
    finally:
        trf.cfg["max_batch_items"] = saved
    single = probs_one_by_one(nlp, TEXTS * 2)
    for text, a, b in zip(TEXTS * 2, piped, single):
        assert a.shape == b.shape, text
        numpy.testing.assert_allclose(a, b, atol=2e-5, err_msg=text)


def test_pipe_keeps_order_and_empty_docs(nlp):
    docs = list(nlp.pipe(TEXTS, batch_size=3))
    assert [d.text for d in docs] == TEXTS
    assert all(d._.trf_data is not None for d in docs)


def test_to_disk_writes_a_hugging_face_directory_and_round_trips(nlp, tmp_path):
    nlp.to_disk(tmp_path / "p")
    model_dir = tmp_path / "p" / "transformer" / "model"
    assert (model_dir / "model.safetensors").is_file()
    assert (model_dir / "config.json").is_file()
    assert (model_dir / "tokenizer.json").is_file()
    loaded = spacy.load(tmp_path / "p")
    for a, b in zip(probs_piped(nlp, TEXTS), probs_piped(loaded, TEXTS)):
        numpy.testing.assert_allclose(a, b, atol=1e-6)
    # Saving the loaded pipeline again works (the tokenizer files come along).
    loaded.to_disk(tmp_path / "q")
    assert spacy.load(tmp_path / "q").pipe_names == ["transformer", "xlmr_ner"]


def test_reads_spacy_transformers_single_file_format(nlp, tmp_path):
    nlp.to_disk(tmp_path / "p")
    trf_dir = tmp_path / "p" / "transformer"
    for child in (trf_dir / "model").iterdir():
        child.unlink()
    (trf_dir / "model").rmdir()
    Transformer.to_disk(nlp.get_pipe("transformer"), trf_dir)
    assert (trf_dir / "model").is_file()
    loaded = spacy.load(tmp_path / "p")
    for a, b in zip(probs_piped(nlp, TEXTS), probs_piped(loaded, TEXTS)):
        numpy.testing.assert_allclose(a, b, atol=1e-6)


def test_int8_precision_at_load(nlp, tmp_path):
    nlp.to_disk(tmp_path / "p")
    int8 = spacy.load(tmp_path / "p", config={"components": {"transformer": {"precision": "int8"}}})
    trf = int8.get_pipe("transformer")
    assert trf.quantized
    kinds = {name: type(m) for name, m in trf.model.transformer.named_modules()}
    assert kinds["encoder.layer.0.attention.self.query"] is torch.ao.nn.quantized.dynamic.Linear
    assert kinds["encoder.layer.0.intermediate.dense"] is torch.ao.nn.quantized.dynamic.Linear
    assert kinds["encoder.layer.0.attention.output.dense"] is torch.ao.nn.quantized.dynamic.Linear
    # The feed-forward output projections stay fp32.
    assert kinds["encoder.layer.0.output.dense"] is torch.nn.Linear
    fp32 = probs_piped(nlp, TEXTS)
    quantized = probs_piped(int8, TEXTS)
    for a, b in zip(fp32, quantized):
        assert a.shape == b.shape
        assert a.size == 0 or numpy.abs(a - b).max() < 0.05
    with pytest.raises(ValueError, match="quantized"):
        int8.to_disk(tmp_path / "q")
    with pytest.raises(ValueError, match="quantized"):
        trf.update([])
    with pytest.raises(ValueError, match="load the pipeline again"):
        trf.set_precision("fp32")
    assert not nlp.get_pipe("transformer").quantized


def test_invalid_settings(tiny_encoder):
    nlp = spacy.blank("xx")
    with pytest.raises(ValueError, match="precision"):
        nlp.add_pipe("xlmr_transformer", config={"precision": "fp8", "model": {"name": str(tiny_encoder)}})
    with pytest.raises(ValueError, match="max_batch_items"):
        nlp.add_pipe("xlmr_transformer", config={"max_batch_items": 0, "model": {"name": str(tiny_encoder)}})


def test_quantize_refuses_non_cpu_modules():
    from spacy_xlmr_ner.models.precision import quantize_int8

    module = torch.nn.Linear(2, 2).to("meta")
    with pytest.raises(ValueError, match="CPU only"):
        quantize_int8(module)
