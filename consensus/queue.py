"""The disagreement queue (a selector): which items an SME should look at, most useful first.

An item is in the queue when, in its current round,

* it has all the labels it wants (``status`` complete: overlap plus any escalation labels) and
  the project's rule (``consensus.review_rule``) says its labels are disputed, or
* a labeler flagged it (whatever its labels),

and no current review decision was made on it in that round (``decided=True`` lists those).

Ranking. With s = 1 − majority share (the strength of the disagreement, 0 when unanimous),
c = (queued items with the item's confusion pair) / (items of the most common pair) ∈ [0, 1],
w = the mean share of data of the item's slice values (from the newest report; 0 without
slices), and f = the number of distinct flag kinds on it:

    priority = s · (1 + c) · (1 + w) / 4 + 0.1 · f

so a strong disagreement of a systematic confusion in a large slice comes first, and a flag
lifts an item even when its labels agree. The confusion pair of an item is its two most chosen
classes (ties by class order), written in class order.

Cost: three queries (candidates, their labels, the page's flags) and NumPy over the candidates;
no query per item.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Exists, F, OuterRef, Q

from annotations.models import Annotation, Item, ItemFlag, ItemStatus, LabelClass, Project
from consensus.models import ConsistencyReport, ReviewDecision
from consensus.review_rule import disputed_q
from labelhub.errors import ApplicationError

FLAG_WEIGHT = 0.1


@dataclass(frozen=True)
class QueueFilters:
    pair: tuple[str, str] | None = None
    label_class: str | None = None
    slices: dict[str, str] = field(default_factory=dict)
    round: int | None = None
    labeler: str | None = None
    flagged: bool | None = None
    decided: bool = False


@dataclass(frozen=True)
class QueueEntry:
    item_id: int
    round: int
    priority: float
    strength: float
    pair: tuple[str, str] | None
    majority_share: float | None
    confidence: float | None
    consensus: str | None
    flag_kinds: int


@dataclass(frozen=True)
class Queue:
    entries: list[QueueEntry]
    pairs: list[dict]  # {"pair": [a, b], "items": n}, most common first (before the pair filter)
    labels: dict[int, list[tuple[str, str]]]  # item id → (labeler, class) for every entry


def _candidates(project: Project, filters: QueueFilters):
    items = Item.objects.filter(project=project)
    if filters.round is not None:
        items = items.filter(round=filters.round)
    for key, value in filters.slices.items():
        items = items.filter(**{f"slices__{key}": value})
    flagged = Exists(ItemFlag.objects.filter(item=OuterRef("pk"), round=OuterRef("round")))
    decided = Exists(
        ReviewDecision.objects.filter(item=OuterRef("pk"), round=OuterRef("round"), current=True)
    )
    disputed = Q(status=ItemStatus.COMPLETE, consensus__round=F("round")) & disputed_q(
        project, prefix="consensus__"
    )
    # ``flagged`` is selected by disagreement_queue, so it must be an annotation, not an alias.
    items = items.annotate(flagged=flagged).alias(decided=decided)
    items = items.filter(disputed | Q(flagged=True))
    items = items.filter(decided=filters.decided)
    if filters.flagged is not None:
        items = items.filter(flagged=filters.flagged)
    return items


def _slice_weights(project: Project, slices: list[dict]) -> np.ndarray:
    report = (
        ConsistencyReport.objects.filter(project=project)
        .order_by("-version")
        .values_list("per_slice", flat=True)
        .first()
    )
    shares = {(r["slice"], r["value"]): r.get("share") or 0.0 for r in report or []}
    if not shares:
        return np.zeros(len(slices))
    return np.array(
        [
            float(np.mean([shares.get((k, str(v)), 0.0) for k, v in s.items()])) if s else 0.0
            for s in slices
        ]
    )


def _top_pairs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the codes of the two most chosen classes (ties by code); −1 where absent."""
    n_classes = counts.shape[1]
    key = counts * (n_classes + 1) + (n_classes - np.arange(n_classes))  # higher = earlier
    order = np.argsort(-key, axis=1, kind="stable")[:, :2]
    rows = np.arange(counts.shape[0])
    first = np.where(counts[rows, order[:, 0]] > 0, order[:, 0], -1)
    second = np.where(counts[rows, order[:, 1]] > 0, order[:, 1], -1) if n_classes > 1 else -first
    return first, second


def disagreement_queue(*, project: Project, filters: QueueFilters) -> Queue:
    """Every queued item matching ``filters``, ranked (see the module docstring)."""
    classes = list(
        LabelClass.objects.filter(project=project).order_by("order", "id").values_list("id", "key")
    )
    code_of = {class_id: code for code, (class_id, _) in enumerate(classes)}
    keys = [key for _, key in classes]
    for name, value in (("pair", filters.pair or ()), ("class", (filters.label_class,))):
        for key in value:
            if key is not None and key not in keys:
                raise ApplicationError(
                    "unknown_class", f"{key!r} is not a class of this project.", field=name
                )
    candidates = _candidates(project, filters)
    rows = list(
        candidates.order_by("pk").values_list(
            "pk",
            "round",
            "slices",
            "consensus__majority_share",
            "consensus__confidence",
            "consensus__label__key",
            "flagged",
        )
    )
    if not rows:
        return Queue(entries=[], pairs=[], labels={})
    item_ids = np.array([r[0] for r in rows], dtype=np.int64)
    label_rows = list(
        Annotation.objects.filter(
            project=project,
            withdrawn=False,
            round=F("item__round"),
            item_id__in=candidates.values("pk"),
        )
        .order_by("item_id", "id")
        .values_list("item_id", "labeler__username", "label_id")
    )
    at = np.searchsorted(item_ids, np.array([r[0] for r in label_rows], dtype=np.int64))
    codes = np.array([code_of.get(r[2], -1) for r in label_rows], dtype=np.int64)
    known = codes >= 0
    n_classes = max(len(classes), 1)
    counts = np.bincount(
        at[known] * n_classes + codes[known], minlength=item_ids.size * n_classes
    ).reshape(item_ids.size, n_classes)
    first, second = _top_pairs(counts)
    has_pair = (first >= 0) & (second >= 0)
    low, high = np.minimum(first, second), np.maximum(first, second)
    pair_code = np.where(has_pair, low * n_classes + high, -1)

    keep = np.ones(item_ids.size, dtype=bool)
    if filters.label_class is not None:
        keep &= counts[:, keys.index(filters.label_class)] > 0
    if filters.labeler is not None:
        by_labeler = {r[0] for r in label_rows if r[1] == filters.labeler}
        keep &= np.isin(item_ids, np.fromiter(by_labeler, dtype=np.int64, count=len(by_labeler)))
    pair_counts = Counter(pair_code[keep & has_pair].tolist())
    if filters.pair is not None:
        a, b = sorted(keys.index(k) for k in filters.pair)
        keep &= pair_code == a * n_classes + b

    share = np.array([np.nan if r[3] is None else r[3] for r in rows])
    strength = np.where(np.isfinite(share), 1.0 - share, 0.0)
    top = max(pair_counts.values(), default=0)
    commonness = np.array([pair_counts.get(p, 0) / top if top else 0.0 for p in pair_code.tolist()])
    weight = _slice_weights(project, [r[2] for r in rows])
    flag_kinds = _flag_kinds(project, item_ids) if any(r[6] for r in rows) else {}
    flags = np.array([flag_kinds.get(int(i), 0) for i in item_ids], dtype=np.float64)
    priority = strength * (1 + commonness) * (1 + weight) / 4 + FLAG_WEIGHT * flags
    order = [i for i in np.lexsort((item_ids, -priority)).tolist() if keep[i]]

    def pair_of(i: int) -> tuple[str, str] | None:
        return (keys[low[i]], keys[high[i]]) if has_pair[i] else None

    entries = [
        QueueEntry(
            item_id=int(item_ids[i]),
            round=rows[i][1],
            priority=round(float(priority[i]), 6),
            strength=round(float(strength[i]), 6),
            pair=pair_of(i),
            majority_share=rows[i][3],
            confidence=rows[i][4],
            consensus=rows[i][5],
            flag_kinds=int(flags[i]),
        )
        for i in order
    ]
    labels: dict[int, list[tuple[str, str]]] = {}
    key_of = dict(classes)
    kept = set(item_ids[keep].tolist())
    for item_id, username, label_id in label_rows:
        if item_id in kept and label_id in key_of:
            labels.setdefault(item_id, []).append((username, key_of[label_id]))
    pairs = [
        {"pair": [keys[p // n_classes], keys[p % n_classes]], "items": n}
        for p, n in sorted(pair_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return Queue(entries=entries, pairs=pairs, labels=labels)


def _flag_kinds(project: Project, item_ids: np.ndarray) -> dict[int, int]:
    rows = (
        ItemFlag.objects.filter(
            project=project, item_id__in=item_ids.tolist(), round=F("item__round")
        )
        .values_list("item_id", "kind")
        .distinct()
    )
    return dict(Counter(item_id for item_id, _ in rows))


def item_flags(*, item_ids: list[int]) -> dict[int, list[dict]]:
    """Flags of the items in their current round, with who raised them (reviewers only)."""
    result: dict[int, list[dict]] = {}
    rows = (
        ItemFlag.objects.filter(item_id__in=item_ids, round=F("item__round"))
        .order_by("item_id", "id")
        .values_list("item_id", "kind", "note", "labeler__username", "created_at")
    )
    for item_id, kind, note, username, created_at in rows:
        result.setdefault(item_id, []).append(
            {"kind": kind, "note": note, "labeler": username, "created_at": created_at}
        )
    return result
