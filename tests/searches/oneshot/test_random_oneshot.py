import pytest

from searches.oneshot.random_oneshot import RandomOneShot, run_random_oneshot


def test_derives_the_best_of_k_distinct_sampled_archs(nb201, tiny_digits):
    result = run_random_oneshot(nb201, tiny_digits, {"epochs": 1, "derive_samples": 6}, seed=0)
    keys = {nb201.key(c["arch"]) for c in result.candidates}
    assert len(result.candidates) == len(keys) == 6
    accuracies = [c["val_accuracy"] for c in result.candidates]
    assert result.arch == result.candidates[accuracies.index(max(accuracies))]["arch"]
    nb201.validate_arch(result.arch)


def test_candidate_accuracies_are_the_inherited_accuracies(nb201, tiny_digits):
    search = RandomOneShot(nb201, tiny_digits, {"epochs": 1, "derive_samples": 3}, seed=0)
    result = search.run()
    for candidate in result.candidates:
        assert candidate["val_accuracy"] == search.inherited_accuracy(candidate["arch"])


def test_architecture_weights_are_uniform_every_epoch(chain_mlp, tiny_digits):
    result = run_random_oneshot(chain_mlp, tiny_digits, {"epochs": 2, "derive_samples": 2}, seed=0)
    assert len(result.arch_weights) == 2
    widths = result.arch_weights[0]["width_1"]
    assert widths == {"8": pytest.approx(1 / 3), "16": pytest.approx(1 / 3), "32": pytest.approx(1 / 3)}


def test_same_seed_same_result(nb201, tiny_digits):
    settings = {"epochs": 1, "derive_samples": 4}
    first = run_random_oneshot(nb201, tiny_digits, settings, seed=2)
    again = run_random_oneshot(nb201, tiny_digits, settings, seed=2)
    other = run_random_oneshot(nb201, tiny_digits, settings, seed=3)
    assert first.candidates == again.candidates
    assert first.candidates != other.candidates


def test_cancel_after_the_first_epoch_still_derives(nb201, tiny_digits):
    result = run_random_oneshot(nb201, tiny_digits, {"epochs": 3, "derive_samples": 2}, seed=0,
                                on_epoch=lambda e, info: False)
    assert result.stopped == "stopped_by_callback" and result.epochs_run == 1
    nb201.validate_arch(result.arch)
