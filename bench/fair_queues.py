"""How long a small search waits behind a large one on Celery, with and without fair queues.

    python bench/fair_queues.py [--large 200] [--small 3] [--epochs 0] [--database nasweb_bench_fair]

One Celery worker process (the solo pool: one slot). A large search queues its first 64 trials at once
(its parallelism; each finished trial queues the next), and in the same transaction a small search
queues its own, so the worker finds the large search's messages first in its queue. Run twice on
fresh searches: with NASWEB_FAIR_QUEUES on (each run_trial message takes the trial of the search whose
turn it is, services.searches_in_turn) and off (the old FIFO: each message its own trial). Prints, for
each, the wait of the small search's trials (queued to claimed: mean and max), when the small search
was done and when the large one was, from the first message; and the machine load before and after.

Trials are NAS-Bench-201 table lookups by default (the fastest trial, so the wait is the worker's
throughput times the trials ahead); --epochs N trains chain-MLPs on digits for N epochs instead.
Needs PostgreSQL and Redis (DATABASE_URL's server, REDIS_URL).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throughput import load, setup_django  # noqa: E402  (after the path)

#: The most trials a search keeps in flight (the form's limit): the large search keeps this many queued.
MOST_PARALLEL = 64


def start_search(project, user, name: str, trials: int, epochs: int):
    from searches import services

    options = ({"space_kind": "nb201", "space_spec": None} if not epochs else
               {"space_kind": "chain_mlp", "space_spec": None, "training": {"epochs": epochs}})
    search = services.start_search(project, user, name=name, strategy="random", max_trials=trials,
                                   parallelism=min(trials, MOST_PARALLEL), seed=7, **options)
    services.advance_search(search.id)  # up to 64 trials queued now, their messages sent on commit
    return search


def run(fair: bool, large: int, small: int, epochs: int, env: dict, logs: Path) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test.utils import override_settings

    from searches import services
    from searches.models import Search, Trial
    from tests.processes import celery_worker, child_env

    prefix = f"fair{uuid.uuid4().hex[:6]}-"
    user, _ = get_user_model().objects.get_or_create(username="bench")
    dataset = services.builtin_dataset("digits") if epochs else services.benchmark_dataset("nb201_cifar10")
    project = services.create_project(user, f"fair queues {prefix}", dataset)
    worker_env = child_env(**env, NASWEB_QUEUE_PREFIX=prefix, NASWEB_CHANNEL_PREFIX=prefix,
                           NASWEB_LOOKUPS_IN_ADVANCE="0", NASWEB_FAIR_QUEUES="1" if fair else "0",
                           NASWEB_MEASURE_TOP_K="0")
    sending = override_settings(NASWEB_QUEUE_PREFIX=prefix, NASWEB_LOOKUPS_IN_ADVANCE=False,
                                NASWEB_EMBEDDED_WORKER=False)
    with celery_worker(worker_env, [f"{prefix}default", f"{prefix}cpu"], logs / f"worker-{prefix}.log"), sending:
        with transaction.atomic():
            big = start_search(project, user, "large", large, epochs)
            little = start_search(project, user, "small", small, epochs)
        ids = [big.id, little.id]
        deadline = time.monotonic() + 3600
        while Search.objects.filter(id__in=ids).exclude(state__in=Search.FINAL_STATES).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the searches did not finish within an hour")
            time.sleep(0.2)
    trials = list(Trial.objects.filter(search_id__in=ids))
    if any(t.state != "complete" or t.attempt != 1 for t in trials):
        raise RuntimeError(f"not every trial completed exactly once: {[(t.id, t.state, t.attempt) for t in trials]}")
    first = min(t.queued_at for t in trials)
    waits = [(t.started_at - t.queued_at).total_seconds() for t in trials if t.search_id == little.id]

    def done_after(search_id: int) -> float:
        return max((t.finished_at - first).total_seconds() for t in trials if t.search_id == search_id)

    return {"mean_wait": statistics.mean(waits), "max_wait": max(waits), "small_done": done_after(little.id),
            "large_done": done_after(big.id)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=200, help="trials of the search queued first")
    parser.add_argument("--small", type=int, default=3, help="trials of the search queued behind it")
    parser.add_argument("--epochs", type=int, default=0, help="0: table lookups; N: chain-MLPs trained N epochs")
    parser.add_argument("--database", default="nasweb_bench_fair")
    args = parser.parse_args()
    env = setup_django(args.database)
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "nasweb-bench"
    logs.mkdir(exist_ok=True)
    kind = "NAS-Bench-201 lookups" if not args.epochs else f"chain-MLP on digits, {args.epochs} epoch(s)"
    print(f"1 Celery worker process (solo pool); large search {args.large} trials ("
          f"{min(args.large, MOST_PARALLEL)} queued at a time) queued first, small search {args.small} trials "
          f"behind it; {kind}; {load()}")
    for fair in (True, False):
        figures = run(fair, args.large, args.small, args.epochs, env, logs)
        name = "fair queues (NASWEB_FAIR_QUEUES=1)" if fair else "FIFO (NASWEB_FAIR_QUEUES=0)    "
        print(f"{name}: small search's trials waited mean {figures['mean_wait']:7.2f} s, max "
              f"{figures['max_wait']:7.2f} s; small search done after {figures['small_done']:7.2f} s, large after "
              f"{figures['large_done']:7.2f} s   ({load()})")


if __name__ == "__main__":
    main()
