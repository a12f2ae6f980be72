"""Warm start: finished trials of earlier searches on the same space, as extra history.

The service prepends `warm_start_history(prior)` to a search's own history, with
the prior trials passed oldest first. They get numbers below 1 (the first number
a search gives out), in that order, so every strategy replays them before the search's own trials
and counts them as seen: they inform the search and are never proposed again.
"""

from __future__ import annotations

import json
from dataclasses import replace

from .base import COMPLETE, FAILED, PRUNED, TrialRecord

#: Trials whose outcome says something about their architecture; queued, running and
#: cancelled trials of another search were never (fully) evaluated.
INFORMATIVE_STATES = (COMPLETE, PRUNED, FAILED)


def warm_start_history(prior_records: list[TrialRecord]) -> list[TrialRecord]:
    """Prior trials renumbered -n..-1, oldest first; one record per architecture (the latest)."""
    latest: dict[str, TrialRecord] = {}
    for record in prior_records:
        if record.state in INFORMATIVE_STATES:
            key = json.dumps(record.arch, sort_keys=True)
            latest.pop(key, None)  # re-inserting moves a repeated architecture to its latest position
            latest[key] = record
    kept = list(latest.values())
    return [replace(record, number=i - len(kept)) for i, record in enumerate(kept)]
