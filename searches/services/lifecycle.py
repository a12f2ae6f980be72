"""Writers of a search's life: start, the loop that asks the strategy for trials, pause, resume, cancel.

advance_search is the loop's one step: it runs in a task after every change that frees a slot,
so it is idempotent (the search row is locked) and rebuilds the strategy from the stored trials.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from .. import candidates, dispatch
from ..checks import SpecError
from ..engine_data import is_benchmark, load_project_data
from ..engine_setup import build_search_strategy, history_for, prior_history
from ..models import Project, Search, SearchSpace, Trial
from ..oneshot.registry import ONESHOT_STRATEGIES
from ..structured_pruning.search import GATES
from .lookups import answer_lookups, answers_in_advance
from .search_spec import validate_search
from .search_state import complete_search, fail_search, mark_running, reopen_search, set_search_state
from .trials import cancel_trial, create_trial, recover_stale_trials, requeue_orphaned_trials

#: Not the strategy's fault: the task is retried (the database went away, the time limit struck).
INTERRUPTIONS = (OperationalError, InterfaceError, SoftTimeLimitExceeded)

log = logging.getLogger(__name__)


def start_search(project: Project, user, **fields) -> Search:
    """Validate everything first (search_spec.validate_search takes the fields), then create the
    space and the search in one transaction; the first advance is sent on commit."""
    spec = validate_search(project, user=user, **fields)
    return create_search_rows(project, user, spec, spec.space.spec)


def create_search_rows(project: Project, user, spec, space_spec: dict) -> Search:
    """The space and the search of a validated SearchSpec, in one transaction; the first advance is
    sent on commit. `space_spec` is what the space row stores (a pruning search adds its parent)."""
    with transaction.atomic():
        space_row = SearchSpace.objects.create(project=project, name=f"{spec.name} space", kind=spec.space_kind,
                                               spec=space_spec)
        search = Search.objects.create(
            project=project, space=space_row, name=spec.name, strategy=spec.strategy,
            strategy_settings=spec.strategy_settings, objectives=spec.objectives, constraints=spec.constraints,
            training=spec.training, estimation=spec.estimation, pruner=spec.pruner,
            pruner_settings=spec.pruner_settings, max_trials=spec.max_trials, max_seconds=spec.max_seconds,
            parallelism=spec.parallelism, seed=spec.seed, device=spec.device, evaluator=spec.evaluator,
            created_by=user,
        )
        search.warm_start_from.set(spec.warm_start_from)
        dispatch.advance_later(search.id)
    return search


def pause_search(search: Search) -> bool:
    return set_search_state(search, from_states=Search.ACTIVE_STATES, to=Search.PAUSED)


def resume_search(search: Search) -> bool:
    changed = set_search_state(search, from_states=(Search.PAUSED,), to=Search.RUNNING)
    if changed:
        dispatch.advance_later(search.id)
    return changed


def cancel_search(search: Search) -> bool:
    """Stop a search: queued trials are cancelled now, running ones at their next epoch."""
    with transaction.atomic():
        changed = set_search_state(search, from_states=(*Search.ACTIVE_STATES, Search.PAUSED), to=Search.CANCELLED)
        if changed:
            for trial in search.trials.filter(state__in=Trial.OPEN_STATES):
                cancel_trial(trial.id, "search cancelled")
    return changed


def advance_search(search_id: int) -> list[int]:
    """Ask the strategy for trials up to the parallelism limit; finish the search when spent.

    Idempotent: the search row is locked, so two workers advancing at once create
    each trial once.
    """
    with transaction.atomic():
        search = Search.objects.select_for_update(of=("self",)).select_related("space").filter(id=search_id).first()
        if search is None or search.state not in Search.ACTIVE_STATES:
            return []
        if search.state == Search.QUEUED:
            mark_running(search)
        recover_stale_trials(search)
        trials = list(search.trials.all())
        open_count = sum(t.state in Trial.OPEN_STATES for t in trials)
        if search.strategy in ONESHOT_STRATEGIES or search.strategy == GATES:
            _advance_oneshot(search, open_count)
            return []
        used = sum(t.counts_in_budget for t in trials)  # lost trials do not use up the budget
        wanted = min(search.parallelism - open_count, _trials_left(search, used))
        try:
            if wanted > 0 and answers_in_advance(search):
                created, more = _answer_lookups(search, trials, open_count, used)
                if not more and open_count == 0:  # spent, or the strategy has nothing new
                    complete_search(search, exhausted=_trials_left(search, used + len(created)) > 0)
                return [t.id for t in created]
            else:
                created = _create_trials(search, trials, wanted) if wanted > 0 else []
        except INTERRUPTIONS:
            raise
        except Exception as exc:  # a broken strategy fails the search, with the reason shown
            log.exception("strategy failed for search %s", search.id)
            fail_search(search, f"the {search.strategy} strategy failed: {type(exc).__name__}: {exc}")
            return []
        if not created and open_count == 0:
            complete_search(search, exhausted=wanted > 0)
    return [t.id for t in created]


def _advance_oneshot(search: Search, open_count: int) -> None:
    """A one-shot search is one supernet task, then any retrains the user asks for. A learned-gates
    pruning search is one gates task, then the trial of the widths it read off."""
    if not search.oneshot_result and not search.oneshot_worker:
        dispatch.run_oneshot_later(search.id, search.device)
    elif search.strategy == GATES and search.oneshot_result and not search.trials.exists():
        create_trial(search, 1, search.oneshot_result["arch"], search.space.build())
    elif search.oneshot_result and open_count == 0:
        complete_search(search, exhausted=False)


def _trials_left(search: Search, created: int) -> int:
    left = search.max_trials - created if search.max_trials else 10**9
    if search.max_seconds and search.started_at:
        if timezone.now() - search.started_at >= timedelta(seconds=search.max_seconds):
            return 0
    return max(left, 0)


def _create_trials(search: Search, trials: list[Trial], wanted: int) -> list[Trial]:
    space = search.space.build()
    strategy = build_search_strategy(search, space)
    history = prior_history(search, space) + history_for(search, trials, curves=False)  # strategies read no curves
    estimation = {**candidates.DEFAULTS, **search.estimation}
    proposals = strategy.ask(history, candidates.pool_size(estimation, wanted))
    proposals = _choose_candidates(search, space, proposals, wanted, history, estimation)
    next_number = (max((t.number for t in trials), default=0)) + 1
    return [create_trial(search, next_number + offset, arch, space) for offset, arch in enumerate(proposals[:wanted])]


def _answer_lookups(search: Search, trials: list[Trial], open_count: int, used: int) -> tuple[list[Trial], bool]:
    """Table lookups: the advance answers round after round itself (services/lookups.py)."""
    space = search.space.build()
    strategy = build_search_strategy(search, space)
    history = prior_history(search, space) + history_for(search, trials, curves=False)
    estimation = {**candidates.DEFAULTS, **search.estimation}

    def propose(history, wanted):
        proposals = strategy.ask(history, candidates.pool_size(estimation, wanted))
        return _choose_candidates(search, space, proposals, wanted, history, estimation)[:wanted]

    def wanted_now(answered):
        return min(search.parallelism - open_count, _trials_left(search, used + answered))

    return answer_lookups(search, trials, history, space, propose, wanted_now)


def _choose_candidates(search: Search, space, proposals, wanted, history, estimation) -> list[dict]:
    if not estimation["prerank_proxy"] and not estimation["surrogate_quantile"]:
        return proposals[:wanted]
    objective = search.primary_objective
    dataset = search.project.dataset
    data = None if is_benchmark(dataset) else load_project_data(dataset, search.seed)
    return candidates.choose(space, proposals, wanted, history, estimation, metric=objective["metric"],
                             direction=objective["direction"], data=data, seed=search.seed + len(history))


def recover_active_searches(orphaned_worker_prefix: str) -> int:
    """After a restart: requeue trials the dead process held and advance every active search."""
    searches = list(Search.objects.filter(state__in=Search.ACTIVE_STATES))
    for search in searches:
        with transaction.atomic():
            requeue_orphaned_trials(search, orphaned_worker_prefix)
            Search.objects.filter(id=search.id, oneshot_result={},
                                  oneshot_worker__startswith=orphaned_worker_prefix).update(oneshot_worker="")
            dispatch.advance_later(search.id)
    return len(searches)


def abort_search(search_id: int, error: str) -> bool:
    """Fail an active search for a reason outside its strategy (it never finished proposing in time)."""
    with transaction.atomic():
        search = Search.objects.select_for_update().filter(id=search_id, state__in=Search.ACTIVE_STATES).first()
        if search is None:
            return False
        fail_search(search, error)
    return True


def retrain_architecture(search: Search, arch: dict) -> Trial:
    """Train an architecture (e.g. the one a supernet derived) as an ordinary trial of the search."""
    space = search.space.build()
    try:
        space.validate_arch(arch)
    except SpecError as exc:
        raise ValidationError({"arch": exc.message}) from exc
    key = space.key(arch)
    with transaction.atomic():
        search = Search.objects.select_for_update().get(id=search.id)
        existing = search.trials.filter(arch_key=key).first()
        if existing is not None:
            raise ValidationError({"arch": f"this architecture is already trial {existing.number}"})
        if search.state not in (Search.RUNNING, Search.DONE):
            raise ValidationError({"arch": f"the search is {search.state}"})
        if search.state == Search.DONE:
            reopen_search(search)
        number = (search.trials.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        trial = create_trial(search, number, arch, space)
    return trial
