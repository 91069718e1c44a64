"""What consensus does when the annotations app announces a committed label or a new round."""

from __future__ import annotations

from django.dispatch import receiver

from annotations.signals import annotation_committed, round_started
from consensus.services.disputes import item_settle
from consensus.services.item_consensus import item_consensus_refresh, item_consensus_reset
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


@receiver(round_started, dispatch_uid="consensus.round_started")
def on_round_started(*, project_id: int, item_ids: list[int], **kwargs) -> None:
    """Moved items start their new round with no consensus; the report follows the new round."""
    item_consensus_reset(item_ids=item_ids)
    report_recompute_enqueue(project_id)
