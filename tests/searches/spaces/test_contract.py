"""The contract every registered search space keeps.

The kinds come from the registry at import time, so a newly registered space is
covered without editing this file.
"""

import json
import math
import random

import pytest
import torch

from searches.checks import SpecError
from searches.spaces.base import SearchSpace
from searches.spaces.registry import SPACES, build_space

KINDS = sorted(SPACES)

# Specs small enough to enumerate, so that size() can be checked by counting.
TINY_SPECS = {
    "chain_mlp": {"min_depth": 1, "max_depth": 2, "widths": [4, 8], "activations": ["relu", "tanh"],
                  "dropouts": [0.0], "norms": ["none", "batch"]},
    "macro_cnn": {"min_stages": 1, "max_stages": 2, "min_blocks": 1, "max_blocks": 2, "channels": [4],
                  "kernels": [3], "block_types": ["mbconv", "conv"], "expansions": [1, 2], "strides": [1, 2],
                  "stem_channels": 4},
    "transformer": {"min_depth": 1, "max_depth": 3, "embed_dims": [4, 8], "heads": [1, 2], "mlp_ratios": [1.0],
                    "patch_size": 4},
    "hybrid": {"conv_stages": 1, "conv_strides": [2], "conv_widths": [4, 8], "min_conv_depth": 1,
               "max_conv_depth": 2, "conv_kernels": [3], "attention_stages": 1, "attention_widths": [4],
               "min_attention_depth": 1, "max_attention_depth": 1, "heads": [1, 2], "mlp_ratios": [1.0, 2.0]},
    "nb201": {"C": 2, "N": 1, "ops": ["none", "skip_connect", "avg_pool_3x3"]},
}
KINDS_OWNED_BY_THIS_SUITE = ("chain_mlp", "macro_cnn", "transformer", "hybrid")

# name -> (input_shape, vocab_size)
INPUTS = {
    "tabular": ((64,), 0),
    "image": ((1, 8, 8), 0),
    "image_rgb": ((3, 32, 32), 0),
    "tokens": ((16,), 12),
}
# The inputs each space classifies; a kind not listed is an image space.
CLASSIFIES = {
    "chain_mlp": ("tabular", "image", "image_rgb"),
    "transformer": ("tabular", "image", "image_rgb", "tokens"),
}
IMAGES = ("image", "image_rgb")
NUM_CLASSES = 10


def forward_cases():
    for kind in KINDS:
        for task in SPACES[kind].tasks:
            if task == "classification":
                inputs = CLASSIFIES.get(kind, IMAGES)
            elif task == "language_modelling":
                inputs = ("tokens",)
            else:
                inputs = ("unknown task",)
            for name in inputs:
                yield pytest.param(kind, task, name, id=f"{kind}-{task}-{name}")


def space_of(kind: str) -> SearchSpace:
    return build_space(kind)


def samples(space: SearchSpace, n: int = 25, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [space.sample(rng) for _ in range(n)]


def changed_decisions(a: dict, b: dict) -> list[str]:
    """Decisions active in both architectures whose values differ."""
    return sorted(name for name in set(a) & set(b) if a[name] != b[name])


@pytest.fixture(params=KINDS)
def space(request) -> SearchSpace:
    return space_of(request.param)


def test_every_owned_kind_is_registered_and_has_a_tiny_spec():
    assert set(KINDS_OWNED_BY_THIS_SUITE) <= set(SPACES)
    assert set(KINDS_OWNED_BY_THIS_SUITE) <= set(TINY_SPECS)


def test_kind_label_and_tasks_are_declared(space):
    assert SPACES[space.kind] is type(space)
    assert space.label
    assert space.tasks and set(space.tasks) <= {"classification", "language_modelling"}


def test_spec_fields_cover_exactly_the_default_spec(space):
    fields = space.spec_fields()
    assert [f.name for f in fields] and {f.name for f in fields} == set(space.default_spec())
    for f in fields:
        assert f.kind in ("int", "float", "int_list", "float_list", "multi", "choice", "bool"), f.name
        assert f.label
        if f.kind in ("multi", "choice"):
            assert f.options, f.name


def test_normalised_spec_rebuilds_the_same_space(space):
    again = type(space)(json.loads(json.dumps(space.spec)))
    assert again.spec == space.spec
    assert again.decisions == space.decisions


def test_sample_is_valid_and_deterministic(space):
    for seed in range(5):
        arch = space.sample(random.Random(seed))
        space.validate_arch(arch)
        assert space.sample(random.Random(seed)) == arch
    assert len({space.key(a) for a in samples(space)}) > 1


def test_architectures_survive_a_json_round_trip(space):
    for arch in samples(space, 5):
        stored = json.loads(json.dumps(arch))
        space.validate_arch(stored)
        assert space.key(stored) == space.key(arch)


def test_mutate_changes_exactly_one_active_decision(space):
    rng = random.Random(1)
    for arch in samples(space):
        child = space.mutate(arch, rng)
        space.validate_arch(child)
        assert len(changed_decisions(arch, child)) == 1, (arch, child)
        assert space.key(child) != space.key(arch)


def test_mutate_is_deterministic(space):
    arch = space.sample(random.Random(3))
    assert space.mutate(arch, random.Random(7)) == space.mutate(arch, random.Random(7))


def test_neighbours_are_valid_distinct_and_one_step_away(space):
    for arch in samples(space, 5):
        neighbours = space.neighbours(arch)
        assert neighbours
        keys = [space.key(n) for n in neighbours]
        assert len(set(keys)) == len(keys)
        assert space.key(arch) not in keys
        for n in neighbours:
            space.validate_arch(n)
            assert len(changed_decisions(arch, n)) == 1, (arch, n)


def test_encoding_has_fixed_length_and_one_hot_per_active_decision(space):
    archs = samples(space)
    encodings = [space.encode(a) for a in archs]
    for arch, vec in zip(archs, encodings, strict=True):
        assert len(vec) == space.encoding_length()
        assert set(vec) <= {0.0, 1.0}
        assert sum(vec) == len(arch)
    distinct_archs = {space.key(a) for a in archs}
    assert len({tuple(v) for v in encodings}) == len(distinct_archs)


def test_key_is_equal_for_equal_archs_and_different_for_different_ones(space):
    archs = samples(space)
    for arch in archs:
        reordered = dict(reversed(list(arch.items())))
        assert space.key(reordered) == space.key(arch)
    for a in archs:
        for b in archs:
            assert (space.key(a) == space.key(b)) == (a == b)


def test_default_size_is_a_positive_count(space):
    assert isinstance(space.size(), int) and space.size() >= 1
    assert math.isfinite(space.log10_size())
    assert space.info()["log10_size"] == round(math.log10(space.size()), 3)


@pytest.mark.parametrize("kind", KINDS)
def test_size_counts_every_architecture_of_a_tiny_spec(kind):
    if kind not in TINY_SPECS:
        pytest.skip(f"no tiny spec for {kind!r} in this suite")
    space = build_space(kind, TINY_SPECS[kind])
    archs = list(space.enumerate())
    assert len({space.key(a) for a in archs}) == len(archs)
    assert space.size() == len(archs)
    # Sampling the tiny space many times reaches nothing enumerate missed.
    enumerated = {space.key(a) for a in archs}
    assert {space.key(a) for a in samples(space, 200)} <= enumerated


def test_describe_is_a_short_non_empty_line(space):
    for arch in samples(space, 5):
        text = space.describe(arch)
        assert isinstance(text, str) and text.strip() and "\n" not in text


@pytest.mark.parametrize(("kind", "task", "input_name"), list(forward_cases()))
def test_to_torch_builds_a_model_with_the_right_output_shape(kind, task, input_name):
    assert input_name in INPUTS, f"{kind} declares task {task!r}, which this suite does not know"
    space = space_of(kind)
    input_shape, vocab_size = INPUTS[input_name]
    batch = 3
    if vocab_size:
        x = torch.randint(0, vocab_size, (batch, *input_shape)).float()  # datasets hold ids as floats
    else:
        x = torch.randn(batch, *input_shape)
    expected = (batch, input_shape[0], vocab_size) if task == "language_modelling" else (batch, NUM_CLASSES)
    for arch in samples(space, 3, seed=11):
        model = space.to_torch(arch, input_shape, NUM_CLASSES, task=task, vocab_size=vocab_size)
        assert isinstance(model, torch.nn.Module)
        out = model(x)
        assert tuple(out.shape) == expected, space.describe(arch)
        assert torch.isfinite(out).all()


def test_unknown_setting_is_rejected_by_name(space):
    with pytest.raises(SpecError) as err:
        type(space)({"no_such_setting": 1})
    assert err.value.field == "no_such_setting"


def test_spec_that_is_not_an_object_is_rejected(space):
    with pytest.raises(SpecError) as err:
        type(space)(["not", "a", "dict"])
    assert err.value.field == "spec"


# Per form-field kind: values that are of the wrong type, out of range or empty.
BAD_VALUES = {
    "int": ["3", 2.5, True, None, -10**9, 10**9],
    "float": ["0.5", None, [], -1e9, 1e9],
    "int_list": [[], "8", [2.5], ["8"], [True], [-10**9], [10**9]],
    "float_list": [[], "0.5", ["0.5"], [None], [-1e9], [1e9]],
    "multi": [[], "x", ["no-such-option"]],
    "choice": ["no-such-option", None, []],
    "bool": ["yes", None, 1],
}


def bad_spec_cases():
    for kind in KINDS:
        for f in SPACES[kind].spec_fields():
            for value in BAD_VALUES[f.kind]:
                yield pytest.param(kind, f.name, value, id=f"{kind}-{f.name}-{value!r}")


@pytest.mark.parametrize(("kind", "field_name", "value"), list(bad_spec_cases()))
def test_bad_setting_is_rejected_by_name(kind, field_name, value):
    with pytest.raises(SpecError) as err:
        build_space(kind, {field_name: value})
    assert err.value.field == field_name


def test_arch_with_a_bad_value_is_rejected_by_name(space):
    arch = space.sample(random.Random(0))
    name = next(iter(arch))
    with pytest.raises(SpecError) as err:
        space.validate_arch({**arch, name: "not a choice"})
    assert err.value.field == name


def test_arch_missing_a_decision_is_rejected_by_name(space):
    # A missing decision whose value is its first choice is filled back by complete(),
    # so the active set is unchanged and exactly that decision is reported missing.
    checked = 0
    for arch in samples(space, 10):
        for name in [n for n in arch if arch[n] == space.decision(n).choices[0]]:
            partial = {k: v for k, v in arch.items() if k != name}
            with pytest.raises(SpecError) as err:
                space.validate_arch(partial)
            assert err.value.field == name
            checked += 1
    assert checked


def test_arch_with_an_inactive_decision_is_rejected(space):
    arch = space.sample(random.Random(0))
    inactive = [d.name for d in space.decisions if d.name not in arch]
    if not inactive:
        pytest.skip("every decision of this space is always active")
    with pytest.raises(SpecError) as err:
        space.validate_arch({**arch, inactive[0]: space.decision(inactive[0]).choices[0]})
    assert err.value.field == inactive[0]
