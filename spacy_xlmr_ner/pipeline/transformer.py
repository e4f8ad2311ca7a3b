"""The `xlmr_transformer` component: spacy-transformers' `transformer`, with
prediction batched by length in word pieces and optional reduced-precision
(int8, bf16) CPU paths."""
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import srsly
import torch
from spacy import util
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab
from spacy_transformers.data_classes import FullTransformerBatch
from spacy_transformers.pipeline_component import Transformer
from spacy_transformers.util import get_torch_default_device
from thinc.api import Config, Model
from transformers import AutoConfig

from .._compat import (
    encoder_class,
    hf_objects,
    init_configs,
    load_tokenizer,
    read_cfg,
    set_hf_objects,
    transformer_pipe,
)
from ..models.precision import PRECISIONS, cast_bf16, quantize_int8, restore_table, widen_half

DEFAULT_CONFIG_STR = """
[transformer]
max_batch_items = 768
precision = "fp32"

[transformer.set_extra_annotations]
@annotation_setters = "spacy-transformers.null_annotation_setter.v1"

[transformer.model]
@architectures = "spacy-transformers.TransformerModel.v3"
name = "xlm-roberta-base"
tokenizer_config = {"use_fast": false}
transformer_config = {}
mixed_precision = false
grad_scaler_config = {}

[transformer.model.get_spans]
@span_getters = "spacy-xlmr-ner.piece_strided_spans.v1"
window = 128
stride = 96
max_pieces = 510
pieces_per_char = 1
"""
DEFAULT_CONFIG = Config().from_str(DEFAULT_CONFIG_STR)["transformer"]


@Language.factory(
    "xlmr_transformer",
    assigns=["doc._.trf_data"],
    default_config=DEFAULT_CONFIG,
)
def make_xlmr_transformer(
    nlp: Language,
    name: str,
    model: Model[List[Doc], FullTransformerBatch],
    set_extra_annotations: Callable[[List[Doc], FullTransformerBatch], None],
    max_batch_items: int,
    precision: str,
) -> "XLMRTransformer":
    """Create an `xlmr_transformer` component: spaCy's `transformer`, whose
    `nlp.pipe` batches docs by their length in word pieces.

    model (Model[List[Doc], FullTransformerBatch]): The transformer, e.g.
        `spacy-transformers.TransformerModel.v3`.
    set_extra_annotations (Callable): Callback to set more annotations.
    max_batch_items (int): Most word pieces in one padded batch at prediction
        (windows times the longest window, special tokens included).
    precision (str): "fp32"; "int8" for dynamically quantized linear layers
        on CPU; or "bf16" for bfloat16 weights and arithmetic (CPUs with
        AVX512-BF16 or AMX). Applied when the pipeline is loaded; training is
        always fp32.
    """
    return XLMRTransformer(
        nlp.vocab,
        model,
        set_extra_annotations,
        name=name,
        max_batch_items=max_batch_items,
        precision=precision,
    )


class XLMRTransformer(Transformer):
    """spacy-transformers' `Transformer`, faster at prediction.

    `pipe` tokenizes the windows of each outer batch once, sorts the docs by
    their longest window in word pieces and cuts them into batches of at most
    `max_batch_items` padded pieces; spaCy's `transformer` sorts by spaCy
    tokens instead, which pads short-token, many-piece docs (numbers, names in
    other scripts) and wastes about a third of the encoder's work on WikiANN.
    Training batches are untouched.

    Word pieces come from the encoder's sentencepiece model by default
    (`tokenizer_config = {"use_fast": false}`): the same pieces as the fast
    tokenizer of `tokenizers`, in about 55 MB of memory instead of 280 MB for
    XLM-R's 250,000 pieces, and aligned to spaCy tokens by their text, so a
    whitespace token gets no piece. Aligned by the fast tokenizer's offsets,
    every token also takes the next word's first piece, and a whitespace
    token takes only that.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], FullTransformerBatch],
        set_extra_annotations: Callable,
        *,
        name: str = "transformer",
        max_batch_items: int = 768,
        precision: str = "fp32",
    ) -> None:
        """Initialize the component; see `make_xlmr_transformer`."""
        if precision not in PRECISIONS:
            raise ValueError(f"[xlmr_transformer] precision must be one of {PRECISIONS}, not {precision!r}")
        if max_batch_items < 1:
            raise ValueError(f"[xlmr_transformer] max_batch_items must be positive, not {max_batch_items}")
        super().__init__(vocab, model, set_extra_annotations, name=name, max_batch_items=max_batch_items)
        # Not in self.cfg: a setting of the loaded pipeline, not of its weights,
        # so that `spacy.load(..., config=...)` can change it.
        self.precision = precision
        # Kept from the config, which the saved cfg must not override at load.
        self._max_batch_items = max_batch_items
        self._applied_precision = "fp32"

    @property
    def quantized(self) -> bool:
        """RETURNS (bool): Whether the encoder runs at a reduced precision."""
        return self._applied_precision != "fp32"

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Apply the pipe to a stream of documents, in order.

        stream (Iterable[Doc]): The documents.
        batch_size (int): Documents buffered and sorted together.
        YIELDS (Doc): The documents, with `doc._.trf_data` set.
        """
        return transformer_pipe(
            self,
            stream,
            batch_size,
            lambda docs: batch_by_padded_size(self.window_sizes(docs), self.cfg["max_batch_items"]),
        )

    def window_sizes(self, docs: Sequence[Doc]) -> List[Tuple[int, int]]:
        """The encoder input each doc makes.

        docs (Sequence[Doc]): The documents.
        RETURNS (List[Tuple[int, int]]): Per doc, its number of windows and
            the length in word pieces (special tokens included) of the longest.
        """
        nested = self.model.attrs["get_spans"](docs)
        texts = [span.text for spans in nested for span in spans]
        # Only the lengths are needed, for batching: no masks, offsets or
        # padding. The encoder call tokenizes these windows again
        # (spacy-transformers' forward owns that step).
        tokenizer = self.model.tokenizer
        sp_model = getattr(tokenizer, "sp_model", None)
        if not texts:
            counts: List[int] = []
        elif sp_model is not None:
            # A sentencepiece tokenizer counts pieces five times faster
            # than its `transformers` wrapper; only text that spells out a
            # special token ("<mask>") is counted differently.
            extra = tokenizer.num_special_tokens_to_add()
            counts = [len(ids) + extra for ids in sp_model.encode(texts)]
        else:
            encoded = tokenizer(
                texts, add_special_tokens=True, return_attention_mask=False, return_token_type_ids=False
            )["input_ids"]
            counts = [len(ids) for ids in encoded]
        lengths = iter(counts)
        sizes = []
        for spans in nested:
            longest = max((next(lengths) for _ in spans), default=0)
            sizes.append((len(spans), longest))
        return sizes

    def set_precision(self, precision: str) -> None:
        """Switch the encoder of a trained pipeline to a precision for CPU
        inference. "int8" quantizes the weights of its linear layers to 8 bits
        (PyTorch dynamic quantization); the word embeddings stay fp32. "bf16"
        casts the weights to bfloat16, but for the word-embedding table,
        whose rows are cast as they are looked up. A reduced-precision
        pipeline can predict but not train or be saved: load the fp32
        pipeline again for that.

        precision (str): "fp32", "int8" or "bf16".
        """
        if precision not in PRECISIONS:
            raise ValueError(f"[xlmr_transformer] precision must be one of {PRECISIONS}, not {precision!r}")
        if precision == self._applied_precision:
            return
        if self.quantized:
            raise ValueError(
                f"[xlmr_transformer] Cannot go from {self._applied_precision} to {precision}: "
                "load the pipeline again"
            )
        if precision == "int8":
            quantize_int8(self.model.transformer)
        else:
            cast_bf16(self.model.transformer)
        self._applied_precision = self.precision = precision

    def update(self, examples, *args, **kwargs):
        """Update the transformer; see spacy-transformers' `Transformer.update`."""
        self._prepare_to_train_or_save("update")
        return super().update(examples, *args, **kwargs)

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        """Save the component. The encoder and its tokenizer go to `model/`
        as a Hugging Face directory (safetensors), which `from_disk` maps
        into memory instead of unpacking and copying the weights, so loading
        needs about a third of the peak memory of spaCy's `transformer`.

        path (Union[str, Path]): A directory.
        exclude (Iterable[str]): Serialization fields to leave out.
        """
        self._prepare_to_train_or_save("to_disk")
        serialize = {
            "cfg": lambda p: srsly.write_json(p, self.cfg),
            "vocab": lambda p: self.vocab.to_disk(p),
            "model": self._save_model,
        }
        util.to_disk(path, serialize, exclude)

    def _save_model(self, path: Path) -> None:
        hf = hf_objects(self.model)
        if hf.transformer is None:  # never initialized: nothing but settings
            path.write_bytes(self.model.to_bytes())
            return
        if path.is_file():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
        hf.transformer.save_pretrained(str(path), safe_serialization=True)
        hf.tokenizer.save_pretrained(str(path))
        names = getattr(hf.tokenizer, "vocab_files_names", {})
        if hf.vocab_file_contents and "vocab_file" in names:
            # A tokenizer restored from spacy-transformers' bytes no longer
            # knows where its sentencepiece / vocab file is.
            (path / names["vocab_file"]).write_bytes(hf.vocab_file_contents)

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """Serialize the component (spacy-transformers' format)."""
        self._prepare_to_train_or_save("to_bytes")
        return super().to_bytes(exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "XLMRTransformer":
        """Load the component, then apply `precision` and `max_batch_items`
        from the config. Reads `model/` as written by `to_disk`, or
        spacy-transformers' single-file format.

        path (Union[str, Path]): A directory.
        exclude (Iterable[str]): Serialization fields to leave out.
        RETURNS (XLMRTransformer): The component.
        """
        if (Path(path) / "model").is_dir():
            deserialize = {
                "vocab": self.vocab.from_disk,
                "cfg": lambda p: self.cfg.update(read_cfg(p)),
                "model": self._load_model,
            }
            util.from_disk(path, deserialize, exclude)
        else:
            super().from_disk(path, exclude=exclude)
        self._apply_load_settings()
        return self

    def _load_model(self, path: Path) -> None:
        tok_config, trf_config = init_configs(self.model)
        trf_config["return_dict"] = True
        tokenizer = load_tokenizer(path, **tok_config)
        config = AutoConfig.from_pretrained(str(path), **trf_config)
        stored = stored_dtype(config)
        if stored is None:
            transformer = encoder_class(config).from_pretrained(str(path), config=config)
        else:
            # Loaded in the dtype they were saved in, the weights stay
            # memory-mapped: bf16 weights at precision "bf16" are used as
            # they are; otherwise only the word-embedding table stays mapped.
            transformer = encoder_class(config).from_pretrained(str(path), config=config, torch_dtype=stored)
            if self.precision != "bf16":
                widen_half(transformer)
        transformer.to(get_torch_default_device())
        vocab_file = getattr(tokenizer, "vocab_file", None)
        contents = Path(vocab_file).read_bytes() if vocab_file and Path(vocab_file).is_file() else None
        set_hf_objects(self.model, tokenizer, transformer, contents, tok_config, trf_config)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "XLMRTransformer":
        """Load the component from bytes, then apply `precision` and
        `max_batch_items` from the config."""
        super().from_bytes(bytes_data, exclude=exclude)
        self._apply_load_settings()
        return self

    def _apply_load_settings(self) -> None:
        # Settings of the loaded pipeline come from its config (with any
        # `spacy.load(..., config=...)` overrides), not from the saved cfg.
        self.cfg["max_batch_items"] = self._max_batch_items
        self.set_precision(self.precision)

    def _prepare_to_train_or_save(self, method: str) -> None:
        if self.quantized:
            raise ValueError(
                f"[xlmr_transformer] {method}: the encoder is quantized to {self._applied_precision} "
                "for inference. Train and save the fp32 pipeline, and load it with "
                f"precision {self._applied_precision} to predict."
            )
        # A word-embedding table left in half precision and memory-mapped
        # (`widen_half`) can neither train nor be saved beside fp32 weights.
        hf = hf_objects(self.model)
        if hf.transformer is not None:
            restore_table(hf.transformer)


def stored_dtype(config: Any) -> Optional[torch.dtype]:
    """The half precision an encoder's weights were saved in.

    config (PretrainedConfig): The encoder's config, as saved with it
        (`transformers` reads its `torch_dtype` as a `torch.dtype`).
    RETURNS (Optional[torch.dtype]): torch.float16 or torch.bfloat16, or None
        for any other dtype (float32 by default).
    """
    dtype = getattr(config, "torch_dtype", None)
    return dtype if dtype in (torch.float16, torch.bfloat16) else None


def batch_by_padded_size(sizes: Sequence[Tuple[int, int]], max_items: int) -> List[List[int]]:
    """Group docs into batches of similar length whose padded encoder input
    (windows times the longest window) stays within `max_items`; a doc bigger
    than that gets a batch of its own.

    sizes (Sequence[Tuple[int, int]]): Per doc, windows and longest window.
    max_items (int): Most padded word pieces per batch.
    RETURNS (List[List[int]]): Indices into `sizes`, every index once.
    """
    order = sorted(range(len(sizes)), key=lambda i: sizes[i][1])
    batches: List[List[int]] = []
    batch: List[int] = []
    windows = 0
    for i in order:
        n, length = sizes[i]
        if batch and (windows + n) * length > max_items:
            batches.append(batch)
            batch, windows = [], 0
        batch.append(i)
        windows += n
    if batch:
        batches.append(batch)
    return batches
