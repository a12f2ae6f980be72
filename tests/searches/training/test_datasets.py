import numpy as np
import pytest
import torch

from searches.training.datasets import (
    BIT_STRING_LENGTH,
    BUILTIN_DATASETS,
    DatasetError,
    DataSplits,
    bit_strings,
    load_builtin,
    split_arrays,
    standardise,
)

torch.set_num_threads(1)

EXPECTED = {
    # key: (input_shape, num_classes, samples, vocab_size)
    "digits": ((1, 8, 8), 10, 1797, 0),
    "wine": ((13,), 3, 178, 0),
    "breast_cancer": ((30,), 2, 569, 0),
    "parity": ((BIT_STRING_LENGTH,), 2, 2000, 2),
    "majority": ((BIT_STRING_LENGTH,), 2, 2000, 2),
}


def test_every_builtin_is_described():
    assert set(BUILTIN_DATASETS) == set(EXPECTED)
    for key, entry in BUILTIN_DATASETS.items():
        assert entry.key == key and entry.label and entry.task == "classification"


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_builtin_shapes_and_labels(key):
    input_shape, num_classes, samples, vocab_size = EXPECTED[key]
    data = load_builtin(key, seed=0)
    assert data.input_shape == input_shape
    assert data.num_classes == num_classes
    assert data.vocab_size == vocab_size
    assert data.summary()["samples"] == samples
    for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val), (data.x_test, data.y_test)):
        assert x.dtype == torch.float32 and y.dtype == torch.long
        assert tuple(x.shape[1:]) == input_shape and len(x) == len(y) > 0
        assert 0 <= int(y.min()) and int(y.max()) < num_classes


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_splits_are_deterministic_under_a_seed(key):
    a, b, c = load_builtin(key, 3), load_builtin(key, 3), load_builtin(key, 4)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


@pytest.mark.parametrize("key", ["wine", "breast_cancer"])
def test_tabular_builtins_are_standardised_with_training_statistics(key):
    data = load_builtin(key, 0)
    assert torch.allclose(data.x_train.mean(0), torch.zeros(data.input_shape), atol=1e-5)
    assert torch.allclose(data.x_train.std(0), torch.ones(data.input_shape), atol=1e-4)
    # The validation split was moved by the training mean, not its own, so its mean is not 0.
    assert data.x_val.mean(0).abs().max() > 0.01


def test_standardise_uses_only_the_training_split():
    x = np.array([[0.0], [2.0], [4.0], [6.0], [8.0], [10.0], [12.0], [14.0], [16.0], [100.0]], dtype=np.float32)
    splits = split_arrays(x, np.arange(10) % 2, (1,), 2, seed=0)
    train_mean, train_std = splits.x_train.mean(), splits.x_train.std()
    scaled = standardise(splits)
    assert torch.allclose(scaled.x_val, (splits.x_val - train_mean) / train_std)
    assert torch.allclose(scaled.x_test, (splits.x_test - train_mean) / train_std)


def test_standardise_leaves_a_constant_feature_finite():
    x = np.ones((20, 2), dtype=np.float32)
    x[:, 1] = np.arange(20)
    scaled = standardise(split_arrays(x, np.arange(20) % 2, (2,), 2, seed=0))
    assert torch.isfinite(scaled.x_train).all()


@pytest.mark.parametrize("kind, rule", [
    ("parity", lambda bits: bits.sum(1) % 2),
    ("majority", lambda bits: (bits.sum(1) > BIT_STRING_LENGTH / 2).astype(np.int64)),
])
def test_bit_string_labels_follow_the_rule(kind, rule):
    bits, labels = bit_strings(kind, seed=5)
    assert set(np.unique(bits)) == {0.0, 1.0}
    assert np.array_equal(labels, rule(bits))
    assert 0.3 < labels.mean() < 0.7  # both classes are well represented


def test_bit_strings_are_generated_from_the_seed():
    assert np.array_equal(bit_strings("parity", 1)[0], bit_strings("parity", 1)[0])
    assert not np.array_equal(bit_strings("parity", 1)[0], bit_strings("parity", 2)[0])


def test_bit_string_rejects_an_unknown_task():
    with pytest.raises(DatasetError, match="unknown bit-string task"):
        bit_strings("xor", 0)


def test_fraction_is_deterministic_and_keeps_the_dataset_facts():
    data = load_builtin("parity", 0)
    half = data.fraction(0.5, seed=1)
    assert len(half.x_train) == len(data.x_train) // 2
    assert torch.equal(half.x_train, data.fraction(0.5, seed=1).x_train)
    assert half.vocab_size == 2 and half.task == data.task and half.x_val is data.x_val
    assert data.fraction(1, seed=1) is data


@pytest.mark.parametrize("frac", [0, -0.5, 1.5])
def test_fraction_out_of_range(frac):
    with pytest.raises(DatasetError, match="data fraction"):
        load_builtin("wine", 0).fraction(frac, 0)


def test_unknown_builtin():
    with pytest.raises(DatasetError, match="unknown built-in dataset 'mnist'"):
        load_builtin("mnist")


def test_split_arrays_rejects_mismatched_and_tiny_inputs():
    with pytest.raises(DatasetError, match="3 samples but 2 labels"):
        split_arrays(np.zeros((3, 1)), np.zeros(2), (1,), 2, 0)
    with pytest.raises(DatasetError, match="at least 10 samples"):
        split_arrays(np.zeros((5, 1)), np.zeros(5), (1,), 2, 0)


def test_datasplits_old_positional_construction_still_works():
    t = torch.zeros(2, 1)
    data = DataSplits(t, t, t, t, t, t, (1,), 2)
    assert data.task == "classification" and data.vocab_size == 0
