"""Read model of the search page's status line: how far the search is, when it should end, and why
its queued trials wait.

Progress is measured against whichever budget bounds the search: finished trials against
`max_trials`, seconds used against `max_seconds`, or both (the bar shows the further one, the ETA the
sooner end). The ETA comes from the observed rate: trials finished per minute since the search
started, up to the latest finish; it says "unknown" until two trials have finished, and counts down
between finishes (the time since the latest finish is taken off).

Why trials wait depends on who runs them. The embedded worker's fair queue is in this process, so
its exact order is known: the caller passes its lines (`embedded.trial_lines()`), and a trial's
place is counted the way the round robin will serve it. Celery's queue is in Redis and not
inspectable cheaply, so it is approximated from the database: its slots serve the searches of a
device queue round robin too (services.searches_in_turn), so a trial's place is counted over the
searches with queued trials in their current turn order (or, with NASWEB_FAIR_QUEUES off, over the
trials queued before it). Writes nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Search, Trial
from .oneshot.registry import ONESHOT_STRATEGIES
from .services.trials import searches_in_turn

#: Trials that used up the trial budget once finished (a cancelled one or one lost with its worker did not).
FINISHED = (Trial.COMPLETE, Trial.PRUNED, Trial.FAILED)
MIN_TRIALS_FOR_RATE = 2
SHOWN_WAITING = 20


def duration_words(seconds: float) -> str:
    """A rounded duration a reader takes in at a glance: 40 s, 3 min, 1 h 5 min, 2 days 3 h."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"


def rate_words(per_minute: float) -> str:
    """12 trials/min, 1.5 trials/min, or 1 trial every 4 min when slower than one a minute."""
    if per_minute >= 10:
        return f"{per_minute:.0f} trials/min"
    if per_minute >= 1:
        return f"{per_minute:.1f} trials/min".replace(".0 ", " ")
    return f"1 trial every {duration_words(60 / per_minute)}"


def progress_from(*, state: str, done: int, max_trials: int | None, max_seconds: int | None,
                  seconds_used: float, seconds_at_last_finish: float | None) -> dict:
    """The progress figures and their words from plain numbers (no database), so each case is
    testable: `seconds_used` runs from the start to now (or to the end of a finished search),
    `seconds_at_last_finish` from the start to the latest finished trial."""
    active = state in Search.ACTIVE_STATES
    rate = None  # trials per second
    if done >= MIN_TRIALS_FOR_RATE and seconds_at_last_finish:
        rate = done / seconds_at_last_finish
    fractions, ends = {}, {}
    if max_trials:
        fractions["trials"] = min(done / max_trials, 1.0)
        if rate:
            since_last = max(seconds_used - seconds_at_last_finish, 0.0)
            ends["trials"] = max((max_trials - done) / rate - since_last, 0.0)
    if max_seconds:
        fractions["seconds"] = min(seconds_used / max_seconds, 1.0)
        ends["seconds"] = max(max_seconds - seconds_used, 0.0)
    bound = min(ends, key=ends.get) if ends else ("trials" if max_trials else "seconds" if max_seconds else None)
    eta = ends.get(bound)
    return {
        "state": state, "active": active, "bound": bound, "done": done, "max_trials": max_trials,
        "max_seconds": max_seconds, "seconds_used": round(seconds_used, 1),
        "fraction": max(fractions.values()) if fractions else None,
        "rate_per_minute": round(rate * 60, 2) if rate else None,
        "eta_seconds": round(eta) if eta is not None and active else None,
        "text": progress_words(state, done, max_trials, max_seconds, seconds_used),
        "eta_text": eta_words(state, rate, eta, done, bound, both=bool(max_trials and max_seconds)),
    }


def progress_words(state: str, done: int, max_trials: int | None, max_seconds: int | None,
                   seconds_used: float) -> str:
    parts = []
    noun = "trial" if done == 1 else "trials"
    if max_trials:
        budget = "trial" if max_trials == 1 else "trials"
        parts.append(f"{done} of {max_trials} {budget} finished ({100 * min(done / max_trials, 1):.0f}%)")
    else:
        parts.append(f"{done} {noun} finished")
    if max_seconds:
        used = min(seconds_used, max_seconds)
        parts.append(f"{duration_words(used)} of {duration_words(max_seconds)} used "
                     f"({100 * used / max_seconds:.0f}%)")
    elif seconds_used:
        parts.append(f"{duration_words(seconds_used)} so far" if state in Search.ACTIVE_STATES
                     else f"in {duration_words(seconds_used)}")
    return " · ".join(parts)


def eta_words(state: str, rate: float | None, eta: float | None, done: int, bound: str | None,
              both: bool = False) -> str:
    if state == Search.QUEUED and not done:
        return "waiting to start"
    if state == Search.PAUSED:
        return "paused: no new trials start until it is resumed"
    if state not in Search.ACTIVE_STATES:
        return state
    pace = f" at {rate_words(rate * 60)}" if rate else ""
    if eta is None:
        return (f"time left unknown yet: the rate is measured once {MIN_TRIALS_FOR_RATE} trials have finished "
                f"({done} so far)")
    if eta < 1:
        return f"ending any moment now{pace}"
    if bound == "seconds":
        how = ("the time budget" + (" ends it first" if both else "") if rate
               else "the time budget; the trial rate is not known yet")
        return f"{'about' if rate else 'at most'} {duration_words(eta)} left{pace} ({how})"
    return f"about {duration_words(eta)} left{pace}"


def progress(search: Search, now: datetime | None = None) -> dict | None:
    """The search's progress against its budget; None for a one-shot search (its supernet card
    shows its epochs) or one without a budget."""
    if search.strategy in ONESHOT_STRATEGIES or not (search.max_trials or search.max_seconds):
        return None
    now = now or timezone.now()
    finished = (Trial.objects.filter(search=search, state__in=FINISHED, lost=False)
                .aggregate(n=Count("id"), last=Max("finished_at")))
    start = search.started_at
    end = search.finished_at if search.state in Search.FINAL_STATES and search.finished_at else now
    used = (end - start).total_seconds() if start else 0.0
    at_last = (finished["last"] - start).total_seconds() if start and finished["last"] else None
    return progress_from(state=search.state, done=finished["n"], max_trials=search.max_trials,
                         max_seconds=search.max_seconds, seconds_used=used, seconds_at_last_finish=at_last)


# --- why trials wait ------------------------------------------------------------------------------------

def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def round_robin_places(lines: list[tuple[object, list]]) -> dict:
    """item -> (items served before it, {key: how many of them are that key's}) for a fair queue's
    lines in turn order: each round takes the oldest item of every line in turn."""
    places = {}
    for p, (key, items) in enumerate(lines):
        for i, item in enumerate(items):
            ahead = {key: i} if i else {}
            for k, (other, others) in enumerate(lines):
                if other != key:
                    n = min(len(others), i + (1 if k < p else 0))
                    if n:
                        ahead[other] = n
            places[item] = (sum(ahead.values()), ahead)
    return places


def _names(search_ids) -> dict[int, str]:
    return dict(Search.objects.filter(id__in=list(search_ids)).values_list("id", "name"))


def _behind_words(search: Search, ahead: dict, names: dict) -> str:
    others = [(names.get(k, f"#{k}"), n) for k, n in ahead.items() if k != search.id]
    own = ahead.get(search.id, 0)
    parts = [f"search “{name}” ({n} trial{'s' if n != 1 else ''})" for name, n in others]
    if own:
        parts.append(f"{own} earlier trial{'s' if own != 1 else ''} of this search")
    return ", ".join(parts)


def _embedded_reasons(search: Search, queued: list[Trial], lines) -> dict[int, tuple[int | None, str]]:
    live = set(Trial.objects.filter(id__in=[t for _, items in lines for t in items], state=Trial.QUEUED)
               .values_list("id", flat=True))
    lines = [(key, [t for t in items if t in live]) for key, items in lines]
    places = round_robin_places([(key, items) for key, items in lines if items])
    names = _names({k for _, ahead in places.values() for k in ahead})
    slots = settings.NASWEB_EMBEDDED_THREADS
    busy = Trial.objects.filter(state=Trial.RUNNING, worker__startswith="embedded@").count()
    slot_words = f"{busy} of {slots} training slot{'s' if slots != 1 else ''} busy"
    reasons = {}
    for trial in queued:
        if trial.id not in places:
            reasons[trial.id] = (None, "queued; not yet handed to the embedded worker")
            continue
        n, ahead = places[trial.id]
        if not n:
            reasons[trial.id] = (1, f"next in the embedded worker's queue ({slot_words})")
        else:
            reasons[trial.id] = (n + 1, f"{ordinal(n + 1)} in the embedded worker's queue: waiting behind "
                                        f"{_behind_words(search, ahead, names)} ({slot_words})")
    return reasons


def _device_words(search: Search) -> tuple[str, str]:
    """("CPU"/"GPU", "N trials running on CPU workers") of the search's device queue."""
    running = Trial.objects.filter(state=Trial.RUNNING, search__device=search.device,
                                   search__evaluator=Search.WORKERS).count()
    device = "GPU" if search.device == "gpu" else "CPU"
    return device, f"{running} trial{'s' if running != 1 else ''} running on {device} workers"


def _celery_line_reasons(search: Search, queued: list[Trial], places: dict) -> dict[int, tuple[int | None, str]]:
    device, busy = _device_words(search)
    names = _names({k for _, ahead in places.values() for k in ahead})
    reasons = {}
    for trial in queued:
        n, ahead = places.get(trial.id, (0, {}))
        if not n:
            reasons[trial.id] = (1, f"waiting for a free {device} worker: first in line ({busy})")
        else:
            reasons[trial.id] = (n + 1, f"waiting for a free {device} worker: about {ordinal(n + 1)} in line, "
                                        f"behind {_behind_words(search, ahead, names)} ({busy})")
    return reasons


def _fair_celery_reasons(search: Search, queued: list[Trial]) -> dict[int, tuple[int | None, str]]:
    """Celery's slots serve a device queue's searches round robin, in searches_in_turn's order, each its
    lowest numbered queued trial: this search's k-th trial waits for k of every other search's (one more
    of those ahead of it in turn), as far as they have that many queued."""
    turns = list(searches_in_turn(search.device).annotate(
        waiting=Count("trials", filter=Q(trials__state=Trial.QUEUED))).values_list("id", "waiting"))
    order = [search_id for search_id, _ in turns]
    if search.id not in order:
        return _celery_line_reasons(search, queued, {})
    mine = order.index(search.id)
    places = {}
    for k, trial in enumerate(sorted(queued, key=lambda t: t.number)):
        ahead = {search.id: k} if k else {}
        for p, (other, waiting) in enumerate(turns):
            n = min(waiting, k + (1 if p < mine else 0))
            if other != search.id and n:
                ahead[other] = n
        places[trial.id] = (sum(ahead.values()), ahead)
    return _celery_line_reasons(search, queued, places)


def _celery_reasons(search: Search, queued: list[Trial]) -> dict[int, tuple[int | None, str]]:
    if settings.NASWEB_FAIR_QUEUES:
        return _fair_celery_reasons(search, queued)
    return _fifo_celery_reasons(search, queued)


def _fifo_celery_reasons(search: Search, queued: list[Trial]) -> dict[int, tuple[int | None, str]]:
    """With NASWEB_FAIR_QUEUES off: Celery serves a device queue in the order trials were queued."""
    when = Coalesce("queued_at", "created_at")
    latest = max(t.queued_at or t.created_at for t in queued)
    ahead_rows = list(Trial.objects.filter(state=Trial.QUEUED, search__state__in=Search.ACTIVE_STATES,
                                           search__device=search.device, search__evaluator=Search.WORKERS)
                      .annotate(when=when).filter(when__lte=latest).values_list("id", "search_id", "when"))
    places = {}
    for trial in queued:
        mine = (trial.queued_at or trial.created_at, trial.id)
        ahead: dict[int, int] = {}
        for other_id, search_id, other_when in ahead_rows:
            if (other_when, other_id) < mine:
                ahead[search_id] = ahead.get(search_id, 0) + 1
        places[trial.id] = (sum(ahead.values()), ahead)
    return _celery_line_reasons(search, queued, places)


def why_waiting(search: Search, embedded_lines: list | None = None) -> dict:
    """For each queued trial (the first SHOWN_WAITING), its place in line and why it waits.
    `embedded_lines` is the embedded worker's fair queue, [(search id, [trial ids])] in turn order,
    or None when the trials go to Celery."""
    queued_trials = search.trials.filter(state=Trial.QUEUED)
    count = queued_trials.count()
    queued = list(queued_trials.order_by("queued_at", "number")[:SHOWN_WAITING])
    if not queued:
        reasons = {}
    elif search.state == Search.PAUSED:
        reasons = {t.id: (None, "the search is paused") for t in queued}
    elif search.evaluator == Search.EXTERNAL:
        reasons = {t.id: (None, "waiting for your own training code to ask for it (ask/tell API)") for t in queued}
    elif embedded_lines is not None:
        reasons = _embedded_reasons(search, queued, embedded_lines)
    else:
        reasons = _celery_reasons(search, queued)
    trials = [{"id": t.id, "number": t.number, "position": reasons[t.id][0], "reason": reasons[t.id][1]}
              for t in queued]
    trials.sort(key=lambda t: (t["position"] is None, t["position"] or 0, t["number"]))
    return {"count": count, "trials": trials, "more": max(count - len(trials), 0)}


def status(search: Search, embedded_lines: list | None = None, now: datetime | None = None) -> dict:
    """What the status card shows: the progress and the waiting trials. `as_of` (seconds since the
    epoch) lets the page drop a status that arrives after a newer one: the socket's status messages and
    the catch-up's come by different paths."""
    now = now or timezone.now()
    return {"progress": progress(search, now), "waiting": why_waiting(search, embedded_lines),
            "as_of": now.timestamp()}


def status_of(search_id: int, embedded_lines: list | None = None) -> dict | None:
    search = Search.objects.filter(id=search_id).first()
    return status(search, embedded_lines) if search else None
