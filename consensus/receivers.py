"""What consensus does when the annotations app announces a committed label or a new round."""

from __future__ import annotations

from django.dispatch import receiver

from annotations.models import Item, ItemStatus
from annotations.services.assignments import labels_wanted
from annotations.services.escalation import item_escalate
from annotations.signals import annotation_committed, round_started
from consensus.models import ItemConsensus
from consensus.review_rule import disputed_mask
from consensus.services.item_consensus import item_consensus_refresh
from consensus.services.notifications import notify_disagreements
from consensus.tasks import report_recompute_enqueue


@receiver(annotation_committed, dispatch_uid="consensus.annotation_committed")
def on_annotation_committed(
    *, project_id: int, item_id: int, withdrawn: bool = False, **kwargs
) -> None:
    """The item's consensus now (cheap, one item), the project's report soon (coalesced).

    When the label completes a disputed item: escalate it (one more label) while the project
    allows, else tell the reviewers a new disagreement is waiting.
    """
    consensus = item_consensus_refresh(item_id=item_id)
    if not withdrawn and consensus is not None:
        item_settle(consensus=consensus)
    report_recompute_enqueue(project_id)


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
    return "queued"


@receiver(round_started, dispatch_uid="consensus.round_started")
def on_round_started(*, project_id: int, item_ids: list[int], **kwargs) -> None:
    """Moved items start their new round with no consensus; the report follows the new round."""
    ItemConsensus.objects.filter(item_id__in=item_ids).delete()
    report_recompute_enqueue(project_id)
