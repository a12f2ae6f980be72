"""The engine (spaces, strategies, training, estimators, benchmarks, cost models)
is plain Python + torch: workers and notebooks use it without Django.

Two checks: no engine file imports Django or a Django-side module of the
project, anywhere in the file (imports inside functions included); and
importing every engine module leaves Django out of sys.modules.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Engine packages, and single engine modules outside them.
ENGINE_PACKAGES = (
    "searches.checks",
    "searches.candidates",
    "searches.constraints",
    "searches.fidelity",
    "searches.export",
    "searches.diagrams",
    "searches.analysis",
    "searches.export_loader",
    "searches.spaces",
    "searches.strategies",
    "searches.training",
    "searches.estimators",
    "searches.benchmarks",
    "searches.oneshot",
    "searches.pruners",
    "searches.structured_pruning",
    "devices.costs",
    "searches.client",  # the API client: requests (and the engine to build models), never Django
)
# Top-level packages of this project; outside the engine packages they are Django apps or settings.
PROJECT_PACKAGES = ("nasweb", "searches", "devices")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def engine_files() -> list[Path]:
    files = []
    for package in ENGINE_PACKAGES:
        folder = ROOT / package.replace(".", "/")
        if not folder.is_dir():
            files.append(folder.with_suffix(".py"))
            continue
        files += sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def imported_names(path: Path) -> list[str]:
    """Fully qualified names of everything the file imports, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    this_package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = this_package.split(".")[: len(this_package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            names += [f"{module}.{alias.name}" for alias in node.names]
    return names


def is_engine(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in ENGINE_PACKAGES)


def pulls_in_django(name: str) -> bool:
    top = name.split(".")[0]
    return top == "django" or (top in PROJECT_PACKAGES and not is_engine(name))


def test_the_engine_packages_are_found():
    found = {module_name(p) for p in engine_files()}
    assert {"searches.spaces.base", "searches.spaces.registry", "searches.training.trainer", "searches.checks",
            "searches.pruners.registry"} <= found
    assert all(p.is_file() for p in engine_files())


def test_the_import_checker_catches_django_and_django_side_modules():
    assert pulls_in_django("django.conf.settings")
    assert pulls_in_django("searches.models.Trial")
    assert pulls_in_django("nasweb.settings")
    assert not pulls_in_django("searches.spaces.base.SearchSpace")
    assert not pulls_in_django("torch.nn")


@pytest.mark.parametrize("path", engine_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_file_imports_no_django(path):
    offending = [name for name in imported_names(path) if pulls_in_django(name)]
    assert not offending, f"{path.relative_to(ROOT)} imports {offending}"


def test_relative_imports_are_resolved_against_the_package():
    path = ROOT / "searches/spaces/registry.py"
    assert "searches.spaces.base.SearchSpace" in imported_names(path)


def test_importing_every_engine_module_leaves_django_out():
    modules = sorted({module_name(p) for p in engine_files()})
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print('DJANGO:', loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    env_without_settings = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env_without_settings["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env_without_settings,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
