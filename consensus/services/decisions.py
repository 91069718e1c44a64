"""Review decisions on disputed items: final label, input lacks information, or instructions
ambiguous. Decisions are never edited: a revision adds a row and retires the previous one."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotations.locks import item_lock
from annotations.models import LabelClass, Project, TaskType
from annotations.services.annotations import TRANSCRIPT_MAX
from consensus.models import DecisionOutcome, ReviewDecision
from consensus.services.webhooks import webhook_event_emit
from labelhub.errors import ApplicationError, ConflictError


def decision_summary(decision: ReviewDecision) -> dict:
    """What a 409 tells the second reviewer about the decision that won."""
    return {
        "id": decision.pk,
        "revision": decision.revision,
        "outcome": decision.outcome,
        "label": decision.label.key if decision.label_id else None,
        "text": decision.text,
        "reason": decision.reason,
        "decided_by": decision.decided_by.get_username(),
        "decided_at": decision.decided_at.isoformat(),
    }


def _transcript(*, project: Project, outcome: str, text: str | None) -> str:
    """A transcription project's final transcript, checked like a labeler's (see
    ``annotations.services.annotations``); empty for other outcomes."""
    if outcome != DecisionOutcome.LABEL:
        if text:
            raise ApplicationError(
                "invalid", f"A {outcome!r} decision takes no transcript.", field="text"
            )
        return ""
    if text is None or (not text.strip() and not project.allow_empty_transcripts):
        raise ApplicationError("required", "A final transcript needs its text.", field="text")
    if len(text) > TRANSCRIPT_MAX:
        raise ApplicationError(
            "invalid", f"A transcript is {TRANSCRIPT_MAX} characters at most.", field="text"
        )
    return text


def _label(*, project_id: int, outcome: str, label_key: str | None) -> LabelClass | None:
    if outcome != DecisionOutcome.LABEL:
        if label_key:
            raise ApplicationError(
                "invalid", f"A {outcome!r} decision takes no label.", field="label"
            )
        return None
    if not label_key:
        raise ApplicationError("required", "A final label needs a class.", field="label")
    label = LabelClass.objects.filter(project_id=project_id, key=label_key).first()
    if label is None:
        raise ApplicationError(
            "unknown_class", f"{label_key!r} is not a class of this project.", field="label"
        )
    return label


def decision_make(
    *,
    item_id: int,
    decided_by: AbstractBaseUser,
    outcome: str,
    reason: str,
    label_key: str | None = None,
    text: str | None = None,
    revises: int | None = None,
) -> ReviewDecision:
    """Record a decision on the item in its current round. A final label names a class
    (``label_key``); in a transcription project it is the final transcript (``text``).

    The first decision needs no ``revises``; a revision names the current decision's id. When
    the item has a current decision the caller did not name (another reviewer decided first, or
    revised meanwhile), 409 ``already_decided`` answers with that decision and nothing is
    written. Locks: the item's row, so two reviewers deciding at once are serialised and the
    second sees the first's row.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("required", "Say why (the reason is kept).", field="reason")
    with transaction.atomic():
        item = item_lock(item_id=item_id)
        if item.project.task_type == TaskType.TRANSCRIPTION:
            if label_key:
                raise ApplicationError(
                    "invalid", "A transcription project's decision takes text.", field="label"
                )
            label, transcript = None, _transcript(project=item.project, outcome=outcome, text=text)
        else:
            if text:
                raise ApplicationError(
                    "invalid", "A classification decision takes a class label.", field="text"
                )
            label = _label(project_id=item.project_id, outcome=outcome, label_key=label_key)
            transcript = ""
        current = (
            ReviewDecision.objects.select_related("label", "decided_by")
            .filter(item=item, current=True)
            .first()
        )
        if current is not None and current.pk != revises:
            raise ConflictError(
                "already_decided",
                f"{current.decided_by.get_username()} decided this item already; revise their "
                "decision by naming it in 'revises'.",
                details=[decision_summary(current)],
            )
        if current is None and revises is not None:
            raise ApplicationError(
                "invalid", "There is no current decision to revise.", field="revises"
            )
        if current is not None:
            ReviewDecision.objects.filter(pk=current.pk).update(current=False)
        decision = ReviewDecision.objects.create(
            project_id=item.project_id,
            item=item,
            round=item.round,
            revision=(current.revision + 1) if current else 1,
            current=True,
            outcome=outcome,
            label=label,
            text=transcript,
            reason=reason,
            decided_by=decided_by,
            decided_at=timezone.now(),
        )
        # In the transaction: a decision that rolls back sends nothing.
        webhook_event_emit(
            project_id=item.project_id,
            event="item.resolved",
            payload={
                "item": item.pk,
                "external_id": item.external_id,
                "round": item.round,
                "decision": decision.pk,
                "revision": decision.revision,
                "outcome": outcome,
                "label": label.key if label is not None else None,
                "decided_by": decided_by.pk,
            },
        )
        return decision
