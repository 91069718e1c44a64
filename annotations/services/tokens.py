"""Personal API tokens: create (the key is returned once), revoke, and authenticate by key.

Only ``sha256(key)`` is stored (``ApiToken.digest``), so a copy of the database cannot be used to
call the API. A key is ``lh_`` + 43 URL-safe characters (``secrets.token_urlsafe(32)``: 256 random
bits), so a plain SHA-256 — not a slow password hash — is enough: there is nothing to brute-force
that is smaller than 2**256. The ``lh_`` prefix makes a leaked key recognisable to secret
scanners and to people; ``prefix`` (the first 8 characters) lets a user tell tokens apart.

Rules:
- a name is required, trimmed, at most 100 characters, without control characters, and unique
  among the user's live (not revoked) tokens: 400/409 naming ``name``;
- at most :data:`MAX_LIVE_TOKENS` live tokens per user (409 ``token_limit``): a script that logs
  in on every run is told to reuse its token instead of piling up credentials;
- revoking is idempotent: revoking a revoked token keeps its first ``revoked_at`` and succeeds
  (DELETE semantics; a client retrying after a lost answer does not see an error). Another
  user's token id answers 404, like an id that does not exist.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotations.models import ApiToken
from labelhub.errors import ApplicationError, ConflictError, NotFoundError

#: The start of every key: lets people and secret scanners recognise a LabelHub key.
KEY_PREFIX = "lh_"
#: Characters of the key kept in the clear (``lh_`` + 5) to tell tokens apart in the list.
PREFIX_LENGTH = 8
#: Live tokens a user may hold at once.
MAX_LIVE_TOKENS = 50
#: ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Longer than any key we issue; a longer header value is refused without a database query.
MAX_KEY_LENGTH = 128

NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def api_token_digest(key: str) -> str:
    """``sha256(key)`` as 64 hex digits: what the database stores and looks a key up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ApplicationError("invalid", "Give the token a name.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise ApplicationError(
            "invalid", f"A name has at most {NAME_MAX_LENGTH} characters.", field="name"
        )
    if _CONTROL.search(name):
        raise ApplicationError(
            "invalid", "A name cannot hold control characters (line breaks, tabs).", field="name"
        )
    return name


def _live(user: AbstractBaseUser):
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


def _lock_user(user: AbstractBaseUser) -> None:
    """Serialise token creation per user (the name check and the cap are read-then-write).
    On SQLite the IMMEDIATE transaction mode already takes the write lock at BEGIN."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _insert(user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    if _live(user).count() >= MAX_LIVE_TOKENS:
        raise ConflictError(
            "token_limit",
            f"You have {MAX_LIVE_TOKENS} live tokens, the most allowed. Revoke unused ones "
            "(Settings → API tokens) or reuse an existing token.",
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:PREFIX_LENGTH], digest=api_token_digest(key)
    )
    return token, key


def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new token and its key. The key is returned here and never again (only its digest is
    stored). Locks the user's row so two concurrent creations cannot share a name or pass the
    cap together."""
    name = _clean_name(name)
    with transaction.atomic():
        _lock_user(user)
        if _live(user).filter(name=name).exists():
            raise ConflictError(
                "token_name_taken", f"You already have a live token named {name!r}.", field="name"
            )
        return _insert(user, name)


def api_token_rotate(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Revoke the user's live token named ``name`` (if any) and create a new one of that name, in
    one transaction: what a script or benchmark that re-creates its credential on every run
    wants, without piling up live tokens towards the cap."""
    name = _clean_name(name)
    with transaction.atomic():
        _lock_user(user)
        _live(user).filter(name=name).update(revoked_at=timezone.now())
        return _insert(user, name)


def api_token_create_for_login(
    *, user: AbstractBaseUser, name: str | None = None, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """The token ``POST /api/v1/auth/token/`` hands a script that logged in with a password:
    named ``name`` if given (409 if taken), else ``login YYYY-MM-DD HH:MM UTC`` with `` (2)``,
    `` (3)``… added when that name is live already (a script may log in twice a minute)."""
    if name is not None:
        return api_token_create(user=user, name=name)
    now = now or timezone.now()
    base = f"login {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    with transaction.atomic():
        _lock_user(user)
        taken = set(_live(user).filter(name__startswith=base).values_list("name", flat=True))
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base} ({n})"
        return _insert(user, candidate)


def api_token_revoke(*, user: AbstractBaseUser, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens; idempotent (see the module docstring). Another user's
    token, or no token, answers 404."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
        if token is None:
            raise NotFoundError("No such token.")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
        return token


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The token a key belongs to (with its user), or None for a key that matches no token.
    Revoked tokens are returned too: the caller tells "revoked" from "unknown".

    The lookup is by ``sha256(key)`` through a unique index, never by comparing keys, so its
    timing reveals nothing useful: an attacker cannot steer the digest of a guess towards a
    stored one. Malformed keys (wrong prefix, too long) are refused without a query."""
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
        return None
    return ApiToken.objects.select_related("user").filter(digest=api_token_digest(key)).first()


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> bool:
    """Record that the token was used, at most once per :data:`LAST_USED_RESOLUTION`: a busy
    script must not turn every read into a write. The UPDATE is conditional, so concurrent
    requests that all saw an old value write once between them. True when it wrote."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    cutoff = now - LAST_USED_RESOLUTION
    written = (
        ApiToken.objects.filter(pk=token.pk)
        .exclude(last_used_at__gt=cutoff)
        .update(last_used_at=now)
    )
    token.last_used_at = now
    return bool(written)
