"""Escalation (dynamic overlap): a disputed item asks for one more label before review."""

from __future__ import annotations

from django.db import transaction

from annotations.locks import item_lock
from annotations.models import ItemStatus
from annotations.services.assignments import labels_wanted


def item_escalate(*, item_id: int) -> bool:
    """Ask for one more label on ``item_id`` if it has all the labels it wanted and may still
    escalate (``extra_labels < project.escalation_max_labels``). Whether it is disputed is the
    caller's judgement (the consistency domain's rule). Returns True when it escalated.

    Locks: the item's row (the count it checks cannot change under it).
    """
    with transaction.atomic():
        item = item_lock(item_id=item_id)
        if item.extra_labels >= item.project.escalation_max_labels:
            return False
        if item.labels_done < labels_wanted(item):
            return False  # labels are still coming (or an undo re-opened it)
        item.extra_labels += 1
        item.status = ItemStatus.OPEN
        item.save(update_fields=["extra_labels", "status"])
    return True
