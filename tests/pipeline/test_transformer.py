"""`xlmr_transformer`: batching by word pieces, safetensors serialization
and the int8 and bf16 paths give the same (or, for int8 and bf16, close)
predictions."""
import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy_transformers.pipeline_component import Transformer
from transformers import PreTrainedTokenizerFast

from helpers import make_nlp
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


def initialized(nlp):
    ner = nlp.get_pipe("xlmr_ner")
    for label in ("LOC", "ORG", "PER"):
        ner.add_label(label)
    nlp.initialize()
    return nlp


@pytest.fixture(scope="module")
def nlp(tiny_encoder):
    return initialized(make_nlp(tiny_encoder))


@pytest.fixture(scope="module")
def fast_nlp(tiny_encoder):
    return initialized(make_nlp(tiny_encoder, use_fast=True))


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


def test_default_tokenizer_is_sentencepiece(nlp, fast_nlp):
    assert not isinstance(nlp.get_pipe("transformer").model.tokenizer, PreTrainedTokenizerFast)
    assert isinstance(fast_nlp.get_pipe("transformer").model.tokenizer, PreTrainedTokenizerFast)


@pytest.mark.parametrize("use_fast", [False, True])
def test_window_sizes_count_pieces(nlp, fast_nlp, use_fast):
    nlp = fast_nlp if use_fast else nlp
    trf = nlp.get_pipe("transformer")
    docs = [nlp.make_doc(t) for t in TEXTS]
    sizes = trf.window_sizes(docs)
    tokenizer = trf.model.tokenizer
    for text, (windows, longest) in zip(TEXTS, sizes):
        if windows == 1:
            assert longest == len(tokenizer(text)["input_ids"]), text
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
    assert (model_dir / "sentencepiece.bpe.model").is_file()
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


def test_bf16_precision_at_load(nlp, tmp_path):
    nlp.to_disk(tmp_path / "p")
    bf16 = spacy.load(tmp_path / "p", config={"components": {"transformer": {"precision": "bf16"}}})
    trf = bf16.get_pipe("transformer")
    assert trf.quantized and trf.precision == "bf16"
    encoder = trf.model.transformer
    assert encoder.encoder.layer[0].intermediate.dense.weight.dtype == torch.bfloat16
    assert encoder.get_input_embeddings().weight.dtype == torch.float32
    fp32 = probs_piped(nlp, TEXTS)
    reduced = probs_piped(bf16, TEXTS)
    for a, b in zip(fp32, reduced):
        assert a.shape == b.shape and b.dtype == a.dtype
        assert a.size == 0 or numpy.abs(a - b).max() < 0.05
    doc = bf16("Angela Merkel besuchte gestern Berlin .")
    assert doc._.trf_data.tensors[0].dtype == numpy.float32
    with pytest.raises(ValueError, match="quantized to bf16"):
        bf16.to_disk(tmp_path / "q")
    with pytest.raises(ValueError, match="quantized to bf16"):
        trf.update([])
    for other in ("fp32", "int8"):
        with pytest.raises(ValueError, match="load the pipeline again"):
            trf.set_precision(other)
    trf.set_precision("bf16")  # already there: nothing to do
    assert nlp.get_pipe("transformer").model.transformer.encoder.layer[0].intermediate.dense.weight.dtype == (
        torch.float32
    )


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


@pytest.mark.parametrize("text", ["\xa0Berlin", "Angela  Merkel", "Berlin\u2028 ist", "  \t "])
def test_whitespace_tokens_get_no_word_piece(nlp, text):
    doc = nlp(text)
    align = doc._.trf_data.align
    assert align.lengths.shape[0] == len(doc)
    for token, n_pieces in zip(doc, align.lengths):
        assert (n_pieces == 0) == token.is_space, (text, token.text)
    assert all(not ent[0].is_space and not ent[-1].is_space for ent in doc.ents)


def test_both_tokenizers_give_the_same_word_pieces(nlp, fast_nlp):
    for text in TEXTS:
        slow_doc = nlp.get_pipe("transformer")(nlp.make_doc(text))
        fast_doc = fast_nlp.get_pipe("transformer")(fast_nlp.make_doc(text))
        assert slow_doc._.trf_data.wordpieces.strings == fast_doc._.trf_data.wordpieces.strings, text
        assert (slow_doc._.trf_data.wordpieces.input_ids == fast_doc._.trf_data.wordpieces.input_ids).all(), text


def test_a_token_of_unknown_characters_gets_no_piece_but_a_prediction(nlp, fast_nlp):
    # Neither vocabulary has Gothic letters: sentencepiece makes them <unk>,
    # which the text alignment cannot place; the fast tokenizer's offsets do.
    text = "Paris 𐌰𐌱 Berlin"
    slow_doc, fast_doc = nlp(text), fast_nlp(text)
    assert [t.text for t in slow_doc] == ["Paris", "𐌰𐌱", "Berlin"]
    assert list(slow_doc._.trf_data.align.lengths)[1] == 0
    assert list(fast_doc._.trf_data.align.lengths)[1] > 0
    (probs,) = nlp.get_pipe("xlmr_ner").predict([slow_doc])
    assert probs.shape == (3, len(nlp.get_pipe("xlmr_ner").tags))
    assert numpy.isfinite(probs).all()


def test_max_batch_items_comes_from_the_config_at_load(nlp, tmp_path):
    nlp.to_disk(tmp_path / "p")
    assert spacy.load(tmp_path / "p").get_pipe("transformer").cfg["max_batch_items"] == 768
    override = {"components": {"transformer": {"max_batch_items": 64}}}
    loaded = spacy.load(tmp_path / "p", config=override)
    assert loaded.get_pipe("transformer").cfg["max_batch_items"] == 64
    for a, b in zip(probs_piped(nlp, TEXTS), probs_piped(loaded, TEXTS)):
        numpy.testing.assert_allclose(a, b, atol=2e-5)
    from_bytes = spacy.blank("xx")
    config = {k: v for k, v in nlp.config["components"]["transformer"].items() if k != "factory"}
    trf = from_bytes.add_pipe("xlmr_transformer", config={**config, "max_batch_items": 32})
    trf.from_bytes(nlp.get_pipe("transformer").to_bytes())
    assert trf.cfg["max_batch_items"] == 32
