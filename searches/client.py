"""A small Python client for nasweb's REST API, for your own training scripts and notebooks.

It needs `requests` only (and torch with this project's engine for AskedTrial.build_module); it imports
no Django, so a script on a GPU box uses it without the server's settings or database:

    from searches.client import Client

    client = Client("http://127.0.0.1:8000", token="nas_...")
    for trial in client.trials_to_train(search_id=7, worker="gpu-box"):
        model = trial.build_module()             # the proposed architecture as a torch.nn.Module
        with client.heartbeat(trial.id):          # keeps the trial from being declared lost
            for epoch in range(1, trial.training.get("epochs", 3) + 1):
                accuracy = train_one_epoch_and_validate(model)
                if not client.report(trial.id, epoch, {"val_accuracy": accuracy}):
                    break                          # pruned, or the search was cancelled
        client.tell(trial.id, {"val_accuracy": accuracy})

examples/ask_tell_digits.py is a whole script.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests


class ApiError(Exception):
    """The server refused a request: `status` is the HTTP status, `errors` the fields it named."""

    def __init__(self, status: int, detail: str, errors: dict | None = None):
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.detail, self.errors = status, detail, errors or {}


@dataclass
class AskedTrial:
    """An architecture to train: what POST /api/searches/<id>/ask/ handed out."""

    id: int
    number: int
    attempt: int
    arch: dict
    description: str
    space_kind: str
    space_spec: dict
    model_inputs: dict
    training: dict = field(default_factory=dict)
    dataset: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> AskedTrial:
        return cls(id=data["id"], number=data["number"], attempt=data["attempt"], arch=data["arch"],
                   description=data["description"],
                   space_kind=data["space"]["kind"], space_spec=data["space"]["spec"],
                   model_inputs=data["model_inputs"], training=data.get("training", {}),
                   dataset=data.get("dataset", {}))

    def build_module(self):
        """The architecture as a torch.nn.Module, built by this project's engine (no Django)."""
        from searches.spaces.registry import build_space  # heavy: torch and the engine, only when building

        inputs = self.model_inputs
        return build_space(self.space_kind, self.space_spec).to_torch(
            self.arch, tuple(inputs["input_shape"]), inputs["num_classes"], task=inputs.get("task", "classification"),
            vocab_size=inputs.get("vocab_size", 0))


class Client:
    def __init__(self, url: str, token: str, timeout: float = 60, retries_on_throttle: int = 5):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries_on_throttle = retries_on_throttle
        self._attempts: dict[int, int] = {}  # trial id -> the attempt its ask handed out
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    # --- plumbing ---------------------------------------------------------------------------
    def request(self, method: str, path: str, json=None, params=None, raw: bool = False):
        """One API call; a 429 waits for Retry-After and tries again; other errors raise ApiError."""
        url = path if path.startswith("http") else f"{self.url}/api/{path.lstrip('/')}"
        for _ in range(self.retries_on_throttle + 1):
            response = self.session.request(method, url, json=json, params=params, timeout=self.timeout)
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
            raise ApiError(response.status_code, body.get("detail", response.reason), body.get("errors"))
        if raw:
            return response.text
        return response.json() if response.content else None

    # --- projects and searches ------------------------------------------------------------------
    def projects(self) -> list[dict]:
        return self.request("GET", "projects/")

    def create_project(self, name: str, dataset: str = "builtin:digits", members=(), description: str = "") -> dict:
        return self.request("POST", "projects/", json={"name": name, "dataset": dataset, "members": list(members),
                                                       "description": description})

    def searches(self, project: int | None = None) -> list[dict]:
        return self.request("GET", "searches/", params={"project": project} if project else None)

    def search(self, search_id: int) -> dict:
        return self.request("GET", f"searches/{search_id}/")

    def create_search(self, project_id: int, spec: dict) -> dict:
        """Start a search from its JSON spec (see the README: the spec file format)."""
        return self.request("POST", f"projects/{project_id}/searches/", json=spec)

    def pause(self, search_id: int) -> dict:
        return self.request("POST", f"searches/{search_id}/pause/")

    def resume(self, search_id: int) -> dict:
        return self.request("POST", f"searches/{search_id}/resume/")

    def cancel(self, search_id: int) -> dict:
        return self.request("POST", f"searches/{search_id}/cancel/")

    def clone(self, search_id: int, **overrides) -> dict:
        return self.request("POST", f"searches/{search_id}/clone/", json={"overrides": overrides})

    def trials(self, search_id: int, sort: str = "best", state: str | None = None, page_size: int = 100,
               **filters) -> Iterator[dict]:
        """Every trial that passes the filters, in `sort` order, following the cursor page by page."""
        params = {"sort": sort, "limit": page_size, **filters}
        if state:
            params["state"] = state
        page = self.request("GET", f"searches/{search_id}/trials/", params=params)
        while True:
            yield from page["results"]
            if not page["next"]:
                return
            page = self.request("GET", page["next"])

    def trials_csv(self, search_id: int) -> str:
        return self.request("GET", f"searches/{search_id}/trials.csv", raw=True)

    # --- ask/tell ---------------------------------------------------------------------------
    def ask(self, search_id: int, worker: str = "", wait: bool = True) -> AskedTrial | None:
        """The next architecture to train, or None when the search is over (or, with wait=False,
        when no trial is free right now)."""
        while True:
            answer = self.request("POST", f"searches/{search_id}/ask/", json={"worker": worker})
            if answer["trial"] is not None:
                self.heartbeat_seconds = answer["heartbeat_seconds"]
                trial = AskedTrial.from_json(answer["trial"])
                self._attempts[trial.id] = trial.attempt  # sent back with every write: the claim's fence
                return trial
            if answer["finished"] or not wait or answer["search_state"] == "paused":
                return None
            time.sleep(answer["retry_after"] or 1)

    def trials_to_train(self, search_id: int, worker: str = "") -> Iterator[AskedTrial]:
        while (trial := self.ask(search_id, worker)) is not None:
            yield trial

    def report(self, trial_id: int, epoch: int, metrics: dict) -> bool:
        """One epoch's metrics. False: stop training (the pruner stopped the trial, or the search ended)."""
        body = {"epoch": epoch, "metrics": metrics, **self._fence(trial_id)}
        return self.request("POST", f"trials/{trial_id}/report/", json=body)["keep_going"]

    def tell(self, trial_id: int, metrics: dict) -> bool:
        """The final metrics (the search's objective metric included). False: the trial had already ended."""
        return self.request("POST", f"trials/{trial_id}/tell/", json={"metrics": metrics, **self._fence(trial_id)})[
            "accepted"]

    def fail(self, trial_id: int, error: str) -> bool:
        return self.request("POST", f"trials/{trial_id}/tell/", json={"error": error, **self._fence(trial_id)})[
            "accepted"]

    def beat(self, trial_id: int) -> bool:
        return self.request("POST", f"trials/{trial_id}/heartbeat/", json=self._fence(trial_id))["keep_going"]

    def _fence(self, trial_id: int) -> dict:
        attempt = self._attempts.get(trial_id)
        return {"attempt": attempt} if attempt is not None else {}

    @contextmanager
    def heartbeat(self, trial_id: int, every: float | None = None):
        """Beat in a background thread while the block trains (epochs beat too, but one can be long)."""
        stop = threading.Event()
        interval = every or getattr(self, "heartbeat_seconds", 60)

        def loop():
            while not stop.wait(interval):
                try:
                    self.beat(trial_id)
                except (ApiError, requests.RequestException):
                    pass  # the next beat or report tries again; the server reaps only after a long silence

        thread = threading.Thread(target=loop, name=f"nasweb-heartbeat-{trial_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
