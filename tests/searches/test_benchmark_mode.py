"""Benchmark mode: a project on the NAS-Bench-201 table answers trials by lookup."""

import pytest
from django.core.exceptions import ValidationError

from searches import runner, services
from searches.benchmarks.nb201 import Nb201Table
from searches.models import Search, Trial
from searches.spaces.nb201_cell import arch_to_string

pytestmark = pytest.mark.django_db


@pytest.fixture
def benchmark_project(owner):
    return services.create_project(owner, "NB201", services.benchmark_dataset("nb201_cifar10"))


def test_a_benchmark_search_runs_to_done_by_lookup(benchmark_project, owner, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = services.start_search(benchmark_project, owner, name="b", space_kind="nb201", space_spec=None,
                                   strategy="random", max_trials=4, parallelism=4, seed=1)
    for trial_id in services.advance_search(search.id):
        runner.run_trial(trial_id, worker="w")
    services.advance_search(search.id)
    search.refresh_from_db()
    assert search.state == Search.DONE
    table = Nb201Table.load()
    for trial in Trial.objects.filter(search=search):
        row = table.lookup(arch_to_string(trial.arch))
        assert trial.state == Trial.COMPLETE
        assert trial.val_accuracy == pytest.approx(row.valid_acc / 100)
        assert trial.metrics["test_accuracy"] == pytest.approx(row.test_acc / 100)


def test_a_benchmark_project_refuses_other_spaces(benchmark_project, owner):
    with pytest.raises(ValidationError) as exc:
        services.start_search(benchmark_project, owner, name="b", space_kind="chain_mlp", space_spec=None,
                              strategy="random", max_trials=4)
    assert "only nb201" in exc.value.message_dict["space_kind"][0]
    assert not Search.objects.exists()
