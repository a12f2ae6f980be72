"""Start and stop the real processes that integration and browser tests drive:
the daphne server (`manage.py nas_serve`) and a Celery worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRIPPED = ("DATABASE_URL", "REDIS_URL", "NASWEB_EMBEDDED_WORKER", "NASWEB_QUEUE_PREFIX", "NASWEB_SQLITE_PATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    env.update({"PYTHONUNBUFFERED": "1", "NASWEB_TORCH_THREADS": "1", "NASWEB_LOG_LEVEL": "WARNING",
                "NASWEB_VAR_DIR": tempfile.mkdtemp(prefix="nasweb-var-")})
    env.update(overrides)
    return env


def manage(*args: str, env: dict, timeout: int = 120) -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server did not answer at {url} within {seconds} s:\n{log.read_text()}")


@contextmanager
def process(cmd: list[str], env: dict, log: Path):
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def server(env: dict, log: Path, port: int | None = None):
    port = port or free_port()
    with process([sys.executable, "manage.py", "nas_serve", "--port", str(port)], env, log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/accounts/login/", proc, log)
        yield url


@contextmanager
def celery_worker(env: dict, queues: list[str], log: Path):
    cmd = [sys.executable, "-m", "celery", "-A", "nasweb", "worker", "-Q", ",".join(queues), "--pool", "solo",
           "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"test-{os.getpid()}@%h",
           "--loglevel", "INFO"]
    with process(cmd, env, log) as proc:
        deadline = time.monotonic() + 60
        while "ready" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start:\n{log.read_text()}")
            time.sleep(0.3)
        yield proc


def postgres_url(database_name: str) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db["USER"] else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database_name}"


def log_in_as_demo(page, base: str) -> None:
    """Log a playwright page in as the demo user that `manage.py nas_demo` makes."""
    page.goto(base + "/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", "nasweb-demo")
    page.click("button[type=submit]")
