"""Gold items: served mixed into labelers' queues, scored, and pausing unreliable labelers.

With gold mixing on (``project.gold_rate > 0`` or ``gold_onboarding > 0``), items with a gold
label leave the overlap pool: every labeler may label each of them once, and ``assignment_next``
serves one when a labeler is onboarding (fewer than ``gold_onboarding`` gold answers) or by a
draw at ``gold_rate``. The labeler cannot tell: a gold item is served and answered like any other.

Every label on a gold item (mixing on or off) updates the labeler's running record on their
membership; when ``gold_min_accuracy`` is set and at least ``gold_min_answers`` gold answers fall
below it, the labeler is paused (no more items or submissions) and the project's managers are
emailed. A manager lifts the pause, which starts a fresh record.
"""

from __future__ import annotations

import logging
import random

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotations.models import Item, Membership, Project, Role
from labelhub.errors import ConflictError, NotFoundError

logger = logging.getLogger(__name__)


def gold_wanted(*, project: Project, membership: Membership, rng: random.Random | None) -> bool:
    """Should this request serve a gold item? Onboarding first, then a draw at the rate."""
    if not project.gold_mixing:
        return False
    if membership.gold_answered < project.gold_onboarding:
        return True
    return (rng or random).random() < project.gold_rate


def gold_record(
    *, project: Project, item: Item, labeler: AbstractBaseUser, label_id: int, sign: int
) -> None:
    """Count (sign=+1) or uncount (sign=−1, an undo) a label on a gold item; pause if due.

    Locks: the membership row (a labeler's own requests are the only writers).
    """
    correct = int(label_id == item.gold_label_id)
    membership = Membership.objects.select_for_update().get(project=project, user=labeler)
    Membership.objects.filter(pk=membership.pk).update(
        gold_answered=F("gold_answered") + sign, gold_correct=F("gold_correct") + sign * correct
    )
    membership.refresh_from_db(fields=["gold_answered", "gold_correct", "paused_at"])
    threshold = project.gold_min_accuracy
    if (
        sign > 0
        and threshold is not None
        and membership.paused_at is None
        and membership.gold_answered >= project.gold_min_answers
        and membership.gold_correct / membership.gold_answered < threshold
    ):
        accuracy = membership.gold_correct / membership.gold_answered
        reason = (
            f"gold accuracy {accuracy:.0%} over {membership.gold_answered} answers is below "
            f"{threshold:.0%}"
        )
        Membership.objects.filter(pk=membership.pk).update(
            paused_at=timezone.now(), paused_reason=reason
        )
        transaction.on_commit(lambda: _notify_managers(project, labeler, reason))


def _notify_managers(project: Project, labeler: AbstractBaseUser, reason: str) -> None:
    recipients = list(
        Membership.objects.filter(project=project, role=Role.MANAGER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    logger.warning("project %s: labeler %s paused: %s", project.pk, labeler, reason)
    if recipients:
        send_mail(
            subject=f"[LabelHub] {labeler} paused in {project.name}",
            message=f"{labeler} was paused in {project.name}: {reason}.\n"
            "Review their labels, then lift the pause on the project's members page or with "
            f"POST /api/v1/projects/{project.pk}/members/unpause/.",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
            fail_silently=True,
        )


def membership_unpause(*, project: Project, username: str) -> Membership:
    """Lift a labeler's pause; their gold record starts afresh (else the next answer re-pauses)."""
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .filter(project=project, user__username=username)
            .first()
        )
        if membership is None:
            raise NotFoundError(f"{username!r} is not a member of this project.")
        if membership.paused_at is None:
            raise ConflictError("not_paused", f"{username} is not paused.", field="username")
        membership.paused_at = None
        membership.paused_reason = ""
        membership.gold_answered = membership.gold_correct = 0
        membership.save(
            update_fields=["paused_at", "paused_reason", "gold_answered", "gold_correct"]
        )
        return membership
