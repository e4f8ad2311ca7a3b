"""Reduced-precision encoders for CPU inference."""
import re
import warnings
from typing import Optional

import torch

from .._compat import cpu_has_bf16, quantize_dynamic_int8

PRECISIONS = ("fp32", "int8", "bf16")
# The feed-forward output projection of each encoder layer (BERT / XLM-R
# naming) stays fp32: its inputs are the wide, heavy-tailed GELU activations.
# On e5-small / German WikiANN, quantizing it as well cost 1.5 more F1 points.
KEEP_FP32 = re.compile(r"layer\.\d+\.output\.dense$")
_CAST_HOOK = "_xlmr_cast_rows_hook"


def quantize_int8(module: torch.nn.Module, keep_fp32: "re.Pattern[str]" = KEEP_FP32) -> torch.nn.Module:
    """Quantize the linear layers of a PyTorch module to int8 in place, for
    CPU inference: dynamic quantization (int8 weights, one scale per output
    channel; activations quantized per batch). Embeddings, layer norms,
    attention and the linear layers whose name matches `keep_fp32` stay fp32.

    module (torch.nn.Module): A Hugging Face encoder on the CPU.
    keep_fp32 (re.Pattern[str]): Names of linear layers to leave in fp32.
    RETURNS (torch.nn.Module): The same module.
    """
    devices = {p.device.type for p in module.parameters()}
    if devices - {"cpu"}:
        raise ValueError(f"int8 dynamic quantization runs on CPU only; the encoder is on {sorted(devices)}")
    module.eval()
    names = [
        name
        for name, child in module.named_modules()
        if isinstance(child, torch.nn.Linear) and not keep_fp32.search(name)
    ]
    quantize_dynamic_int8(module, names)
    return module


def cast_bf16(module: torch.nn.Module) -> torch.nn.Module:
    """Cast a Hugging Face encoder to bfloat16 in place, for inference on CPUs
    with native bf16 (AVX512-BF16, AMX) or on GPUs. Every weight becomes
    bf16 except the word-embedding table: it stays as loaded (fp32, or the
    half precision it was saved in) and memory-mapped from the saved model,
    so that only the rows looked up are read (a bf16 copy of XLM-R's 250,000
    rows would add its full size to the peak RSS); the rows are cast as they
    are looked up (`keep_table_stored`). The encoder's outputs come back
    as fp32.

    module (torch.nn.Module): A Hugging Face encoder (`PreTrainedModel`).
    RETURNS (torch.nn.Module): The same module.
    """
    if not cpu_has_bf16() and all(p.device.type == "cpu" for p in module.parameters()):
        warnings.warn("This CPU has no native bf16 arithmetic: bf16 inference will be slower than fp32")
    module.eval()
    _cast_all_but_table(module, torch.bfloat16)
    keep_table_stored(module, torch.bfloat16)
    module.register_forward_hook(_outputs_to_fp32)
    return module


def word_embeddings(module: torch.nn.Module) -> Optional[torch.nn.Embedding]:
    """The word-embedding table of a Hugging Face encoder.

    module (torch.nn.Module): A Hugging Face encoder (`PreTrainedModel`).
    RETURNS (Optional[torch.nn.Embedding]): Its table, or None if it has no
        `torch.nn.Embedding` for input embeddings.
    """
    table = module.get_input_embeddings() if hasattr(module, "get_input_embeddings") else None
    return table if isinstance(table, torch.nn.Embedding) else None


def keep_table_stored(module: torch.nn.Module, dtype: torch.dtype) -> None:
    """Leave an encoder's word-embedding table in the dtype and memory it
    was loaded in, and cast each looked-up row to `dtype` instead. A table
    loaded from safetensors stays memory-mapped, so only the pages of rows
    looked up are ever read in. The table becomes a buffer, not a
    parameter: `PreTrainedModel.dtype` is that of the first floating
    parameter, and sizes the attention masks. Undo with `restore_table`.

    module (torch.nn.Module): A Hugging Face encoder (`PreTrainedModel`).
    dtype (torch.dtype): The dtype the looked-up rows are cast to.
    """
    table = word_embeddings(module)
    if table is None:
        return
    if "weight" in table._parameters:
        weight = table.weight
        del table.weight
        table.register_buffer("weight", weight.detach())
    handle = table.__dict__.pop(_CAST_HOOK, None)
    if handle is not None:
        handle.remove()
    table.__dict__[_CAST_HOOK] = table.register_forward_hook(lambda _m, _args, out: out.to(dtype))


def table_is_stored(module: torch.nn.Module) -> bool:
    """RETURNS (bool): Whether `keep_table_stored` applies to the encoder."""
    table = word_embeddings(module)
    return table is not None and _CAST_HOOK in table.__dict__


def restore_table(module: torch.nn.Module) -> None:
    """Make a table left by `keep_table_stored` a float32 parameter again,
    in memory of its own, so that it trains and saves like the others.

    module (torch.nn.Module): A Hugging Face encoder (`PreTrainedModel`).
    """
    table = word_embeddings(module)
    if table is None or _CAST_HOOK not in table.__dict__:
        return
    table.__dict__.pop(_CAST_HOOK).remove()
    weight = table.weight
    del table.weight
    table.weight = torch.nn.Parameter(weight.to(torch.float32, copy=True))


def widen_half(module: torch.nn.Module) -> torch.nn.Module:
    """Make an encoder loaded in float16 or bfloat16 compute in float32: every
    weight is cast to float32 but for the word-embedding table, which stays
    as loaded (`keep_table_stored`), its looked-up rows cast to float32.

    module (torch.nn.Module): A Hugging Face encoder (`PreTrainedModel`).
    RETURNS (torch.nn.Module): The same module.
    """
    _cast_all_but_table(module, torch.float32)
    keep_table_stored(module, torch.float32)
    return module


def _cast_all_but_table(module: torch.nn.Module, dtype: torch.dtype) -> None:
    table = word_embeddings(module)
    for sub in module.modules():
        if sub is table:
            continue
        for param in sub.parameters(recurse=False):
            if param.is_floating_point():
                param.data = param.data.to(dtype)
        for name, buf in sub.named_buffers(recurse=False):
            if buf.is_floating_point():
                setattr(sub, name, buf.to(dtype))


def _outputs_to_fp32(_module, _args, output):
    if isinstance(output, dict):  # transformers' ModelOutput
        for key in list(output.keys()):
            output[key] = _to_fp32(output[key])
        return output
    return _to_fp32(output)


def _to_fp32(value):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.float()
    if isinstance(value, tuple):
        return tuple(_to_fp32(v) for v in value)
    return value
