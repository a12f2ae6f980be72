"""Measurement rows: one per trial and target, any number for architectures measured outside a search."""

import pytest
from django.db import IntegrityError, transaction

from devices.models import HardwareTarget, Measurement
from searches import services as search_services

pytestmark = pytest.mark.django_db



@pytest.fixture
def target():
    return HardwareTarget.objects.create(name="Analytical", kind=HardwareTarget.ANALYTICAL)


@pytest.fixture
def trial(start_search):
    search = start_search()
    return search.trials.get(id=search_services.advance_search(search.id)[0])


def test_a_trial_has_one_measurement_per_target(target, trial):
    Measurement.objects.create(target=target, trial=trial, space_kind="chain_mlp", arch=trial.arch)
    with pytest.raises(IntegrityError), transaction.atomic():
        Measurement.objects.create(target=target, trial=trial, space_kind="chain_mlp", arch=trial.arch)


def test_measurements_without_a_trial_may_repeat(target):
    for _ in range(2):
        Measurement.objects.create(target=target, space_kind="nb201", arch={"edge_1<-0": "none"})
    assert target.measurements.count() == 2


def test_a_trial_takes_its_measurements_with_it(target, trial):
    Measurement.objects.create(target=target, trial=trial, space_kind="chain_mlp", arch=trial.arch)
    trial.search.delete()
    assert not Measurement.objects.exists()


def test_only_worker_targets_are_measured():
    kinds = {kind: HardwareTarget(kind=kind).is_measured for kind, _ in HardwareTarget.KINDS}
    assert kinds == {"measured_cpu": True, "measured_gpu": True, "benchmark": False, "analytical": False}
