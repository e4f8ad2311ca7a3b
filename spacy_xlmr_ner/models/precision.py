"""Reduced-precision encoders for CPU inference."""
import warnings

import torch

PRECISIONS = ("fp32", "int8")


def quantize_int8(module: torch.nn.Module) -> torch.nn.Module:
    """Quantize the linear layers of a PyTorch module to int8 in place
    (dynamic quantization: int8 weights, activations quantized per batch),
    for CPU inference. Embeddings, layer norms and attention stay fp32.

    module (torch.nn.Module): A Hugging Face encoder on the CPU.
    RETURNS (torch.nn.Module): The same module.
    """
    devices = {p.device.type for p in module.parameters()}
    if devices - {"cpu"}:
        raise ValueError(f"int8 dynamic quantization runs on CPU only; the encoder is on {sorted(devices)}")
    module.eval()
    with warnings.catch_warnings():
        # PyTorch marks eager-mode quantization as deprecated in favour of
        # torchao, which is not a dependency here; the API still works.
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return module
