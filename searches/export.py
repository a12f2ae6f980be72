"""A trained architecture as files: JSON spec, state_dict, TorchScript, ONNX (no Django).

``export_model(spec, state_dict, fmt)`` returns the bytes of one format; the
files load back with searches/export_loader.py (spec, state_dict),
``torch.jit.load`` (TorchScript) or onnxruntime (ONNX), and give the same outputs.
searches/trial_export.py turns a stored trial into the spec and the weights.
"""

from __future__ import annotations

import io
import json

from .export_loader import SPEC_VERSION, ExportError, example_input, model_from_spec, spec_of

#: format -> (file suffix, MIME type, what the file is, in words)
FORMATS = {
    "spec": (".json", "application/json", "JSON spec: space, architecture and input (load with export_loader)"),
    "state_dict": (".pt", "application/octet-stream", "PyTorch state_dict (trained weights)"),
    "torchscript": (".torchscript.pt", "application/octet-stream", "TorchScript (torch.jit.load, no nasweb)"),
    "onnx": (".onnx", "application/octet-stream", "ONNX (onnxruntime, opset 17)"),
}
#: Formats that need the trained weights.
WEIGHT_FORMATS = ("state_dict", "torchscript", "onnx")
ONNX_OPSET = 17


def model_spec(space_kind: str, space_spec: dict, arch: dict, input_shape, num_classes: int,
               task: str = "classification", vocab_size: int = 0, **about) -> dict:
    """The JSON spec of a model; `about` adds informative fields (search, trial, metrics)."""
    return {"format_version": SPEC_VERSION, "space_kind": space_kind, "space_spec": space_spec, "arch": arch,
            "input_shape": list(input_shape), "num_classes": int(num_classes), "task": task,
            "vocab_size": int(vocab_size), **about}


def export_model(spec: dict, state_dict, fmt: str) -> bytes:
    """The bytes of one export format. `state_dict` may be None for "spec" only."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {sorted(FORMATS)}")
    spec = spec_of(spec)
    if fmt == "spec":
        return json.dumps(spec, indent=2, sort_keys=True).encode()
    if state_dict is None:
        raise ExportError("this trial has no kept weights (see NASWEB_KEEP_WEIGHTS); only the JSON spec exports")
    return _EXPORTERS[fmt](_trained(spec, state_dict), spec)


def _trained(spec: dict, state_dict):
    model = model_from_spec(spec)
    model.load_state_dict(state_dict)
    return model.eval()


def _state_dict_bytes(model, spec) -> bytes:
    import torch  # heavy

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _torchscript_bytes(model, spec) -> bytes:
    import torch  # heavy

    with torch.no_grad():
        traced = torch.jit.trace(model, (example_input(spec),), check_trace=False)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    return buffer.getvalue()


def _onnx_bytes(model, spec) -> bytes:
    import torch  # heavy

    buffer = io.BytesIO()
    # Attention's inference fast path is one fused op that ONNX lacks; the exporter traces the plain maths.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        _onnx_export(model, spec, buffer)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return buffer.getvalue()


def _onnx_export(model, spec, buffer) -> None:
    import torch  # heavy

    with torch.no_grad():
        # dynamo=False: the TorchScript-based exporter needs no onnxscript, and the batch axis stays dynamic.
        torch.onnx.export(model, (example_input(spec),), buffer, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})


_EXPORTERS = {"state_dict": _state_dict_bytes, "torchscript": _torchscript_bytes, "onnx": _onnx_bytes}
