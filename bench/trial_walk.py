"""Walk one trial id from the run_trial task to the websocket push, and count the stops.

    python bench/trial_walk.py

Starts a 1-trial, 1-epoch chain-MLP search on digits in a throw-away SQLite database (the embedded
settings, no services), then runs the `searches.run_trial` task body in this thread under
sys.setprofile. A *stop* is a project function outside the engine (floor 0) entered on the way, counted
once however often it runs (comprehensions are not stops; the training loop itself is engine code and
is not counted); the walk ends with the last group_send of the trial's events, which is where the
consumer takes over. A *climb* is a call from a module on a lower floor into a module on a higher floor
(README: How it is built) that the lower module imports itself (a callback handed down, such as the
trainer's on_epoch, is not one): the mark of code that leans on its callers. Run it on two checkouts
to compare them; module names of older layouts are mapped onto the same floors.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("nasweb", "searches", "devices")
ENGINE_PREFIXES = ("searches.spaces", "searches.strategies", "searches.pruners", "searches.training",
                   "searches.estimators", "searches.benchmarks", "searches.oneshot", "searches.checks",
                   "searches.candidates", "searches.constraints", "searches.fidelity", "searches.pruning",
                   "devices.costs")
#: Floors of the README's layer map; older module names (searches.services as one file) map by role.
FLOORS = [
    ("searches.models", 1), ("devices.models", 1), ("searches.events", 1), ("searches.dispatch", 1),
    ("searches.access", 1), ("devices.units", 1), ("nasweb", 1),
    ("searches.engine_data", 2), ("searches.engine_setup", 2), ("devices.target_costs", 2),
    ("searches.services", 3), ("devices.services", 3), ("devices.queries", 3),
    ("searches.runner", 4),
    ("searches.tasks", 5), ("devices.tasks", 5), ("searches.embedded", 5), ("devices.signals", 5),
]


def module_of(filename: str) -> str | None:
    path = Path(filename).resolve()
    if ROOT not in path.parents:
        return None
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] not in PROJECT_PACKAGES:
        return None
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")


@functools.cache
def imports_of(module: str) -> frozenset[str]:
    """Every project module the module's file imports, anywhere in the file, relative imports resolved."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def floor_of(module: str) -> int:
    if module.startswith(ENGINE_PREFIXES):
        return 0
    for prefix, floor in FLOORS:
        if module == prefix or module.startswith(prefix + "."):
            return floor
    return 6  # views, forms, consumers, charts, commands


def prepare_trial() -> int:
    import django

    folder = tempfile.mkdtemp(prefix="nasweb-walk-")
    os.environ.update(DJANGO_SETTINGS_MODULE="nasweb.settings", NASWEB_SQLITE_PATH=f"{folder}/db.sqlite3",
                      NASWEB_VAR_DIR=folder, NASWEB_TORCH_THREADS="1")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from searches import dispatch, services

    call_command("migrate", verbosity=0)
    held = []  # work is held back, so the walk below runs the task in this thread
    sender = "send_now" if hasattr(dispatch, "send_now") else "_send"
    setattr(dispatch, sender, lambda *args: held.append(args))
    owner = get_user_model().objects.create_user("walker", password="walk-walk-123")
    project = services.create_project(owner, "walk", services.builtin_dataset("digits"))
    search = services.start_search(project, owner, name="walk", space_kind="chain_mlp", space_spec=None,
                                   strategy="random", max_trials=1, training={"epochs": 1}, seed=0)
    services.advance_search(search.id)
    return search.trials.get().id


def walk(trial_id: int) -> tuple[list[str], list[tuple[str, str]]]:
    from searches import tasks

    stops: list[str] = []
    climbs: list[tuple[str, str]] = []
    seen: set[str] = set()
    last_send = [0]

    def profile(frame, event, arg):
        if event != "call":
            return
        module = module_of(frame.f_code.co_filename)
        if module is None or floor_of(module) == 0 or frame.f_code.co_name in COMPREHENSIONS:
            return
        name = f"{module}.{frame.f_code.co_name}"
        if name not in seen:
            seen.add(name)
            stops.append(name)
        if frame.f_code.co_name == "send_now" and module == "searches.events":
            last_send[0] = len(stops)
        caller = frame.f_back
        while caller is not None and module_of(caller.f_code.co_filename) is None:
            caller = caller.f_back
        if caller is not None:
            caller_module = module_of(caller.f_code.co_filename)
            if floor_of(caller_module) < floor_of(module) and module in imports_of(caller_module):
                climbs.append((f"{caller_module}.{caller.f_code.co_name}", name))

    sys.setprofile(profile)
    try:
        tasks.run_trial(trial_id)
    finally:
        sys.setprofile(None)
    return stops[: last_send[0]] or stops, climbs


def main() -> None:
    trial_id = prepare_trial()
    stops, climbs = walk(trial_id)
    print(f"trial {trial_id}: {len(stops)} stops from searches.tasks.run_trial to the last group_send")
    for number, name in enumerate(stops, 1):
        print(f"  {number:2d} {name}")
    modules = sorted({name.rsplit(".", 1)[0] for name in stops})
    print(f"modules visited: {len(modules)} ({', '.join(modules)})")
    distinct = sorted(set(climbs))
    print(f"climbs (a call into a higher floor that the caller imports): {len(distinct)} distinct")
    for caller, callee in distinct:
        print(f"  {caller} -> {callee}")


if __name__ == "__main__":
    main()
