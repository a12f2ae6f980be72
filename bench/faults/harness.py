"""Fault injection for nasweb's production stack: a real Celery worker (prefork, 2 children), Celery
beat, Redis and PostgreSQL, and a chain-MLP search on digits, watched through plain SQL.

Used by the scripts next to it (long runs whose figures go in notes) and by tests/test_faults.py (one
short case of each). Private Redis and PostgreSQL instances get their own port and folder, never the
shared ones; the caller's database is used only when it hands one in (the test suite's own).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
STRIPPED = ("DATABASE_URL", "REDIS_URL", "NASWEB_EMBEDDED_WORKER", "NASWEB_QUEUE_PREFIX", "NASWEB_SQLITE_PATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- private services -----------------------------------------------------------------------------
class PrivateRedis:
    """redis-server on its own port and folder; `persistent` turns on the append-only file."""

    def __init__(self, workdir: Path, persistent: bool = False, also_listen: str = ""):
        self.dir, self.port, self.persistent, self.proc = workdir / "redis", free_port(), persistent, None
        self.also_listen = also_listen
        self.dir.mkdir(parents=True, exist_ok=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        bind = ["127.0.0.1"] + ([self.also_listen] if self.also_listen else [])
        cmd = ["redis-server", "--port", str(self.port), "--bind", *bind, "--protected-mode", "no",
               "--dir", str(self.dir), "--save", "", "--appendonly", "yes" if self.persistent else "no",
               "--daemonize", "no"]
        self.proc = subprocess.Popen(cmd, stdout=open(self.dir / "redis.log", "a"), stderr=subprocess.STDOUT)
        wait_for(lambda: _redis_ping(self.port), 20, "private redis did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PrivatePostgres:
    """A throw-away cluster: initdb into a temporary folder, pg_ctl on its own port (trust auth, local only)."""

    def __init__(self, workdir: Path, also_listen: str = "", trusted_network: str = ""):
        if PG_BIN is None:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        # Its own folder, readable by the postgres user (a pytest tmp_path sits under a root-only folder).
        home = Path(tempfile.mkdtemp(prefix="nasweb-pg-"))
        os.chmod(home, 0o755)
        self.dir, self.port = home / "pgdata", free_port()
        self.also_listen, self.trusted_network = also_listen, trusted_network
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/nasweb"
        self.log = home / "postgres.log"
        (workdir / "postgres-folder.txt").write_text(str(home))

    def _run(self, *cmd: str, check: bool = True) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        out = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120)
        if check and out.returncode:
            log_text = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {out.stdout}{out.stderr}{log_text}")

    def init(self, clone_from: str = "") -> None:
        """initdb, start, create the database `nasweb`; with `clone_from` (a postgres:// URL of a
        migrated database, e.g. the test suite's own) its schema and rows are copied in, which is much
        quicker than running the migrations."""
        self._init()
        if clone_from:
            dump = subprocess.run([str(PG_BIN / "pg_dump"), "--no-owner", "--no-privileges", clone_from],
                                  capture_output=True, check=True, timeout=120)
            subprocess.run([str(PG_BIN / "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.url], input=dump.stdout,
                           capture_output=True, check=True, timeout=120)

    def _init(self) -> None:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres user
            shutil.chown(self.dir, "postgres", "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        if self.trusted_network:  # a second host (network namespace) connects over its own network
            with open(self.dir / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {self.trusted_network} trust\n")
        self.start()
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE nasweb")
        conn.close()

    def start(self) -> None:
        listen = ",".join(["127.0.0.1"] + ([self.also_listen] if self.also_listen else []))
        options = f"-p {self.port} -k {self.dir} -c listen_addresses={listen} -c fsync=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, check: bool = True) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop", check=check)

    def remove(self) -> None:
        """Stop it if it runs, and delete the cluster."""
        if self.dir.exists():
            self.stop(check=False)
        shutil.rmtree(self.dir.parent, ignore_errors=True)


def wait_for(check, seconds: float, message: str, every: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(message)


# --- the stack ------------------------------------------------------------------------------------
@dataclass
class Stack:
    """A Celery worker (prefork, `concurrency` children) and Celery beat on one database and Redis."""

    database_url: str
    redis_url: str
    workdir: Path
    concurrency: int = 2
    extra_env: dict = field(default_factory=dict)
    #: Runs the worker inside something, e.g. ["ip", "netns", "exec", name]; the same prefix joins two stacks.
    wrap: list = field(default_factory=list)
    prefix: str = ""
    node: str = "faults"
    worker: subprocess.Popen | None = None
    beat: subprocess.Popen | None = None

    def __post_init__(self):
        self.prefix = self.prefix or f"f{os.getpid()}x{free_port()}-"
        env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
        env.update({"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "PYTHONUNBUFFERED": "1",
                    "NASWEB_QUEUE_PREFIX": self.prefix, "NASWEB_CHANNEL_PREFIX": self.prefix,
                    "NASWEB_TORCH_THREADS": "1", "NASWEB_LOG_LEVEL": "WARNING",
                    "NASWEB_VAR_DIR": str(self.workdir / "var"), **self.extra_env})
        self.env = env
        self.worker_log = self.workdir / f"{self.node}-worker.log"

    def manage(self, *args: str, timeout: int = 300) -> str:
        out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def start_worker(self) -> subprocess.Popen:
        ready_before = self.worker_log.read_text().count(" ready.") if self.worker_log.exists() else 0
        cmd = [*self.wrap, sys.executable, "-m", "celery", "-A", "nasweb", "worker", "-Q",
               f"{self.prefix}default,{self.prefix}cpu,{self.prefix}oneshot", "--concurrency", str(self.concurrency),
               "-n", f"{self.node}-{self.prefix}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        self.worker = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=open(self.worker_log, "a"),
                                       stderr=subprocess.STDOUT)
        wait_for(lambda: self.worker_log.read_text().count(" ready.") > ready_before or self.worker.poll() is not None,
                 120, "the worker did not start")
        if self.worker.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{self.worker_log.read_text()[-3000:]}")
        return self.worker

    def start_beat(self) -> None:
        cmd = [sys.executable, "-m", "celery", "-A", "nasweb", "beat", "--loglevel", "WARNING",
               "--schedule", str(self.workdir / "beat-schedule")]
        self.beat = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=open(self.workdir / "beat.log", "a"),
                                     stderr=subprocess.STDOUT)

    def pool_children(self) -> list[int]:
        return children_of(self.worker.pid) if self.worker else []

    def stop(self) -> None:
        for proc in (self.worker, self.beat):
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for pid in orphans_of_this_stack(self.prefix):
            os.kill(pid, signal.SIGKILL)

    def start_search(self, max_trials: int, epochs: int, parallelism: int = 2, seed: int = 0) -> int:
        code = ("from django.contrib.auth import get_user_model\nfrom searches import services\n"
                "u, _ = get_user_model().objects.get_or_create(username='faults')\n"
                "p = services.create_project(u, 'faults', services.builtin_dataset('digits'))\n"
                f"s = services.start_search(p, u, name='faults', space_kind='chain_mlp', space_spec=None, "
                f"strategy='random', max_trials={max_trials}, training={{'epochs': {epochs}}}, "
                f"parallelism={parallelism}, seed={seed})\nprint(s.id)")
        return int(self.manage("shell", "-v", "0", "-c", code).split()[-1])


    def start_oneshot_search(self, epochs: int, seed: int = 0) -> int:
        """A random one-shot supernet search on digits (chain MLP): one long task, a checkpoint per epoch."""
        code = ("from django.contrib.auth import get_user_model\nfrom searches import services\n"
                "u, _ = get_user_model().objects.get_or_create(username='faults')\n"
                "p = services.create_project(u, 'faults', services.builtin_dataset('digits'))\n"
                f"s = services.start_search(p, u, name='faults-oneshot', space_kind='chain_mlp', space_spec=None, "
                f"strategy='random_oneshot', strategy_settings={{'epochs': {epochs}, 'derive_samples': 4}}, "
                f"training={{'epochs': 1}}, parallelism=1, seed={seed})\nprint(s.id)")
        return int(self.manage("shell", "-v", "0", "-c", code).split()[-1])


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def orphans_of_this_stack(prefix: str) -> list[int]:
    """Pool children left behind by a killed main process (found by the worker name on their command line)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"-{prefix}@".encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


# --- watching the search through SQL ---------------------------------------------------------------
class Watcher:
    """Reads the search's rows with plain SQL; answers None while the database is down."""

    def __init__(self, database_url: str):
        self.url, self.conn = database_url, None

    def rows(self, sql: str, args=()) -> list | None:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg2.connect(self.url, connect_timeout=2)
                self.conn.autocommit = True
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        except psycopg2.Error:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None

    def trials(self, search_id: int) -> list[dict] | None:
        rows = self.rows("SELECT id, number, state, attempt, worker_pid, lost, epochs_done, arch_key, error "
                         "FROM searches_trial WHERE search_id = %s ORDER BY number", (search_id,))
        keys = ("id", "number", "state", "attempt", "worker_pid", "lost", "epochs_done", "arch_key", "error")
        return None if rows is None else [dict(zip(keys, r, strict=True)) for r in rows]

    def search_state(self, search_id: int) -> str | None:
        rows = self.rows("SELECT state FROM searches_search WHERE id = %s", (search_id,))
        return rows[0][0] if rows else None

    def wait_finished(self, search_id: int, seconds: float) -> str:
        def finished():
            state = self.search_state(search_id)
            return state if state in ("done", "failed", "cancelled") else None
        return wait_for(finished, seconds, f"search {search_id} did not finish within {seconds} s", every=0.5)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


@dataclass
class Outcome:
    search_state: str
    budget: int
    complete: int
    failed: list
    lost: int
    duplicated_archs: int
    epoch_gaps: list
    attempts: dict

    def ok(self) -> bool:
        return (self.search_state == "done" and self.complete == self.budget and not self.failed
                and self.lost == 0 and self.duplicated_archs == 0 and not self.epoch_gaps)

    def lines(self) -> list[str]:
        return [f"search: {self.search_state}; trials complete {self.complete} of a budget of {self.budget}",
                f"lost (never finished, or failed because the worker was lost): {self.lost + len(self.failed)}",
                f"duplicated: {self.duplicated_archs} architectures twice, "
                f"{len(self.epoch_gaps)} trials with missing or extra epoch rows",
                f"attempts per trial (claims: 1 = never interrupted): {self.attempts}"]


def outcome(watcher: Watcher, search_id: int, budget: int, epochs: int) -> Outcome:
    trials = watcher.trials(search_id)
    metric_rows = watcher.rows(
        "SELECT m.trial_id, array_agg(m.epoch ORDER BY m.epoch) FROM searches_trialmetric m JOIN searches_trial t "
        "ON t.id = m.trial_id WHERE t.search_id = %s AND m.name = 'val_accuracy' GROUP BY m.trial_id", (search_id,))
    epochs_by_trial = dict(metric_rows)
    attempts: dict[int, int] = {}
    for t in trials:
        attempts[t["attempt"]] = attempts.get(t["attempt"], 0) + 1
    complete = [t for t in trials if t["state"] == "complete"]
    return Outcome(
        search_state=watcher.search_state(search_id), budget=budget, complete=len(complete),
        failed=[(t["number"], t["error"][:200]) for t in trials if t["state"] == "failed"],
        lost=sum(t["lost"] for t in trials) + sum(t["state"] in ("queued", "running") for t in trials),
        duplicated_archs=len(trials) - len({t["arch_key"] for t in trials}),
        epoch_gaps=[t["number"] for t in complete if epochs_by_trial.get(t["id"]) != list(range(1, epochs + 1))],
        attempts=dict(sorted(attempts.items())))


def median_text(values: list[float]) -> str:
    if not values:
        return "no measurement"
    return (f"median {statistics.median(values):.1f} s, min {min(values):.1f} s, max {max(values):.1f} s "
            f"over {len(values)} interrupted trials")


def workdir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"nasweb-{name}-"))
    os.chmod(path, 0o755)
    return path


# --- the faults -----------------------------------------------------------------------------------
def kill_workers(stack: Stack, watcher: Watcher, search_id: int, kills: int) -> list[float]:
    """SIGKILL a pool child (even kills) or the worker's main process (odd kills) while it trains a
    trial; a supervisor's part (docker's restart policy) is played here: a killed main process is
    started again at once. Returns, per interrupted trial, the seconds from the kill until it ran again."""
    seconds = []
    for number in range(kills):
        held = wait_for(lambda: _held_trials(stack, watcher, search_id) or _finished(watcher, search_id),
                        180, "no trial started training")
        if held is True:
            log(f"the search finished after {number} kills")
            break
        kind = "child" if number % 2 == 0 else "main"
        if kind == "child":
            victims = {held[0]["id"]: held[0]["attempt"]}
            started = time.monotonic()
            os.kill(held[0]["worker_pid"], signal.SIGKILL)
        else:
            victims = {t["id"]: t["attempt"] for t in held}
            started = time.monotonic()
            os.kill(stack.worker.pid, signal.SIGKILL)
            stack.worker.wait()
            stack.start_worker()
        for trial_id, attempt in victims.items():
            wait_for(lambda trial_id=trial_id, attempt=attempt: _running_again(watcher, trial_id, attempt), 300,
                     f"trial {trial_id} did not run again after kill {number + 1}")
            seconds.append(time.monotonic() - started)
        log(f"kill {number + 1} ({kind}): {len(victims)} trial(s) interrupted, running again after "
            f"{seconds[-1]:.1f} s")
    return seconds


#: A kill lands only on trials interrupted fewer times than this, so that 20 kills spread over the
#: search instead of hitting one long trial until NASWEB_TRIAL_MAX_ATTEMPTS (5) gives it up.
MAX_KILLS_PER_TRIAL = 2


def _held_trials(stack: Stack, watcher: Watcher, search_id: int) -> list[dict] | None:
    """The trials the worker's children train now (at least one epoch done), if none of them has
    been interrupted MAX_KILLS_PER_TRIAL times yet (a main kill takes them all down)."""
    children = set(stack.pool_children())
    trials = watcher.trials(search_id) or []
    running = [t for t in trials if t["state"] == "running" and t["worker_pid"] in children]
    held = [t for t in running if t["epochs_done"] >= 1]
    if not held or any(t["attempt"] > MAX_KILLS_PER_TRIAL for t in running):
        return None
    return held


def _finished(watcher: Watcher, search_id: int) -> bool:
    return watcher.search_state(search_id) in ("done", "failed", "cancelled")


def _running_again(watcher: Watcher, trial_id: int, attempt: int) -> bool:
    rows = watcher.rows("SELECT state, attempt FROM searches_trial WHERE id = %s", (trial_id,))
    if not rows:
        return False
    state, now = rows[0]
    return (state == "running" and now > attempt) or state in ("complete", "pruned", "failed")


def restart_service(name: str, stop, start, watcher: Watcher, search_id: int, down_seconds: float,
                    after_complete: int = 1) -> None:
    """Stop a service mid-search (once `after_complete` trials are complete and one is training), keep it
    down for `down_seconds`, start it again."""
    def mid_search():
        trials = watcher.trials(search_id) or []
        return (sum(t["state"] == "complete" for t in trials) >= after_complete
                and any(t["state"] == "running" and t["epochs_done"] >= 1 for t in trials))
    wait_for(mid_search, 300, "the search did not get going")
    log(f"stopping {name}")
    stop()
    time.sleep(down_seconds)
    start()
    log(f"{name} is back after {down_seconds:.0f} s")


def restart_scenario(service: str, trials: int, epochs: int, down_seconds: float, restarts: int = 1,
                     persistent_redis: bool = False, database_url: str | None = None,
                     redis_url: str | None = None, folder: Path | None = None,
                     clone_from: str = "") -> tuple[Outcome, float]:
    """A search while `service` ("redis" or "postgres", always a private instance) is restarted
    `restarts` times. The other service is private too unless its URL is handed in. Returns the
    outcome and the search's wall time."""
    folder = folder or workdir(f"restart-{service}")
    redis = PrivateRedis(folder, persistent=persistent_redis) if service == "redis" or not redis_url else None
    postgres = PrivatePostgres(folder) if service == "postgres" or not database_url else None
    with running_stack(folder, redis, postgres, database_url, redis_url, clone_from) as (stack, watcher):
        started = time.monotonic()
        search_id = stack.start_search(trials, epochs)
        log(f"search {search_id}: {trials} trials of {epochs} epochs, 2 pool children; "
            f"{restarts} {service} restart(s) of {down_seconds:.0f} s"
            + (" (appendonly on)" if service == "redis" and persistent_redis else ""))
        target = redis if service == "redis" else postgres
        for number in range(restarts):
            restart_service(service, target.stop, target.start, watcher, search_id, down_seconds,
                            after_complete=1 + number * max(1, trials // (restarts + 1)))
        state = watcher.wait_finished(search_id, 900)
        log(f"search {state}")
        return outcome(watcher, search_id, trials, epochs), time.monotonic() - started


@contextmanager
def running_stack(folder: Path, redis, postgres, database_url: str | None, redis_url: str | None,
                  clone_from: str = ""):
    """Start the private services given (the others are the URLs), a worker and beat on them; yield
    (stack, watcher) and stop all of it afterwards, whatever happened."""
    if redis:
        redis.start()
    if postgres:
        postgres.init(clone_from)
    stack = Stack(postgres.url if postgres else database_url, redis.url if redis else redis_url, folder)
    watcher = Watcher(stack.database_url)
    try:
        if postgres and not clone_from:
            stack.manage("migrate", "--noinput", "-v0")
        stack.start_worker()
        stack.start_beat()
        yield stack, watcher
    finally:
        watcher.close()
        stack.stop()
        if postgres:
            postgres.remove()
        if redis:
            redis.stop()


def restart_main(service: str) -> int:
    """The command line of restart_redis.py and restart_postgres.py."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--down", type=float, default=12, help="seconds the service stays down")
    parser.add_argument("--restarts", type=int, default=2)
    if service == "redis":
        parser.add_argument("--appendonly", action="store_true", help="Redis with persistence")
    args = parser.parse_args()
    folder = workdir(f"restart-{service}")
    result, wall = restart_scenario(service, args.trials, args.epochs, args.down, args.restarts,
                                    persistent_redis=getattr(args, "appendonly", False), folder=folder)
    for line in result.lines():
        print(line)
    print(f"search wall time {wall:.0f} s; logs in {folder}")
    return 0 if result.ok() else 1


def kill_scenario(kills: int, trials: int, epochs: int, database_url: str | None = None,
                  redis_url: str | None = None, folder: Path | None = None) -> tuple[Outcome, list[float], float]:
    """A search on a private Redis and PostgreSQL (or the URLs handed in) while the worker is killed
    `kills` times. Returns the outcome, the kill-to-running-again seconds and the search's wall time."""
    folder = folder or workdir("kill")
    redis = None if redis_url else PrivateRedis(folder)
    postgres = None if database_url else PrivatePostgres(folder)
    with running_stack(folder, redis, postgres, database_url, redis_url) as (stack, watcher):
        started = time.monotonic()
        search_id = stack.start_search(trials, epochs)
        log(f"search {search_id}: {trials} trials of {epochs} epochs, 2 pool children; {kills} kills")
        seconds = kill_workers(stack, watcher, search_id, kills)
        watcher.wait_finished(search_id, 900)
        return outcome(watcher, search_id, trials, epochs), seconds, time.monotonic() - started


# --- one-shot searches: the supernet task killed mid-training -----------------------------------------
@dataclass
class OneShotOutcome:
    search_state: str
    epochs: int
    epoch_rows: list
    epochs_run: int | None
    attempts: int
    error: str

    def ok(self) -> bool:
        return (self.search_state == "done" and self.epoch_rows == list(range(1, self.epochs + 1))
                and self.epochs_run == self.epochs)

    def lines(self) -> list[str]:
        return [f"search: {self.search_state}; supernet epochs recorded {len(self.epoch_rows)} of {self.epochs} "
                f"(rows {'1..' + str(self.epochs) + ' each once' if self.ok() else self.epoch_rows}); "
                f"result epochs_run {self.epochs_run}",
                f"claims of the supernet task (1 = never interrupted): {self.attempts}"
                + (f"; error: {self.error[:200]}" if self.error else "")]


def _supernet(watcher: Watcher, search_id: int) -> dict | None:
    rows = watcher.rows("SELECT s.state, s.oneshot_attempt, s.oneshot_pid, s.oneshot_result->>'epochs_run', "
                        "(SELECT count(*) FROM searches_oneshotepoch e WHERE e.search_id = s.id), s.error "
                        "FROM searches_search s WHERE s.id = %s", (search_id,))
    if not rows:
        return None
    keys = ("state", "attempt", "pid", "epochs_run", "epochs_done", "error")
    return dict(zip(keys, rows[0], strict=True))


def kill_oneshot_workers(stack: Stack, watcher: Watcher, search_id: int, kills: int) -> list[float]:
    """SIGKILL the pool child training the supernet (even kills) or the worker's main process (odd
    kills, restarted at once as a supervisor would) once an epoch more is recorded; returns, per kill,
    the seconds until the supernet was claimed again."""
    seconds = []
    for number in range(kills):
        def held(done_before=(_supernet(watcher, search_id) or {}).get("epochs_done", 0)):
            row = _supernet(watcher, search_id)
            if row and (row["state"] != "running" or row["epochs_run"] is not None):
                return "finished"
            children = set(stack.pool_children())
            return row if row and row["pid"] in children and row["epochs_done"] > done_before else None
        row = wait_for(held, 300, "the supernet did not train an epoch")
        if row == "finished":
            log(f"the supernet finished after {number} kills")
            break
        kind = "child" if number % 2 == 0 else "main"
        started = time.monotonic()
        if kind == "child":
            os.kill(row["pid"], signal.SIGKILL)
        else:
            os.kill(stack.worker.pid, signal.SIGKILL)
            stack.worker.wait()
            stack.start_worker()

        def claimed_again(attempt=row["attempt"]):
            now = _supernet(watcher, search_id)
            return now and (now["attempt"] > attempt or now["state"] != "running")
        wait_for(claimed_again, 300, f"the supernet was not claimed again after kill {number + 1}")
        seconds.append(time.monotonic() - started)
        log(f"kill {number + 1} ({kind}) at epoch {row['epochs_done']}: training again after {seconds[-1]:.1f} s")
    return seconds


def oneshot_kill_scenario(kills: int, epochs: int, database_url: str | None = None, redis_url: str | None = None,
                          folder: Path | None = None) -> tuple[OneShotOutcome, list[float], float]:
    """A one-shot search while the worker training its supernet is killed `kills` times."""
    folder = folder or workdir("kill-oneshot")
    redis = None if redis_url else PrivateRedis(folder)
    postgres = None if database_url else PrivatePostgres(folder)
    with running_stack(folder, redis, postgres, database_url, redis_url) as (stack, watcher):
        started = time.monotonic()
        search_id = stack.start_oneshot_search(epochs)
        log(f"search {search_id}: a random one-shot supernet of {epochs} epochs; {kills} kills")
        seconds = kill_oneshot_workers(stack, watcher, search_id, kills)
        watcher.wait_finished(search_id, 900)
        row = _supernet(watcher, search_id)
        epoch_rows = [r[0] for r in watcher.rows("SELECT epoch FROM searches_oneshotepoch WHERE search_id = %s "
                                                 "ORDER BY epoch", (search_id,))]
        result = OneShotOutcome(row["state"], epochs, epoch_rows,
                                int(row["epochs_run"]) if row["epochs_run"] else None, row["attempt"], row["error"])
        return result, seconds, time.monotonic() - started


# --- a second host: a worker in its own network namespace ----------------------------------------------
class NetworkNamespace:
    """`ip netns add` and a veth pair: the namespace reaches this machine only at `host_ip`, as a
    second host on a private network would (its 127.0.0.1 is its own)."""

    def __init__(self):
        tag = os.getpid() % 250 + 1
        self.name, self.link = f"nasweb-h{tag}", f"nwh{tag}"
        self.host_ip, self.ns_ip, self.network = f"10.214.{tag}.1", f"10.214.{tag}.2", f"10.214.{tag}.0/24"
        self.exec = ["ip", "netns", "exec", self.name]

    def create(self) -> None:
        steps = [["ip", "netns", "add", self.name],
                 ["ip", "link", "add", f"{self.link}-h", "type", "veth", "peer", "name", f"{self.link}-n"],
                 ["ip", "link", "set", f"{self.link}-n", "netns", self.name],
                 ["ip", "addr", "add", f"{self.host_ip}/24", "dev", f"{self.link}-h"],
                 ["ip", "link", "set", f"{self.link}-h", "up"],
                 [*self.exec, "ip", "addr", "add", f"{self.ns_ip}/24", "dev", f"{self.link}-n"],
                 [*self.exec, "ip", "link", "set", f"{self.link}-n", "up"],
                 [*self.exec, "ip", "link", "set", "lo", "up"]]
        for step in steps:
            out = subprocess.run(step, capture_output=True, text=True)
            if out.returncode:
                self.destroy()
                raise RuntimeError(f"{' '.join(step)} failed: {out.stderr.strip()}")

    def reaches(self, host: str, port: int) -> bool:
        probe = f"import socket; socket.create_connection(({host!r}, {port}), timeout=2)"
        return subprocess.run([*self.exec, sys.executable, "-c", probe], capture_output=True).returncode == 0

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "del", f"{self.link}-h"], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class Relay:
    """Forwards TCP connections from `listen` (an address of this host the namespace reaches) to a
    service that listens on 127.0.0.1 only, as a second host's route to the database and broker."""

    def __init__(self, listen_host: str, target_port: int):
        self.server = socket.create_server((listen_host, 0))
        self.port, self.target_port = self.server.getsockname()[1], target_port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def second_host_scenario(trials: int, epochs: int, folder: Path, database_url: str,
                         redis_url: str) -> tuple[Outcome, list[str], dict]:
    """The database and Redis at `database_url` / `redis_url` (on 127.0.0.1) and beat stay on this host;
    the only worker runs in a second network namespace and reaches them at this host's address on the
    veth pair (through a relay, as the services here listen on 127.0.0.1 only), joined by the addresses
    in its environment. Returns the outcome, the trials' worker names and what the namespace reaches."""
    ns = NetworkNamespace()
    ns.create()
    db, broker = urlsplit(database_url), urlsplit(redis_url)
    relays = [Relay(ns.host_ip, db.port or 5432), Relay(ns.host_ip, broker.port or 6379)]
    here = remote = watcher = None
    try:
        here = Stack(database_url, redis_url, folder, node="here")
        remote = Stack(_moved(database_url, ns.host_ip, relays[0].port), _moved(redis_url, ns.host_ip, relays[1].port),
                       folder, wrap=ns.exec, prefix=here.prefix, node="second-host", concurrency=1)
        reach = {"database at host address": ns.reaches(ns.host_ip, relays[0].port),
                 "database at 127.0.0.1": ns.reaches("127.0.0.1", db.port or 5432)}
        remote.start_worker()
        here.start_beat()
        watcher = Watcher(database_url)
        search_id = here.start_search(trials, epochs, parallelism=1)
        log(f"search {search_id}: {trials} trials; the only worker is in network namespace {ns.name}")
        watcher.wait_finished(search_id, 600)
        workers = [r[0] for r in watcher.rows("SELECT worker FROM searches_trial WHERE search_id = %s",
                                              (search_id,))]
        return outcome(watcher, search_id, trials, epochs), workers, reach
    finally:
        if watcher:
            watcher.close()
        for stack in (remote, here):
            if stack:
                stack.stop()
        for relay in relays:
            relay.close()
        ns.destroy()


def _moved(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{auth + '@' if auth else ''}{host}:{port}"))
