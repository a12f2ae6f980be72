"""Lookup trials through the whole path, against Optuna on PostgreSQL, in one run.

    python bench/throughput.py [--trials 300] [--workers 1,2,4] [--worker-path] [--database h13bench]

Ours: a NAS-Bench-201 benchmark project (trials answered by table lookup) searched by the random
strategy, through everything a real search goes through: the advance tasks on Celery worker
processes over Redis, which answer the lookups in batches (searches/services/lookups.py; with
--worker-path also the run_trial task per trial, NASWEB_LOOKUPS_IN_ADVANCE=0), PostgreSQL rows,
the numbered events and their pushes, the cost bookkeeping. Timed from start_search to the
search's `done`. Optuna: a study with PostgreSQL storage (RDBStorage) and its RandomSampler, the
same number of trials, each a lookup of the same table (six categorical edges, five ops). Prints
trials/s of each, the ratio, and our rate with 1, 2 and 4 worker processes, with the machine load
before and after.

Needs PostgreSQL and Redis (DATABASE_URL's server, REDIS_URL) and optuna (bench/requirements.txt).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load() -> str:
    return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} CPUs)"


def setup_django(database: str) -> dict:
    base = os.environ.get("DATABASE_URL", "postgres://127.0.0.1:5432/postgres").rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{database}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ["NASWEB_EMBEDDED_WORKER"] = "0"
    os.environ.setdefault("NASWEB_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nasweb.settings")
    _create_database(base, database)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    return {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}


def _create_database(base: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{base}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def ours(trials: int, workers: int, env: dict, logs: Path, in_advance: bool = True) -> float:
    from django.contrib.auth import get_user_model
    from django.test.utils import override_settings

    from searches import services
    from searches.models import Search
    from tests.processes import celery_worker, child_env

    prefix = f"bench{uuid.uuid4().hex[:6]}-"
    user, _ = get_user_model().objects.get_or_create(username="bench")
    project = services.create_project(user, f"NB201 bench {prefix}", services.benchmark_dataset("nb201_cifar10"))
    worker_env = child_env(**env, NASWEB_QUEUE_PREFIX=prefix, NASWEB_CHANNEL_PREFIX=prefix,
                           NASWEB_LOOKUPS_IN_ADVANCE="1" if in_advance else "0")
    with ExitStack() as stack:
        for i in range(workers):
            stack.enter_context(celery_worker(worker_env, [f"{prefix}default", f"{prefix}cpu"],
                                              logs / f"worker-{prefix}{i}.log"))
        with override_settings(NASWEB_QUEUE_PREFIX=prefix, NASWEB_LOOKUPS_IN_ADVANCE=in_advance):
            started = time.perf_counter()
            search = services.start_search(project, user, name=f"throughput {workers}", space_kind="nb201",
                                           space_spec=None, strategy="random", max_trials=trials,
                                           parallelism=2 * workers, seed=workers)
            while True:
                search.refresh_from_db()
                if search.state in Search.FINAL_STATES:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
    done = search.trials.filter(state="complete").count()
    if search.state != Search.DONE or done != trials:
        raise RuntimeError(f"our search ended {search.state} with {done}/{trials} trials: {search.error}")
    return trials / elapsed


def optuna_rate(trials: int, database: str) -> float:
    import optuna

    from searches.benchmarks.nb201 import Nb201Table
    from searches.spaces.nb201_cell import EDGE_NAMES, OPS, arch_to_string

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0].replace("postgres://", "postgresql+psycopg2://")
    _create_database(os.environ["DATABASE_URL"].rsplit("/", 1)[0], database)
    table = Nb201Table.load()

    def objective(trial):
        arch = {edge: trial.suggest_categorical(edge, list(OPS)) for edge in EDGE_NAMES}
        return table.lookup(arch_to_string(arch)).valid_acc

    study = optuna.create_study(storage=f"{base}/{database}", study_name=f"bench-{uuid.uuid4().hex[:8]}",
                                direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return trials / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--database", default="nasweb_bench")
    parser.add_argument("--worker-path", action="store_true",
                        help="also each trial through run_trial on the workers (NASWEB_LOOKUPS_IN_ADVANCE=0), "
                             "with the first worker count")
    args = parser.parse_args()
    env = setup_django(args.database)
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "nasweb-bench"
    logs.mkdir(exist_ok=True)
    print(f"lookup trials: {args.trials} each; {load()}")
    counts = [int(w) for w in args.workers.split(",")]
    rates = {}
    for workers in counts:
        rates[workers] = ours(args.trials, workers, env, logs)
        print(f"nasweb, {workers} worker process(es): {rates[workers]:8.1f} trials/s   ({load()})")
    if args.worker_path:
        slow = ours(args.trials, counts[0], env, logs, in_advance=False)
        print(f"nasweb, {counts[0]} worker process(es), each lookup sent to the workers: {slow:8.1f} trials/s   "
              f"({load()})")
    theirs = optuna_rate(args.trials, args.database + "_optuna")
    print(f"optuna RandomSampler + PostgreSQL RDBStorage:  {theirs:8.1f} trials/s   ({load()})")
    first = counts[0]
    print(f"ratio nasweb ({first} worker) / optuna: {rates[first] / theirs:.2f}x; "
          f"best nasweb ({max(rates, key=rates.get)} workers) / optuna: {max(rates.values()) / theirs:.2f}x")


if __name__ == "__main__":
    main()
