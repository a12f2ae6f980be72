"""Writers of external trials: a search whose evaluator is "external" is trained by the user's own code.

The search loop is the same as for our workers (advance_search asks the same strategy for the same
trials, pruners judge the same epochs); only nobody dispatches its trials. A script asks for one
(ask_trial claims a queued trial, QUEUED -> RUNNING, as a worker would), reports its epochs through
record_epoch (so pruners work and the heartbeat beats), and tells the final metrics or the failure.
A script that stops beating is reaped like a lost worker: its trial fails and the slot is reused.
"""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.core.exceptions import ValidationError

from devices.services import schedule_trial_costs

from ..engine_data import build_model
from ..engine_setup import target_costs_for_objectives
from ..models import Search, Trial
from .lifecycle import advance_search
from .trials import beat_trial, claim_trial, complete_trial, fail_trial, record_epoch, recover_stale_trials

log = logging.getLogger(__name__)
EXTERNAL_DEVICE = "external"
MAX_EPOCH = 100_000
MAX_METRICS = 50
MAX_VALUE = 1e15


def check_external(search: Search) -> None:
    if search.evaluator != Search.EXTERNAL:
        raise ValidationError({"search": "our workers train this search's trials; ask/tell is for searches "
                                         "whose evaluator is external"})


def heartbeat_seconds() -> int:
    """How often a script should beat: well inside the time after which its trial is declared lost."""
    return max(settings.NASWEB_TRIAL_STALE_SECONDS // 4, 1)


def ask_trial(search: Search, worker: str) -> Trial | None:
    """Claim the next trial of an external search for `worker`; None when none is free now
    (all slots running, the search paused) or any more (the search is over)."""
    check_external(search)
    recover_stale_trials(search)  # a silent script's trial goes back to the queue for the next ask
    trial = _claim_next(search, worker)
    if trial is None:
        advance_search(search.id)  # fills free slots now, as the task would after a tell
        trial = _claim_next(search, worker)
    search.refresh_from_db()
    return trial


def _claim_next(search: Search, worker: str) -> Trial | None:
    if not Search.objects.filter(id=search.id, state__in=Search.ACTIVE_STATES).exists():
        return None
    for trial_id in search.trials.filter(state=Trial.QUEUED).order_by("number").values_list("id", flat=True)[:10]:
        trial = claim_trial(trial_id, worker=worker, device=EXTERNAL_DEVICE)
        if trial is not None:
            return trial
    return None


def _fence(trial: Trial, attempt: int | None) -> int:
    """The attempt a script writes as: the one its ask handed out (a client sends it back), else the
    trial's current one (a bare script that does not, and then cannot be told from a later claim)."""
    return trial.attempt if attempt is None else attempt


def heartbeat(trial: Trial, attempt: int | None = None) -> bool:
    """The script is alive; False when its claim is no longer running (requeued, pruned, cancelled)."""
    check_external(trial.search)
    return beat_trial(trial.id, _fence(trial, attempt))


def report_epoch(trial: Trial, epoch, metrics, attempt: int | None = None) -> bool:
    """One epoch's metrics; False tells the script to stop (pruned, cancelled or reaped)."""
    check_external(trial.search)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= MAX_EPOCH:
        raise ValidationError({"epoch": f"a whole number from 1 to {MAX_EPOCH}"})
    clean = _numeric_metrics(metrics)
    if not clean:
        raise ValidationError({"metrics": "give at least one metric, e.g. {\"val_accuracy\": 0.9}"})
    return record_epoch(trial.id, epoch, clean, attempt=_fence(trial, attempt))


def tell_trial(trial: Trial, metrics=None, error: str | None = None, attempt: int | None = None) -> bool:
    """The trial's end: final metrics (complete) or an error (failed). False when it had already
    ended (pruned, cancelled, reaped): the first word stands."""
    check_external(trial.search)
    if error is not None:
        if not isinstance(error, str) or not error.strip():
            raise ValidationError({"error": "say what went wrong"})
        return fail_trial(trial.id, f"reported by the training script: {error.strip()[:4000]}",
                          attempt=_fence(trial, attempt))
    clean = _numeric_metrics(metrics)
    metric = trial.search.primary_metric
    if metric not in clean:
        raise ValidationError({f"metrics.{metric}": f"the search ranks trials by {metric}: report it"})
    if "params" not in clean:
        model, _ = build_model(trial.search, trial.arch)
        clean["params"] = sum(p.numel() for p in model.parameters())
    clean.update(target_costs_for_objectives(trial.search, trial.arch))
    done = complete_trial(trial.id, clean, attempt=_fence(trial, attempt))
    if done:
        _record_device_costs(trial.id)
    return done


def _numeric_metrics(metrics) -> dict:
    if not isinstance(metrics, dict):
        raise ValidationError({"metrics": "a JSON object of metric name to number"})
    if len(metrics) > MAX_METRICS:
        raise ValidationError({"metrics": f"at most {MAX_METRICS} metrics"})
    clean = {}
    for name, value in metrics.items():
        if not name or len(name) > 40:
            raise ValidationError({"metrics": f"metric names have 1 to 40 characters: {name[:50]!r}"})
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or abs(value) > MAX_VALUE:
            raise ValidationError({f"metrics.{name}": f"must be a finite number of at most {MAX_VALUE:g} in size"})
        clean[name] = float(value)
    if "params" in clean:
        if clean["params"] < 0 or clean["params"] != int(clean["params"]):
            raise ValidationError({"metrics.params": "a whole number of parameters"})
        clean["params"] = int(clean["params"])
    return clean


def _record_device_costs(trial_id: int) -> None:
    """As for a trial our workers train: a trial that matters (top k, Pareto front) is sent to the
    measuring workers (devices/services.py: schedule_trial_costs); never fails the tell."""
    try:
        schedule_trial_costs(Trial.objects.select_related("search__space", "search__project__dataset")
                             .get(id=trial_id))
    except Exception:
        log.exception("could not schedule device costs for trial %s", trial_id)
