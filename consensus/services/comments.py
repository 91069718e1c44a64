"""The discussion thread on an item: markdown comments with @mentions; edits keep history."""

from __future__ import annotations

import re

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotations.models import Item, Membership, Project
from annotations.selectors import SEES_LABELS
from consensus.models import Comment, CommentRevision
from consensus.services.notifications import notify_mentions
from labelhub.errors import ApplicationError, ForbiddenError, NotFoundError

#: ``@username`` (Django's username characters), not preceded by a word character (emails).
_MENTION = re.compile(r"(?<![\w.])@([\w.@+-]+)")
MAX_COMMENT = 10_000


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ApplicationError("required", "A comment cannot be empty.", field="body")
    if len(body) > MAX_COMMENT:
        raise ApplicationError(
            "too_long", f"A comment holds at most {MAX_COMMENT} characters.", field="body"
        )
    return body


def mentioned_members(*, project: Project, body: str) -> dict[str, int]:
    """Usernames mentioned in ``body`` that are members who may read the discussion (not
    labelers: they label blind) → their user ids."""
    names = {m.rstrip(".") for m in _MENTION.findall(body)}
    if not names:
        return {}
    return dict(
        Membership.objects.filter(
            project=project, user__username__in=names, role__in=SEES_LABELS
        ).values_list("user__username", "user_id")
    )


def comment_add(*, item: Item, author: AbstractBaseUser, body: str) -> Comment:
    """Add a comment; members it @mentions are linked and notified."""
    body = _clean_body(body)
    with transaction.atomic():
        comment = Comment.objects.create(
            project_id=item.project_id, item=item, author=author, body=body
        )
        mentions = mentioned_members(project=item.project, body=body)
        if mentions:
            comment.mentions.set(mentions.values())
            notify_mentions(comment=comment, user_ids=mentions.values(), project=item.project)
    return comment


def comment_edit(*, comment_id: int, editor: AbstractBaseUser, body: str) -> Comment:
    """The author edits their comment; the previous body is kept as a revision. New mentions
    are notified (those already mentioned are not notified again). Locks: the comment's row."""
    body = _clean_body(body)
    with transaction.atomic():
        comment = (
            Comment.objects.select_for_update().select_related("project").filter(pk=comment_id)
        ).first()
        if comment is None:
            raise NotFoundError("Comment not found.")
        if comment.author_id != editor.pk:
            raise ForbiddenError("Only its author edits a comment.")
        if body == comment.body:
            return comment
        now = timezone.now()
        CommentRevision.objects.create(comment=comment, body=comment.body, replaced_at=now)
        before = set(comment.mentions.values_list("pk", flat=True))
        comment.body, comment.edited_at = body, now
        comment.save(update_fields=["body", "edited_at"])
        mentions = mentioned_members(project=comment.project, body=body)
        comment.mentions.set(mentions.values())
        new = set(mentions.values()) - before
        if new:
            notify_mentions(comment=comment, user_ids=new, project=comment.project)
    return comment
