"""NASWEB_PRODUCTION=true: no silent development key, HTTPS settings on, and `check --deploy` is clean.
Each case starts a fresh `manage.py`, since settings are read from the environment at start-up."""

import secrets
import subprocess
import sys

from tests.processes import ROOT, child_env

SHOW = ("from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)")


def manage(*args, **env):
    environment = child_env(**env)
    for name in ("DJANGO_SECRET_KEY", "NASWEB_PRODUCTION", "DJANGO_DEBUG"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120)


def test_check_deploy_prints_no_warning_in_production():
    out = manage("check", "--deploy", NASWEB_PRODUCTION="true", DJANGO_SECRET_KEY=secrets.token_urlsafe(48))
    assert out.returncode == 0, out.stderr
    assert "System check identified no issues (0 silenced)." in out.stdout
    assert "WARNINGS" not in out.stdout + out.stderr and "security.W" not in out.stdout + out.stderr


def test_production_refuses_to_start_without_a_secret_key():
    out = manage("check", NASWEB_PRODUCTION="true")
    assert out.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when NASWEB_PRODUCTION is on" in out.stderr


def test_production_refuses_a_weak_secret_key_and_debug():
    assert "too weak" in manage("check", NASWEB_PRODUCTION="true", DJANGO_SECRET_KEY="short").stderr
    out = manage("check", NASWEB_PRODUCTION="true", DJANGO_SECRET_KEY=secrets.token_urlsafe(48), DJANGO_DEBUG="1")
    assert out.returncode != 0 and "DJANGO_DEBUG must be off" in out.stderr


def test_production_turns_on_https_settings_and_development_leaves_them_off():
    on = manage("shell", "-v", "0", "-c", SHOW, NASWEB_PRODUCTION="true", DJANGO_SECRET_KEY=secrets.token_urlsafe(48))
    assert on.stdout.split() == ["True", "True", "True", "31536000", "('HTTP_X_FORWARDED_PROTO',", "'https')"], on
    off = manage("shell", "-v", "0", "-c", SHOW)  # what `make run` gets: plain HTTP on localhost keeps working
    assert off.stdout.split() == ["False", "False", "False", "0", "None"], off.stderr
