"""The one bridge from database rows to arrays: a project's labels as integer-coded NumPy data.

Rows are read with ``values_list`` (no model instances), labelers, items and classes are coded
once with ``np.unique``, and the labelers × items matrix is filled with one fancy-index
assignment. Memory: the dense matrix costs 8 bytes × labelers × items (50 × 200,000 → 80 MB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.db import connection
from django.db.models import F, Max
from django.db.models.fields.json import KT
from numpy.typing import NDArray

from annotations.models import Annotation, Item, LabelClass, Project
from consensus import standardise
from consensus.models import Prediction, ReviewDecision, RuleSet


@dataclass(frozen=True)
class SliceCodes:
    """One slice dimension (e.g. ``camera``): per item a code into ``values``, -1 when unset."""

    name: str
    values: list[str]
    codes: NDArray[np.int64]


@dataclass(frozen=True)
class LabelHistory:
    """Every active label of the project, in every round, one entry per annotation: the item
    (index into ``item_ids``), the class code, the round, and the guideline version it was made
    under. Per-round and per-guideline figures and the round comparison read it."""

    item: NDArray[np.int64]
    label: NDArray[np.int64]
    round: NDArray[np.int64]
    guideline: NDArray[np.int64]


@dataclass(frozen=True)
class ProjectLabels:
    """A project's current labels, coded for the metrics package: each item's active labels in
    the item's own round (items relabeled in a new round count with their new labels only).

    ``matrix[l, i]`` is the class code (index into ``class_keys``) that labeler ``labeler_ids[l]``
    gave item ``item_ids[i]``, NaN where they gave none. Items without any label are included
    (they count for shares of data); ``gold`` holds class codes or NaN.
    """

    round: int  # the project's newest round
    item_ids: NDArray[np.int64]
    labeler_ids: NDArray[np.int64]
    class_ids: NDArray[np.int64]
    class_keys: list[str]
    matrix: NDArray[np.float64]
    gold: NDArray[np.float64]
    time_spent_ms: NDArray[np.float64]  # per annotation, aligned with ``annotation_labeler``
    annotation_labeler: NDArray[np.int64]  # labeler code per annotation
    slices: list[SliceCodes] = field(default_factory=list)
    high_water_mark: int = 0  # the largest annotation id read
    item_round: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    item_extra_labels: NDArray[np.int64] = field(
        default_factory=lambda: np.empty(0, dtype=np.int64)
    )
    history: LabelHistory | None = None
    class_kinds: list[str] = field(default_factory=list)  # ClassKind per class code

    @property
    def n_annotations(self) -> int:
        return int(self.annotation_labeler.size)


@dataclass(frozen=True)
class ClassCodes:
    """The project's classes under its current taxonomy version.

    ``keys`` are the classes a label can count as (merged-away classes excluded), in display
    order; :meth:`codes` maps any class id, merged or not, to the code of the class it counts as
    (a merged class's labels count as its target's: ``LabelClass.merged_into`` always names the
    final target). One query."""

    keys: list[str]
    kinds: list[str]  # ClassKind of each of ``keys``
    ids: NDArray[np.int64]  # ids of ``keys``, same order
    _from: NDArray[np.int64]  # every class id, sorted
    _to: NDArray[np.int64]  # the code each of them counts as

    @classmethod
    def load(cls, project_id: int) -> ClassCodes:
        rows = list(
            LabelClass.objects.filter(project_id=project_id)
            .order_by("order", "id")
            .values_list("id", "key", "merged_into_id", "kind")
        )
        live = [(i, k, kind) for i, k, target, kind in rows if target is None]
        code = {class_id: n for n, (class_id, _, _) in enumerate(live)}
        pairs = sorted((i, code[target if target is not None else i]) for i, _, target, _ in rows)
        return cls(
            keys=[k for _, k, _ in live],
            kinds=[kind for _, _, kind in live],
            ids=np.array([i for i, _, _ in live], dtype=np.int64),
            _from=np.array([i for i, _ in pairs], dtype=np.int64),
            _to=np.array([c for _, c in pairs], dtype=np.int64),
        )

    def codes(self, class_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Codes of ``class_ids`` (every id must be one of the project's classes)."""
        return self._to[np.searchsorted(self._from, class_ids)]

    def codes_or_nan(self, class_ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """Codes as floats, NaN where the id is negative (no class)."""
        out = np.full(class_ids.size, np.nan)
        known = class_ids >= 0
        out[known] = self.codes(class_ids[known])
        return out


def _codes(values: NDArray, universe: NDArray) -> NDArray[np.int64]:
    """Position of each value in the sorted ``universe`` (every value must be present)."""
    return np.searchsorted(universe, values).astype(np.int64)


def _slices(slice_dicts: list[dict]) -> list[SliceCodes]:
    names = sorted({name for slices in slice_dicts for name in slices})
    result = []
    for name in names:
        raw = [str(s[name]) if name in s else None for s in slice_dicts]
        values = sorted({v for v in raw if v is not None})
        index = {v: code for code, v in enumerate(values)}
        codes = np.fromiter((index.get(v, -1) for v in raw), dtype=np.int64, count=len(raw))
        result.append(SliceCodes(name=name, values=values, codes=codes))
    return result


def packed_columns(
    columns: list[tuple[str, str]], where: str, params: list
) -> list[NDArray[np.float64]] | list[NDArray[np.int64]]:
    """PostgreSQL only: columns of the rows matched by ``where``, each fetched as one packed bytea
    (``string_agg(int8send(...))`` for kind ``"i8"``, ``float8send`` for ``"f8"``: 8 big-endian
    bytes a row, one row order for all columns) and read with ``np.frombuffer`` — no Python object
    per row or per value."""
    send = {"i8": "int8send(({})::bigint)", "f8": "float8send(({})::float8)"}
    select = ", ".join(
        f"string_agg({send[kind].format(expression)}, ''::bytea)" for expression, kind in columns
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} {where}", params)  # noqa: S608 (fixed expressions)
        packed = cursor.fetchone()
    dtypes = {"i8": np.int64, "f8": np.float64}
    return [
        np.frombuffer(bytes(p), dtype=f">{kind}").astype(dtypes[kind])
        if p is not None
        else np.empty(0, dtype=dtypes[kind])
        for p, (_, kind) in zip(packed, columns, strict=True)
    ]


def _int_columns(columns: list[str], where: str, params: list[int]) -> NDArray[np.int64]:
    return np.stack(packed_columns([(c, "i8") for c in columns], where, params), axis=1)


_ITEM_COLUMNS = ["id", "coalesce(gold_label_id, -1)", "round", "extra_labels"]


def _item_columns(project_id: int):
    """Per item of the project (sorted by id): id, gold class id (-1: none), round, extra labels
    asked by escalation — as an items × 4 array — and the slice codes."""
    if connection.vendor == "postgresql":
        columns = _int_columns(
            _ITEM_COLUMNS,
            "FROM (SELECT * FROM annotations_item WHERE project_id = %s ORDER BY id) AS items",
            [project_id],
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.key, s.value, array_agg(i.id) FROM annotations_item i, "
                "jsonb_each_text(i.slices) s WHERE i.project_id = %s "
                "GROUP BY s.key, s.value ORDER BY s.key, s.value",
                [project_id],
            )
            groups = cursor.fetchall()
        return columns, _slices_from_groups(groups, columns[:, 0])
    rows = list(
        Item.objects.filter(project_id=project_id)
        .order_by("id")
        .values_list("id", "gold_label_id", "round", "extra_labels", "slices")
    )
    columns = np.array(
        [(i, -1 if g is None else g, r, x) for i, g, r, x, _ in rows], dtype=np.int64
    ).reshape(-1, 4)
    return columns, _slices([s for *_, s in rows])


def _slices_from_groups(groups: list[tuple[str, str, list[int]]], item_ids) -> list[SliceCodes]:
    result: dict[str, SliceCodes] = {}
    for name, value, ids in groups:
        if name not in result:
            result[name] = SliceCodes(name, [], np.full(item_ids.size, -1, dtype=np.int64))
        dimension = result[name]
        dimension.codes[_codes(np.asarray(ids, dtype=np.int64), item_ids)] = len(dimension.values)
        dimension.values.append(value)
    return list(result.values())


def _annotation_columns(project_id: int) -> NDArray[np.int64]:
    """Active annotations of every round as rows (id, item, labeler, class or -1, time ms or -1,
    round, guideline version)."""
    if connection.vendor == "postgresql":
        return _int_columns(
            [
                "id",
                "item_id",
                "labeler_id",
                "coalesce(label_id, -1)",
                "coalesce(time_spent_ms, -1)",
                "round",
                "guideline_version",
            ],
            "FROM annotations_annotation WHERE project_id = %s AND NOT withdrawn",
            [project_id],
        )
    rows = Annotation.objects.filter(project_id=project_id, withdrawn=False).values_list(
        "id", "item_id", "labeler_id", "label_id", "time_spent_ms", "round", "guideline_version"
    )
    return np.array(
        [
            (i, item, who, -1 if label is None else label, -1 if ms is None else ms, r, g)
            for i, item, who, label, ms, r, g in rows
        ],
        dtype=np.int64,
    ).reshape(-1, 7)


def project_labels_load(*, project: Project) -> ProjectLabels:
    """Read the project's items and all its active annotations (two or three queries)."""
    classes = ClassCodes.load(project.pk)
    items, slices = _item_columns(project.pk)
    item_ids, gold_ids, item_round = items[:, 0], items[:, 1], items[:, 2]
    gold = classes.codes_or_nan(gold_ids)

    rows = _annotation_columns(project.pk)
    high_water_mark = int(rows[:, 0].max()) if rows.size else 0
    rows = rows[rows[:, 3] >= 0]  # a label without a class (not classification) has no code
    history = LabelHistory(
        item=_codes(rows[:, 1], item_ids),
        label=classes.codes(rows[:, 3]),
        round=rows[:, 5],
        guideline=rows[:, 6],
    )
    # The current labels: each item's labels in its own round (earlier rounds are history).
    current = rows[:, 5] == item_round[history.item]
    rows = rows[current]
    labeler_ids = np.unique(rows[:, 2])
    labeler_codes = _codes(rows[:, 2], labeler_ids)
    item_codes = history.item[current]
    label_codes = history.label[current]

    matrix = np.full((labeler_ids.size, item_ids.size), np.nan)
    matrix[labeler_codes, item_codes] = label_codes
    return ProjectLabels(
        round=project.current_round,
        item_ids=item_ids,
        labeler_ids=labeler_ids,
        class_ids=classes.ids,
        class_keys=classes.keys,
        class_kinds=classes.kinds,
        matrix=matrix,
        gold=gold,
        time_spent_ms=np.where(rows[:, 4] >= 0, rows[:, 4], np.nan),
        annotation_labeler=labeler_codes,
        slices=slices,
        high_water_mark=high_water_mark,
        item_round=item_round,
        item_extra_labels=items[:, 3],
        history=history,
    )


@dataclass(frozen=True)
class RunPredictions:
    """A model run's predictions beside the human reference, coded for the metrics package.

    One entry per predicted item (sorted by item id): ``predicted`` class codes (indices into
    ``class_keys``); ``consensus`` and ``gold`` reference codes (NaN: none) — consensus is the
    item's current consensus in its round, or a current reviewed label decision, which wins;
    ``predicted_at`` in seconds since the epoch; ``slices`` of those items.
    """

    item_ids: NDArray[np.int64]
    predicted: NDArray[np.int64]
    consensus: NDArray[np.float64]
    gold: NDArray[np.float64]
    predicted_at: NDArray[np.float64]
    class_keys: list[str]
    slices: list[SliceCodes]


_RUN_ROWS = """
FROM (SELECT p.item_id, p.label_id, floor(extract(epoch FROM p.predicted_at))::bigint AS seconds,
    coalesce(d.label_id, c.label_id, -1) AS consensus, coalesce(i.gold_label_id, -1) AS gold
FROM consensus_prediction p
JOIN annotations_item i ON i.id = p.item_id
LEFT JOIN consensus_itemconsensus c ON c.item_id = p.item_id AND c.round = i.round
LEFT JOIN consensus_reviewdecision d ON d.item_id = p.item_id AND d.current AND d.round = i.round
    AND d.outcome = 'label'
WHERE p.run_id = %s
ORDER BY p.item_id) AS rows
"""


def _run_columns(run_id: int) -> NDArray[np.int64]:
    """Rows (item, predicted class, epoch seconds, consensus class or −1, gold class or −1)."""
    if connection.vendor == "postgresql":
        return np.stack(
            packed_columns(
                [
                    ("item_id", "i8"),
                    ("label_id", "i8"),
                    ("seconds", "i8"),
                    ("consensus", "i8"),
                    ("gold", "i8"),
                ],
                _RUN_ROWS,
                [run_id],
            ),
            axis=1,
        )
    rows = list(
        Prediction.objects.filter(run_id=run_id)
        .order_by("item_id")
        .values_list(
            "item_id",
            "label_id",
            "predicted_at",
            "item__consensus__label_id",
            "item__consensus__round",
            "item__round",
            "item__gold_label_id",
        )
    )
    decided = dict(
        ReviewDecision.objects.filter(
            item_id__in=[r[0] for r in rows], current=True, outcome="label"
        )
        .filter(round=F("item__round"))
        .values_list("item_id", "label_id")
    )
    return np.array(
        [
            (
                item,
                label,
                int(at.timestamp()),
                decided.get(item, -1 if consensus is None or c_round != i_round else consensus),
                -1 if gold is None else gold,
            )
            for item, label, at, consensus, c_round, i_round, gold in rows
        ],
        dtype=np.int64,
    ).reshape(-1, 5)


def _run_slices(run_id: int, item_ids: NDArray[np.int64]) -> list[SliceCodes]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.key, s.value, array_agg(i.id) FROM consensus_prediction p "
                "JOIN annotations_item i ON i.id = p.item_id, jsonb_each_text(i.slices) s "
                "WHERE p.run_id = %s GROUP BY s.key, s.value ORDER BY s.key, s.value",
                [run_id],
            )
            return _slices_from_groups(cursor.fetchall(), item_ids)
    slices = dict(Item.objects.filter(pk__in=item_ids.tolist()).values_list("pk", "slices"))
    return _slices([slices[i] for i in item_ids.tolist()])


def run_predictions_load(*, run_id: int, project: Project) -> RunPredictions:
    """Read a run's predictions, their references and slices (three queries, no model rows)."""
    classes = ClassCodes.load(project.pk)
    rows = _run_columns(run_id)
    codes = classes.codes_or_nan

    item_ids = rows[:, 0]
    return RunPredictions(
        item_ids=item_ids,
        predicted=codes(rows[:, 1]).astype(np.int64),
        consensus=codes(rows[:, 3]),
        gold=codes(rows[:, 4]),
        predicted_at=rows[:, 2].astype(np.float64),
        class_keys=classes.keys,
        slices=_run_slices(run_id, item_ids),
    )


# ----------------------------------------------------------------------------- transcription


_SPACES = re.compile(r"\s+")


def transcript_cleanup(text: str) -> str:
    """The normalisation every transcript gets when no rule set is active: runs of whitespace
    become one space, and the ends are trimmed (differences nobody can hear)."""
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=64)
def _compiled_rules(rule_set_id: int, fingerprint: str) -> standardise.RuleSet:
    rules = RuleSet.objects.filter(pk=rule_set_id).values_list("rules", flat=True).first()
    return standardise.compile_rules(rules or [])


def transcript_normalizer(project: Project):
    """A function texts → normalised texts under the project's active rule-set version (compiled
    once per version and process), or :func:`transcript_cleanup` when none is active."""
    return transcript_normalizer_for(project.pk, project.rule_set_version)


def transcript_normalizer_for(project_id: int, rule_set_version: int):
    """:func:`transcript_normalizer` from the ids alone (no query when no rule set is active)."""
    if rule_set_version:
        found = (
            RuleSet.objects.filter(project_id=project_id, version=rule_set_version)
            .values_list("pk", "fingerprint")
            .first()
        )
        if found is not None:
            compiled = _compiled_rules(*found)
            return lambda texts: _cleaned(compiled.apply_many(texts))
    return _cleaned


def _cleaned(texts: list[str]) -> list[str]:
    """:func:`transcript_cleanup` of each text, computed once per distinct text (transcripts
    repeat: most items' labelers agree)."""
    done: dict[str, str] = {}
    for text in texts:
        if text not in done:
            done[text] = transcript_cleanup(text)
    return [done[text] for text in texts]


@dataclass(frozen=True)
class ProjectTranscripts:
    """A transcription project's current transcripts: ``table[i][l]`` is labeler
    ``labeler_ids[l]``'s normalised transcript of item ``item_ids[i]`` in the item's round (None
    where they gave none); ``raw`` holds the texts as submitted."""

    item_ids: NDArray[np.int64]
    item_round: NDArray[np.int64]
    labeler_ids: NDArray[np.int64]
    table: list[list[str | None]]
    raw: list[list[str | None]]
    slices: list[SliceCodes]
    n_annotations: int
    high_water_mark: int


def transcript_text(text: str | None) -> str:
    """A transcript as read with ``KT("value__text")``: NULL (a value without "text", never
    stored in a transcription project) reads as the empty transcript."""
    return text if isinstance(text, str) else ""


def transcript_rows(*, project: Project) -> tuple[NDArray[np.int64], NDArray[np.int64], list[str]]:
    """(item ids, labeler ids, raw texts) of the current transcripts: active, in the item's
    round. One query; the text comes out as SQL text (``->>``), not decoded JSON, and rows are
    read on the plain cursor (Django's per-row iteration costs ~1 µs a row that 100,000
    transcripts notice)."""
    query = (
        Annotation.objects.filter(project=project, withdrawn=False, round=F("item__round"))
        .values_list("item_id", "labeler_id", KT("value__text"))
        .order_by()
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    items = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    labelers = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    return items, labelers, [transcript_text(r[2]) for r in rows]


def project_transcripts_load(*, project: Project) -> ProjectTranscripts:
    """Read the items and their current transcripts (three queries, plus one for the active
    rules), normalised as the report compares them."""
    items, slices = _item_columns(project.pk)
    item_ids, item_round = items[:, 0], items[:, 2]
    row_items, row_labelers, raw_texts = transcript_rows(project=project)
    newest = Annotation.objects.filter(project=project, withdrawn=False).aggregate(n=Max("id"))["n"]
    labeler_ids = np.unique(row_labelers)
    at = _codes(row_items, item_ids)
    column = _codes(row_labelers, labeler_ids)

    def table(texts: list[str]) -> list[list[str | None]]:
        cells = np.full((item_ids.size, labeler_ids.size), None, dtype=object)
        values = np.empty(len(texts), dtype=object)
        values[:] = texts
        cells[at, column] = values
        return cells.tolist()

    return ProjectTranscripts(
        item_ids=item_ids,
        item_round=item_round,
        labeler_ids=labeler_ids,
        table=table(transcript_normalizer(project)(raw_texts)),
        raw=table(raw_texts),
        slices=slices,
        n_annotations=len(raw_texts),
        high_water_mark=int(newest or 0),
    )
