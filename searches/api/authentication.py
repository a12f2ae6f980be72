"""Token authentication: `Authorization: Bearer <key>` (or `Token <key>`) with a personal API token."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from .. import services

KEYWORDS = (b"bearer", b"token")


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # no token: the session (or nothing) decides
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("send one token: Authorization: Bearer <token>")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("invalid or revoked token") from None
        found = services.user_for_key(key)
        if found is None:
            raise exceptions.AuthenticationFailed("invalid or revoked token")
        return found

    def authenticate_header(self, request):
        return 'Bearer realm="nasweb"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Names the scheme in the OpenAPI document."""

    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "a personal API token from /settings/tokens/"}
