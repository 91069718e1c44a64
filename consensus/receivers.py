"""What consensus does when the annotations app announces a committed label."""

from __future__ import annotations

from django.dispatch import receiver

from annotations.signals import annotation_committed
from consensus.services.item_consensus import item_consensus_refresh
from consensus.tasks import report_recompute_enqueue


@receiver(annotation_committed, dispatch_uid="consensus.annotation_committed")
def on_annotation_committed(*, project_id: int, item_id: int, **kwargs) -> None:
    """The item's consensus now (cheap, one item), the project's report soon (coalesced)."""
    item_consensus_refresh(item_id=item_id)
    report_recompute_enqueue(project_id)
