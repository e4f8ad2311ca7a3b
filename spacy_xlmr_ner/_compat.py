"""Every reliance on another library's internals, in one place.

Each function here wraps one private attribute, undocumented helper or copied
piece of logic of spacy-transformers, thinc, spaCy or PyTorch. The versions
installed are checked by `tests/test_compat.py`, which names the library and
the internal when an upgrade changes one.
"""
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Tuple

import srsly
import torch
from spacy.pipeline.pipe import deserialize_config
from spacy.tokens import Doc
from spacy.util import minibatch
from spacy_transformers.data_classes import HFObjects
from spacy_transformers.pipeline_component import Transformer, install_extensions
from thinc.api import Model, Optimizer


def hf_objects(model: Model) -> HFObjects:
    """The Hugging Face objects inside a spacy-transformers `TransformerModel`.

    model (Model): A `spacy-transformers.TransformerModel.v3`.
    RETURNS (HFObjects): Its tokenizer and transformer (None until the model
        is initialized or loaded) and the vocabulary file's contents, from
        the private `_hfmodel` of the model's PyTorch shim.
    """
    return model.layers[0].shims[0]._hfmodel


def init_configs(model: Model) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The settings a `TransformerModel` passes to `from_pretrained`.

    model (Model): A `spacy-transformers.TransformerModel.v3`.
    RETURNS (Tuple[Dict[str, Any], Dict[str, Any]]): Copies of its
        `tokenizer_config` and `transformer_config` (the private
        `_init_tokenizer_config` and `_init_transformer_config`).
    """
    return dict(model._init_tokenizer_config), dict(model._init_transformer_config)


def set_hf_objects(
    model: Model,
    tokenizer: Any,
    transformer: torch.nn.Module,
    vocab_file_contents: Any,
    tokenizer_config: Dict[str, Any],
    transformer_config: Dict[str, Any],
) -> None:
    """Put a loaded tokenizer and transformer into a `TransformerModel`, as
    spacy-transformers does when it deserializes one.

    model (Model): A `spacy-transformers.TransformerModel.v3`.
    tokenizer (Any): The Hugging Face tokenizer.
    transformer (torch.nn.Module): The Hugging Face model.
    vocab_file_contents (Any): The tokenizer's vocabulary file, as bytes, or None.
    tokenizer_config (Dict[str, Any]): Settings the tokenizer was loaded with.
    transformer_config (Dict[str, Any]): Settings the transformer was loaded with.
    """
    hf = HFObjects(
        tokenizer=tokenizer,
        transformer=transformer,
        vocab_file_contents=vocab_file_contents,
        _init_tokenizer_config=tokenizer_config,
        _init_transformer_config=transformer_config,
    )
    model.attrs["set_transformer"](model, hf)


def encoder_class(config: Any) -> type:
    """The class `AutoModel` would build for a config, found by its model
    type in `transformers`' table of base models (`MODEL_MAPPING_NAMES`).
    `AutoModel.from_pretrained` finds it by scanning its whole mapping, which
    imports every model type's config class: a fixed second or so of every
    pipeline load.

    config (PretrainedConfig): The encoder's config.
    RETURNS (type): The model class, or `AutoModel` where the table has no
        single class for the model type.
    """
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    name = MODEL_MAPPING_NAMES.get(getattr(config, "model_type", None))
    found = getattr(transformers, name, None) if isinstance(name, str) else None
    return found if isinstance(found, type) else transformers.AutoModel


def load_tokenizer(path: Path, **kwargs: Any) -> Any:
    """`AutoTokenizer.from_pretrained`, faster for XLM-R's sentencepiece
    tokenizer (`XLMRobertaTokenizer`, not the "fast" one).

    While it is constructed, that tokenizer builds its whole vocabulary as a
    dict twice (`get_vocab`, to check its special tokens and to count them),
    one Python call per piece: most of `spacy.load`'s time for a
    250,000-piece vocabulary. It is constructed here as a subclass whose
    `get_vocab` builds the same dict with one batched sentencepiece call,
    then made an ordinary `XLMRobertaTokenizer` again.

    path (Path): The saved tokenizer's directory.
    **kwargs: Settings for `from_pretrained` (the tokenizer config).
    RETURNS (PreTrainedTokenizerBase): The tokenizer.
    """
    from transformers import AutoTokenizer, XLMRobertaTokenizer

    config_file = Path(path) / "tokenizer_config.json"
    saved = srsly.read_json(config_file) if config_file.is_file() else {}
    if kwargs.get("use_fast", True) or saved.get("tokenizer_class") != XLMRobertaTokenizer.__name__:
        return AutoTokenizer.from_pretrained(str(path), **kwargs)
    settings = {key: value for key, value in kwargs.items() if key != "use_fast"}
    quick = type(XLMRobertaTokenizer.__name__, (XLMRobertaTokenizer,), {"get_vocab": _xlmr_vocab})
    tokenizer = quick.from_pretrained(str(path), **settings)
    tokenizer.__class__ = XLMRobertaTokenizer
    return tokenizer


def _xlmr_vocab(tokenizer: Any) -> Dict[str, int]:
    # XLMRobertaTokenizer.get_vocab maps convert_ids_to_tokens(i) to i for every
    # id: the added tokens, else the fairseq specials, else the sentencepiece
    # piece i - fairseq_offset; then adds added_tokens_encoder.
    sp_model, offset = tokenizer.sp_model, tokenizer.fairseq_offset
    size = len(sp_model)
    vocab = dict(zip(sp_model.id_to_piece(list(range(size))), range(offset, size + offset)))
    for i, token in tokenizer.fairseq_ids_to_tokens.items():
        vocab[token] = i
    for i, token in tokenizer._added_tokens_decoder.items():
        vocab[str(token)] = i
    vocab.update(tokenizer.added_tokens_encoder)
    return vocab


def transformer_pipe(
    pipe: Transformer,
    stream: Iterable[Doc],
    batch_size: int,
    make_batches: Callable[[List[Doc]], Iterable[List[int]]],
) -> Iterator[Doc]:
    """spacy-transformers' `Transformer.pipe`, with the batching of each
    outer batch given instead of `batch_by_length`.

    pipe (Transformer): The component.
    stream (Iterable[Doc]): The documents.
    batch_size (int): Documents buffered and batched together.
    make_batches (Callable[[List[Doc]], Iterable[List[int]]]): Cuts an outer
        batch into prediction batches: indices into it, every index once.
    YIELDS (Doc): The documents, in order, with `doc._.trf_data` set.
    """
    install_extensions()
    for outer_batch in minibatch(stream, batch_size):
        outer_batch = list(outer_batch)
        for indices in make_batches(outer_batch):
            subbatch = [outer_batch[i] for i in indices]
            pipe.set_annotations(subbatch, pipe.predict(subbatch))
        yield from outer_batch


def finish_update_params(model: Model, optimizer: Optimizer, *, lr_scale: float = 1.0) -> None:
    """thinc's `Model.finish_update` for the model's own parameters, at a
    scaled learning rate. Shims are left out: a listener's encoder belongs to
    the transformer component, which updates it.

    model (Model): The model whose gradients to apply.
    optimizer (Optimizer): The optimizer.
    lr_scale (float): Multiple of the optimizer's learning rate.
    """
    for node in model.walk():
        for name in node.param_names:
            if node.has_grad(name):
                param, _ = optimizer((node.id, name), node.get_param(name), node.get_grad(name), lr_scale=lr_scale)
                node.set_param(name, param)


def read_cfg(path: Path) -> Dict[str, Any]:
    """A component's saved `cfg`, read as spaCy's components read theirs.

    path (Path): The `cfg` file.
    RETURNS (Dict[str, Any]): The settings.
    """
    return deserialize_config(path)


def cpu_has_bf16() -> bool:
    """RETURNS (bool): Whether this CPU has native bf16 arithmetic (oneDNN's
    check, `torch.ops.mkldnn._is_mkldnn_bf16_supported`)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def quantize_dynamic_int8(module: torch.nn.Module, names: Iterable[str]) -> None:
    """Quantize named linear layers of a module to int8 in place with
    PyTorch's eager-mode dynamic quantization (`torch.ao.quantization`):
    int8 weights with one scale per output channel, activations quantized
    per batch.

    module (torch.nn.Module): The module, on the CPU, in eval mode.
    names (Iterable[str]): Names of its `torch.nn.Linear` layers to quantize.
    """
    with warnings.catch_warnings():
        # PyTorch marks eager-mode quantization as deprecated in favour of
        # torchao, which is not a dependency here; the API still works.
        warnings.simplefilter("ignore")
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        quantize_dynamic(module, {name: per_channel_dynamic_qconfig for name in names}, inplace=True)
