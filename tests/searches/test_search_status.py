"""The search page's status: progress against the budget that bounds it, the ETA from the observed
rate, and why queued trials wait (the embedded worker's fair queue, or Celery approximated)."""

import random
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from searches import search_status, services
from searches.embedded import FairQueue
from searches.models import Search, Trial
from searches.search_status import duration_words, progress_from, rate_words, round_robin_places


@pytest.mark.parametrize("seconds, words", [
    (0, "0 s"), (42.4, "42 s"), (59.6, "1 min"), (185, "3 min"), (3600, "1 h"), (3900, "1 h 5 min"),
    (86400, "1 day"), (2 * 86400 + 3 * 3600, "2 days 3 h"),
])
def test_durations_in_words(seconds, words):
    assert duration_words(seconds) == words


def test_rates_in_words():
    assert (rate_words(12.3), rate_words(1.5), rate_words(0.25)) == ("12 trials/min", "1.5 trials/min",
                                                                      "1 trial every 4 min")


def running(**numbers):
    return progress_from(state="running", **numbers)


def test_the_eta_is_unknown_before_two_trials():
    one = running(done=1, max_trials=10, max_seconds=None, seconds_used=30, seconds_at_last_finish=20)
    assert one["eta_seconds"] is None and one["rate_per_minute"] is None
    assert one["eta_text"].startswith("time left unknown yet") and "(1 so far)" in one["eta_text"]
    assert one["fraction"] == 0.1 and one["text"] == "1 of 10 trials finished (10%) · 30 s so far"


def test_the_eta_comes_from_the_rate_and_counts_down_between_finishes():
    # 4 trials in 60 s: 4 trials/min; 16 left take 4 min, of which 15 s have passed since the last finish
    p = running(done=4, max_trials=20, max_seconds=None, seconds_used=75, seconds_at_last_finish=60)
    assert (p["bound"], p["rate_per_minute"], p["eta_seconds"], p["fraction"]) == ("trials", 4.0, 225, 0.2)
    assert p["eta_text"] == "about 4 min left at 4 trials/min"


def test_the_sooner_budget_bounds_the_search():
    # at 4 trials/min, 16 more trials take 4 min; the clock has 60 s left: the time budget ends it
    p = running(done=4, max_trials=20, max_seconds=120, seconds_used=60, seconds_at_last_finish=60)
    assert (p["bound"], p["eta_seconds"], p["fraction"]) == ("seconds", 60, 0.5)
    assert p["eta_text"] == "about 1 min left at 4 trials/min (the time budget ends it first)"
    assert p["text"] == "4 of 20 trials finished (20%) · 1 min of 2 min used (50%)"
    slow_clock = running(done=4, max_trials=6, max_seconds=3600, seconds_used=60, seconds_at_last_finish=60)
    assert (slow_clock["bound"], slow_clock["eta_seconds"]) == ("trials", 30)


def test_a_time_budget_alone_needs_no_rate():
    p = running(done=0, max_trials=None, max_seconds=600, seconds_used=150, seconds_at_last_finish=None)
    assert (p["bound"], p["fraction"], p["eta_seconds"]) == ("seconds", 0.25, 450)
    assert p["eta_text"] == "at most 8 min left (the time budget; the trial rate is not known yet)"


def test_finished_paused_and_queued_searches_say_so():
    done = progress_from(state="done", done=3, max_trials=3, max_seconds=None, seconds_used=90,
                         seconds_at_last_finish=90)
    assert (done["active"], done["eta_seconds"], done["fraction"], done["eta_text"]) == (False, None, 1.0, "done")
    assert done["text"] == "3 of 3 trials finished (100%) · in 2 min"
    paused = progress_from(state="paused", done=1, max_trials=3, max_seconds=None, seconds_used=9,
                           seconds_at_last_finish=5)
    assert paused["eta_text"].startswith("paused")
    queued = progress_from(state="queued", done=0, max_trials=3, max_seconds=None, seconds_used=0,
                           seconds_at_last_finish=None)
    assert queued["eta_text"] == "waiting to start"


def test_places_follow_the_fair_queues_round_robin():
    q = FairQueue()
    for item, key in [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"), ("c1", "C"), ("b2", "B")]:
        q.put(item, key=key)
    q.get()  # a1 is served: A goes to the back of the round
    places = round_robin_places(q.lines())
    served = [q.get() for _ in range(5)]
    assert served == ["b1", "c1", "a2", "b2", "a3"]
    assert [places[item][0] for item in served] == [0, 1, 2, 3, 4]
    assert places["a3"][1] == {"A": 1, "B": 2, "C": 1}


# --- with the database -------------------------------------------------------------------------

def make_trials(search, states, start=1, **fields):
    space = search.space.build()
    trials = []
    for offset, state in enumerate(states):
        number = start + offset
        trials.append(Trial.objects.create(search=search, number=number, arch=space.sample(random.Random(number)),
                                           arch_key=f"{search.id}-{number}", state=state, **fields))
    return trials


@pytest.mark.django_db
def test_progress_reads_finished_trials_and_leaves_out_cancelled_and_lost(start_search):
    search = start_search(max_trials=10)
    start = timezone.now() - timedelta(seconds=120)
    Search.objects.filter(id=search.id).update(state="running", started_at=start)
    search.refresh_from_db()
    make_trials(search, ["complete", "pruned", "failed"], finished_at=start + timedelta(seconds=90))
    make_trials(search, ["cancelled", "running", "queued"], start=4)
    Trial.objects.filter(search=search, state="failed").update(lost=True)
    p = search_status.progress(search, now=start + timedelta(seconds=100))
    # 2 trials in 90 s; 8 left take 6 min, 10 s of which have passed
    assert (p["done"], p["rate_per_minute"], p["eta_seconds"]) == (2, 1.33, 350)
    assert p["text"] == "2 of 10 trials finished (20%) · 2 min so far"


@pytest.mark.django_db
def test_queued_trials_in_the_embedded_worker_wait_behind_the_searches_ahead(start_search, settings):
    settings.NASWEB_EMBEDDED_THREADS = 1
    ahead, mine = start_search(name="long one"), start_search(name="mine")
    Search.objects.filter(id__in=[ahead.id, mine.id]).update(state="running")
    mine.refresh_from_db()
    a = make_trials(ahead, ["queued", "queued", "running"], worker="embedded@host")
    m = make_trials(mine, ["queued", "queued"])
    lines = [(ahead.id, [a[0].id, a[1].id]), (mine.id, [m[0].id, m[1].id])]
    waiting = search_status.why_waiting(mine, lines)
    assert waiting["count"] == 2 and [t["position"] for t in waiting["trials"]] == [2, 4]
    first, second = (t["reason"] for t in waiting["trials"])
    assert first == "2nd in the embedded worker's queue: waiting behind search “long one” (1 trial) " \
                    "(1 of 1 training slot busy)"
    assert "search “long one” (2 trials), 1 earlier trial of this search" in second
    Trial.objects.filter(id__in=[a[0].id, a[1].id]).update(state="cancelled")  # skipped in their turn: not ahead
    assert search_status.why_waiting(mine, lines)["trials"][0]["position"] == 1
    assert "not yet handed" in search_status.why_waiting(mine, [])["trials"][0]["reason"]


@pytest.mark.django_db
def test_on_celery_without_fair_queues_a_trial_waits_behind_earlier_queued_trials(start_search, settings):
    settings.NASWEB_FAIR_QUEUES = False
    other, mine, finished = start_search(name="other"), start_search(name="mine"), start_search(name="old")
    Search.objects.filter(id__in=[other.id, mine.id]).update(state="running")
    Search.objects.filter(id=finished.id).update(state="done")
    mine.refresh_from_db()
    t0 = timezone.now() - timedelta(minutes=5)
    make_trials(other, ["queued", "queued"], queued_at=t0)
    make_trials(finished, ["queued"], queued_at=t0)  # a finished search's leftovers are no one's turn
    make_trials(other, ["running"], start=3)
    make_trials(other, ["queued"], start=4, queued_at=t0 + timedelta(minutes=2))  # behind mine
    (trial,) = make_trials(mine, ["queued"], queued_at=t0 + timedelta(minutes=1))
    waiting = search_status.why_waiting(mine)
    assert waiting["trials"] == [{"id": trial.id, "number": 1, "position": 3, "reason":
                                  "waiting for a free CPU worker: about 3rd in line, behind search “other” "
                                  "(2 trials) (1 trial running on CPU workers)"}]


@pytest.mark.django_db
def test_paused_and_external_searches_say_who_their_trials_wait_for(start_search):
    search = start_search()
    make_trials(search, ["queued"])
    Search.objects.filter(id=search.id).update(state="paused")
    search.refresh_from_db()
    assert search_status.why_waiting(search)["trials"][0]["reason"] == "the search is paused"
    Search.objects.filter(id=search.id).update(state="running", evaluator="external")
    search.refresh_from_db()
    assert "your own training code" in search_status.why_waiting(search)["trials"][0]["reason"]


@pytest.mark.django_db
def test_the_page_and_its_catch_up_carry_the_status(client, start_search, owner, django_capture_on_commit_callbacks):
    from django.urls import reverse

    search = start_search()
    with django_capture_on_commit_callbacks(execute=False):
        services.advance_search(search.id)
    client.force_login(owner)
    page = client.get(reverse("searches:search_detail", args=[search.id]))
    assert b'id="search-progress"' in page.content and b"why-waiting" in page.content
    data = client.get(reverse("searches:search_data", args=[search.id])).json()
    assert data["status"]["progress"]["max_trials"] == 3 and data["status"]["waiting"]["count"] == 1
    caught_up = client.get(reverse("searches:search_events", args=[search.id]), {"after": 0}).json()
    assert caught_up["status"]["waiting"]["trials"][0]["number"] == 1


@pytest.mark.django_db
def test_a_status_says_when_it_was_read_so_the_page_drops_an_older_one(start_search):
    from datetime import datetime

    from searches.search_status import status

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert status(start_search(), None, now)["as_of"] == now.timestamp()


@pytest.mark.django_db
def test_on_celery_a_queued_trial_waits_its_searchs_turn_round_robin(start_search):
    big, mine, idle = start_search(name="big"), start_search(name="mine"), start_search(name="idle")
    Search.objects.filter(id__in=[big.id, mine.id, idle.id]).update(state="running")
    mine.refresh_from_db()
    make_trials(big, ["queued"] * 30, queued_at=timezone.now() - timedelta(minutes=5))  # queued long before mine
    earlier = timezone.now() - timedelta(minutes=1)
    make_trials(big, ["complete"], start=31, started_at=earlier)  # served: behind the never-served searches
    make_trials(idle, ["queued"])
    first, second = make_trials(mine, ["queued", "queued"])
    make_trials(mine, ["running"], start=3)  # one running: the others go first (idle: never served)
    waiting = search_status.why_waiting(mine)
    assert [(t["id"], t["position"]) for t in waiting["trials"]] == [(first.id, 3), (second.id, 5)]
    assert waiting["trials"][0]["reason"] == ("waiting for a free CPU worker: about 3rd in line, behind "
                                              "search “idle” (1 trial), search “big” (1 trial) "
                                              "(1 trial running on CPU workers)")
    assert "search “idle” (1 trial), search “big” (2 trials), 1 earlier trial of this search" in \
        waiting["trials"][1]["reason"]
