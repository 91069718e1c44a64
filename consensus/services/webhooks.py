"""Webhooks: managers register URLs for project events; each event becomes one stored delivery
per subscribed hook, sent by Celery after commit, signed, retried with backoff and replayable.

Why the body is stored: the signature covers the exact bytes, so a replay (or a retry) must send
the same bytes, and the log can show what was sent.

Signature: ``X-LabelHub-Signature: sha256=<hex HMAC-SHA256(key=secret, msg=body bytes)>`` (RFC
2104 HMAC with SHA-256, as GitHub's ``X-Hub-Signature-256``). Receivers recompute it over the raw
body and compare in constant time (``hmac.compare_digest``).

Cost on the labeling path: :func:`webhook_event_emit` first asks :func:`webhooks_subscribed`,
which reads the project's subscribed events from Django's cache (one query on a miss, cached for
:data:`SUBSCRIPTION_CACHE_SECONDS`, dropped whenever a hook of the project changes). A project
without hooks costs one cache read and no query; no HTTP call is ever made in the request (unless
Celery runs eagerly, the embedded mode with no broker, where every task runs inline).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, transaction
from django.utils import timezone

from annotations.models import Annotation, Project, Role
from annotations.selectors import project_get_for_user
from consensus.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent
from labelhub.errors import ApplicationError, ConflictError, NotFoundError

logger = logging.getLogger(__name__)

#: Longest a cached "which events does this project's hooks want" answer lives. Invalidation on
#: every change through these services makes it exact within one cache; the TTL bounds the
#: staleness of per-process caches (locmem) that another process's invalidation cannot reach.
SUBSCRIPTION_CACHE_SECONDS = 300
#: Stored error text is cut to this many characters.
MAX_ERROR_CHARS = 500
#: Bytes of a receiver's answer read (and then dropped): enough to finish a normal reply.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "LabelHub-Webhooks/1"
EVENTS = [event.value for event in WebhookEvent]
#: Who sees and manages a project's hooks: their secrets sign what receivers trust.
MANAGERS = (Role.MANAGER,)


class WebhookSendError(Exception):
    """A delivery attempt failed in a way a later attempt may not (non-2xx, refused, timeout).

    ``attempts`` is the delivery's attempt count after this one.
    """

    def __init__(self, message: str, *, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class SendResult:
    status: str
    attempts: int
    response_status: int | None


# ---------- subscriptions (the cheap check on hot paths) ----------


def _cache_key(project_id: int) -> str:
    return f"webhooks:events:{project_id}"


def _invalidate(project_id: int) -> None:
    """Drop the cached subscriptions now and again after commit: a request that refills the
    cache between the two (reading the pre-commit state) cannot leave it stale."""
    key = _cache_key(project_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def webhooks_subscribed(*, project_id: int, event: str) -> bool:
    """Whether any active hook of the project wants ``event``: one cache read, and on a miss one
    query over the project's hooks (``webhook.project_id`` is indexed as a foreign key)."""
    key = _cache_key(project_id)
    events = cache.get(key)
    if events is None:
        events = sorted(
            {
                name
                for names in Webhook.objects.filter(project_id=project_id, active=True).values_list(
                    "events", flat=True
                )
                for name in names
            }
        )
        cache.set(key, events, SUBSCRIPTION_CACHE_SECONDS)
    return event in events


# ---------- emitting events ----------


def _body(*, project_id: int, event: str, payload: dict[str, Any]) -> str:
    """Compact JSON with sorted keys, so the same event always serialises to the same bytes."""
    return json.dumps(
        {
            "event": event,
            "project": project_id,
            "occurred_at": timezone.now().isoformat(),
            "data": payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
    )


def _enqueue_after_commit(delivery_ids: list[int]) -> None:
    def send() -> None:
        from consensus.tasks import webhook_deliver_task  # tasks import this module

        for delivery_id in delivery_ids:
            webhook_deliver_task.apply_async(args=(delivery_id,))

    # robust: a broker that is down must not fail the action that caused the event; the
    # delivery stays pending in the log and a manager can replay it.
    transaction.on_commit(send, robust=True)


def webhook_event_emit(*, project_id: int, event: str, payload: dict[str, Any]) -> None:
    """Record one delivery of ``event`` for each active hook of the project that subscribed to
    it, and send them by Celery after commit. Call it inside the transaction that makes the
    event true, so a rolled-back action sends nothing.

    ``payload`` is the event's ``data``: ids and figures only, never secrets. Writes: one
    ``WebhookDelivery`` per subscribed hook (none, and no query on a warm cache, without hooks).
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if not webhooks_subscribed(project_id=project_id, event=event):
        return
    hooks = [
        hook_id
        for hook_id, events in Webhook.objects.filter(
            project_id=project_id, active=True
        ).values_list("id", "events")
        if event in events
    ]
    if not hooks:
        return
    body = _body(project_id=project_id, event=event, payload=payload)
    # One row per hook (a project has a handful): plain inserts return their ids everywhere.
    ids = [
        WebhookDelivery.objects.create(webhook_id=hook_id, event=event, body=body).pk
        for hook_id in hooks
    ]
    _enqueue_after_commit(ids)


def webhook_annotation_submitted(*, project_id: int, annotation_id: int) -> None:
    """``annotation.submitted`` for a committed label: the item (id, external id), the
    annotation, its labeler (id) and round. The label itself is not sent (the subscription is
    checked first, so a project without hooks reads nothing)."""
    if not webhooks_subscribed(project_id=project_id, event=WebhookEvent.ANNOTATION_SUBMITTED):
        return
    try:
        row = (
            Annotation.objects.filter(pk=annotation_id)
            .values("item_id", "item__external_id", "labeler_id", "round")
            .first()
        )
        if row is None:
            return
        webhook_event_emit(
            project_id=project_id,
            event=WebhookEvent.ANNOTATION_SUBMITTED,
            payload={
                "annotation": annotation_id,
                "item": row["item_id"],
                "external_id": row["item__external_id"],
                "labeler": row["labeler_id"],
                "round": row["round"],
            },
        )
    except DatabaseError:
        # This runs after the label committed: a failure to record the delivery must not turn
        # the labeler's successful submit into an error. It is logged; nothing is sent.
        logger.exception(
            "webhook: annotation.submitted for annotation %s not recorded", annotation_id
        )


# ---------- managing hooks ----------


def _clean_url(url: Any) -> str:
    """http(s) with a host; no spaces or control characters; at most the column's length."""
    if not isinstance(url, str) or not url.strip():
        raise ApplicationError("required", "Give the URL that receives the events.", field="url")
    url = url.strip()
    if len(url) > 2000:
        raise ApplicationError("invalid", "The URL is longer than 2000 characters.", field="url")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ApplicationError("invalid", "The URL cannot contain spaces.", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        raise ApplicationError("invalid", "That is not a valid URL.", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise ApplicationError(
            "invalid", "The URL must start with http:// or https://.", field="url"
        )
    if not parts.hostname:
        raise ApplicationError("invalid", "The URL needs a host name.", field="url")
    if port == 0:
        raise ApplicationError("invalid", "Port 0 cannot receive requests.", field="url")
    return url


def _clean_events(events: Any) -> list[str]:
    """A non-empty list of known events, de-duplicated, in the order of ``WebhookEvent``."""
    if not isinstance(events, list | tuple) or not events:
        raise ApplicationError("required", "Choose at least one event.", field="events")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ApplicationError(
            "invalid",
            f"Unknown event {unknown[0]!r}; choose from {', '.join(EVENTS)}.",
            field="events",
        )
    return [e for e in EVENTS if e in set(events)]


def _new_secret() -> str:
    """256 random bits as 64 hex characters (the column's length)."""
    return secrets.token_hex(32)


def webhook_create(
    *, project: Project, created_by: AbstractBaseUser, url: Any, events: Any, active: bool = True
) -> Webhook:
    """Register a hook with a fresh secret. The caller checked that ``created_by`` manages the
    project (the API and page go through ``project_get_for_user(roles=MANAGERS)``)."""
    hook = Webhook(
        project=project,
        url=_clean_url(url),
        events=_clean_events(events),
        secret=_new_secret(),
        active=bool(active),
        created_by=created_by,
    )
    with transaction.atomic():
        hook.save()
        _invalidate(project.pk)
    return hook


def webhook_update(
    *, hook: Webhook, url: Any = None, events: Any = None, active: bool | None = None
) -> Webhook:
    """Change what is given (``None``: keep). Everything is checked before anything is saved."""
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = _clean_url(url)
    if events is not None:
        changes["events"] = _clean_events(events)
    if active is not None:
        changes["active"] = bool(active)
    if not changes:
        return hook
    for name, value in changes.items():
        setattr(hook, name, value)
    with transaction.atomic():
        hook.save(update_fields=list(changes))
        _invalidate(hook.project_id)
    return hook


def webhook_secret_rotate(*, hook: Webhook) -> Webhook:
    """A new secret; deliveries sent from now on (retries and replays included) use it."""
    hook.secret = _new_secret()
    hook.save(update_fields=["secret"])
    return hook


def webhook_delete(*, hook: Webhook) -> None:
    """Delete the hook and its delivery log (pending sends find no row and stop)."""
    project_id = hook.project_id
    with transaction.atomic():
        hook.delete()
        _invalidate(project_id)


# ---------- sending ----------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new destination: following it would turn the POST into a
    GET elsewhere (urllib's behaviour for 301/302/303) and send the signed body to a URL the
    manager never registered. 3xx is logged as a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirect)


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, body)>``, the value of ``X-LabelHub-Signature``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _private_address(url: str) -> str | None:
    """The first private, loopback, link-local or reserved address ``url``'s host resolves to,
    or None. Webhooks must not let a manager make the server call into its own network (a
    metadata service, the database's admin port) unless the operator allows it."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None  # the POST reports the unknown host
    for *_, address in infos:
        ip = ipaddress.ip_address(address[0])
        if (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_reserved
            or ip.is_multicast
            or ip.is_unspecified
        ):
            return str(ip)
    return None


def _post(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str]:
    """POST once; returns (HTTP status or None when no answer came, error text or "")."""
    if not settings.LABELHUB_WEBHOOK_ALLOW_PRIVATE:
        private = _private_address(url)
        if private is not None:
            return None, (
                f"Refused: the host resolves to {private}, a private or local address "
                "(set LABELHUB_WEBHOOK_ALLOW_PRIVATE=true to allow)."
            )
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener().open(request, timeout=timeout) as response:
            response.read(MAX_RESPONSE_BYTES)
            return response.status, ""
    except urllib.error.HTTPError as error:  # a 3xx (not followed), 4xx or 5xx answer
        try:
            detail = error.read(MAX_ERROR_CHARS).decode("utf-8", "replace").strip()
        except OSError:
            detail = ""
        text = f"HTTP {error.code} {error.reason}" + (f": {detail}" if detail else "")
        return error.code, text
    except urllib.error.URLError as error:  # refused, unknown host, TLS failure
        return None, f"Connection failed: {error.reason}"
    except TimeoutError:
        return None, f"No answer within {timeout:g} s."
    except OSError as error:  # reset by peer, and other socket errors while reading
        return None, f"Connection error: {error}"


def webhook_delivery_send(*, delivery_id: int) -> SendResult | None:
    """One attempt at a pending delivery: POST the stored body, signed with the hook's current
    secret; record the attempt (count, HTTP status, time in ms, error text).

    A 2xx marks it succeeded. Anything else raises :class:`WebhookSendError` for the task to
    retry (the delivery stays pending until the task gives up). Returns None for a delivery that
    is gone (its hook was deleted) and the stored result, without sending, for one that is not
    pending (a redelivered task after success). Locks: none; the HTTP call runs outside any
    transaction so a slow receiver holds no database resources.
    """
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    if delivery.status != DeliveryStatus.PENDING:
        return SendResult(delivery.status, delivery.attempts, delivery.response_status)
    hook = delivery.webhook
    attempts = delivery.attempts + 1
    if not hook.active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=attempts,
            status=DeliveryStatus.FAILED,
            error="The webhook was deactivated before this delivery was sent.",
        )
        return SendResult(DeliveryStatus.FAILED, attempts, None)
    body = delivery.body.encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-LabelHub-Event": delivery.event,
        "X-LabelHub-Delivery": str(delivery.pk),
        "X-LabelHub-Signature": signature(hook.secret, body),
    }
    timeout = float(settings.LABELHUB_WEBHOOK_TIMEOUT_SECONDS)
    started = time.perf_counter()
    status_code, error = _post(url=hook.url, body=body, headers=headers, timeout=timeout)
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    succeeded = status_code is not None and 200 <= status_code < 300
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts,
        response_status=status_code,
        response_ms=elapsed_ms,
        error="" if succeeded else error[:MAX_ERROR_CHARS],
        status=DeliveryStatus.SUCCEEDED if succeeded else DeliveryStatus.PENDING,
        delivered_at=timezone.now() if succeeded else None,
    )
    if not succeeded:
        raise WebhookSendError(error or f"HTTP {status_code}", attempts=attempts)
    return SendResult(DeliveryStatus.SUCCEEDED, attempts, status_code)


def webhook_delivery_fail(*, delivery_id: int) -> None:
    """The task gave up: a pending delivery becomes failed (its last error stays)."""
    WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED
    )


def webhook_delivery_replay(*, user: AbstractBaseUser, delivery_id: int) -> WebhookDelivery:
    """A new delivery with the same body (same bytes, so the same signature under the same
    secret) and ``replay_of`` set, sent by Celery after commit. Managers of the delivery's
    project only (others 403, non-members 404); a deactivated hook refuses (409)."""
    delivery = webhook_delivery_get_for_user(user=user, delivery_id=delivery_id)
    hook = delivery.webhook
    if not hook.active:
        raise ConflictError(
            "webhook_inactive", "This webhook is inactive; activate it to replay deliveries."
        )
    with transaction.atomic():
        replay = WebhookDelivery.objects.create(
            webhook=hook, event=delivery.event, body=delivery.body, replay_of=delivery
        )
        _enqueue_after_commit([replay.pk])
    return replay


# ---------- access (reads kept beside the services they guard) ----------


def webhook_get_for_user(*, user: AbstractBaseUser, webhook_id: int) -> Webhook:
    """A hook reached by id through its project's funnel: managers only (others 403), 404 for
    non-members and unknown ids alike."""
    hook = Webhook.objects.filter(pk=webhook_id).first()
    if hook is None:
        raise NotFoundError("Webhook not found.")
    try:
        hook.project = project_get_for_user(user=user, project_id=hook.project_id, roles=MANAGERS)
    except NotFoundError:
        raise NotFoundError("Webhook not found.") from None
    return hook


def webhook_delivery_get_for_user(*, user: AbstractBaseUser, delivery_id: int) -> WebhookDelivery:
    """A delivery reached by id through its hook's project: managers only, else 403/404."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFoundError("Delivery not found.")
    try:
        project_get_for_user(user=user, project_id=delivery.webhook.project_id, roles=MANAGERS)
    except NotFoundError:
        raise NotFoundError("Delivery not found.") from None
    return delivery


def webhook_list(*, project: Project):
    """The project's hooks, oldest first (the order they were registered)."""
    return Webhook.objects.filter(project=project).order_by("id")


def webhook_delivery_list(*, hook: Webhook):
    """The hook's deliveries; the API pages them newest first over the ``(webhook, -id)``
    index."""
    return WebhookDelivery.objects.filter(webhook=hook)
