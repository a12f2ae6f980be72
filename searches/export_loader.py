"""Load an exported nasweb model back in plain PyTorch (no Django, no database).

A trial's export page offers four files; this module reads the first two:

- ``<name>.json`` (format "spec"): what the network is: the search space kind and
  settings, the architecture, and the input it takes. ``model_from_spec`` rebuilds
  the untrained ``torch.nn.Module`` from it.
- ``<name>.pt`` (format "state_dict"): the trained weights, a plain
  ``torch.save(model.state_dict())`` file. ``load_trained`` rebuilds the model and
  loads them (``weights_only=True``: the file cannot run code).

The other two need nothing from nasweb: ``torch.jit.load("<name>.torchscript.pt")``
and ``onnxruntime.InferenceSession("<name>.onnx")``. Every format gives the same
outputs on the same input (the tests check it to 1e-5).

Example, from a checkout of nasweb on the Python path::

    from searches.export_loader import load_trained, example_input
    model = load_trained("trial-7.json", "trial-7.pt")
    logits = model(example_input("trial-7.json"))

Inputs: images are float tensors (batch, C, H, W); tabular rows (batch, F); token
sequences (batch, L) of token ids stored as floats, like the training data.
"""

from __future__ import annotations

import json
from pathlib import Path

from .spaces.registry import build_space

#: Bumped when the spec's fields change; a loader refuses specs it does not know.
SPEC_VERSION = 1
SPEC_KEYS = ("space_kind", "space_spec", "arch", "input_shape", "num_classes", "task", "vocab_size")


class ExportError(ValueError):
    """An export cannot be made or read; the message says why."""


def spec_of(source) -> dict:
    """The spec as a dict, from a dict, a JSON string/bytes, or a path to a .json file."""
    if isinstance(source, dict):
        spec = source
    elif isinstance(source, (bytes, bytearray)) or (isinstance(source, str) and source.lstrip().startswith("{")):
        spec = json.loads(source)
    else:
        spec = json.loads(Path(source).read_text())
    if spec.get("format_version") != SPEC_VERSION:
        raise ExportError(f"unknown model spec version {spec.get('format_version')!r}; this loader reads "
                          f"version {SPEC_VERSION}")
    missing = [k for k in SPEC_KEYS if k not in spec]
    if missing:
        raise ExportError(f"the model spec lacks {missing[0]!r}")
    return spec


def model_from_spec(source):
    """The untrained torch module the spec describes, in eval mode."""
    spec = spec_of(source)
    space = build_space(spec["space_kind"], spec["space_spec"])
    model = space.to_torch(spec["arch"], tuple(spec["input_shape"]), spec["num_classes"], task=spec["task"],
                           vocab_size=spec["vocab_size"])
    return model.eval()


def load_trained(spec_source, state_dict_source):
    """The trained model: rebuilt from the spec, weights from a state_dict file (path or file object)."""
    import torch  # heavy: the spec can be read without torch

    model = model_from_spec(spec_source)
    state = torch.load(state_dict_source, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def example_input(source, batch: int = 2, seed: int = 0):
    """A deterministic input batch of the shape and kind the model takes."""
    import torch  # heavy

    spec = spec_of(source)
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, *spec["input_shape"])
    if spec["vocab_size"]:
        return torch.randint(0, spec["vocab_size"], shape, generator=generator).float()
    return torch.randn(shape, generator=generator)
