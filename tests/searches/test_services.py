"""Services on the real PostgreSQL: the only writers of searches and trials."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from searches import dispatch, services
from searches.access import visible_projects
from searches.engine_setup import build_search_strategy
from searches.models import Search, SearchSpace, Trial, TrialMetric

pytestmark = pytest.mark.django_db


def test_tests_run_on_postgresql():
    assert connection.vendor == "postgresql", "make test runs the service tests on the real PostgreSQL"


def test_builtin_dataset_is_created_once():
    assert services.builtin_dataset("digits").id == services.builtin_dataset("digits").id


def test_unknown_builtin_dataset_is_a_field_error():
    with pytest.raises(ValidationError) as exc:
        services.builtin_dataset("imagenet")
    assert "dataset" in exc.value.message_dict


def test_project_members_exclude_the_owner(owner, member):
    project = services.create_project(owner, "P", services.builtin_dataset("digits"), members=[owner, member])
    assert list(project.members.all()) == [member]
    assert set(visible_projects(owner)) == set(visible_projects(member)) == {project}


def test_start_search_dispatches_the_first_advance_on_commit(start_search, django_capture_on_commit_callbacks,
                                                              monkeypatch):
    sent = []
    monkeypatch.setattr("searches.dispatch.send_now", lambda name, args, queue: sent.append((name, *args)))
    with django_capture_on_commit_callbacks(execute=True):
        search = start_search()
    assert search.state == Search.QUEUED
    assert search.space.kind == "chain_mlp" and search.space.spec["widths"] == [32, 64, 128]
    assert (dispatch.ADVANCE_SEARCH, search.id) in sent


@pytest.mark.parametrize("bad, field", [
    ({"space_spec": {"widths": []}}, "spec.widths"),
    ({"space_spec": {"max_depth": 99}}, "spec.max_depth"),
    ({"space_spec": {"colour": "red"}}, "spec.colour"),
    ({"space_kind": "nope"}, "space_kind"),
    ({"strategy": "nope"}, "strategy"),
    ({"max_trials": None, "max_seconds": None}, "max_trials"),
    ({"training": {"epochs": 0}}, "training.epochs"),
    ({"training": {"optimizer": "adam9"}}, "training.optimizer"),
    ({"name": "  "}, "name"),
])
def test_bad_input_names_the_field_and_creates_nothing(start_search, bad, field):
    with pytest.raises(ValidationError) as exc:
        start_search(**bad)
    assert field in exc.value.message_dict
    assert Search.objects.count() == 0 and SearchSpace.objects.count() == 0


def test_advance_creates_trials_up_to_parallelism(start_search):
    search = start_search(max_trials=5, parallelism=2)
    ids = services.advance_search(search.id)
    search.refresh_from_db()
    assert len(ids) == 2 and search.state == Search.RUNNING
    assert services.advance_search(search.id) == []  # both slots taken: nothing new
    numbers = sorted(Trial.objects.filter(search=search).values_list("number", flat=True))
    assert numbers == [1, 2]


def test_advance_is_deterministic_under_the_seed(start_search):
    first, second = start_search(name="a", seed=7), start_search(name="b", seed=7)
    services.advance_search(first.id)
    services.advance_search(second.id)
    assert first.trials.get().arch == second.trials.get().arch


def test_claim_is_exclusive(start_search):
    search = start_search()
    (trial_id,) = services.advance_search(search.id)
    assert services.claim_trial(trial_id, "w1", "cpu") is not None
    assert services.claim_trial(trial_id, "w2", "cpu") is None
    assert Trial.objects.get(id=trial_id).worker == "w1"


def test_epochs_and_completion_are_recorded(start_search):
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "w", "cpu")
    assert services.record_epoch(trial_id, 1, {"val_accuracy": 0.5, "train_loss": 1.2, "bad": float("nan")},
                                 attempt=1)
    assert services.record_epoch(trial_id, 1, {"val_accuracy": 0.6}, attempt=1)  # a retried epoch overwrites
    assert services.complete_trial(trial_id, {"val_accuracy": 0.9, "params": 1234})
    assert not services.complete_trial(trial_id, {"val_accuracy": 0.1})  # finished trials stay as they are
    trial = Trial.objects.get(id=trial_id)
    assert (trial.state, trial.val_accuracy, trial.params, trial.epochs_done) == ("complete", 0.9, 1234, 1)
    values = dict(TrialMetric.objects.filter(trial=trial).values_list("name", "value"))
    assert values == {"val_accuracy": 0.6, "train_loss": 1.2}
    services.advance_search(search.id)
    search.refresh_from_db()
    assert search.state == Search.DONE and search.finished_at is not None


def test_failed_trials_count_against_the_budget(start_search):
    search = start_search(max_trials=2)
    for _ in range(2):
        (trial_id,) = services.advance_search(search.id)
        services.claim_trial(trial_id, "w", "cpu")
        services.fail_trial(trial_id, "boom")
    services.advance_search(search.id)
    search.refresh_from_db()
    assert search.state == Search.DONE
    assert list(search.trials.values_list("state", flat=True)) == ["failed", "failed"]


def test_cancel_stops_open_trials_and_tells_the_trainer(start_search):
    search = start_search(parallelism=2)
    running, queued = services.advance_search(search.id)
    services.claim_trial(running, "w", "cpu")
    assert services.cancel_search(search)
    assert Trial.objects.get(id=queued).state == Trial.CANCELLED
    assert services.record_epoch(running, 1, {"val_accuracy": 0.5}, attempt=1) is False
    assert services.advance_search(search.id) == []
    assert not services.cancel_search(search)


def test_pause_holds_new_trials_and_resume_continues(start_search):
    search = start_search(max_trials=3)
    services.advance_search(search.id)
    assert services.pause_search(search)
    assert services.advance_search(search.id) == []
    assert services.resume_search(search)
    search.refresh_from_db()
    assert search.state == Search.RUNNING


def test_stale_running_trials_are_reclaimable(start_search):
    search = start_search(max_trials=2)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "dead-worker", "cpu")
    Trial.objects.filter(id=trial_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    trial = services.claim_trial(trial_id, "w2", "cpu")  # a redelivered task may take it over
    assert trial is not None and trial.attempt == 2


def test_a_broken_strategy_fails_the_search_with_its_reason(start_search, monkeypatch):
    search = start_search()

    def broken(self, history, n):
        raise RuntimeError("surrogate diverged")

    monkeypatch.setattr("searches.strategies.random_search.RandomSearch.ask", broken)
    assert services.advance_search(search.id) == []
    search.refresh_from_db()
    assert search.state == Search.FAILED and "surrogate diverged" in search.error


def test_an_exhausted_space_finishes_the_search(start_search):
    tiny = {"min_depth": 1, "max_depth": 1, "widths": [8], "activations": ["relu"], "dropouts": [0.0],
            "norms": ["none"]}
    search = start_search(space_spec=tiny, max_trials=5)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "w", "cpu")
    services.complete_trial(trial_id, {"val_accuracy": 0.5})
    assert services.advance_search(search.id) == []
    search.refresh_from_db()
    assert search.state == Search.DONE and "exhausted" in search.error


def test_events_are_sent_after_commit(start_search, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("searches.events.send_now", lambda search_id, message: sent.append(message["type"]))
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (trial_id,) = services.advance_search(search.id)
    assert sent == []  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()
    assert sent.count("trial.update") == 1 and "search.update" in sent


def test_parameter_constraint_is_applied_before_training(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=6, parallelism=6, constraints=[{"metric": "params", "max": 6000}])
    services.advance_search(search.id)
    space = search.space.build()
    counts = [sum(p.numel() for p in space.to_torch(t.arch, (1, 8, 8), 10).parameters())
              for t in search.trials.all()]
    assert len(counts) == 6 and max(counts) <= 6000


@pytest.mark.parametrize("bad", [[{"metric": "flops", "max": 5}], [{"metric": "params", "max": -1}], "x"])
def test_bad_constraints_are_refused(start_search, bad):
    with pytest.raises(ValidationError) as exc:
        start_search(constraints=bad)
    assert "constraints" in exc.value.message_dict and not Search.objects.exists()


def test_nsga2_optimises_the_search_objectives(start_search):
    objectives = [{"metric": "val_accuracy", "direction": "max"}, {"metric": "train_seconds", "direction": "min"}]
    search = start_search(strategy="nsga2", objectives=objectives)
    strategy = build_search_strategy(search)
    assert strategy.settings["objectives"] == objectives


@pytest.fixture
def nb201_benchmark_project(owner):
    return services.create_project(owner, "NB201", services.benchmark_dataset("nb201_cifar10"))


def edge_target(name):
    from devices.services import ensure_default_targets

    return next(t for t in ensure_default_targets() if t.specs.get("device") == name)


def test_objectives_and_constraints_can_name_an_edge_device(nb201_benchmark_project, owner, monkeypatch):
    from searches import runner

    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    pixel3, raspi4 = edge_target("pixel3"), edge_target("raspi4")
    pixel3_key, raspi4_key = f"latency_ms@{pixel3.id}", f"latency_ms@{raspi4.id}"
    search = services.start_search(
        nb201_benchmark_project, owner, name="hw", space_kind="nb201", space_spec=None, strategy="nsga2",
        objectives=[{"metric": "val_accuracy", "direction": "max"}, {"metric": pixel3_key, "direction": "min"}],
        constraints=[{"metric": raspi4_key, "max": 8.0}], max_trials=6, parallelism=6, seed=2)
    for trial_id in services.advance_search(search.id):
        runner.run_trial(trial_id, worker="w")
    trials = list(search.trials.all())
    assert len(trials) == 6
    assert all(t.state == "complete" and t.metrics[raspi4_key] <= 8.0 for t in trials)
    assert all(t.metrics[pixel3_key] > 0 for t in trials)
    assert build_search_strategy(search).settings["objectives"][1]["metric"] == pixel3_key


def test_an_edge_device_does_not_apply_to_other_spaces(start_search):
    raspi4 = edge_target("raspi4")
    with pytest.raises(ValidationError) as exc:
        start_search(constraints=[{"metric": f"latency_ms@{raspi4.id}", "max": 5}])
    assert "constraints" in exc.value.message_dict


def finish(trial_id, curve, state="complete"):
    services.claim_trial(trial_id, "w", "cpu")
    for epoch, value in enumerate(curve, start=1):
        services.record_epoch(trial_id, epoch, {"val_accuracy": value}, attempt=1)
    if state == "complete":
        services.complete_trial(trial_id, {"val_accuracy": curve[-1]})


def test_median_stopping_prunes_a_trial_below_the_others(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=4, parallelism=1, training={"epochs": 4}, pruner="median",
                          pruner_settings={"warmup_epochs": 1, "min_trials": 2})
    for _ in range(3):
        (trial_id,) = services.advance_search(search.id)
        finish(trial_id, [0.8, 0.85, 0.9, 0.92])
    (weak,) = services.advance_search(search.id)
    services.claim_trial(weak, "w", "cpu")
    services.record_epoch(weak, 1, {"val_accuracy": 0.3}, attempt=1)
    keep_going = services.record_epoch(weak, 2, {"val_accuracy": 0.31}, attempt=1)
    trial = Trial.objects.get(id=weak)
    assert keep_going is False and trial.state == Trial.PRUNED
    assert trial.metrics["pruned_at_epoch"] <= 2 and "median" in trial.error.lower()


def test_bad_pruner_settings_name_the_problem(start_search):
    with pytest.raises(ValidationError) as exc:
        start_search(pruner="successive_halving", pruner_settings={"bogus": 1})
    assert "bogus" in str(exc.value.message_dict["pruner_settings"])
    with pytest.raises(ValidationError) as exc:
        start_search(pruner="nope")
    assert "pruner" in exc.value.message_dict
    assert not Search.objects.exists()


def test_warm_start_counts_earlier_trials_and_never_repeats_them(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    tiny = {"min_depth": 1, "max_depth": 1, "widths": [8, 16, 32], "activations": ["relu"], "dropouts": [0.0],
            "norms": ["none"]}
    earlier = start_search(name="earlier", space_spec=tiny, max_trials=2, parallelism=2)
    for trial_id in services.advance_search(earlier.id):
        finish(trial_id, [0.5])
    later = start_search(name="later", space_spec=tiny, max_trials=3, parallelism=3, warm_start_from=[earlier])
    services.advance_search(later.id)
    seen_before = set(earlier.trials.values_list("arch_key", flat=True))
    new = list(later.trials.values_list("arch_key", flat=True))
    assert len(new) == 1 and not seen_before & set(new)  # only one of the three widths was left


def test_warm_start_needs_the_same_kind_of_space(start_search):
    earlier = start_search(name="earlier")
    with pytest.raises(ValidationError) as exc:
        start_search(name="later", space_kind="transformer", warm_start_from=[earlier])
    assert "warm_start_from" in exc.value.message_dict


def test_zero_cost_preranking_trains_the_best_scored_candidates(start_search, monkeypatch):
    from searches.engine_data import load_project_data
    from searches.estimators.preranking import minibatch, score_archs

    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=2, parallelism=2, estimation={"prerank_proxy": "params", "prerank_pool": 5})
    services.advance_search(search.id)
    space = search.space.build()
    pool = build_search_strategy(search).ask([], 10)  # what the strategy proposed
    data = load_project_data(search.project.dataset, search.seed)
    x, y = minibatch(data, seed=search.seed)
    scores = dict(zip([space.key(a) for a in pool], score_archs(space, pool, "params", x, y, 10), strict=True))
    chosen = {t.arch_key for t in search.trials.all()}
    assert len(chosen) == 2 and chosen <= set(scores)
    assert min(scores[k] for k in chosen) >= sorted(scores.values())[-2]


def test_surrogate_filter_asks_the_strategy_for_a_pool(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    asked = []
    real_ask = build_search_strategy(start_search(name="probe")).__class__.ask

    def recording_ask(self, history, n):
        asked.append(n)
        return real_ask(self, history, n)

    monkeypatch.setattr("searches.strategies.random_search.RandomSearch.ask", recording_ask)
    search = start_search(max_trials=4, parallelism=2, estimation={"surrogate_quantile": 0.5, "prerank_pool": 3})
    assert len(services.advance_search(search.id)) == 2 and asked == [6]


@pytest.mark.parametrize("estimation, field", [
    ({"prerank_proxy": "astrology"}, "prerank_proxy"), ({"prerank_pool": 1}, "prerank_pool"),
    ({"surrogate_quantile": 1.5}, "surrogate_quantile"), ({"oracle": True}, "oracle"),
])
def test_bad_estimation_settings_are_named(start_search, estimation, field):
    with pytest.raises(ValidationError) as exc:
        start_search(estimation=estimation)
    assert field in exc.value.message_dict and not Search.objects.exists()


def test_width_multiplier_trains_a_thinner_copy(start_search, monkeypatch):
    from searches import runner

    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1, training={"epochs": 1, "width_multiplier": 0.25})
    (trial_id,) = services.advance_search(search.id)
    runner.run_trial(trial_id, worker="w")
    trial = Trial.objects.get(id=trial_id)
    full = sum(p.numel() for p in search.space.build().to_torch(trial.arch, (1, 8, 8), 10).parameters())
    assert trial.state == "complete" and trial.params < full / 2


def test_monas_reward_can_weigh_latency_on_an_edge_device(nb201_benchmark_project, owner, monkeypatch):
    from searches import runner

    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    key = f"latency_ms@{edge_target('pixel3').id}"
    search = services.start_search(nb201_benchmark_project, owner, name="monas", space_kind="nb201",
                                   space_spec=None, strategy="reinforce", max_trials=2, parallelism=2,
                                   strategy_settings={"cost_metric": key, "accuracy_weight": 0.8})
    for trial_id in services.advance_search(search.id):
        runner.run_trial(trial_id, worker="w")
    assert all(t.metrics[key] > 0 for t in search.trials.all())
    with pytest.raises(ValidationError):
        services.start_search(nb201_benchmark_project, owner, name="bad", space_kind="nb201", space_spec=None,
                              strategy="reinforce", max_trials=2, strategy_settings={"cost_metric": "latency_ms@0"})
