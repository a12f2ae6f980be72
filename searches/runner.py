"""Runs one trial: claim it, train the architecture, record epochs, finish it.

Called by the Celery task and by the embedded worker; this is plain Django +
engine code, so it is tested directly.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import threading
import traceback
from pathlib import Path

import torch
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.db.models import OuterRef

from devices.services import schedule_trial_costs

from . import services
from .constraints import macs_counter, params_counter
from .engine_data import (
    checkpoint_path,
    checkpoints_of,
    discard_files,
    evaluator_for,
    is_benchmark,
    load_project_data,
    oneshot_checkpoint_path,
    oneshot_checkpoints_of,
    pruning_gates_path,
    pruning_source_path,
)
from .engine_setup import target_costs_for_objectives
from .fidelity import thinner
from .models import Search, Trial
from .oneshot.latency import build_latency_table
from .oneshot.ranking import supernet_ranking
from .oneshot.registry import run_oneshot
from .structured_pruning.gates import learn_gates
from .structured_pruning.search import GATES
from .structured_pruning.space import PrunedSpace
from .structured_pruning.transplant import prune_model, recalibrate_batch_norm
from .training.trainer import TrainConfig, evaluate, resolve_device, train
from .weights import keep_weights, settle_weights

log = logging.getLogger(__name__)


#: Trials a thread of this process is running now: a holder pid equal to ours that is not running
#: the trial here is an attempt that ended (a task retried in the same process).
_running_here: set[int] = set()
_running_lock = threading.Lock()
#: Not the trial's fault: the database or the broker went away. The trial is left to be requeued
#: (its heartbeat stops) and the task is retried; it never counts as a failure.
INTERRUPTIONS = (OperationalError, InterfaceError)


def run_trial(trial_id: int, worker: str, fair: bool = False) -> None:
    """Claim and run the message's trial. With `fair` (Celery: one FIFO queue per device) the message
    is a slot of its device queue instead: it takes the queued trial whose search's turn it is
    (services.searches_in_turn), its own trial only when its search is in turn, and acks when nothing is
    queued. Every queued trial was sent one message, so the slots never run short of its trials; a
    redelivered message of an interrupted attempt still takes that trial over first."""
    rows = Trial.objects.filter(id=trial_id)
    if fair:  # read with the row: the pick costs no query of its own
        rows = rows.annotate(in_turn=services.trial_in_turn(OuterRef("search__device"), own_trial_id=trial_id))
    row = rows.values("search__device", "search__evaluator", "state", "worker", "worker_pid", "attempt",
                      *(["in_turn"] if fair else [])).first()
    if row is None or row["search__evaluator"] != Search.WORKERS:
        return  # deleted, or trained by the user's own script (ask/tell): nothing to do here
    device = resolve_device("auto") if row["search__device"] == "gpu" else "cpu"
    with _running_lock:  # a duplicate message on another thread of this process must see the claim as ours
        trial = None
        if not fair or row["state"] == Trial.RUNNING:
            trial = _claim_own(trial_id, row, worker, device)
        if trial is None and fair:
            trial = _claim_in_turn(row["in_turn"], row["search__device"], worker, device)
        if trial is None:
            return
        _running_here.add(trial.id)
    heartbeat = Heartbeat(trial.id, trial.attempt)
    try:
        _run_claimed(trial, device, heartbeat)
    finally:
        heartbeat.stop()
        with _running_lock:
            _running_here.discard(trial.id)
    if not is_benchmark(trial.search.project.dataset):  # a table lookup writes no checkpoint and no weights
        _clean_checkpoints(trial.id, trial.attempt)
        settle_weights(trial.id)  # the final weights stay only for the search's best k (searches/weights.py)


def _claim_own(trial_id: int, row: dict, worker: str, device: str):
    """The message's own trial: queued, or running under a holder that is dead or stale (taken over)."""
    running = row["state"] == Trial.RUNNING
    dead = row["attempt"] if running and _holder_is_dead(trial_id, row["worker"], row["worker_pid"], worker) else None
    return services.claim_trial(trial_id, worker=worker, device=device, pid=os.getpid(), take_over_attempt=dead)


#: A slot whose pick another worker claimed first picks again, up to this many times: each lost race
#: is a trial claimed by someone, so the queue drains and the loop ends long before.
PICKS_PER_SLOT = 100


def _claim_in_turn(first_pick: int | None, queue_device: str, worker: str, device: str):
    """Claim the trial in turn on the search's device queue; None when nothing is queued there."""
    pick = first_pick
    for _ in range(PICKS_PER_SLOT):
        if pick is None:
            return None
        trial = services.claim_trial(pick, worker=worker, device=device, pid=os.getpid())
        if trial is not None:
            return trial
        pick = services.next_trial_in_turn(queue_device)
    return None


def _run_claimed(trial, device: str, heartbeat: Heartbeat) -> None:
    attempt = trial.attempt
    try:
        metrics = _evaluate(trial, device)
    except INTERRUPTIONS:
        raise  # the task retries; the sweep requeues the trial once its heartbeat is stale
    except Exception as exc:
        log.warning("trial %s failed: %s", trial.id, exc)
        services.fail_trial(trial.id, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=6)}",
                            attempt=attempt)
        return
    if metrics is None:
        if heartbeat.lost or not services.holds_trial(trial.id, attempt):
            log.warning("trial %s: attempt %s lost its claim and stopped", trial.id, attempt)
        return  # pruned, cancelled or taken over: whoever did it wrote the final state
    if services.complete_trial(trial.id, metrics, attempt=attempt):
        trial.state, trial.metrics = Trial.COMPLETE, metrics
        record_device_costs(trial)


def _holder_is_dead(key, holder: str, pid: int | None, worker: str) -> bool:
    """The trial (or supernet task: `key` as in _running_here) is held by a process of this worker
    (same node name, so the same host) that is gone, or by this very process in an attempt that has
    ended: take it over now rather than wait until its heartbeat is stale. Celery redelivers at once
    after a pool child is killed."""
    if not pid or holder != worker[:200]:
        return False
    if pid == os.getpid():
        with _running_lock:
            return key not in _running_here
    return not _process_alive(pid)


def recover_trials_of_dead_processes(worker: str) -> int:
    """When a worker starts: trials held under its node name by processes that no longer exist (its
    main process was killed with its pool) go back to the queue at once, without waiting until their
    heartbeat is stale, and so do the supernet tasks of one-shot searches. Returns how many."""
    rows = Trial.objects.filter(state=Trial.RUNNING, worker=worker[:200]).values("id", "worker", "worker_pid",
                                                                                 "attempt")
    trials = sum(services.requeue_lost_trial(row["id"], row["attempt"]) for row in rows
                 if _holder_is_dead(row["id"], row["worker"], row["worker_pid"], worker))
    supernets = Search.objects.filter(state=Search.RUNNING, oneshot_result={}, oneshot_worker=worker[:200]).values(
        "id", "oneshot_worker", "oneshot_pid", "oneshot_attempt")
    return trials + sum(services.release_lost_oneshot(row["id"], row["oneshot_attempt"]) for row in supernets
                        if _holder_is_dead(_oneshot_key(row["id"]), row["oneshot_worker"], row["oneshot_pid"], worker))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


class Heartbeat:
    """Beats a claimed trial (or, with `beat=services.beat_oneshot`, a one-shot search's supernet task)
    every NASWEB_TRIAL_HEARTBEAT_SECONDS from a thread while it trains, so a long epoch never looks like
    a dead worker. Stops when the claim is lost (`lost` turns True); a database outage is logged and
    beaten through, and then the heartbeat goes stale."""

    def __init__(self, trial_id: int, attempt: int, beat=None):
        self.trial_id, self.attempt, self.lost = trial_id, attempt, False
        self._beat = beat or services.beat_trial
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{trial_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.NASWEB_TRIAL_HEARTBEAT_SECONDS):
                try:
                    if not self._beat(self.trial_id, self.attempt):
                        self.lost = True
                        return
                except INTERRUPTIONS as exc:
                    log.warning("heartbeat of trial %s failed: %s", self.trial_id, exc)
                    connections.close_all()  # a fresh connection at the next beat
        finally:
            connections.close_all()  # this thread's own connection

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _clean_checkpoints(trial_id: int, attempt: int) -> None:
    """A final trial never resumes: all its checkpoints go. An open one (requeued, taken over) keeps
    them, but for this attempt's, which nobody reads once a later claim began."""
    if Trial.objects.filter(id=trial_id, state__in=Trial.OPEN_STATES).exists():
        if services.holds_trial(trial_id, attempt):
            return  # still ours: only a dying process gets here, and the next attempt resumes from it
        checkpoint_path(trial_id, attempt).unlink(missing_ok=True)
        return
    discard_files(checkpoints_of(trial_id))


def resume_from(owner_id: int, attempt: int, files_of=checkpoints_of, path_of=checkpoint_path) -> Path:
    """This attempt's checkpoint file, starting as a copy of the latest earlier attempt's (if any).
    A trial's by default; a supernet's with engine_data's oneshot_checkpoints_of / oneshot_checkpoint_path."""
    path = path_of(owner_id, attempt)
    earlier = {n: p for n, p in files_of(owner_id).items() if n < attempt}
    if earlier and not path.exists():
        tmp = path.with_suffix(".copy")
        shutil.copyfile(earlier[max(earlier)], tmp)
        os.replace(tmp, path)
    return path


def _evaluate(trial, device: str) -> dict | None:
    """Final metrics of a trial (None when training was told to stop), plus the target
    costs its search optimises or bounds: those must be in place before strategies see it."""
    if is_benchmark(trial.search.project.dataset):
        metrics = _answer_from_benchmark(trial)
    else:
        result, before_training = _train_trial(trial, device)
        if result.stopped == "stopped_by_callback":
            return None
        metrics = {**result.final_metrics(), **before_training}
    return {**metrics, **target_costs_for_objectives(trial.search, trial.arch)}


def record_device_costs(trial) -> None:
    """Off the trial path: only a trial that matters (top k, Pareto front) is sent to the measuring
    workers (devices/services.py: schedule_trial_costs); never fails the trial."""
    try:
        schedule_trial_costs(trial)
    except Exception:
        log.exception("could not schedule device costs for trial %s", trial.id)


def _answer_from_benchmark(trial) -> dict:
    """Benchmark mode: the table's 200-epoch result, recorded as one epoch."""
    metrics = evaluator_for(trial.search.project.dataset).evaluate(trial.arch)
    services.record_epoch(trial.id, 1, {"val_accuracy": metrics["val_accuracy"]}, attempt=trial.attempt)
    return {**metrics, "source": "NAS-Bench-201 table"}


def _train_trial(trial, device: str):
    """(training result, metrics measured before training)."""
    search = trial.search
    data = load_project_data(search.project.dataset, search.seed)
    training = dict(search.training)
    if training.get("data_fraction", 1) < 1:
        data = data.fraction(training["data_fraction"], search.seed)
    space, arch = thinner(search.space.build(), trial.arch, training.get("width_multiplier", 1.0))
    model, pruned_metrics = _starting_model(search, space, arch, data)
    config = TrainConfig.from_dict({
        **training, "seed": search.seed * 100_003 + trial.number, "device": device,
        "threads": settings.NASWEB_TORCH_THREADS, "checkpoint_path": str(resume_from(trial.id, trial.attempt)),
    })
    result = train(model, data, config, on_epoch=lambda r: services.record_epoch(trial.id, r.epoch, r.as_metrics(),
                                                                                  attempt=trial.attempt))
    if result.stopped != "stopped_by_callback":
        keep_weights(trial.id, model)  # the best epoch's weights, restored by train()
    return result, pruned_metrics


def _starting_model(search, space, arch: dict, data):
    """(model to train, metrics measured before training). A fresh model, or in a pruning search the
    parent's trained model cut down to `arch` (its most important units kept), whose batch-norm
    statistics are re-estimated and whose accuracy as pruned is recorded before fine-tuning."""
    if not isinstance(space, PrunedSpace):
        return space.to_torch(arch, data.input_shape, data.num_classes, task=data.task,
                              vocab_size=data.vocab_size), {}
    parent, scores = _parent_model(search, space, data), None
    if search.strategy == GATES:  # the weights trained with the gates, and the gates rank the units
        gated = torch.load(pruning_gates_path(search.id), map_location="cpu", weights_only=True)
        parent.load_state_dict(gated["state_dict"])
        scores = gated["scores"]
    model = prune_model(parent, space.parent, space.trained_arch, arch, data.input_shape, data.num_classes,
                        scores, task=data.task, vocab_size=data.vocab_size)
    recalibrate_batch_norm(model, data.x_train)
    _, pruned_val = evaluate(model, data.x_val, data.y_val, "cpu")
    return model, {"pruned_val_accuracy": pruned_val}


def _parent_model(search, space: PrunedSpace, data):
    """The trained model a pruning search prunes, with the weights kept for it."""
    parent = space.parent.to_torch(space.trained_arch, data.input_shape, data.num_classes, task=data.task,
                                   vocab_size=data.vocab_size)
    state = torch.load(pruning_source_path(search.space.pruned_from_trial_id), map_location="cpu", weights_only=True)
    parent.load_state_dict(state)
    return parent


def _learn_gates(search) -> dict:
    """The one task of a learned-gates pruning search: gates under the budget, then the widths."""
    space = search.space.build()
    data = load_project_data(search.project.dataset, search.seed)
    parent = _parent_model(search, space, data)
    budget = search.constraints[0]
    counter = (params_counter if budget["metric"] == "params" else macs_counter)(space, data.input_shape,
                                                                                 data.num_classes)
    if settings.NASWEB_TORCH_THREADS:
        torch.set_num_threads(settings.NASWEB_TORCH_THREADS)
    arch, scores = learn_gates(parent, space.parent, space.trained_arch, data, budget["metric"], budget["max"],
                               seed=search.seed, cost_of=counter)
    path = pruning_gates_path(search.id)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"state_dict": parent.state_dict(), "scores": scores}, temporary)
    os.replace(temporary, path)
    return {"arch": arch, "description": space.describe(arch), "cost": counter(arch),
            "expected_widths": [round(float(layer.sum()), 2) for layer in scores]}


# --- one-shot searches ----------------------------------------------------------------------------
def run_oneshot_search(search_id: int, worker: str) -> None:
    """Train the supernet of a one-shot search in one task, pushing each epoch, then derive.

    Claimed and fenced like a trial: an attempt number, a heartbeat thread, a checkpoint per epoch and
    attempt (engine_data.oneshot_checkpoint_path), so a killed worker's search is taken over (at once
    by its own restarted worker, else by the sweep once the heartbeat is stale) and resumes after its
    last epoch; a holder that lost its claim can no longer write epochs or the result."""
    row = Search.objects.filter(id=search_id).values("oneshot_worker", "oneshot_pid", "oneshot_attempt").first()
    if row is None:
        return
    key = _oneshot_key(search_id)
    dead = row["oneshot_attempt"] if _holder_is_dead(key, row["oneshot_worker"], row["oneshot_pid"], worker) else None
    with _running_lock:
        search = services.claim_oneshot(search_id, worker, pid=os.getpid(), take_over_attempt=dead)
        if search is None:
            return
        _running_here.add(key)
    attempt = search.oneshot_attempt
    heartbeat = Heartbeat(search_id, attempt, beat=services.beat_oneshot)
    try:
        _run_claimed_supernet(search, attempt, heartbeat)
    finally:
        heartbeat.stop()
        with _running_lock:
            _running_here.discard(key)


def _run_claimed_supernet(search, attempt: int, heartbeat: Heartbeat) -> None:
    checkpoint = resume_from(search.id, attempt, oneshot_checkpoints_of, oneshot_checkpoint_path)
    try:
        result = _run_supernet(search, attempt, checkpoint)
    except INTERRUPTIONS:
        raise  # the task retries; the sweep re-queues the supernet once its heartbeat is stale
    except Exception as exc:
        log.warning("one-shot search %s failed: %s", search.id, exc)
        if services.fail_oneshot(search.id, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=6)}",
                                 attempt=attempt):
            _clean_oneshot_checkpoints(search.id)
        return
    if services.finish_oneshot(search.id, result, attempt=attempt):
        _clean_oneshot_checkpoints(search.id)
    else:
        log.warning("one-shot search %s: attempt %s lost its claim and stopped", search.id, attempt)
        if Search.objects.filter(id=search.id, oneshot_attempt__gt=attempt).exists():
            checkpoint.unlink(missing_ok=True)  # a later claim copied it already; a re-queued one still needs it


def _oneshot_key(search_id: int) -> tuple[str, int]:
    """A supernet task's entry in _running_here (trials are there by their id)."""
    return ("oneshot", search_id)


def _clean_oneshot_checkpoints(search_id: int) -> None:
    discard_files(oneshot_checkpoints_of(search_id))


def _run_supernet(search, attempt: int, checkpoint: Path) -> dict:
    if search.strategy == GATES:
        return _learn_gates(search)  # one short task: no per-epoch checkpoint
    space = search.space.build()
    data = load_project_data(search.project.dataset, search.seed)
    engine_settings, web = services.split_oneshot_settings(search.strategy_settings)
    device = resolve_device("auto") if search.device == "gpu" else "cpu"
    engine_settings = {**engine_settings, "device": device, "threads": settings.NASWEB_TORCH_THREADS}
    extra = _latency_extra(space, data, web["latency_target"]) if search.strategy == "proxyless" else {}
    result = run_oneshot(search.strategy, space, data, engine_settings, search.seed,
                         on_epoch=lambda epoch, info: services.record_oneshot_epoch(search.id, epoch, info, attempt),
                         checkpoint_path=str(checkpoint), **extra)
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
