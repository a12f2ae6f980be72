from searches.pruners.multi_fidelity import (
    ASHAPruner,
    HyperbandPruner,
    MedianStoppingPruner,
    SuccessiveHalvingPruner,
)
from searches.strategies.base import COMPLETE, PRUNED, RUNNING, TrialRecord


def trial(number, curve, state=COMPLETE):
    return TrialRecord(number, {"n": number}, state, {}, tuple(curve))


def continuing(pruner, epoch, values, numbers=None):
    """Numbers of the trials told to go on, when each reports values[i] at `epoch` with all curves known."""
    numbers = numbers or list(range(1, len(values) + 1))
    history = [trial(n, [v] * epoch, RUNNING) for n, v in zip(numbers, values, strict=True)]
    return [n for n, v in zip(numbers, values, strict=True) if not pruner.should_stop(n, epoch, v, history)]


def test_successive_halving_promotes_the_top_third_of_a_cohort():
    sh = SuccessiveHalvingPruner({"cohort_size": 9, "eta": 3, "min_resource": 1})
    values = [0.5, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4]
    assert continuing(sh, 1, values) == [2, 4, 6]
    assert continuing(sh, 3, [0.5, 0.9, 0.7], numbers=[2, 4, 6]) == [4]  # rung 1 keeps 9 // 9 = 1
    assert continuing(sh, 2, values) == list(range(1, 10))  # not a rung: nobody stops


def test_successive_halving_waits_for_evidence_and_compares_within_the_cohort():
    sh = SuccessiveHalvingPruner({"cohort_size": 9, "eta": 3})
    early = [trial(1, [0.9]), trial(2, [0.8])]
    assert not sh.should_stop(3, 1, 0.1, early)  # only two better so far: it may still make the top three
    assert sh.should_stop(3, 1, 0.1, [*early, trial(4, [0.7])])
    other_cohort = [trial(n, [0.99]) for n in range(10, 19)]
    assert not sh.should_stop(3, 1, 0.1, other_cohort)


def test_asha_promotes_the_top_fraction_of_whoever_reached_the_rung():
    asha = ASHAPruner({"eta": 3, "min_resource": 1})
    assert not asha.should_stop(1, 1, 0.2, [])  # alone: the best so far goes on
    history = [trial(n, [v]) for n, v in enumerate([0.9, 0.8, 0.7, 0.6, 0.5], start=2)]
    assert not asha.should_stop(1, 1, 0.85, history)  # 2nd of 6, top 6 // 3 = 2
    assert asha.should_stop(1, 1, 0.75, history)
    assert not asha.should_stop(1, 2, 0.0, history)  # epoch 2 is not a rung with eta 3


def test_minimising_pruners_flip_the_comparison():
    asha = ASHAPruner({"eta": 2}, direction="min")
    history = [trial(2, [1.0]), trial(3, [2.0]), trial(4, [3.0])]
    assert not asha.should_stop(1, 1, 0.5, history)
    assert asha.should_stop(1, 1, 2.5, history)


def test_hyperband_brackets_follow_hyperbands_proportions_and_first_rungs():
    hb = HyperbandPruner({"min_resource": 1, "max_resource": 27, "eta": 3})
    assert hb.bracket_sizes() == [27, 12, 6, 4]
    assert [hb.bracket_of(n) for n in (1, 27, 28, 39, 40, 46, 49, 50)] == [0, 0, 1, 1, 2, 3, 3, 0]
    rivals = [trial(n, [0.9] * 9) for n in range(28, 34)]  # bracket 1: first rung at epoch 3
    assert not hb.should_stop(34, 1, 0.1, rivals)
    assert hb.should_stop(34, 3, 0.1, rivals)
    assert not hb.should_stop(1, 3, 0.1, rivals)  # trial 1 is in bracket 0: other rivals


def test_median_stopping_compares_the_best_so_far_with_the_median_running_average():
    median = MedianStoppingPruner({"warmup_epochs": 1, "min_trials": 3})
    others = [trial(2, [0.5, 0.7]), trial(3, [0.6, 0.8]), trial(4, [0.1, 0.3])]  # running averages .6 .7 .2
    assert median.should_stop(1, 2, 0.55, [*others, trial(1, [0.5], RUNNING)])
    assert not median.should_stop(1, 2, 0.3, [*others, trial(1, [0.65], RUNNING)])  # best so far 0.65
    assert not median.should_stop(1, 1, 0.0, others)  # warm-up
    assert not median.should_stop(1, 2, 0.0, others[:2])  # too few others


def test_pruned_trials_curves_count_at_the_rungs_they_reached():
    asha = ASHAPruner({"eta": 2})
    history = [trial(2, [0.9], PRUNED), trial(3, [0.8], PRUNED)]
    assert asha.should_stop(1, 1, 0.5, history)

