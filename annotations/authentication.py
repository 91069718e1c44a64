"""API authentication by personal token: ``Authorization: Bearer <key>`` (RFC 6750) or
``Authorization: Token <key>`` (the header DRF's authtoken used, kept so older scripts work).

Failures answer 401 in the one error shape, with a ``WWW-Authenticate: Bearer`` challenge:
``token_invalid`` (no such key, or a malformed header), ``token_revoked``, ``user_inactive``.
A request without an ``Authorization`` header of these kinds is left to the next class (the
session), and ends as 401 ``not_authenticated`` if nothing authenticates it.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

KEYWORDS = (b"bearer", b"token")


def _failed(code: str, message: str) -> exceptions.AuthenticationFailed:
    # labelhub.errors keeps a detail's own code, so the body says which failure it was.
    return exceptions.AuthenticationFailed(message, code=code)


class ApiTokenAuthentication(BaseAuthentication):
    """Looks the key up by its SHA-256 digest (see ``annotations.services.tokens``)."""

    def authenticate(self, request: Request):
        # Imported here: DRF imports this class while rest_framework.views loads, which
        # labelhub.errors (imported by the services) is itself in the middle of importing.
        from annotations.services.tokens import api_token_authenticate, api_token_touch

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise _failed(
                "token_invalid", "The Authorization header must be 'Bearer <key>', one key."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise _failed("token_invalid", "Invalid token.") from exc
        token = api_token_authenticate(key=key)
        if token is None:
            raise _failed("token_invalid", "Invalid token.")
        if token.revoked_at is not None:
            raise _failed("token_revoked", "This token has been revoked.")
        if not token.user.is_active:
            raise _failed("user_inactive", "This account is inactive.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # A challenge makes DRF answer 401 rather than 403 when authentication fails or is absent.
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the scheme in the OpenAPI schema (drf-spectacular finds it by target class)."""

    target_class = "annotations.authentication.ApiTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A personal API token (Settings → API tokens, or POST /api/v1/auth/token/): "
                "'Authorization: Bearer lh_…'. 'Authorization: Token lh_…' works too."
            ),
        }
