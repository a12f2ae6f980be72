import pytest
from django.core.exceptions import ImproperlyConfigured

from nasweb.env import database_from_url, envbool, envint, redis_url


def test_envbool_reads_common_spellings_and_refuses_others(monkeypatch):
    monkeypatch.setenv("X", "yes")
    assert envbool("X", False) is True
    monkeypatch.setenv("X", "0")
    assert envbool("X", True) is False
    monkeypatch.setenv("X", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X='maybe' is not a boolean"):
        envbool("X", False)
    monkeypatch.delenv("X")
    assert envbool("X", True) is True


def test_envint_fails_loudly(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert envint("N", 1) == 12
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        envint("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        envint("N", 1, minimum=1)


def test_database_url():
    db = database_from_url("postgres://u:p%40ss@db.example:5433/nas")
    got = (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"])
    assert got == ("nas", "u", "p@ss", "db.example", "5433")
    with pytest.raises(ImproperlyConfigured, match="scheme 'mysql'"):
        database_from_url("mysql://x/y")
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        database_from_url("postgres://host:5432/")


def test_redis_url():
    assert redis_url("redis://localhost:6379/0") == "redis://localhost:6379/0"
    with pytest.raises(ImproperlyConfigured, match="must start with redis://"):
        redis_url("http://localhost")
