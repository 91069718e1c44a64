"""What happens when a label completes a disputed item: escalation first, then the SME queue."""

from __future__ import annotations

from annotations.models import Item, ItemStatus
from annotations.services.assignments import labels_wanted
from annotations.services.escalation import item_escalate
from consensus.models import ItemConsensus
from consensus.review_rule import disputed_mask
from consensus.services.notifications import notify_disagreements
from consensus.services.webhooks import webhook_event_emit


def item_settle(*, consensus: ItemConsensus) -> str | None:
    """Escalate a disputed item that has all its labels, or announce it to reviewers.

    Returns "escalated", "queued" or None (not complete, or not disputed).
    """
    if consensus.n_labels < 2:
        return None  # nothing to dispute; saves the item read on most first labels
    item = Item.objects.select_related("project").filter(pk=consensus.item_id).first()
    if item is None or item.status != ItemStatus.COMPLETE or item.round != consensus.round:
        return None
    if consensus.n_labels < labels_wanted(item):
        return None
    disputed = disputed_mask(
        item.project,
        n_labels=[consensus.n_labels],
        majority_share=[consensus.majority_share if consensus.majority_share is not None else 1],
        confidence=[consensus.confidence if consensus.confidence is not None else 1],
    )[0]
    if not disputed:
        return None
    if item_escalate(item_id=item.pk):
        return "escalated"
    notify_disagreements(project_id=item.project_id)
    webhook_event_emit(
        project_id=item.project_id,
        event="item.disputed",
        payload={
            "item": item.pk,
            "external_id": item.external_id,
            "round": item.round,
            "n_labels": consensus.n_labels,
            "majority_share": consensus.majority_share,
            "confidence": consensus.confidence,
        },
    )
    return "queued"
