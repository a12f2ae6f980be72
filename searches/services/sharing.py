"""Writers of share links: the project's owner makes and revokes read-only links to one search."""

from __future__ import annotations

import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from ..models import Search, ShareLink

MAX_ACTIVE_LINKS = 20


def can_share(user, search: Search) -> bool:
    return user.is_authenticated and search.project.owner_id == user.id


def create_share_link(search: Search, user, label: str = "") -> ShareLink:
    """A new active link with a random token (about 256 bits); only the project's owner may make one."""
    if not can_share(user, search):
        raise PermissionDenied("only the project's owner can share its searches")
    label = (label or "").strip()
    if len(label) > 120:
        raise ValidationError({"label": "at most 120 characters"})
    if search.share_links.filter(revoked_at=None).count() >= MAX_ACTIVE_LINKS:
        raise ValidationError({"label": f"this search already has {MAX_ACTIVE_LINKS} active links; revoke one"})
    return ShareLink.objects.create(search=search, token=secrets.token_urlsafe(32), label=label, created_by=user)


def revoke_share_link(search: Search, user, link_id: int) -> bool:
    """Revoke one of the search's links (conditional: revoking twice changes nothing)."""
    if not can_share(user, search):
        raise PermissionDenied("only the project's owner can revoke its share links")
    return bool(ShareLink.objects.filter(id=link_id, search=search, revoked_at=None).update(revoked_at=timezone.now()))
