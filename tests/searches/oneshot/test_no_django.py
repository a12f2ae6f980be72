"""The one-shot package is engine code: no Django, like searches/spaces and searches/strategies."""

from pathlib import Path

import pytest

from tests.test_engine_has_no_django import ROOT, imported_names
from tests.test_engine_has_no_django import pulls_in_django as pulls_in_django_outside_the_engine

FILES = sorted((ROOT / "searches" / "oneshot").glob("*.py"))


def pulls_in_django(name: str) -> bool:
    # The shared checker does not list this package among the engine's yet, so allow it here.
    return pulls_in_django_outside_the_engine(name) and not name.startswith("searches.oneshot")


def test_the_checker_still_catches_django_side_modules():
    assert pulls_in_django("searches.models.Trial") and pulls_in_django("django.db")
    assert not pulls_in_django("searches.oneshot.supernet.Gate")


def test_the_package_is_found():
    assert {p.name for p in FILES} >= {"supernet.py", "darts.py", "enas.py", "proxyless.py", "ranking.py"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_oneshot_file_imports_no_django(path: Path):
    assert not [name for name in imported_names(path) if pulls_in_django(name)]
