"""Every export format of every space kind loads back and gives the same outputs (engine, no database)."""

import io
import json
import random

import numpy as np
import onnxruntime
import pytest
import torch

from searches.export import FORMATS, export_model, model_spec
from searches.export_loader import ExportError, example_input, load_trained, model_from_spec
from searches.spaces.registry import build_space

from .spaces.test_contract import TINY_SPECS

# kind -> (input_shape, num_classes, task, vocab_size)
CASES = {
    "chain_mlp": ((64,), 10, "classification", 0),
    "macro_cnn": ((1, 8, 8), 10, "classification", 0),
    "nb201": ((3, 8, 8), 10, "classification", 0),
    "transformer": ((16,), 12, "language_modelling", 12),
    "hybrid": ((3, 16, 16), 4, "classification", 0),
}


def trained_spec(kind: str, seed: int = 1):
    space = build_space(kind, TINY_SPECS[kind])
    arch = space.sample(random.Random(seed))
    shape, classes, task, vocab = CASES[kind]
    spec = model_spec(kind, space.spec, arch, shape, classes, task, vocab, trial=3)
    torch.manual_seed(seed)
    model = model_from_spec(spec)
    with torch.no_grad():  # perturb every parameter and buffer so that untrained defaults cannot pass
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.randn_like(tensor) * 0.1)
    return spec, model.eval()


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_format_gives_the_same_outputs(kind, tmp_path):
    spec, model = trained_spec(kind)
    weights = model.state_dict()
    x = example_input(spec, batch=3, seed=5)
    with torch.no_grad():
        expected = model(x).numpy()
    files = {fmt: export_model(spec, weights, fmt) for fmt in FORMATS}
    spec_path = tmp_path / "m.json"
    spec_path.write_bytes(files["spec"])
    assert json.loads(files["spec"])["trial"] == 3

    rebuilt = load_trained(spec_path, io.BytesIO(files["state_dict"]))
    scripted = torch.jit.load(io.BytesIO(files["torchscript"]))
    session = onnxruntime.InferenceSession(files["onnx"], providers=["CPUExecutionProvider"])
    with torch.no_grad():
        outputs = {"state_dict": rebuilt(x).numpy(), "torchscript": scripted(x).numpy()}
    outputs["onnx"] = session.run(None, {"input": x.numpy()})[0]
    for fmt, got in outputs.items():
        assert got.shape == expected.shape, fmt
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5, err_msg=fmt)


def test_onnx_takes_another_batch_size():
    spec, model = trained_spec("chain_mlp")
    session = onnxruntime.InferenceSession(export_model(spec, model.state_dict(), "onnx"))
    x = example_input(spec, batch=7)
    with torch.no_grad():
        np.testing.assert_allclose(session.run(None, {"input": x.numpy()})[0], model(x).numpy(), atol=1e-5)


def test_weights_formats_need_weights_and_formats_are_named():
    spec, _ = trained_spec("chain_mlp")
    assert json.loads(export_model(spec, None, "spec"))["space_kind"] == "chain_mlp"
    with pytest.raises(ExportError, match="no kept weights"):
        export_model(spec, None, "onnx")
    with pytest.raises(ExportError, match="unknown export format"):
        export_model(spec, None, "pickle")


def test_a_spec_of_another_version_or_missing_fields_is_refused():
    spec, _ = trained_spec("chain_mlp")
    with pytest.raises(ExportError, match="version"):
        model_from_spec({**spec, "format_version": 99})
    with pytest.raises(ExportError, match="arch"):
        model_from_spec({k: v for k, v in spec.items() if k != "arch"})
