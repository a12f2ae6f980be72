"""Device services on the real PostgreSQL: targets, worker registration, costs of finished trials."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from devices import queries, services, target_costs
from devices.costs.hwnasbench import DEVICE_LABELS
from devices.models import HardwareTarget, Measurement
from searches import services as search_services
from searches.models import Trial
from searches.spaces.nb201_cell import OPS, string_to_arch

pytestmark = pytest.mark.django_db


NB201_SPEC = {"C": 4, "N": 1, "ops": list(OPS)}
# Rows read from devices/costs/data/hwnasbench_edge_latency.csv.gz: index 0 and the all-'none' cell (1651).
INDEX_0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
HOST = {"hostname": "lab-7", "cpu_model": "Xeon Gold 6130", "cpu_usable_cores": 16, "gpu_name": None}


def finished_trials(search, archs=None, accuracies=(0.9,)):
    """Complete trials of `search`, with these architectures when given (else the strategy's)."""
    space = search.space.build()
    ids = search_services.advance_search(search.id)
    for index, trial_id in enumerate(ids):  # free the arch keys first: a new arch may be another's old one
        Trial.objects.filter(id=trial_id).update(arch_key=f"placeholder-{index}")
    for index, (trial_id, accuracy) in enumerate(zip(ids, accuracies, strict=True)):
        if archs:
            Trial.objects.filter(id=trial_id).update(arch=archs[index], arch_key=space.key(archs[index]))
        search_services.claim_trial(trial_id, "test-worker", "cpu")
        search_services.complete_trial(trial_id, {"val_accuracy": accuracy})
    return [Trial.objects.select_related("search__space").get(id=i) for i in ids]


@pytest.fixture
def nb201_trials(start_search):
    search = start_search(space_kind="nb201", space_spec=NB201_SPEC, max_trials=2, parallelism=2)
    return finished_trials(search, [string_to_arch(INDEX_0), string_to_arch(ALL_NONE)], (0.9, 0.5))


@pytest.fixture
def mlp_trial(start_search):
    return finished_trials(start_search())[0]


def target_named(name):
    return HardwareTarget.objects.get(name=name)


def test_tests_run_on_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize("name, kind, specs, metric, field", [
    ("", "benchmark", {"device": "raspi4"}, None, "name"),
    ("x" * 121, "benchmark", {"device": "raspi4"}, None, "name"),
    ("T", "quantum", {}, None, "kind"),
    ("T", "measured_cpu", {}, None, "kind"),  # workers register their own
    ("T", "benchmark", {"device": "jetson"}, None, "specs.device"),
    ("T", "benchmark", {}, None, "specs.device"),
    ("T", "benchmark", {"device": "raspi4", "colour": "red"}, None, "specs.colour"),
    ("T", "benchmark", {"device": "raspi4"}, "macs", "metric"),
    ("T", "analytical", {"arithmetic": "fp8"}, None, "specs.arithmetic"),
    ("T", "analytical", {}, "latency_ms", "metric"),
    ("T", "analytical", ["arithmetic"], None, "specs"),
])
def test_bad_targets_name_the_field_and_create_nothing(name, kind, specs, metric, field):
    with pytest.raises(ValidationError) as exc:
        services.create_target(name, kind, specs, metric)
    assert field in exc.value.message_dict
    assert not HardwareTarget.objects.exists()


def test_a_target_name_is_taken_once():
    services.create_target("Pi", "benchmark", {"device": "raspi4"})
    with pytest.raises(ValidationError) as exc:
        services.create_target(" Pi ", "benchmark", {"device": "pixel3"})
    assert "exists already" in exc.value.message_dict["name"][0]
    assert HardwareTarget.objects.get().specs == {"device": "raspi4"}


def test_targets_get_their_default_settings_and_ranking():
    energy = services.create_target("Int8 energy", "analytical", {"arithmetic": "int8"}, "energy_mj")
    assert (energy.specs, energy.metric) == ({"arithmetic": "int8"}, "energy_mj")
    phone = services.create_target("Phone", "benchmark", {"device": "pixel3"})
    assert phone.metric == "latency_ms" and target_costs.cost_metric(phone) == ("latency_ms", "latency (ms)")


def test_worker_registration_is_idempotent_and_keeps_the_settings():
    first = services.register_worker_target(HOST)
    assert first.name == "cpu: Xeon Gold 6130 (16 cores) @ lab-7" and first.kind == HardwareTarget.MEASURED_CPU
    assert first.specs["backend"] == "eager" and first.specs["threads"] == 1 and first.metric == "latency_ms"
    assert first.host == HOST and first.last_seen_at
    HardwareTarget.objects.filter(id=first.id).update(specs={**first.specs, "threads": 4})
    again = services.register_worker_target({**HOST, "torch_version": "9.9"})
    assert again.id == first.id and HardwareTarget.objects.count() == 1
    assert again.specs["threads"] == 4 and again.host["torch_version"] == "9.9"
    assert again.last_seen_at > first.last_seen_at


def test_a_gpu_worker_is_its_own_target():
    gpu = services.register_worker_target({**HOST, "gpu_name": "NVIDIA H100"}, device="gpu")
    assert gpu.name == "gpu: NVIDIA H100 @ lab-7" and gpu.kind == HardwareTarget.MEASURED_GPU


def test_a_long_cpu_model_keeps_the_host_in_the_name():
    name = services.register_worker_target({**HOST, "cpu_model": "A" * 300}).name
    assert len(name) == 120 and name.endswith(" @ lab-7")


def test_the_worker_consumes_its_targets_own_queue(settings):
    settings.NASWEB_QUEUE_PREFIX = "t1-"
    queue = services.worker_measure_queue(HOST)
    assert queue == f"t1-measure.{HardwareTarget.objects.get().id}"


def test_default_targets_are_created_once():
    first = services.ensure_default_targets()
    assert [t.id for t in services.ensure_default_targets()] == [t.id for t in first]
    assert {t.kind for t in first} == {"benchmark", "analytical"} and len(first) == 5
    assert {t.specs.get("device") for t in first} == {"raspi4", "pixel3", "eyeriss", "fpga", None}
    assert services.missing_default_targets() == []


def test_edge_costs_of_nb201_cells_are_exact_table_lookups(nb201_trials):
    index_0, all_none = nb201_trials
    services.costs_for_trial(index_0)
    services.costs_for_trial(all_none)
    raspi4, fpga = target_named(DEVICE_LABELS["raspi4"]), target_named(DEVICE_LABELS["fpga"])
    first = Measurement.objects.get(trial=index_0, target=raspi4)
    assert first.state == Measurement.DONE and first.space_kind == "nb201"
    assert first.metrics == {"latency_ms": 10.48198, "device": "raspi4"}
    assert Measurement.objects.get(trial=index_0, target=fpga).metrics["latency_ms"] == 2.57296
    assert Measurement.objects.get(trial=all_none, target=raspi4).metrics["latency_ms"] == 0.01183


def test_analytical_costs_are_those_of_the_trials_model(nb201_trials):
    trial = nb201_trials[0]
    services.costs_for_trial(trial)
    metrics = Measurement.objects.get(trial=trial, target=target_named(services.ANALYTICAL_TARGET_NAME)).metrics
    model = trial.search.space.build().to_torch(trial.arch, (1, 8, 8), 10)  # digits: 8x8 images, 10 classes
    assert metrics["params"] == sum(p.numel() for p in model.parameters()) and metrics["macs"] > 0


def test_edge_targets_do_not_apply_to_other_spaces(mlp_trial):
    costs = services.costs_for_trial(mlp_trial)
    raspi4 = target_named(DEVICE_LABELS["raspi4"])
    assert costs[raspi4.id] is None
    assert not Measurement.objects.filter(target=raspi4).exists()
    assert costs[target_named(services.ANALYTICAL_TARGET_NAME).id].state == Measurement.DONE
    assert target_costs.arch_costs(mlp_trial.search, mlp_trial.arch, raspi4) is None


def test_comparison_shows_na_for_edge_targets_of_other_spaces(mlp_trial):
    services.costs_for_trial(mlp_trial)
    data = queries.comparison(mlp_trial.search)
    cells = dict(zip([t["name"] for t in data["targets"]], data["trials"][0]["costs"], strict=True))
    assert cells[DEVICE_LABELS["pixel3"]]["text"] == "n/a" and "nb201" in cells[DEVICE_LABELS["pixel3"]]["note"]
    assert cells[services.ANALYTICAL_TARGET_NAME]["state"] == "done"
    assert cells[services.ANALYTICAL_TARGET_NAME]["text"].endswith("MACs")


def test_comparison_chooses_the_best_trials_and_highlights_the_best(start_search):
    search = start_search(max_trials=7, parallelism=7)
    trials = finished_trials(search, accuracies=(0.1, 0.7, 0.2, 0.6, 0.3, 0.5, 0.4))
    data = queries.comparison(search)
    assert [t["value"] for t in data["trials"]] == [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    assert [t["chosen"] for t in data["trials"]] == [True] * 5 + [False] * 2
    assert data["highlight"] == trials[1].id
    mine = queries.comparison(search, chosen_ids=[trials[0].id], highlight_id=trials[2].id)
    assert [t["id"] for t in mine["trials"] if t["chosen"]] == [trials[0].id] and mine["highlight"] == trials[2].id


def test_measured_targets_are_queued_on_their_workers_queue(mlp_trial, settings, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    settings.NASWEB_EMBEDDED_WORKER, settings.NASWEB_QUEUE_PREFIX = False, ""
    sent = []
    monkeypatch.setattr("searches.dispatch.celery_app.send_task", lambda name, args, queue: sent.append((args, queue)))
    worker = services.register_worker_target(HOST)
    with django_capture_on_commit_callbacks(execute=True):
        costs = services.costs_for_trial(mlp_trial, [worker])
    assert costs[worker.id].state == Measurement.QUEUED
    assert sent == [([mlp_trial.id, worker.id], f"measure.{worker.id}")]


def test_costs_already_stored_are_not_computed_again(nb201_trials):
    trial = nb201_trials[0]
    analytical = services.ensure_default_targets()[-1]
    first = services.costs_for_trial(trial, [analytical])[analytical.id]
    again = services.costs_for_trial(trial, [analytical])[analytical.id]
    assert again.id == first.id and again.finished_at == first.finished_at


def test_a_model_that_cannot_be_built_is_a_failed_measurement(mlp_trial):
    Trial.objects.filter(id=mlp_trial.id).update(arch={"depth": 99})
    mlp_trial.refresh_from_db()
    analytical = services.ensure_default_targets()[-1]
    measurement = services.costs_for_trial(mlp_trial, [analytical])[analytical.id]
    assert measurement.state == Measurement.FAILED and measurement.error


def test_unfinished_trials_have_no_costs(start_search):
    search = start_search()
    trial = search.trials.get(id=search_services.advance_search(search.id)[0])
    assert services.costs_for_trial(trial) == {} and not Measurement.objects.exists()


def test_recorded_measurements_replace_a_trials_earlier_ones(mlp_trial):
    target = services.create_target("Pi", "benchmark", {"device": "raspi4"})
    services.record_measurement(target, {"latency_ms": 2.0}, trial=mlp_trial)
    services.record_measurement(target, {"latency_ms": 1.0}, trial=mlp_trial)
    assert Measurement.objects.get().metrics == {"latency_ms": 1.0}
    with pytest.raises(ValueError):
        services.record_measurement(target, {"latency_ms": 1.0})
    services.record_measurement(target, {"latency_ms": 1.0}, arch={"edge_1<-0": "none"}, space_kind="nb201")
    assert Measurement.objects.filter(trial=None).count() == 1


def test_answered_trials_that_matter_are_decided_on_the_values_in_hand(monkeypatch, settings):
    """schedule_answered_costs: trial_matters's rule (top k by the first objective, or the Pareto front
    of the first two) for a batch of lookups, with no query."""
    from devices.services import schedule_answered_costs
    from searches.models import Search, Trial

    settings.NASWEB_MEASURE_TOP_K = 2
    sent = []
    monkeypatch.setattr("searches.dispatch.costs_for_trial_later", sent.append)
    search = Search(objectives=[{"metric": "val_accuracy", "direction": "max"},
                                {"metric": "params", "direction": "min"}])

    def trial(id_, acc, params, state=Trial.COMPLETE):
        return Trial(id=id_, state=state, metrics={"val_accuracy": acc, "params": params})

    earlier = [trial(1, 0.90, 500), trial(2, 0.80, 100), trial(3, 0.99, 900, state=Trial.FAILED)]
    answered = [trial(10, 0.95, 800),  # the best: top 2
                trial(11, 0.85, 400),  # third by accuracy, but no trial is better and smaller: the front
                trial(12, 0.70, 600),  # beaten on both by 1 and 11
                trial(13, 0.60, 50)]   # the smallest: the front
    assert schedule_answered_costs(search, earlier, answered) == [10, 11, 13] == sent
    search.objectives = search.objectives[:1]
    sent.clear()
    assert schedule_answered_costs(search, earlier, answered) == [10]  # 0.95 and 0.90 are the top 2
