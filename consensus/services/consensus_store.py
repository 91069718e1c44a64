"""Store every item's consensus after a recompute, writing only the rows that changed.

The new consensus is held as columns (NumPy arrays, one entry per item); the stored one is read
back the same way (PostgreSQL: packed columns; elsewhere: ``values_list``), compared vectorised,
and only changed or new rows are upserted — on PostgreSQL in one ``INSERT … SELECT FROM
unnest(…) ON CONFLICT`` statement. A recompute after a few new labels writes a few rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone
from numpy.typing import NDArray

from consensus.data import ProjectLabels, packed_columns
from consensus.metrics.aggregation import confusion_pair
from consensus.models import ConsensusMethod, ItemConsensus

_METHODS = (ConsensusMethod.MAJORITY, ConsensusMethod.DAWID_SKENE)  # codes 0, 1


@dataclass(frozen=True)
class ConsensusColumns:
    """One entry per item. ``label_id`` −1 and NaN floats mean none; ``method`` is 0 (majority)
    or 1 (Dawid–Skene)."""

    item_id: NDArray[np.int64]
    round: NDArray[np.int64]
    label_id: NDArray[np.int64]
    method: NDArray[np.int64]
    confidence: NDArray[np.float64]
    n_labels: NDArray[np.int64]
    majority_share: NDArray[np.float64]
    entropy: NDArray[np.float64]
    tied: NDArray[np.int64]
    pair_low_id: NDArray[np.int64]
    pair_high_id: NDArray[np.int64]

    def take(self, mask: NDArray[np.bool_]) -> ConsensusColumns:
        return ConsensusColumns(**{k: v[mask] for k, v in self.__dict__.items()})


def _use_ds(disagreement: Any, ds: Any) -> NDArray[np.bool_]:
    n_labels = np.asarray(disagreement.n_labels, dtype=np.int64)
    return np.full(n_labels.size, bool(ds.defined)) & (n_labels > 0)


def consensus_codes(disagreement: Any, ds: Any) -> NDArray[np.float64]:
    """Per item, the consensus class code: Dawid–Skene's MAP label where it is defined and the
    item has labels, else the plurality (NaN: no labels)."""
    if not ds.defined:
        return np.asarray(disagreement.majority, dtype=np.float64)
    return np.where(_use_ds(disagreement, ds), ds.label, disagreement.majority)


def consensus_columns(labels: ProjectLabels, disagreement: Any, ds: Any) -> ConsensusColumns:
    """Dawid–Skene's MAP label where it is defined and the item has labels, else the majority."""
    n_labels = np.asarray(disagreement.n_labels, dtype=np.int64)
    use_ds = _use_ds(disagreement, ds)
    code = consensus_codes(disagreement, ds)
    has = np.isfinite(code)
    label_id = np.full(n_labels.size, -1, dtype=np.int64)
    label_id[has] = labels.class_ids[code[has].astype(np.int64)]
    share = np.asarray(disagreement.majority_share, dtype=np.float64)
    low, high = confusion_pair(disagreement.counts)
    class_ids = np.append(labels.class_ids, -1)  # code −1 (no pair) → id −1
    confidence = np.where(use_ds, ds.probability, share) if ds.defined else share
    return ConsensusColumns(
        item_id=labels.item_ids,
        round=labels.item_round,
        label_id=label_id,
        method=use_ds.astype(np.int64),
        confidence=np.asarray(confidence, dtype=np.float64),
        n_labels=n_labels,
        majority_share=share,
        entropy=np.asarray(disagreement.entropy, dtype=np.float64),
        tied=np.asarray(disagreement.tied, dtype=np.int64),
        pair_low_id=class_ids[low],
        pair_high_id=class_ids[high],
    )


def _stored(project_id: int) -> ConsensusColumns:
    if connection.vendor == "postgresql":
        values = packed_columns(
            [
                ("item_id", "i8"),
                ("round", "i8"),
                ("coalesce(label_id, -1)", "i8"),
                ("(method = 'dawid_skene')::int", "i8"),
                ("coalesce(confidence, 'NaN')", "f8"),
                ("n_labels", "i8"),
                ("coalesce(majority_share, 'NaN')", "f8"),
                ("coalesce(entropy, 'NaN')", "f8"),
                ("tied::int", "i8"),
                ("coalesce(pair_low_id, -1)", "i8"),
                ("coalesce(pair_high_id, -1)", "i8"),
            ],
            "FROM consensus_itemconsensus WHERE project_id = %s",
            [project_id],
        )
        return ConsensusColumns(*values)
    rows = list(
        ItemConsensus.objects.filter(project_id=project_id).values_list(
            "item_id",
            "round",
            "label_id",
            "method",
            "confidence",
            "n_labels",
            "majority_share",
            "entropy",
            "tied",
            "pair_low_id",
            "pair_high_id",
        )
    )

    def column(index: int, dtype, none) -> NDArray:
        return np.array([none if r[index] is None else r[index] for r in rows], dtype=dtype)

    return ConsensusColumns(
        item_id=column(0, np.int64, -1),
        round=column(1, np.int64, 0),
        label_id=column(2, np.int64, -1),
        method=np.array([r[3] == ConsensusMethod.DAWID_SKENE for r in rows], dtype=np.int64),
        confidence=column(4, np.float64, np.nan),
        n_labels=column(5, np.int64, 0),
        majority_share=column(6, np.float64, np.nan),
        entropy=column(7, np.float64, np.nan),
        tied=column(8, np.int64, 0),
        pair_low_id=column(9, np.int64, -1),
        pair_high_id=column(10, np.int64, -1),
    )


def _changed(new: ConsensusColumns, old: ConsensusColumns) -> NDArray[np.bool_]:
    """Items that are new or whose stored consensus differs (floats to 1e-9, NaN = NaN)."""
    if old.item_id.size == 0:
        return np.ones(new.item_id.size, dtype=bool)
    order = np.argsort(old.item_id)
    at = order[np.minimum(np.searchsorted(old.item_id[order], new.item_id), order.size - 1)]
    known = old.item_id[at] == new.item_id
    same = known.copy()
    for name in ("round", "label_id", "method", "n_labels", "tied", "pair_low_id", "pair_high_id"):
        same &= getattr(new, name) == getattr(old, name)[at]
    for name in ("confidence", "majority_share", "entropy"):
        a, b = getattr(new, name), getattr(old, name)[at]
        same &= (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= 1e-9)
    return ~same


_UPSERT = """
INSERT INTO consensus_itemconsensus (item_id, project_id, round, label_id, method, confidence,
    n_labels, majority_share, entropy, tied, pair_low_id, pair_high_id, updated_at)
SELECT u.item_id, %s, u.round, NULLIF(u.label_id, -1), u.method, NULLIF(u.confidence, 'NaN'),
    u.n_labels, NULLIF(u.majority_share, 'NaN'), NULLIF(u.entropy, 'NaN'), u.tied,
    NULLIF(u.pair_low_id, -1), NULLIF(u.pair_high_id, -1), %s
FROM unnest(%s::bigint[], %s::int[], %s::bigint[], %s::text[], %s::float8[], %s::int[],
            %s::float8[], %s::float8[], %s::bool[], %s::bigint[], %s::bigint[])
    AS u(item_id, round, label_id, method, confidence, n_labels, majority_share, entropy, tied,
         pair_low_id, pair_high_id)
ON CONFLICT (item_id) DO UPDATE SET project_id = EXCLUDED.project_id, round = EXCLUDED.round,
    label_id = EXCLUDED.label_id, method = EXCLUDED.method, confidence = EXCLUDED.confidence,
    n_labels = EXCLUDED.n_labels, majority_share = EXCLUDED.majority_share,
    entropy = EXCLUDED.entropy, tied = EXCLUDED.tied, pair_low_id = EXCLUDED.pair_low_id,
    pair_high_id = EXCLUDED.pair_high_id, updated_at = EXCLUDED.updated_at
"""


def consensus_rows_upsert(rows: list[ItemConsensus]) -> None:
    """Insert or replace ``ItemConsensus`` rows (keyed by item) in batches."""
    ItemConsensus.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=[
            "project",
            "round",
            "label",
            "method",
            "confidence",
            "n_labels",
            "majority_share",
            "entropy",
            "tied",
            "pair_low",
            "pair_high",
            "text",
            "word_error_rate",
            "updated_at",
        ],
    )


def consensus_store(*, project_id: int, columns: ConsensusColumns) -> int:
    """Upsert the items whose consensus changed; returns how many rows were written.

    Call inside the report's transaction.
    """
    rows = columns.take(_changed(columns, _stored(project_id)))
    if rows.item_id.size == 0:
        return 0
    now = timezone.now()
    methods = np.array(_METHODS, dtype=object)[rows.method]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _UPSERT,
                [
                    project_id,
                    now,
                    rows.item_id.tolist(),
                    rows.round.tolist(),
                    rows.label_id.tolist(),
                    methods.tolist(),
                    rows.confidence.tolist(),
                    rows.n_labels.tolist(),
                    rows.majority_share.tolist(),
                    rows.entropy.tolist(),
                    rows.tied.astype(bool).tolist(),
                    rows.pair_low_id.tolist(),
                    rows.pair_high_id.tolist(),
                ],
            )
        return int(rows.item_id.size)

    def num(value: float) -> float | None:
        return None if np.isnan(value) else float(value)

    consensus_rows_upsert(
        [
            ItemConsensus(
                item_id=int(rows.item_id[i]),
                project_id=project_id,
                round=int(rows.round[i]),
                label_id=int(rows.label_id[i]) if rows.label_id[i] >= 0 else None,
                method=methods[i],
                confidence=num(rows.confidence[i]),
                n_labels=int(rows.n_labels[i]),
                majority_share=num(rows.majority_share[i]),
                entropy=num(rows.entropy[i]),
                tied=bool(rows.tied[i]),
                pair_low_id=int(rows.pair_low_id[i]) if rows.pair_low_id[i] >= 0 else None,
                pair_high_id=int(rows.pair_high_id[i]) if rows.pair_high_id[i] >= 0 else None,
                updated_at=now,
            )
            for i in range(rows.item_id.size)
        ],
    )
    return int(rows.item_id.size)
