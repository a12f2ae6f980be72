"""Table-lookup trials answered inside the advance step, in batches.

A NAS-Bench-201 trial is a lookup that costs microseconds; sent to a worker it costs a Celery
round trip, a claim, an epoch row, a result and another advance. Here the advance step (which holds
the search's row lock) asks the strategy for the batch it would have sent to the workers, answers
it from the table, tells the strategy (the next round's history holds the results) and repeats for
at most LOOKUP_SLICE_SECONDS; the rows are written with two bulk inserts and pushed as one batched
event on commit. The strategy stays stateless: each ask is given the whole history.

Idempotent like the rest of the advance: the whole slice is one transaction under the search's lock,
so a redelivered advance sees the rows a committed one wrote and creates no duplicate (the unique
(search, number) and (search, arch_key) constraints back it). No worker holds these trials, so there
is no claim to fence; a lookup search with a pruner keeps the worker path (its pruner reads epochs).
"""

from __future__ import annotations

import socket
import time

from django.conf import settings
from django.utils import timezone

from devices.services import schedule_answered_costs

from .. import dispatch, events
from ..engine_data import evaluator_for, is_benchmark
from ..engine_setup import target_costs_for_objectives
from ..models import Search, Trial, TrialMetric
from ..strategies.base import TrialRecord

#: How long one advance keeps answering lookups before it hands the search back to the queue (the
#: next advance continues), so one search never holds a worker for long.
LOOKUP_SLICE_SECONDS = 0.5
SOURCE = "NAS-Bench-201 table"


def answers_in_advance(search: Search) -> bool:
    """A search whose trials the advance step answers itself: a benchmark table, our workers, no pruner."""
    return (settings.NASWEB_LOOKUPS_IN_ADVANCE and search.evaluator == Search.WORKERS and not search.pruner
            and is_benchmark(search.project.dataset))


class LookupRounds:
    """The trials one advance answers: each round takes the strategy's proposals (propose(history,
    wanted) -> archs), answers them from the table and adds them to the history for the next."""

    def __init__(self, search: Search, space, trials: list[Trial], history: list[TrialRecord]):
        self.search, self.space, self.history = search, space, history
        self.evaluator = evaluator_for(search.project.dataset)
        self.keys = {t.arch_key for t in trials}
        self.next_number = max((t.number for t in trials), default=0) + 1
        self.answered: list[Trial] = []
        self.worker = f"lookup@{socket.gethostname()}"[:200]

    def answer(self, archs: list[dict]) -> list[Trial]:
        now = timezone.now()
        fresh = []
        for arch in archs:
            key = self.space.key(arch)
            if key in self.keys:
                continue  # a strategy that repeats itself gets nothing twice
            self.keys.add(key)
            metrics = {**self.evaluator.evaluate(arch), "source": SOURCE,
                       **target_costs_for_objectives(self.search, arch)}
            trial = Trial(search=self.search, number=self.next_number, arch=arch, arch_key=key,
                          description=self.space.describe(arch)[:300], state=Trial.COMPLETE, metrics=metrics,
                          val_accuracy=metrics.get("val_accuracy"), params=metrics.get("params"), epochs_done=1,
                          worker=self.worker, device="cpu", attempt=1, queued_at=now, started_at=now,
                          heartbeat_at=now, finished_at=now)
            self.next_number += 1
            fresh.append(trial)
            self.history.append(TrialRecord(trial.number, arch, trial.state, metrics, (), key))
        self.answered.extend(fresh)
        return fresh


def answer_lookups(search: Search, trials: list[Trial], history: list[TrialRecord], space, propose,
                   wanted_now) -> tuple[list[Trial], bool]:
    """Answer rounds of lookups for up to LOOKUP_SLICE_SECONDS; (the trials written, whether the
    budget is left and another advance must continue). `wanted_now(answered)` is how many the
    search takes next; `propose(history, wanted)` asks the strategy."""
    rounds = LookupRounds(search, space, trials, history)
    deadline = time.monotonic() + LOOKUP_SLICE_SECONDS
    more = False
    while (wanted := wanted_now(len(rounds.answered))) > 0:
        if not rounds.answer(propose(rounds.history, wanted)):
            break  # the strategy has nothing new: the caller finishes the search
        if time.monotonic() >= deadline:
            more = wanted_now(len(rounds.answered)) > 0
            break
    _write(search, trials, rounds.answered)
    if more:
        dispatch.advance_later(search.id)
    return rounds.answered, more


def _write(search: Search, earlier: list[Trial], answered: list[Trial]) -> None:
    """Two inserts for the whole slice, one batched push, and the cost bookkeeping of the trials
    that matter (devices/services.py decides, on the values in hand)."""
    if not answered:
        return
    Trial.objects.bulk_create(answered)
    TrialMetric.objects.bulk_create([TrialMetric(trial_id=t.id, epoch=1, name="val_accuracy", value=t.val_accuracy)
                                     for t in answered if t.val_accuracy is not None])
    events.trials_answered(search.id, answered)
    schedule_answered_costs(search, earlier, answered)
