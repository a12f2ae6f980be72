import math
import os

import numpy as np
import pytest
import torch

from searches.spaces.chain_mlp import ChainMLPSpace
from searches.spaces.transformer import TransformerSpace
from searches.training.datasets import load_builtin, split_arrays
from searches.training.trainer import (
    EpochResult,
    TrainConfig,
    TrainingError,
    scale_widths,
    train,
)
from searches.training.uploads import load_upload

torch.set_num_threads(1)

MLP_ARCH = {"depth": 2, "width_1": 32, "width_2": 32, "activation": "relu", "dropout": 0.2, "norm": "batch"}


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits", 0).fraction(0.4, seed=0)


def mlp(data, seed=0, **arch):
    torch.manual_seed(seed)
    return ChainMLPSpace().to_torch({**MLP_ARCH, **arch}, data.input_shape, data.num_classes)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def comparable(result):
    """Everything in a result but wall-clock times."""
    history = [(h.epoch, h.train_loss, h.val_loss, h.val_accuracy) for h in result.history]
    return (result.epochs_run, result.best_epoch, result.val_accuracy, result.test_accuracy, result.stopped, history)


def test_seeded_runs_are_identical(digits):
    config = TrainConfig(epochs=3, seed=11)
    a, b = mlp(digits), mlp(digits)
    ra, rb = train(a, digits, config), train(b, digits, config)
    assert comparable(ra) == comparable(rb)
    assert same_weights(weights(a), weights(b))
    other = mlp(digits)
    assert comparable(train(other, digits, TrainConfig(epochs=3, seed=12))) != comparable(ra)


def test_training_learns_and_reports_every_epoch(digits):
    seen = []
    result = train(mlp(digits), digits, TrainConfig(epochs=4, lr=1e-2), on_epoch=seen.append)
    assert [r.epoch for r in seen] == [1, 2, 3, 4]
    assert seen[-1].train_loss < seen[0].train_loss
    assert result.val_accuracy > 0.8 and result.test_accuracy > 0.8
    metrics = seen[0].as_metrics()
    assert set(metrics) == {"train_loss", "val_loss", "val_accuracy", "seconds", "samples_per_s"}
    assert metrics["samples_per_s"] > 0 and metrics["seconds"] > 0
    final = result.final_metrics()
    assert set(final) == {"val_accuracy", "test_accuracy", "params", "train_seconds", "epochs", "best_epoch"}
    assert final["val_accuracy"] == max(r.val_accuracy for r in seen)
    assert final["val_accuracy"] == seen[final["best_epoch"] - 1].val_accuracy


def test_sgd_and_an_unknown_optimizer(digits):
    assert train(mlp(digits), digits, TrainConfig(epochs=1, optimizer="sgd", lr=0.05)).epochs_run == 1
    with pytest.raises(TrainingError, match="unknown optimizer 'lamb'"):
        train(mlp(digits), digits, TrainConfig(epochs=1, optimizer="lamb"))


def test_early_stopping_when_validation_stops_improving(digits):
    # With a learning rate of zero (and no batch-norm statistics) nothing changes, so epoch 1 stays the best.
    result = train(mlp(digits, norm="none"), digits, TrainConfig(epochs=10, lr=0.0, weight_decay=0.0, patience=2))
    assert result.stopped == "early_stopped"
    assert result.epochs_run == 3 and result.best_epoch == 1


def test_no_early_stopping_without_patience(digits):
    result = train(mlp(digits, norm="none"), digits, TrainConfig(epochs=3, lr=0.0, weight_decay=0.0, patience=0))
    assert result.stopped == "completed" and result.epochs_run == 3


def test_the_callback_can_stop_training(digits):
    result = train(mlp(digits), digits, TrainConfig(epochs=10), on_epoch=lambda r: r.epoch < 2)
    assert result.stopped == "stopped_by_callback"
    assert result.epochs_run == 2


def test_the_best_epoch_weights_are_restored(digits):
    model = mlp(digits)
    snapshots = []
    result = train(model, digits, TrainConfig(epochs=4, lr=3e-2),
                   on_epoch=lambda r: snapshots.append(weights(model)))
    assert same_weights(weights(model), snapshots[result.best_epoch - 1])


def test_language_modelling_reports_perplexity(tmp_path):
    text = "".join("abcab"[i % 5] if i % 17 else "c" for i in range(3000))
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    data = load_upload(path, "text", seed=0, seq_len=16)
    space = TransformerSpace()
    arch = {"depth": 1, "embed_dim": 16, "heads_1": 2, "mlp_ratio_1": 2.0}
    torch.manual_seed(0)
    model = space.to_torch(arch, data.input_shape, data.num_classes, task=data.task, vocab_size=data.vocab_size)
    seen = []
    result = train(model, data, TrainConfig(epochs=4, lr=1e-2, batch_size=16), on_epoch=seen.append)
    assert all(r.val_perplexity == pytest.approx(math.exp(r.val_loss)) for r in seen)
    assert seen[-1].val_perplexity < seen[0].val_perplexity
    assert seen[-1].val_perplexity < data.vocab_size  # better than guessing uniformly
    final = result.final_metrics()
    assert final["val_perplexity"] == min(r.val_perplexity for r in seen)
    assert 1 <= final["test_perplexity"] < data.vocab_size
    assert 0 < final["val_accuracy"] <= 1  # next-token accuracy
    assert "val_perplexity" in seen[0].as_metrics()


class Crash(RuntimeError):
    pass


def crash_after(epoch):
    def on_epoch(result: EpochResult):
        if result.epoch == epoch:
            raise Crash(f"worker died after epoch {epoch}")
        return True

    return on_epoch


def test_resuming_from_a_checkpoint_matches_an_uninterrupted_run(digits, tmp_path):
    config = TrainConfig(epochs=4, seed=3, checkpoint_path=str(tmp_path / "trial.pt"))
    uninterrupted = mlp(digits)
    expected = train(uninterrupted, digits, TrainConfig(epochs=4, seed=3))

    with pytest.raises(Crash):
        train(mlp(digits), digits, config, on_epoch=crash_after(2))
    assert os.listdir(tmp_path) == ["trial.pt"]  # the temporary file was renamed into place

    resumed_epochs = []
    resumed = mlp(digits, seed=99)  # a fresh process builds a different initial model
    result = train(resumed, digits, config, on_epoch=resumed_epochs.append)
    # epoch 2 was reported but the crash came before its checkpoint: it runs again, never goes unreported
    assert [r.epoch for r in resumed_epochs] == [2, 3, 4]
    assert comparable(result) == comparable(expected)
    assert same_weights(weights(resumed), weights(uninterrupted))


def test_a_finished_checkpoint_is_not_trained_again(digits, tmp_path):
    config = TrainConfig(epochs=2, checkpoint_path=str(tmp_path / "t.pt"))
    first = train(mlp(digits), digits, config)
    calls = []
    again = train(mlp(digits, seed=5), digits, config, on_epoch=calls.append)
    assert calls == [] and comparable(again) == comparable(first)


def test_a_checkpoint_from_other_settings_is_refused(digits, tmp_path):
    path = str(tmp_path / "t.pt")
    train(mlp(digits), digits, TrainConfig(epochs=2, checkpoint_path=path))
    with pytest.raises(TrainingError, match="written with epochs=2, not 3"):
        train(mlp(digits), digits, TrainConfig(epochs=3, checkpoint_path=path))


def test_a_damaged_checkpoint_gives_a_clear_error(digits, tmp_path):
    path = tmp_path / "t.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="cannot read the checkpoint"):
        train(mlp(digits), digits, TrainConfig(epochs=1, checkpoint_path=str(path)))


def test_a_batch_of_one_is_skipped():
    x = np.random.default_rng(0).normal(size=(21, 4)).astype(np.float32)
    data = split_arrays(x, np.arange(21) % 2, (4,), 2, seed=0)  # 15 training samples
    result = train(mlp(data), data, TrainConfig(epochs=1, batch_size=7))  # batches 7, 7, 1
    assert result.history[0].samples_per_s > 0
    assert math.isfinite(result.history[0].train_loss)


def test_cuda_requested_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    data = load_builtin("wine", 0)
    with pytest.raises(TrainingError, match="no.*available|none is available"):
        train(mlp(data), data, TrainConfig(epochs=1, device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision runs on CUDA only")
def test_mixed_precision_on_cuda(digits, tmp_path):
    config = TrainConfig(epochs=2, device="cuda", amp=True, checkpoint_path=str(tmp_path / "amp.pt"))
    result = train(mlp(digits), digits, config)
    assert result.val_accuracy > 0.5
    assert torch.load(tmp_path / "amp.pt", weights_only=True)["scaler"] is not None


def test_scale_widths_scales_only_width_lists():
    spec = {"widths": [32, 64, 128], "channels": [8, 16], "embed_dims": [16], "mlp_widths": [3],
            "dropouts": [0.0, 0.2], "max_depth": 3, "heads": [1, 2]}
    half = scale_widths(spec, 0.5)
    assert half == {**spec, "widths": [16, 32, 64], "channels": [4, 8], "embed_dims": [8], "mlp_widths": [2]}
    assert spec["widths"] == [32, 64, 128]  # the input is not modified
    assert scale_widths({"widths": [1, 2, 3]}, 0.1) == {"widths": [1]}  # at least 1, repeats dropped
    ChainMLPSpace(scale_widths(ChainMLPSpace.default_spec(), 0.25))  # the result is a valid spec
    with pytest.raises(TrainingError, match="positive"):
        scale_widths(spec, 0)


def test_config_from_dict_ignores_settings_it_does_not_know():
    config = TrainConfig.from_dict({"epochs": 2, "data_fraction": 0.5, "lr": 0.1})
    assert config.epochs == 2 and config.lr == 0.1 and config.checkpoint_path == "" and config.amp
