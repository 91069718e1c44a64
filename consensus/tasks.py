"""Celery tasks of the consistency domain: thin wrappers over services."""

from __future__ import annotations

import logging

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
