"""Login rate limiting: after too many failed logins, further attempts are refused for a while.

Failures are counted in Django's cache (Redis when REDIS_URL is set, so every web process shares the
counts) per username and client address (NASWEB_LOGIN_FAILURES_PER_ADDRESS, 5) and per username from
anywhere (NASWEB_LOGIN_FAILURES_PER_USER, 20), within NASWEB_LOGIN_WINDOW_SECONDS (900). A refused
attempt is not even checked against the password. A successful login clears the pair's count. If the
cache is down, logins are not throttled (and the outage is logged) rather than refused for everyone.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

log = logging.getLogger(__name__)


def _keys(username: str, address: str) -> tuple[str, str]:
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:24]
    return f"login-failures:{user}:{address}", f"login-failures:{user}"


def _limits() -> tuple[int, int]:
    return settings.NASWEB_LOGIN_FAILURES_PER_ADDRESS, settings.NASWEB_LOGIN_FAILURES_PER_USER


def client_address(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "unknown") if request is not None else "unknown"


def is_throttled(username: str, address: str) -> bool:
    pair, user = _keys(username, address)
    try:
        counts = cache.get_many([pair, user])
    except Exception:
        log.exception("login throttle: the cache is unavailable; not throttling")
        return False
    per_address, per_user = _limits()
    return counts.get(pair, 0) >= per_address or counts.get(user, 0) >= per_user


def record_failure(username: str, address: str) -> None:
    window = settings.NASWEB_LOGIN_WINDOW_SECONDS
    try:
        for key in _keys(username, address):
            if not cache.add(key, 1, timeout=window):
                cache.incr(key)
    except Exception:
        log.exception("login throttle: could not count a failed login")


def clear_failures(username: str, address: str) -> None:
    try:
        cache.delete(_keys(username, address)[0])
    except Exception:
        log.exception("login throttle: could not clear the failed logins")


class ThrottleMixin:
    """For AuthenticationForm subclasses: refuse when throttled, count failures, clear on success."""

    throttled_message = "Too many failed logins for this account: try again in {minutes} minutes."

    def clean(self):
        username = self.data.get("username") or ""
        address = client_address(self.request)
        if username and is_throttled(username, address):
            minutes = max(1, settings.NASWEB_LOGIN_WINDOW_SECONDS // 60)
            raise ValidationError(self.throttled_message.format(minutes=minutes), code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                record_failure(username, address)
            raise
        clear_failures(username, address)
        return cleaned


class ThrottledAuthenticationForm(ThrottleMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottleMixin, AdminAuthenticationForm):
    pass
