"""Celery tasks of the consistency domain: thin wrappers over services."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from consensus.services.recompute import (
    RunOutcome,
    recompute_mark_queued,
    recompute_mark_requested,
    recompute_run,
)
from consensus.services.reports import report_recompute
from consensus.services.webhooks import (
    WebhookSendError,
    webhook_delivery_fail,
    webhook_delivery_send,
)

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=6,
    acks_late=True,
)
def report_recompute_task(self, project_id: int) -> str:
    """Recompute a project's consistency report if a newer one was requested (idempotent)."""
    outcome = recompute_run(
        project_id=project_id,
        compute=lambda pid, version: report_recompute(project_id=pid, version=version),
    )
    if outcome is RunOutcome.MORE_PENDING and recompute_mark_queued(project_id=project_id):
        _send(project_id)
    logger.info("consistency report for project %s: %s", project_id, outcome)
    return str(outcome)


def report_recompute_enqueue(project_id: int) -> bool:
    """Ask for a recompute; enqueues a task unless one is already waiting. Call after commit."""
    if recompute_mark_requested(project_id=project_id):
        _send(project_id)
        return True
    return False


def _send(project_id: int) -> None:
    # The countdown gathers a burst of labels into one recompute (ignored in eager mode).
    report_recompute_task.apply_async(
        args=(project_id,), countdown=settings.LABELHUB_RECOMPUTE_DELAY_SECONDS
    )


def webhook_backoff_seconds(retry: int) -> float:
    """Delay before retry ``retry`` (0-based): ``base * 2**retry`` plus up to 25 % jitter, so
    deliveries that failed together do not all come back at the same second. With the default
    base of 10 s and 5 attempts: about 10, 20, 40 and 80 s between them."""
    delay = settings.LABELHUB_WEBHOOK_BACKOFF_SECONDS * 2**retry
    return delay + random.uniform(0, delay / 4)  # noqa: S311 (jitter, not cryptography)


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_deliver_task(self, delivery_id: int) -> str:
    """Send one webhook delivery; retry a failed attempt with exponential backoff until
    ``LABELHUB_WEBHOOK_MAX_ATTEMPTS`` attempts were made, then mark it failed.

    The attempt count lives on the delivery row, not in the task, so a redelivered task (a
    worker lost mid-send) neither resends a delivered body nor grants extra attempts. Eager
    Celery (no broker) has no one to run a task later and ignores countdowns: there the retries
    follow at once, in the same call.
    """
    while True:
        try:
            result = webhook_delivery_send(delivery_id=delivery_id)
        except WebhookSendError as error:
            if error.attempts >= settings.LABELHUB_WEBHOOK_MAX_ATTEMPTS:
                webhook_delivery_fail(delivery_id=delivery_id)
                logger.info(
                    "webhook delivery %s failed after %s attempts", delivery_id, error.attempts
                )
                return "failed"
            if self.request.is_eager:
                continue
            countdown = webhook_backoff_seconds(error.attempts - 1)
            logger.info("webhook delivery %s: %s; retry in %.0f s", delivery_id, error, countdown)
            raise self.retry(exc=error, countdown=countdown) from error
        outcome = "gone" if result is None else str(result.status)
        logger.info("webhook delivery %s: %s", delivery_id, outcome)
        return outcome
