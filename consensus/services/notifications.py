"""In-app notifications for reviewers (new disagreements, mentions), and email when configured.

New disagreements are a digest: while a reviewer has an unread ``disagreements`` notification
for a project its ``count`` grows (one partial unique index backs "one unread digest"), so a busy
project does not bury the inbox. Email goes through Django's mail backend, only to users with an
address, and never fails the action that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from annotations.models import Membership, Project, Role
from consensus.models import Comment, Notification, NotificationKind

logger = logging.getLogger(__name__)

#: Who hears about new disagreements.
REVIEW_ROLES = (Role.REVIEWER, Role.MANAGER)


def notify_disagreements(*, project_id: int, count: int = 1) -> int:
    """Add ``count`` new disputed items to each reviewer's unread digest; returns recipients.

    A reviewer whose digest this starts (none was unread) also gets one email, so a busy queue
    sends one email per reading of the inbox, not one per item. Locks: none (an atomic
    ``count = count + n`` UPDATE, or an INSERT guarded by the unique index; a race between two
    INSERTs retries as an UPDATE).
    """
    members = list(
        Membership.objects.filter(project_id=project_id, role__in=REVIEW_ROLES).values_list(
            "user_id", "user__email"
        )
    )
    started = [
        email
        for user_id, email in members
        if _digest_add(project_id=project_id, user_id=user_id, count=count) and email
    ]
    if started:
        transaction.on_commit(lambda: _mail_digest(project_id, started))
    return len(members)


def _digest_add(*, project_id: int, user_id: int, count: int) -> bool:
    """Grow the unread digest, or start one; True when this started it."""
    unread = Notification.objects.filter(
        user_id=user_id, project_id=project_id, kind=NotificationKind.DISAGREEMENTS, read_at=None
    )
    if unread.update(count=F("count") + count, updated_at=timezone.now()):
        return False
    try:
        with transaction.atomic():
            Notification.objects.create(
                user_id=user_id,
                project_id=project_id,
                kind=NotificationKind.DISAGREEMENTS,
                count=count,
            )
    except IntegrityError:  # another request created the digest first
        unread.update(count=F("count") + count, updated_at=timezone.now())
        return False
    return True


def _mail_digest(project_id: int, emails: list[str]) -> None:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return
    send_mail(
        subject=f"[LabelHub] New disagreements to review in {project.name}",
        message=f"Labelers disagree on new items in {project.name}. The review queue is at "
        f"/projects/{project_id}/review/ (this email is sent once until you read your "
        "notifications).",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=emails,
        fail_silently=True,
    )


def notify_mentions(*, comment: Comment, user_ids: Iterable[int], project: Project) -> None:
    """One notification per mentioned member (not the author), and an email where possible."""
    recipients = [u for u in set(user_ids) if u != comment.author_id]
    Notification.objects.bulk_create(
        Notification(
            user_id=user_id,
            project_id=project.pk,
            kind=NotificationKind.MENTION,
            item_id=comment.item_id,
            comment=comment,
        )
        for user_id in recipients
    )
    emails = list(
        Membership.objects.filter(project=project, user_id__in=recipients)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if emails:
        transaction.on_commit(lambda: _mail_mention(comment, project, emails))


def _mail_mention(comment: Comment, project: Project, emails: list[str]) -> None:
    send_mail(
        subject=f"[LabelHub] {comment.author} mentioned you in {project.name}",
        message=f"{comment.author} wrote on item {comment.item_id}:\n\n{comment.body}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=emails,
        fail_silently=True,
    )


def notifications_mark_read(*, user_id: int, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (``ids`` None: all unread); returns how many."""
    unread = Notification.objects.filter(user_id=user_id, read_at=None)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
