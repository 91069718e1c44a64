"""The assignment engine: which item a labeler labels next.

Rules (see annotations/README.md, "Leases"):

* An item is offered to a labeler when it is ``open`` in its round, the labeler has not
  submitted or skipped it in that round, and ``labels_done + live leases of others < wanted``,
  where ``wanted = overlap + extra_labels`` (``extra_labels`` > 0 after escalation).
* Among those, the item closest to completion comes first (``labels_done`` descending, then id),
  so items reach full overlap, and agreement becomes measurable, early.
* A lease holds a slot for ``LABELHUB_LEASE_SECONDS`` (10 minutes by default); an expired lease
  frees the slot. A labeler who asks again while holding a live lease gets that item back.

Race-freedom: candidates are read from the ``item_next_work`` index with
``FOR UPDATE SKIP LOCKED``; once an item row is locked, its slot count is read again in a new
statement (a fresh snapshot under READ COMMITTED) before a lease is written. Every write that
changes an item's leases or annotations holds the same row lock, so the re-check cannot go stale.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotations.locks import item_lock, item_lock_first_free
from annotations.models import Assignment, AssignmentStatus, Item, ItemStatus, Project
from annotations.services.access import ensure_labeler, labeler_membership
from annotations.services.gold import gold_wanted
from labelhub.errors import ConflictError

#: How many locked-then-rejected candidates one request tolerates before giving up (204).
_MAX_ATTEMPTS = 20


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.LABELHUB_LEASE_SECONDS)


def _live_leases(*, item_id: int, round_number: int, now: datetime, exclude_labeler_id: int) -> int:
    return (
        Assignment.objects.filter(
            item_id=item_id,
            round=round_number,
            status=AssignmentStatus.LEASED,
            lease_expires_at__gt=now,
        )
        .exclude(labeler_id=exclude_labeler_id)
        .count()
    )


def item_has_open_slot(*, item: Item, labeler_id: int, now: datetime) -> bool:
    """Under the item's row lock: is there a slot not filled or leased by someone else?

    Gold items under gold mixing have no overlap cap: every labeler may answer them once.
    """
    if item.gold_label_id is not None and item.project.gold_mixing:
        return True
    if item.status != ItemStatus.OPEN:
        return False
    taken = item.labels_done + _live_leases(
        item_id=item.pk, round_number=item.round, now=now, exclude_labeler_id=labeler_id
    )
    return taken < labels_wanted(item)


def labels_wanted(item: Item) -> int:
    """How many labels the item needs in its round: the overlap plus any escalation labels."""
    return item.project.overlap + item.extra_labels


def _done_or_skipped(labeler: AbstractBaseUser) -> Exists:
    return Exists(
        Assignment.objects.filter(
            item=OuterRef("pk"),
            labeler=labeler,
            round=OuterRef("round"),
            status__in=(AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED),
        )
    )


def _gold_candidates(*, project: Project, labeler: AbstractBaseUser):
    """Gold items the labeler has not answered this round, the least answered first."""
    return (
        Item.objects.filter(project=project, gold_label__isnull=False)
        .filter(~_done_or_skipped(labeler))
        .order_by("labels_done", "id")
    )


#: Where the ordinary search looks, in turn (see ``_lease_ordinary``).
_SCOPES = ("front", "fresh", "all")
#: How many of the fullest open items the "front" scope considers.
_FRONT_WINDOW = 200


def _candidates(*, project: Project, labeler: AbstractBaseUser, now: datetime, scope: str):
    live_leases = (
        Assignment.objects.filter(
            item=OuterRef("pk"),
            round=OuterRef("round"),
            status=AssignmentStatus.LEASED,
            lease_expires_at__gt=now,
        )
        .order_by()
        .values("item")
        .annotate(n=Count("id"))
        .values("n")
    )
    items = Item.objects.filter(project=project, status=ItemStatus.OPEN)
    if project.gold_mixing:  # gold items are served by the gold path only
        items = items.filter(gold_label__isnull=True)
    if scope == "front":
        front = items.order_by("-labels_done", "id").values("pk")[:_FRONT_WINDOW]
        items = items.filter(pk__in=Subquery(front))
    elif scope == "fresh":
        items = items.filter(labels_done=0)
    return (
        items.filter(~_done_or_skipped(labeler))
        .alias(leases=Coalesce(Subquery(live_leases), Value(0)))
        .filter(leases__lt=project.overlap + F("extra_labels") - F("labels_done"))
        .order_by("-labels_done", "id")
    )


def assignment_put(
    *, item: Item, labeler: AbstractBaseUser, status: str, lease_expires_at: datetime | None
) -> Assignment:
    """Set the labeler's assignment on ``item`` in its round: one INSERT … ON CONFLICT UPDATE.

    The caller holds the item's row lock (the conflict target is the unique (item, labeler, round)).
    """
    now = timezone.now()
    (assignment,) = Assignment.objects.bulk_create(
        [
            Assignment(
                item=item,
                labeler=labeler,
                round=item.round,
                status=status,
                lease_expires_at=lease_expires_at,
                created_at=now,
                updated_at=now,
            )
        ],
        update_conflicts=True,
        unique_fields=["item", "labeler", "round"],
        update_fields=["status", "lease_expires_at", "updated_at"],
    )
    return assignment


def _lease(*, item: Item, labeler: AbstractBaseUser, now: datetime) -> Assignment:
    return assignment_put(
        item=item,
        labeler=labeler,
        status=AssignmentStatus.LEASED,
        lease_expires_at=now + lease_duration(),
    )


def _resume(*, project: Project, labeler: AbstractBaseUser, now: datetime) -> Assignment | None:
    """The labeler's live lease in this project, renewed, if it still has a slot."""
    held = (
        Assignment.objects.filter(
            labeler=labeler,
            status=AssignmentStatus.LEASED,
            lease_expires_at__gt=now,
            item__project=project,
        )
        .order_by("-updated_at", "-id")  # the latest first: an undone item comes back at once
        .values_list("item_id", flat=True)
    )
    for item_id in held[:_MAX_ATTEMPTS]:
        item = item_lock(item_id=item_id)
        if item_has_open_slot(item=item, labeler_id=labeler.pk, now=now):
            return _lease(item=item, labeler=labeler, now=now)
    return None


def assignment_next(
    *,
    project: Project,
    labeler: AbstractBaseUser,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Assignment | None:
    """Lease the next item for ``labeler`` in ``project``; ``None`` when nothing is left.

    Order: the labeler's live lease; a gold item when gold mixing asks for one (see
    ``services.gold``); the fullest open item. A paused labeler gets 403 ``labeler_paused``.
    Locks: the chosen item's row (SKIP LOCKED while searching, so labelers never wait on each
    other). Returns the assignment with ``item`` loaded.
    """
    now = now or timezone.now()
    membership = labeler_membership(project_id=project.pk, user=labeler)
    with transaction.atomic():
        resumed = _resume(project=project, labeler=labeler, now=now)
        if resumed is not None:
            return resumed
        wants_gold = gold_wanted(project=project, membership=membership, rng=rng)
        if wants_gold and (gold := _lease_gold(project=project, labeler=labeler, now=now)):
            return gold
        ordinary = _lease_ordinary(project=project, labeler=labeler, now=now)
        if ordinary is None and project.gold_mixing and not wants_gold:
            # Nothing ordinary left: gold items the labeler has not answered still are.
            return _lease_gold(project=project, labeler=labeler, now=now)
        return ordinary


def _lease_gold(*, project: Project, labeler: AbstractBaseUser, now: datetime) -> Assignment | None:
    gold = item_lock_first_free(
        _gold_candidates(project=project, labeler=labeler).select_related("project")
    )
    return _lease(item=gold, labeler=labeler, now=now) if gold is not None else None


def _lease_ordinary(
    *, project: Project, labeler: AbstractBaseUser, now: datetime
) -> Assignment | None:
    """The fullest open item with a free slot (re-checked under its lock).

    The search is bounded in the common case: first among the ``_FRONT_WINDOW`` fullest open
    items; then among items with no label yet (which this labeler cannot have labeled); only
    then over every open item. Without the first two steps, a labeler who has labeled many of
    the fullest items (fewer active labelers than the overlap leaves items stuck just short of
    it) would make every request walk past all of them.
    """
    rejected: list[int] = []
    for scope in _SCOPES:
        for _ in range(_MAX_ATTEMPTS):
            candidates = _candidates(project=project, labeler=labeler, now=now, scope=scope)
            if rejected:
                candidates = candidates.exclude(pk__in=rejected)
            item = item_lock_first_free(candidates.select_related("project"))
            if item is None:
                break
            if item_has_open_slot(item=item, labeler_id=labeler.pk, now=now):
                return _lease(item=item, labeler=labeler, now=now)
            rejected.append(item.pk)
    return None


def assignment_skip(
    *, item_id: int, labeler: AbstractBaseUser, now: datetime | None = None
) -> Assignment:
    """The labeler passes on an item for this round; its slot goes back to the pool.

    Locks: the item's row.
    """
    now = now or timezone.now()
    with transaction.atomic():
        item = item_lock(item_id=item_id)
        ensure_labeler(item=item, user=labeler)
        assignment = Assignment.objects.filter(item=item, labeler=labeler, round=item.round).first()
        if assignment is not None and assignment.status == AssignmentStatus.SUBMITTED:
            raise ConflictError("already_labeled", "You have labeled this item; undo it first.")
        return assignment_put(
            item=item, labeler=labeler, status=AssignmentStatus.SKIPPED, lease_expires_at=None
        )
