"""Refresh one item's consensus from its active labels (cheap: one read, one upsert)."""

from __future__ import annotations

import numpy as np
from django.db import transaction

from annotations.models import Annotation, Item, LabelClass
from consensus.metrics.aggregation import item_disagreement
from consensus.models import ConsensusMethod, ItemConsensus


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def item_consensus_refresh(*, item_id: int) -> ItemConsensus | None:
    """Majority vote over the item's active labels in its round, stored in ``ItemConsensus``.

    The per-project recompute later replaces it with the Dawid–Skene estimate. Returns None if
    the item is gone.
    """
    item = Item.objects.filter(pk=item_id).values("project_id", "round").first()
    if item is None:
        return None
    class_ids = list(
        LabelClass.objects.filter(project_id=item["project_id"])
        .order_by("order", "id")
        .values_list("id", flat=True)
    )
    labels = Annotation.objects.filter(
        item_id=item_id, round=item["round"], withdrawn=False
    ).values_list("label_id", flat=True)
    code = {class_id: index for index, class_id in enumerate(class_ids)}
    votes = np.array([[code[label]] for label in labels if label in code], dtype=np.float64)
    result = item_disagreement(votes.reshape(-1, 1), n_classes=len(class_ids))
    n_labels = int(votes.size)
    majority = result.majority[0] if n_labels else np.nan
    fields = {
        "project_id": item["project_id"],
        "round": item["round"],
        "label_id": class_ids[int(majority)] if np.isfinite(majority) else None,
        "method": ConsensusMethod.MAJORITY,
        "confidence": _finite(result.majority_share[0]) if n_labels else None,
        "n_labels": n_labels,
        "majority_share": _finite(result.majority_share[0]) if n_labels else None,
        "entropy": _finite(result.entropy[0]) if n_labels else None,
        "tied": bool(result.tied[0]) if n_labels else False,
    }
    with transaction.atomic():
        consensus, _ = ItemConsensus.objects.update_or_create(item_id=item_id, defaults=fields)
    return consensus
