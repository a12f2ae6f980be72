"""One-way layers: the project's own modules import each other without cycles.

The graph is read from the source with `ast`: every import counts, module level or inside a
function (an import moved into a function to dodge a cycle still is one), relative imports are
resolved, and `from package import name` points at the submodule when `name` is one. Imports
under `if TYPE_CHECKING:` are left out: they never run.

A function-local import of a project module remains only for a heavy optional dependency, with a
comment saying so ("heavy: ...") on its line or the line above; and in an AppConfig.ready(), where
Django wants app modules that use models imported.

Above the engine, every module sits on a floor (README: How it is built) and imports only from its
own floor or the floors below.
"""

import ast
from pathlib import Path

from tests.test_engine_has_no_django import ENGINE_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("nasweb", "searches", "devices")
#: (module or package, floor) above the engine (floor 0); any other module is on the web floor, 6.
FLOORS = (
    ("nasweb.env", 1), ("nasweb.settings", 1), ("nasweb.celery", 1), ("nasweb", 1),
    ("searches.models", 1), ("devices.models", 1), ("searches.migrations", 1), ("devices.migrations", 1),
    ("searches.events", 1), ("searches.event_log", 1), ("searches.dispatch", 1), ("searches.access", 1),
    ("searches.query_numbers", 1),
    ("devices.units", 1), ("devices.access", 1),
    ("searches.engine_data", 2), ("searches.engine_setup", 2), ("searches.weights", 2), ("devices.target_costs", 2),
    ("searches.services", 3), ("searches.queries", 3), ("searches.search_status", 3),
    ("searches.trial_export", 3), ("searches.trial_report", 3), ("searches.share_report", 3),
    ("searches.analysis_report", 3), ("searches.live_report", 3), ("devices.services", 3), ("devices.queries", 3),
    ("searches.runner", 4),
    ("searches.tasks", 5), ("devices.tasks", 5), ("searches.embedded", 5), ("devices.signals", 5),
    ("searches.signals", 5),
)
WEB_FLOOR = 6


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for package in PROJECT_PACKAGES for p in sorted((ROOT / package).rglob("*.py"))
           if "__pycache__" not in p.parts}


def is_engine(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in ENGINE_PACKAGES)


def project_module(name: str) -> str | None:
    """The project module a dotted name lives in (the longest known prefix), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def floor_of(module: str) -> int:
    if is_engine(module):
        return 0
    if module in ("nasweb.urls", "nasweb.asgi"):
        return WEB_FLOOR
    matches = [(len(name), floor) for name, floor in FLOORS if module == name or module.startswith(name + ".")]
    return max(matches)[1] if matches else WEB_FLOOR


def imports_of(module: str) -> list[tuple[str, ast.stmt, str]]:
    """(imported project module, import statement, enclosing function or "") for every import of the module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: str) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            is_function = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            inner = in_function or (node.name if is_function else "")
            for child in ast.iter_child_nodes(node):
                visit(child, inner)
            return
        for target in targets:
            resolved = project_module(target)
            if resolved and resolved != module:
                found.append((resolved, node, in_function))

    visit(tree, "")
    return found


def import_graph() -> dict[str, set[str]]:
    return {module: {target for target, _, _ in imports_of(module)} for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(found)


def local_imports_without_reason(modules) -> list[str]:
    out = []
    for module in modules:
        lines = MODULES[module].read_text().splitlines()
        for target, node, in_function in imports_of(module):
            nearby = lines[max(node.lineno - 2, 0): node.end_lineno]
            comments = " ".join(line.split("#", 1)[1] for line in nearby if "#" in line)
            app_loading = in_function == "ready" and module.endswith(".apps")
            if in_function and not app_loading and "heavy" not in comments:
                out.append(f"{MODULES[module].relative_to(ROOT)}:{node.lineno} -> {target}")
    return sorted(set(out))


def engine_only(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if is_engine(t)} for m, targets in graph.items() if is_engine(m)}


# --- the checker itself ----------------------------------------------------------------------
def test_the_graph_resolves_relative_imports_submodules_and_imports_in_functions():
    graph = import_graph()
    assert "searches.spaces.base" in graph["searches.spaces.registry"]  # from .base import ...
    assert "searches.spaces.layers" in graph["searches.oneshot.supernet_macro_cnn"]  # from ..spaces import layers
    assert "searches.spaces.nb201_modules" in graph["searches.spaces.nb201"]  # inside to_torch
    assert "searches.spaces.nb201_cell" in graph["devices.costs.targets"]  # absolute
    assert "devices.costs.hwnasbench" in graph["devices.costs.targets"]  # from . import hwnasbench
    assert "searches.spaces.base" not in graph["searches.spaces.layers"]


def test_cycles_are_found_and_reported_once_each():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": {"e"}, "f": set()}
    assert cycles(graph) == [["a", "b", "c"], ["e", "e2"]]


# --- the rules -------------------------------------------------------------------------------
def test_the_engine_has_no_import_cycle():
    assert cycles(engine_only(import_graph())) == []


def test_the_engine_imports_inside_functions_only_heavy_optional_dependencies():
    offending = local_imports_without_reason(m for m in MODULES if is_engine(m))
    assert not offending, "function-local imports without a 'heavy' comment:\n" + "\n".join(offending)


def test_the_project_has_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" ".join(c) for c in found)


def test_imports_inside_functions_are_only_for_heavy_optional_dependencies():
    offending = local_imports_without_reason(MODULES)
    assert not offending, "function-local imports without a 'heavy' comment:\n" + "\n".join(offending)


def climbs(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} (floor {floor_of(m)}) -> {t} (floor {floor_of(t)})"
                  for m, targets in graph.items() for t in targets if floor_of(t) > floor_of(m))


def test_floors_are_read_from_the_layer_map():
    assert [floor_of(m) for m in ("searches.spaces.nb201", "searches.models", "searches.engine_data",
                                  "searches.services.trials", "searches.runner", "searches.tasks",
                                  "searches.views", "nasweb.urls")] == [0, 1, 2, 3, 4, 5, 6, 6]
    assert climbs({"searches.models": {"searches.runner"}, "searches.runner": {"searches.models"}}) == [
        "searches.models (floor 1) -> searches.runner (floor 4)"]


def test_every_module_imports_only_from_its_floor_or_below():
    found = climbs(import_graph())
    assert not found, "imports that climb a floor:\n" + "\n".join(found)
