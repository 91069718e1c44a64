"""Coalesced project recomputes: many label commits, a handful of report computations.

State lives in Django's cache (Redis in production, local memory in the embedded default), so
eager mode behaves like a worker:

* ``requested`` — a per-project counter, incremented after every committed label. A report
  answers the counter value read *before* its data snapshot, so it covers every commit counted.
* ``queued`` — set while a recompute task waits in the broker; requests that find it set do not
  enqueue another (the queued task will read the newest counter when it starts). Tasks are
  enqueued with a short countdown (``LABELHUB_RECOMPUTE_DELAY_SECONDS``), so a burst of labels
  within that window costs one recompute.
* ``lock`` — held by the one run computing a project's report; a run that finds it held exits,
  and the holder checks the counter again after releasing it and, if labels arrived meanwhile,
  hands over to a new queued task, so no request is ever lost.

A report is written whole, in one transaction, or not at all (see ``reports.report_recompute``).
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable

from django.core.cache import cache

from consensus.models import ConsistencyReport

logger = logging.getLogger(__name__)

QUEUED_TTL_SECONDS = 300
LOCK_TTL_SECONDS = 900


class RunOutcome(enum.StrEnum):
    COMPUTED = "computed"
    UP_TO_DATE = "up_to_date"
    BUSY = "busy"
    MORE_PENDING = "more_pending"


def _key(project_id: int, name: str) -> str:
    return f"labelhub:consistency:{project_id}:{name}"


def latest_version(project_id: int) -> int:
    version = (
        ConsistencyReport.objects.filter(project_id=project_id)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    return version or 0


def requested_version(project_id: int) -> int:
    """The newest request. After a cache flush it restarts at the newest report's version, so a
    restart alone does not make reports look stale."""
    key = _key(project_id, "requested")
    value = cache.get(key)
    if value is None:
        cache.add(key, latest_version(project_id), timeout=None)
        value = cache.get(key, 0)
    return int(value)


def recompute_mark_requested(*, project_id: int) -> bool:
    """Count one more request. Returns True when the caller should enqueue a task."""
    key = _key(project_id, "requested")
    try:
        cache.incr(key)
    except ValueError:  # missing (first request, or a flushed cache): start at the newest report
        requested_version(project_id)
        cache.incr(key)
    return recompute_mark_queued(project_id=project_id)


def recompute_mark_queued(*, project_id: int) -> bool:
    """Claim the project's one queued-task slot. True: the caller enqueues the task."""
    return cache.add(_key(project_id, "queued"), 1, timeout=QUEUED_TTL_SECONDS)


def recompute_is_running(project_id: int) -> bool:
    return cache.get(_key(project_id, "lock")) is not None


def recompute_run(
    *, project_id: int, compute: Callable[[int, int], ConsistencyReport | None]
) -> RunOutcome:
    """Compute the report if a newer one was requested, under the project's lock.

    ``compute(project_id, version)`` builds and stores one report. Returns what happened; on
    ``MORE_PENDING`` (labels arrived while computing) the caller enqueues another run unless one
    is queued already.
    """
    cache.delete(_key(project_id, "queued"))
    lock = _key(project_id, "lock")
    wanted = requested_version(project_id)
    if latest_version(project_id) >= wanted:
        return RunOutcome.UP_TO_DATE
    token = uuid.uuid4().hex
    if not cache.add(lock, token, timeout=LOCK_TTL_SECONDS):
        return RunOutcome.BUSY
    try:
        compute(project_id, wanted)
    finally:
        if cache.get(lock) == token:
            cache.delete(lock)
    if requested_version(project_id) > wanted:
        logger.info("project %s: labels arrived during the recompute", project_id)
        return RunOutcome.MORE_PENDING
    return RunOutcome.COMPUTED
