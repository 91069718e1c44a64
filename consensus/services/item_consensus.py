"""Refresh one item's consensus from its active labels: one read, one upsert (in the request)."""

from __future__ import annotations

import numpy as np
from django.db.models import F
from django.utils import timezone

from annotations.models import Annotation, Item
from consensus.metrics.aggregation import item_disagreement
from consensus.models import ConsensusMethod, ItemConsensus
from consensus.services.consensus_store import consensus_rows_upsert


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _pair(rows: list[tuple]) -> dict[str, int | None]:
    """The confusion pair (see ``metrics.aggregation.confusion_pair``) in class order."""
    counts: dict[int, int] = {}
    order: dict[int, tuple[int, int]] = {}
    for label_id, _, _, class_order in rows:
        if label_id is not None:
            counts[label_id] = counts.get(label_id, 0) + 1
            order[label_id] = (class_order, label_id)
    top = sorted(counts, key=lambda c: (-counts[c], order[c]))[:2]
    if len(top) < 2:
        return {"pair_low_id": None, "pair_high_id": None}
    low, high = sorted(top, key=order.__getitem__)
    return {"pair_low_id": low, "pair_high_id": high}


def item_consensus_refresh(*, item_id: int) -> ItemConsensus | None:
    """Majority vote over the item's active labels in its round, stored in ``ItemConsensus``.

    The per-project recompute later replaces it with the Dawid–Skene estimate. Returns None if
    the item is gone.
    """
    rows = list(
        Annotation.objects.filter(
            item_id=item_id, withdrawn=False, round=F("item__round")
        ).values_list("label_id", "project_id", "round", "label__order")
    )
    if rows:
        project_id, round_number = rows[0][1], rows[0][2]
    else:
        item = Item.objects.filter(pk=item_id).values_list("project_id", "round").first()
        if item is None:
            return None
        project_id, round_number = item
    label_ids = np.array([label for label, *_ in rows if label is not None], dtype=np.int64)
    # Classes nobody chose change neither the majority, its share, nor the vote entropy.
    present, codes = np.unique(label_ids, return_inverse=True)
    result = item_disagreement(
        codes.reshape(-1, 1).astype(np.float64), n_classes=max(present.size, 1)
    )
    n_labels = int(label_ids.size)
    majority = result.majority[0] if n_labels else np.nan
    consensus = ItemConsensus(
        item_id=item_id,
        project_id=project_id,
        round=round_number,
        label_id=int(present[int(majority)]) if np.isfinite(majority) else None,
        method=ConsensusMethod.MAJORITY,
        confidence=_finite(result.majority_share[0]) if n_labels else None,
        n_labels=n_labels,
        majority_share=_finite(result.majority_share[0]) if n_labels else None,
        entropy=_finite(result.entropy[0]) if n_labels else None,
        tied=bool(result.tied[0]) if n_labels else False,
        updated_at=timezone.now(),
        **_pair(rows),
    )
    consensus_rows_upsert([consensus])
    return consensus


def item_consensus_reset(*, item_ids: list[int]) -> int:
    """Forget the consensus of items that start a new round (their labels there come later)."""
    deleted, _ = ItemConsensus.objects.filter(item_id__in=item_ids).delete()
    return deleted
