"""Refresh one item's consensus from its active labels: one read, one upsert (in the request)."""

from __future__ import annotations

import numpy as np
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotations.models import Annotation, Item, TaskType
from consensus.data import transcript_normalizer_for
from consensus.metrics.aggregation import item_disagreement
from consensus.metrics.text import medoid, pairwise_error_rates
from consensus.models import ConsensusMethod, ItemConsensus
from consensus.services.consensus_store import consensus_rows_upsert
from consensus.services.text_reports import item_text_figures


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
    # Labels count as the class they are merged into (the current taxonomy version).
    rows = list(
        Annotation.objects.filter(item_id=item_id, withdrawn=False, round=F("item__round"))
        .annotate(
            counts_as=Coalesce("label__merged_into_id", "label_id"),
            counts_as_order=Coalesce("label__merged_into__order", "label__order"),
        )
        .order_by("id")
        .values_list(
            "counts_as",
            "project_id",
            "round",
            "counts_as_order",
            "value",
            "project__task_type",
            "project__rule_set_version",
        )
    )
    if rows and rows[0][5] == TaskType.TRANSCRIPTION:
        return _transcript_refresh(item_id, rows)
    rows = [row[:4] for row in rows]
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


def _transcript_refresh(item_id: int, rows: list[tuple]) -> ItemConsensus:
    """The medoid of the item's normalised transcripts (see ``services.text_reports``)."""
    _, project_id, round_number, _, _, _, rule_set_version = rows[0]
    raw = [str((row[4] or {}).get("text", "")) for row in rows]
    texts = transcript_normalizer_for(project_id, rule_set_version)(raw)
    figures = item_text_figures(texts)
    chosen = medoid(texts)
    rates = pairwise_error_rates(texts)
    consensus = ItemConsensus(
        item_id=item_id,
        project_id=project_id,
        round=round_number,
        label_id=None,
        method=ConsensusMethod.MEDOID,
        confidence=figures["majority_share"],
        text=chosen.text or "",
        word_error_rate=_finite(rates.wer_overall) if rates.wer_overall is not None else None,
        pair_low_id=None,
        pair_high_id=None,
        updated_at=timezone.now(),
        **figures,
    )
    consensus_rows_upsert([consensus])
    return consensus


def item_consensus_reset(*, item_ids: list[int]) -> int:
    """Forget the consensus of items that start a new round (their labels there come later)."""
    deleted, _ = ItemConsensus.objects.filter(item_id__in=item_ids).delete()
    return deleted
