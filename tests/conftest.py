import os

import pytest

# Tests that touch the database run on the real PostgreSQL (`make test` sets
# DATABASE_URL); engine tests need no database at all.
os.environ.setdefault("NASWEB_TORCH_THREADS", "1")


def pytest_configure(config):
    """The form fuzz tests post 500 bodies per form when asked for (-m fuzz, make test-forms); 50 in the suite."""
    os.environ.setdefault("NASWEB_FUZZ_EXAMPLES", "500" if "fuzz" in (config.getoption("markexpr") or "") else "50")


def pytest_collection_modifyitems(config, items):
    """The full form matrix runs only when asked for (-m matrix): the suite keeps its representative subset."""
    if "matrix" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("matrix") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("matrix")])
        items[:] = kept


@pytest.fixture(autouse=True)
def own_var_folder(settings, tmp_path):
    # Checkpoints and kept weights are files named by trial id, and every run's test database numbers its
    # trials from 1 again: each test gets its own folder, so no test meets another run's files.
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    # Fixtures create several users per test; the slow default hasher is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("owner", password="pw-owner-123")


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("member", password="pw-member-123")


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("outsider", password="pw-outsider-123")


@pytest.fixture
def project(owner, member):
    from searches import services

    return services.create_project(owner, "Digits", services.builtin_dataset("digits"), members=[member])


@pytest.fixture
def start_search(project, owner):
    from searches import services

    def start(**overrides):
        options = dict(name="s", space_kind="chain_mlp", space_spec=None, strategy="random", max_trials=3,
                       training={"epochs": 1}, parallelism=1, seed=0)
        options.update(overrides)
        return services.start_search(project, owner, **options)

    return start
