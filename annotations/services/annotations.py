"""Submit and withdraw annotations. Raw annotations are immutable; an undo marks a row withdrawn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.locks import item_lock
from annotations.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Item,
    ItemStatus,
    LabelClass,
    Round,
    TaskType,
)
from annotations.services.access import ensure_labeler
from annotations.services.aliases import class_resolve
from annotations.services.assignments import (
    assignment_put,
    item_has_open_slot,
    labels_wanted,
    lease_duration,
)
from annotations.services.gold import gold_record
from annotations.signals import annotation_committed
from labelhub.errors import ApplicationError, ConflictError, NotFoundError


@dataclass(frozen=True)
class SubmitResult:
    annotation: Annotation
    created: bool


def _announce(annotation: Annotation, *, withdrawn: bool) -> None:
    transaction.on_commit(
        lambda: annotation_committed.send(
            sender=Annotation,
            project_id=annotation.project_id,
            item_id=annotation.item_id,
            annotation_id=annotation.pk,
            withdrawn=withdrawn,
        )
    )


def _replay(existing: Annotation, *, item_id: int, value: dict[str, Any]) -> SubmitResult:
    """The same idempotency key again: the first result if the request is the same, else 409."""
    if existing.item_id != item_id or existing.value != value:
        raise ConflictError(
            "idempotency_key_reused",
            "This idempotency key was used for a different submission.",
            field="idempotency_key",
        )
    return SubmitResult(annotation=existing, created=False)


#: The longest transcript accepted (characters).
TRANSCRIPT_MAX = 10_000


def _answer(*, item: Item, value: dict[str, Any]) -> tuple[LabelClass | None, dict[str, Any]]:
    """The class the value names (None for a transcript) and the value to store, as sent."""
    if item.project.task_type == TaskType.TRANSCRIPTION:
        text = value.get("text")
        if not isinstance(text, str) or "label" in value:
            raise ApplicationError(
                "invalid", 'A transcription value is {"text": "..."}.', field="value.text"
            )
        if len(text) > TRANSCRIPT_MAX:
            raise ApplicationError(
                "invalid",
                f"A transcript is {TRANSCRIPT_MAX} characters at most.",
                field="value.text",
            )
        if not text.strip() and not item.project.allow_empty_transcripts:
            raise ApplicationError(
                "empty_transcript",
                "The transcript is empty; this project does not accept empty transcripts.",
                field="value.text",
            )
        return None, {"text": text}
    if "text" in value:
        raise ApplicationError(
            "invalid", 'A classification value is {"label": "<class key>"}.', field="value.label"
        )
    label = _classification_label(item=item, value=value)
    # As submitted (an alias keeps its spelling); ``label`` is the class it names.
    return label, {"label": value["label"]}


def _classification_label(*, item: Item, value: dict[str, Any]) -> LabelClass:
    key = value.get("label")
    if not isinstance(key, str) or not key:
        raise ApplicationError("invalid", "value.label must be a class key.", field="value.label")
    label = class_resolve(project_id=item.project_id, text=key)
    if label is None:
        raise ApplicationError(
            "unknown_class", f"{key!r} is not a class of this project.", field="value.label"
        )
    return label


def _ensure_round_open(item: Item) -> None:
    if not Round.objects.filter(
        project_id=item.project_id, number=item.round, is_open=True
    ).exists():
        raise ConflictError("round_closed", f"Round {item.round} of this project is closed.")


def annotation_submit(
    *,
    labeler: AbstractBaseUser,
    item_id: int,
    value: dict[str, Any],
    idempotency_key: str,
    time_spent_ms: int | None = None,
    now: datetime | None = None,
    announce: bool = True,
) -> SubmitResult:
    """Store one label. Re-sending the same ``idempotency_key`` returns the first result.

    Checks: the labeler is a labeler of the item's project who has acknowledged its newest
    guideline (the annotation records that version); the class belongs to the project; the
    item's round is open; the labeler holds a live lease on the item, or the item still has a slot
    that no one else holds; the labeler has no active label on the item in this round.
    Locks: the item's row. Effects: annotation inserted, assignment marked submitted,
    ``item.labels_done`` incremented (item ``complete`` at full overlap); after commit,
    ``annotation_committed`` is sent — unless ``announce`` is False, for bulk loaders that ask
    for one recompute at the end instead of one per label.
    """
    now = now or timezone.now()
    # Replays need no lookup up front: under the lock a replayed key finds the assignment
    # submitted (and the annotation by its key), or the insert hits the key's unique constraint.
    try:
        with transaction.atomic():
            item = item_lock(item_id=item_id)
            ensure_labeler(item=item, user=labeler)
            label, stored_value = _answer(item=item, value=value)
            _ensure_round_open(item)
            assignment = Assignment.objects.filter(
                item=item, labeler=labeler, round=item.round
            ).first()
            # ``submitted`` mirrors "has an active annotation" (the unique constraint backs it).
            if assignment is not None and assignment.status == AssignmentStatus.SUBMITTED:
                # The same key may have committed while this request waited for the lock.
                existing = Annotation.objects.filter(
                    labeler=labeler, idempotency_key=idempotency_key
                ).first()
                if existing is not None:
                    return _replay(existing, item_id=item_id, value=value)
                raise ConflictError(
                    "already_labeled", "You have labeled this item in this round; undo it first."
                )
            holds_lease = (
                assignment is not None
                and assignment.status == AssignmentStatus.LEASED
                and assignment.lease_expires_at is not None
                and assignment.lease_expires_at > now
            )
            if not holds_lease and not item_has_open_slot(
                item=item, labeler_id=labeler.pk, now=now
            ):
                raise ConflictError(
                    "no_open_slot", "This item has all the labels it needs (or they are taken)."
                )
            annotation = Annotation.objects.create(
                project_id=item.project_id,
                item=item,
                labeler=labeler,
                round=item.round,
                value=stored_value,
                label=label,
                time_spent_ms=time_spent_ms,
                idempotency_key=idempotency_key,
                guideline_version=item.project.guideline_version,
            )
            assignment_put(
                item=item, labeler=labeler, status=AssignmentStatus.SUBMITTED, lease_expires_at=None
            )
            item.labels_done += 1
            if item.labels_done >= labels_wanted(item):
                item.status = ItemStatus.COMPLETE
            item.save(update_fields=["labels_done", "status"])
            if item.gold_label_id is not None and label is not None:
                gold_record(
                    project=item.project, item=item, labeler=labeler, label_id=label.pk, sign=+1
                )
            if announce:
                _announce(annotation, withdrawn=False)
            return SubmitResult(annotation=annotation, created=True)
    except IntegrityError:
        # The same key raced in (it committed while we waited for the lock, or on another item):
        # the unique constraint decided; answer as for any replay.
        existing = Annotation.objects.filter(
            labeler=labeler, idempotency_key=idempotency_key
        ).first()
        if existing is None:
            raise
        return _replay(existing, item_id=item_id, value=value)


def annotation_withdraw(
    *, labeler: AbstractBaseUser, annotation_id: int, now: datetime | None = None
) -> Annotation:
    """Undo: mark the labeler's own annotation withdrawn (the row is kept) and give the item back
    to them with a fresh lease. Only while the annotation's round is open and current for the item.
    Withdrawing twice returns the withdrawn row unchanged.

    Locks: the item's row.
    """
    now = now or timezone.now()
    found = Annotation.objects.filter(pk=annotation_id, labeler=labeler).values_list(
        "item_id", flat=True
    )
    item_id = found.first()
    if item_id is None:
        raise NotFoundError("Annotation not found.")
    with transaction.atomic():
        item = item_lock(item_id=item_id)
        annotation = Annotation.objects.get(pk=annotation_id)
        if annotation.withdrawn:
            return annotation
        _ensure_round_open(item)
        if annotation.round != item.round:
            raise ConflictError("round_moved_on", "This label belongs to an earlier round.")
        annotation.withdrawn = True
        annotation.withdrawn_at = now
        annotation.save(update_fields=["withdrawn", "withdrawn_at"])
        assignment_put(
            item=item,
            labeler=labeler,
            status=AssignmentStatus.LEASED,
            lease_expires_at=now + lease_duration(),
        )
        item.labels_done -= 1
        # Gold items under gold mixing may hold more labels than the overlap.
        item.status = (
            ItemStatus.OPEN if item.labels_done < labels_wanted(item) else ItemStatus.COMPLETE
        )
        item.save(update_fields=["labels_done", "status"])
        if item.gold_label_id is not None and annotation.label_id is not None:
            gold_record(
                project=item.project,
                item=item,
                labeler=labeler,
                label_id=annotation.label_id,
                sign=-1,
            )
        _announce(annotation, withdrawn=True)
        return annotation
