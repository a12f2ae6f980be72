"""Writers of personal API tokens: made, used, revoked.

A key is shown to its user once, when it is made; only its SHA-256 digest is stored. Keys are 32 random
bytes, so a plain digest is enough (there is nothing to brute-force that a slow hash would protect).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from ..models import ApiToken

KEY_PREFIX = "nas_"
MAX_ACTIVE_TOKENS = 50
#: last_used_at is written at most this often per token, so a busy script does not write on every request.
TOUCH_EVERY = timedelta(seconds=60)


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(user, name: str) -> tuple[ApiToken, str]:
    """A new token and its key (the only time the key is seen)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "a token needs a name, e.g. the machine or script that uses it"})
    if len(name) > 80:
        raise ValidationError({"name": "at most 80 characters"})
    if ApiToken.objects.filter(user=user, revoked_at=None).count() >= MAX_ACTIVE_TOKENS:
        raise ValidationError({"name": f"you have {MAX_ACTIVE_TOKENS} active tokens; revoke one first"})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:12], digest=digest_of(key))
    return token, key


def revoke_token(user, token_id: int) -> bool:
    """Conditional: True when this user's active token was revoked now."""
    return bool(ApiToken.objects.filter(id=token_id, user=user, revoked_at=None).update(revoked_at=timezone.now()))


def user_for_key(key: str):
    """(user, token) for an active key, or None; notes when the token was last used."""
    token = (ApiToken.objects.select_related("user").filter(digest=digest_of(key), revoked_at=None)
             .first())
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
        token.last_used_at = now
    return token.user, token
