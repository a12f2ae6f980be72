"""A search's state moves: queued -> running -> paused / done / failed / cancelled, each pushed on commit."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .. import events
from ..models import Search


def set_search_state(search: Search, from_states, to: str) -> bool:
    """Conditional: the search moves only from one of `from_states`; True when it moved."""
    fields = {"state": to}
    if to in Search.FINAL_STATES:
        fields["finished_at"] = timezone.now()
    with transaction.atomic():
        updated = Search.objects.filter(id=search.id, state__in=from_states).update(**fields)
        if updated:
            search.refresh_from_db()
            events.search_changed(search)
    return bool(updated)


def mark_running(search: Search) -> None:
    search.state, search.started_at = Search.RUNNING, timezone.now()
    search.save(update_fields=["state", "started_at"])
    events.search_changed(search)


def complete_search(search: Search, exhausted: bool) -> None:
    search.state, search.finished_at = Search.DONE, timezone.now()
    if exhausted:
        search.error = "the strategy found no new architecture: the search space is exhausted"
    search.save(update_fields=["state", "finished_at", "error"])
    events.search_changed(search)


def reopen_search(search: Search) -> None:
    """A done search takes a retrain: it runs again until that trial ends."""
    search.state, search.finished_at = Search.RUNNING, None
    search.save(update_fields=["state", "finished_at"])
    events.search_changed(search)


def fail_search(search: Search, error: str) -> None:
    Search.objects.filter(id=search.id).update(state=Search.FAILED, error=error, finished_at=timezone.now())
    search.refresh_from_db()
    events.search_changed(search)
