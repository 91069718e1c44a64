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

Cost: four queries (classes, the candidates with their stored consensus and confusion pair, the
project's current flags, and the newest report's slice shares) and NumPy over the candidates;
no query per item. The confusion pair is stored on ``ItemConsensus`` when consensus is written,
so ranking never reads the labels; ``queue_labels`` reads them for one page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform

from annotations.models import Annotation, Item, ItemFlag, ItemStatus, LabelClass, Project
from consensus.models import ConsistencyReport, ItemConsensus, ReviewDecision
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
    """The ranked queue. ``item_ids`` (ranked) and ``count`` are cheap; ``page`` builds entries
    for a slice of it only (a page of 50 out of 40,000 should not build 40,000 objects)."""

    item_ids: list[int]
    pairs: list[dict]  # {"pair": [a, b], "items": n}, most common first (before the pair filter)
    _build: Callable[[int, int], list[QueueEntry]] = field(repr=False, default=lambda o, n: [])

    @property
    def count(self) -> int:
        return len(self.item_ids)

    def page(self, offset: int, limit: int) -> list[QueueEntry]:
        return self._build(offset, limit)

    @property
    def entries(self) -> list[QueueEntry]:
        return self.page(0, self.count)


_EMPTY = Queue(item_ids=[], pairs=[])


def _candidates(project: Project, filters: QueueFilters, class_ids: dict[str, int]):
    items = Item.objects.filter(project=project)
    if filters.round is not None:
        items = items.filter(round=filters.round)
    for key, value in filters.slices.items():
        items = items.filter(**{f"slices__{key}": value})
    # Not correlated: Postgres hashes the (few) flagged ids once instead of probing per item.
    flagged = _flagged(project).values("item_id")
    decided = Exists(
        ReviewDecision.objects.filter(item=OuterRef("pk"), round=OuterRef("round"), current=True)
    )
    disputed = Q(status=ItemStatus.COMPLETE, consensus__round=F("round")) & disputed_q(
        project, prefix="consensus__"
    )
    items = items.alias(decided=decided)
    items = items.filter(disputed | Q(pk__in=flagged)).filter(decided=filters.decided)
    if filters.flagged is not None:
        items = items.filter(pk__in=flagged) if filters.flagged else items.exclude(pk__in=flagged)
    labels = Annotation.objects.filter(
        item=OuterRef("pk"), round=OuterRef("round"), withdrawn=False
    )
    if filters.label_class is not None:
        items = items.filter(Exists(labels.filter(label_id=class_ids[filters.label_class])))
    if filters.labeler is not None:
        items = items.filter(Exists(labels.filter(labeler__username=filters.labeler)))
    return items


def _flagged(project: Project):
    """Flags of the project raised in their item's current round (index ``itemflag_project``)."""
    return ItemFlag.objects.filter(project=project, round=F("item__round"))


def _flag_kinds(project: Project) -> dict[int, int]:
    """Item id → how many kinds of flag it carries in its current round."""
    kinds: dict[int, int] = {}
    for item_id, _ in _flagged(project).values_list("item_id", "kind").distinct():
        kinds[item_id] = kinds.get(item_id, 0) + 1
    return kinds


def _slice_shares(project: Project) -> dict[str, dict[str, float]]:
    """Slice dimension → value → share of data, from the newest report (empty without one)."""
    report = (
        ConsistencyReport.objects.filter(project=project)
        .order_by("-version")
        .values_list("per_slice", flat=True)
        .first()
    )
    shares: dict[str, dict[str, float]] = {}
    for row in report or []:
        shares.setdefault(row["slice"], {})[row["value"]] = row.get("share") or 0.0
    return shares


def _slice_weights(columns: list[list[str | None]], shares: dict) -> np.ndarray:
    """Per item, the mean share of its slice values over the dimensions it has (0 without)."""
    if not columns:
        return np.zeros(0)
    total = np.zeros(len(columns[0]))
    present = np.zeros(len(columns[0]))
    for values, dimension in zip(columns, shares.values(), strict=True):
        total += np.fromiter((dimension.get(v, 0.0) for v in values), np.float64, len(values))
        present += np.fromiter((v is not None for v in values), np.float64, len(values))
    return np.divide(total, present, out=np.zeros_like(total), where=present > 0)


def disagreement_queue(*, project: Project, filters: QueueFilters) -> Queue:
    """Every queued item matching ``filters``, ranked (see the module docstring)."""
    classes = list(
        LabelClass.objects.filter(project=project).order_by("order", "id").values_list("id", "key")
    )
    class_ids = {key: class_id for class_id, key in classes}
    key_of = dict(classes)
    for name, value in (("pair", filters.pair or ()), ("class", (filters.label_class,))):
        for key in value:
            if key is not None and key not in class_ids:
                raise ApplicationError(
                    "unknown_class", f"{key!r} is not a class of this project.", field=name
                )
    shares = _slice_shares(project)
    # Slice values as text columns (one per dimension with shares): no JSON decoding per row.
    dimensions = {f"slice_{i}": KeyTextTransform(name, "slices") for i, name in enumerate(shares)}
    rows = list(
        _candidates(project, filters, class_ids)
        .annotate(**dimensions)
        .order_by("pk")
        .values_list(
            "pk",
            "round",
            "consensus__majority_share",
            "consensus__confidence",
            "consensus__label_id",
            "consensus__pair_low_id",
            "consensus__pair_high_id",
            *dimensions,
        )
    )
    if not rows:
        return _EMPTY
    item_ids = np.array([r[0] for r in rows], dtype=np.int64)
    low = np.array([-1 if r[5] is None else r[5] for r in rows], dtype=np.int64)
    high = np.array([-1 if r[6] is None else r[6] for r in rows], dtype=np.int64)
    has_pair = (low >= 0) & (high >= 0)
    # One code per (low, high) class-id pair, for counting and filtering.
    pair_code = np.where(has_pair, low * (high.max() + 1) + high, -1)
    codes, first_at, counts = np.unique(pair_code[has_pair], return_index=True, return_counts=True)
    keep = np.ones(item_ids.size, dtype=bool)
    if filters.pair is not None:
        a, b = sorted((class_ids[k] for k in filters.pair), key=list(key_of).index)
        keep &= (low == a) & (high == b)

    share = np.array([np.nan if r[2] is None else r[2] for r in rows])
    strength = np.where(np.isfinite(share), 1.0 - share, 0.0)
    top = counts.max() if counts.size else 0
    commonness = np.zeros(item_ids.size)
    if top:
        commonness[has_pair] = counts[np.searchsorted(codes, pair_code[has_pair])] / top
    weight = _slice_weights([[r[7 + d] for r in rows] for d in range(len(dimensions))], shares)
    if weight.size == 0:
        weight = np.zeros(item_ids.size)
    kinds = _flag_kinds(project)
    flags = np.array([kinds.get(r[0], 0) for r in rows], dtype=np.float64)
    priority = strength * (1 + commonness) * (1 + weight) / 4 + FLAG_WEIGHT * flags
    order = np.lexsort((item_ids, -priority))
    order = order[keep[order]]

    def build(offset: int, limit: int) -> list[QueueEntry]:
        return [
            QueueEntry(
                item_id=int(item_ids[i]),
                round=rows[i][1],
                priority=round(float(priority[i]), 6),
                strength=round(float(strength[i]), 6),
                pair=(key_of[low[i]], key_of[high[i]]) if has_pair[i] else None,
                majority_share=rows[i][2],
                confidence=rows[i][3],
                consensus=key_of.get(rows[i][4]),
                flag_kinds=int(flags[i]),
            )
            for i in order[offset : offset + limit].tolist()
        ]

    position = {class_id: i for i, class_id in enumerate(key_of)}
    named = [
        (int(n), (int(low[has_pair][i]), int(high[has_pair][i])))
        for n, i in zip(counts.tolist(), first_at.tolist(), strict=True)
    ]
    named.sort(key=lambda t: (-t[0], position[t[1][0]], position[t[1][1]]))
    pairs = [{"pair": [key_of[a], key_of[b]], "items": n} for n, (a, b) in named]
    return Queue(item_ids=item_ids[order].tolist(), pairs=pairs, _build=build)


def same_pair_items(*, project: Project, item_id: int, limit: int = 12) -> list[int]:
    """Other queued items with the item's confusion pair, most disputed first: one query on
    the stored pair (index ``consensus_pair``), not a ranking of the whole queue."""
    pair = (
        ItemConsensus.objects.filter(item_id=item_id)
        .values_list("pair_low_id", "pair_high_id")
        .first()
    )
    if pair is None or None in pair:
        return []
    rows = (
        _candidates(project, QueueFilters(), {})
        .filter(consensus__pair_low_id=pair[0], consensus__pair_high_id=pair[1])
        .exclude(pk=item_id)
        .order_by(F("consensus__majority_share").asc(nulls_last=True), "pk")
        .values_list("pk", flat=True)
    )
    return list(rows[:limit])


def queue_labels(*, item_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """The labels (labeler, class key — or the transcript, in a transcription project) of the
    items in their current round: for one page."""
    labels: dict[int, list[tuple[str, str]]] = {}
    rows = (
        Annotation.objects.filter(item_id__in=item_ids, withdrawn=False, round=F("item__round"))
        .order_by("item_id", "id")
        .values_list("item_id", "labeler__username", "label__key", "value")
    )
    for item_id, username, key, value in rows:
        answer = key if key is not None else _transcript(value)
        if answer is not None:
            labels.setdefault(item_id, []).append((username, answer))
    return labels


def _transcript(value) -> str | None:
    text = value.get("text") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


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
