"""A one-shot run killed after an epoch resumes from its checkpoint: every strategy continues after
the saved epoch (P-DARTS across a stage change), a seeded run that draws no validation batches repeats
the uninterrupted one exactly, and a checkpoint of other settings is refused with the reason."""

import pytest

from searches.oneshot import ONESHOT_STRATEGIES, build_latency_table, run_oneshot
from searches.oneshot.search import OneShotCheckpointError

SETTINGS = {
    "random_oneshot": {"derive_samples": 2},
    "enas": {"controller_steps": 1, "derive_samples": 2},
    "darts": {},
    "proxyless": {"latency_weight": 0.1},
    "pdarts": {"stages": 2, "ops_kept": [3], "skip_dropout": [0.2, 0.1]},  # epoch 2 starts the second stage
    "pcdarts": {"partial_channels": 2},
}


class Killed(Exception):
    """Stands for the SIGKILL of the worker, after the checkpoint of the epoch before was written."""


def killer(at_epoch: int, seen: list):
    def on_epoch(epoch, info):
        seen.append(epoch)
        if epoch == at_epoch:
            raise Killed
    return on_epoch


def extra_for(name, space, data):
    if name != "proxyless":
        return {}
    costs = build_latency_table(space, "macs", data.input_shape, data.num_classes)
    return {"latency_table": costs.table, "latency_base_ms": costs.base}


#: P-DARTS resumes into its second stage's deeper NB201 supernet; PC-DARTS runs on NB201 only.
ON_NB201 = {"pdarts", "pcdarts"}


@pytest.mark.parametrize("name", sorted(ONESHOT_STRATEGIES))
def test_a_killed_run_resumes_after_its_last_saved_epoch(spaces, tiny_digits, tmp_path, name):
    space = spaces["nb201" if name in ON_NB201 else "chain_mlp"]
    settings, path = {"epochs": 3, "batch_size": 96, **SETTINGS[name]}, str(tmp_path / "supernet.pt")
    extra, first = extra_for(name, space, tiny_digits), []
    with pytest.raises(Killed):
        run_oneshot(name, space, tiny_digits, settings, seed=3, on_epoch=killer(3, first), checkpoint_path=path,
                    **extra)
    second = []
    result = run_oneshot(name, space, tiny_digits, settings, seed=3, on_epoch=lambda e, i: second.append(e),
                         checkpoint_path=path, **extra)
    assert first == [1, 2, 3] and second == [3]
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    space.validate_arch(result.arch)


def test_a_resumed_random_oneshot_run_repeats_the_uninterrupted_one(chain_mlp, tiny_digits, tmp_path):
    settings, path = {"epochs": 3, "derive_samples": 3}, str(tmp_path / "supernet.pt")
    whole = run_oneshot("random_oneshot", chain_mlp, tiny_digits, settings, seed=5)
    with pytest.raises(Killed):
        run_oneshot("random_oneshot", chain_mlp, tiny_digits, settings, seed=5, on_epoch=killer(2, []),
                    checkpoint_path=path)
    resumed = run_oneshot("random_oneshot", chain_mlp, tiny_digits, settings, seed=5, checkpoint_path=path)
    drop_seconds = [{k: v for k, v in h.items() if k != "seconds"} for h in whole.history]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history] == drop_seconds
    assert resumed.arch == whole.arch and resumed.candidates == whole.candidates


def test_a_checkpoint_of_other_settings_is_refused(chain_mlp, tiny_digits, tmp_path):
    path = str(tmp_path / "supernet.pt")
    with pytest.raises(Killed):
        run_oneshot("random_oneshot", chain_mlp, tiny_digits, {"epochs": 3}, on_epoch=killer(2, []),
                    checkpoint_path=path)
    with pytest.raises(OneShotCheckpointError, match="batch_size"):
        run_oneshot("random_oneshot", chain_mlp, tiny_digits, {"epochs": 3, "batch_size": 32}, checkpoint_path=path)


def test_a_damaged_checkpoint_is_refused(chain_mlp, tiny_digits, tmp_path):
    path = tmp_path / "supernet.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(OneShotCheckpointError, match="cannot read"):
        run_oneshot("random_oneshot", chain_mlp, tiny_digits, {"epochs": 1}, checkpoint_path=str(path))
