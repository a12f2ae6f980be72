"""Runs one trial: claim it, train the architecture, record epochs, finish it.

Called by the Celery task and by the embedded worker; this is plain Django +
engine code, so it is tested directly.
"""

from __future__ import annotations

import logging
import random
import traceback

from django.conf import settings

from devices.services import costs_for_trial

from . import services
from .engine_data import checkpoint_path, evaluator_for, is_benchmark, load_project_data
from .engine_setup import target_costs_for_objectives
from .fidelity import thinner
from .models import Search, Trial
from .oneshot.latency import build_latency_table
from .oneshot.ranking import supernet_ranking
from .oneshot.registry import run_oneshot
from .training.trainer import TrainConfig, resolve_device, train

log = logging.getLogger(__name__)


def run_trial(trial_id: int, worker: str) -> None:
    found = Trial.objects.filter(id=trial_id).values_list("search__device", "search__evaluator").first()
    if found is None or found[1] != Search.WORKERS:
        return  # deleted, or trained by the user's own script (ask/tell): nothing to do here
    search_device = found[0]
    device = resolve_device("auto") if search_device == "gpu" else "cpu"
    trial = services.claim_trial(trial_id, worker=worker, device=device)
    if trial is None:
        return
    try:
        metrics = _evaluate(trial, device)
    except Exception as exc:
        log.warning("trial %s failed: %s", trial_id, exc)
        services.fail_trial(trial_id, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=6)}")
        metrics = None
    else:
        if metrics is None:
            services.fail_trial(trial_id, "stopped: the search was cancelled or the trial was taken away")
        else:
            services.complete_trial(trial_id, metrics)
            record_device_costs(trial_id)
    # Every outcome above is final. Only a process that dies mid-training skips this line,
    # and that is the case the checkpoint is for: the redelivered trial resumes from it.
    checkpoint_path(trial_id).unlink(missing_ok=True)


def _evaluate(trial, device: str) -> dict | None:
    """Final metrics of a trial (None when training was told to stop), plus the target
    costs its search optimises or bounds: those must be in place before strategies see it."""
    if is_benchmark(trial.search.project.dataset):
        metrics = _answer_from_benchmark(trial)
    else:
        result = _train_trial(trial, device)
        if result.stopped == "stopped_by_callback":
            return None
        metrics = result.final_metrics()
    return {**metrics, **target_costs_for_objectives(trial.search, trial.arch)}


def record_device_costs(trial_id: int) -> None:
    """Costs on every hardware target for the comparison page; never fails the trial."""
    try:
        costs_for_trial(Trial.objects.select_related("search__space", "search__project__dataset").get(id=trial_id))
    except Exception:
        log.exception("could not compute device costs for trial %s", trial_id)


def _answer_from_benchmark(trial) -> dict:
    """Benchmark mode: the table's 200-epoch result, recorded as one epoch."""
    metrics = evaluator_for(trial.search.project.dataset).evaluate(trial.arch)
    services.record_epoch(trial.id, 1, {"val_accuracy": metrics["val_accuracy"]})
    return {**metrics, "source": "NAS-Bench-201 table"}


def _train_trial(trial, device: str):
    search = trial.search
    data = load_project_data(search.project.dataset, search.seed)
    training = dict(search.training)
    if training.get("data_fraction", 1) < 1:
        data = data.fraction(training["data_fraction"], search.seed)
    space, arch = thinner(search.space.build(), trial.arch, training.get("width_multiplier", 1.0))
    model = space.to_torch(arch, data.input_shape, data.num_classes, task=data.task, vocab_size=data.vocab_size)
    config = TrainConfig.from_dict({
        **training, "seed": search.seed * 100_003 + trial.number, "device": device,
        "threads": settings.NASWEB_TORCH_THREADS, "checkpoint_path": str(checkpoint_path(trial.id)),
    })
    return train(model, data, config, on_epoch=lambda r: services.record_epoch(trial.id, r.epoch, r.as_metrics()))


# --- one-shot searches ----------------------------------------------------------------------------
def run_oneshot_search(search_id: int, worker: str) -> None:
    """Train the supernet of a one-shot search in one task, pushing each epoch, then derive."""
    search = services.claim_oneshot(search_id, worker)
    if search is None:
        return
    try:
        result = _run_supernet(search)
    except Exception as exc:
        log.warning("one-shot search %s failed: %s", search_id, exc)
        services.fail_oneshot(search_id, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=6)}")
        return
    services.finish_oneshot(search_id, result)


def _run_supernet(search) -> dict:
    space = search.space.build()
    data = load_project_data(search.project.dataset, search.seed)
    engine_settings, web = services.split_oneshot_settings(search.strategy_settings)
    device = resolve_device("auto") if search.device == "gpu" else "cpu"
    engine_settings = {**engine_settings, "device": device, "threads": settings.NASWEB_TORCH_THREADS}
    extra = _latency_extra(space, data, web["latency_target"]) if search.strategy == "proxyless" else {}
    result = run_oneshot(search.strategy, space, data, engine_settings, search.seed,
                         on_epoch=lambda epoch, info: services.record_oneshot_epoch(search.id, epoch, info), **extra)
    payload = result.to_dict()
    payload["device"] = device
    if web["rank_check_archs"]:
        payload["ranking"] = _rank_check(search, space, data, result.supernet, web["rank_check_archs"])
    return payload


def _latency_extra(space, data, target: str) -> dict:
    if not target:
        return {}
    costs = build_latency_table(space, target, data.input_shape, data.num_classes)
    return {"latency_table": costs.table, "latency_base_ms": costs.base}  # MMACs for "macs": a proxy scale


def _rank_check(search, space, data, supernet, count: int) -> dict:
    """Kendall's tau between supernet-inherited and stand-alone accuracy on `count` sampled cells."""
    rng, archs, seen = random.Random(search.seed), [], set()
    while len(archs) < min(count, space.size()):
        arch = space.sample(rng)
        if space.key(arch) not in seen:
            seen.add(space.key(arch))
            archs.append(arch)
    config = TrainConfig.from_dict({**search.training, "seed": search.seed, "threads": settings.NASWEB_TORCH_THREADS})
    return supernet_ranking(supernet, space, archs, data, config).to_dict()
