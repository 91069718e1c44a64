"""What consensus does when the annotations app announces a committed label or a new round."""

from __future__ import annotations

from django.dispatch import receiver

from annotations.signals import (
    annotation_committed,
    annotations_imported,
    label_studio_predictions,
    round_started,
)
from consensus.label_studio import consensus_predictions, items_consensus_refresh
from consensus.services.disputes import item_settle
from consensus.services.item_consensus import item_consensus_refresh, item_consensus_reset
from consensus.services.rule_sets import project_transcribes, transcript_normalize
from consensus.services.webhooks import webhook_annotation_submitted
from consensus.tasks import report_recompute_enqueue


@receiver(annotation_committed, dispatch_uid="consensus.annotation_committed")
def on_annotation_committed(
    *,
    project_id: int,
    item_id: int,
    annotation_id: int | None = None,
    withdrawn: bool = False,
    **kwargs,
) -> None:
    """The item's consensus now (cheap, one item), the project's report soon (coalesced).

    When the label completes a disputed item: escalate it (one more label) while the project
    allows, else tell the reviewers a new disagreement is waiting. A new label also goes to the
    project's ``annotation.submitted`` webhooks (a cache read when there are none).
    """
    consensus = item_consensus_refresh(item_id=item_id)
    if not withdrawn and consensus is not None:
        item_settle(consensus=consensus)
    if not withdrawn and annotation_id is not None:
        webhook_annotation_submitted(project_id=project_id, annotation_id=annotation_id)
        # Before the recompute request: an eager recompute must find the normalised text.
        if project_transcribes(project_id=project_id):  # a cache read for classification
            transcript_normalize(project_id=project_id, annotation_id=annotation_id)
    report_recompute_enqueue(project_id)


@receiver(round_started, dispatch_uid="consensus.round_started")
def on_round_started(*, project_id: int, item_ids: list[int], **kwargs) -> None:
    """Moved items start their new round with no consensus; the report follows the new round."""
    item_consensus_reset(item_ids=item_ids)
    report_recompute_enqueue(project_id)


@receiver(annotations_imported, dispatch_uid="consensus.annotations_imported")
def on_annotations_imported(*, project_id: int, item_ids: list[int], **kwargs) -> None:
    """A Label Studio import: the imported items' consensus at once (one bulk pass, not one
    refresh per item), the project's report soon. Imported labels are history, not live work:
    no escalation, reviewer notifications or webhooks per label."""
    items_consensus_refresh(project_id=project_id, item_ids=item_ids)
    report_recompute_enqueue(project_id)


@receiver(label_studio_predictions, dispatch_uid="consensus.label_studio_predictions")
def on_label_studio_predictions(*, project_id: int, item_ids: list[int], **kwargs) -> dict:
    """A Label Studio export asks for each item's current consensus as a prediction."""
    return consensus_predictions(project_id=project_id, item_ids=item_ids)
