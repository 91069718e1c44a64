"""The one bridge from database rows to arrays: a project's labels as integer-coded NumPy data.

Rows are read with ``values_list`` (no model instances), labelers, items and classes are coded
once with ``np.unique``, and the labelers × items matrix is filled with one fancy-index
assignment. Memory: the dense matrix costs 8 bytes × labelers × items (50 × 200,000 → 80 MB).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.db import connection
from numpy.typing import NDArray

from annotations.models import Annotation, Item, LabelClass, Project


@dataclass(frozen=True)
class SliceCodes:
    """One slice dimension (e.g. ``camera``): per item a code into ``values``, -1 when unset."""

    name: str
    values: list[str]
    codes: NDArray[np.int64]


@dataclass(frozen=True)
class ProjectLabels:
    """A project's active labels in one round, coded for the metrics package.

    ``matrix[l, i]`` is the class code (index into ``class_keys``) that labeler ``labeler_ids[l]``
    gave item ``item_ids[i]``, NaN where they gave none. Items without any label are included
    (they count for shares of data); ``gold`` holds class codes or NaN.
    """

    round: int
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

    @property
    def n_annotations(self) -> int:
        return int(self.annotation_labeler.size)


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


def _item_columns(project_id: int, round_number: int):
    """Item ids (sorted), gold class ids (-1: none), and slice codes of a project's round."""
    items = Item.objects.filter(project_id=project_id, round=round_number)
    if connection.vendor == "postgresql":
        columns = _int_columns(
            ["id", "coalesce(gold_label_id, -1)"],
            "FROM (SELECT id, gold_label_id FROM annotations_item WHERE project_id = %s "
            "AND round = %s ORDER BY id) AS items",
            [project_id, round_number],
        )
        item_ids, gold_ids = columns[:, 0], columns[:, 1]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.key, s.value, array_agg(i.id) FROM annotations_item i, "
                "jsonb_each_text(i.slices) s WHERE i.project_id = %s AND i.round = %s "
                "GROUP BY s.key, s.value ORDER BY s.key, s.value",
                [project_id, round_number],
            )
            groups = cursor.fetchall()
        return item_ids, gold_ids, _slices_from_groups(groups, item_ids)
    rows = list(items.order_by("id").values_list("id", "gold_label_id", "slices"))
    item_ids = np.array([i for i, _, _ in rows], dtype=np.int64)
    gold_ids = np.array([-1 if g is None else g for _, g, _ in rows], dtype=np.int64)
    return item_ids, gold_ids, _slices([s for _, _, s in rows])


def _slices_from_groups(groups: list[tuple[str, str, list[int]]], item_ids) -> list[SliceCodes]:
    result: dict[str, SliceCodes] = {}
    for name, value, ids in groups:
        if name not in result:
            result[name] = SliceCodes(name, [], np.full(item_ids.size, -1, dtype=np.int64))
        dimension = result[name]
        dimension.codes[_codes(np.asarray(ids, dtype=np.int64), item_ids)] = len(dimension.values)
        dimension.values.append(value)
    return list(result.values())


def _annotation_columns(project_id: int, round_number: int) -> NDArray[np.int64]:
    """Active annotations of a round as rows (id, item, labeler, class or -1, time ms or -1)."""
    if connection.vendor == "postgresql":
        return _int_columns(
            [
                "id",
                "item_id",
                "labeler_id",
                "coalesce(label_id, -1)",
                "coalesce(time_spent_ms, -1)",
            ],
            "FROM annotations_annotation WHERE project_id = %s AND round = %s AND NOT withdrawn",
            [project_id, round_number],
        )
    rows = Annotation.objects.filter(
        project_id=project_id, round=round_number, withdrawn=False
    ).values_list("id", "item_id", "labeler_id", "label_id", "time_spent_ms")
    return np.array(
        [
            (i, item, who, -1 if label is None else label, -1 if ms is None else ms)
            for i, item, who, label, ms in rows
        ],
        dtype=np.int64,
    ).reshape(-1, 5)


def project_labels_load(*, project: Project, round_number: int | None = None) -> ProjectLabels:
    """Read the project's items and active annotations of ``round_number`` (default: current)."""
    round_number = round_number or project.current_round
    classes = list(
        LabelClass.objects.filter(project=project).order_by("order", "id").values_list("id", "key")
    )
    class_ids = np.array([c for c, _ in classes], dtype=np.int64)
    class_order = np.argsort(class_ids)

    item_ids, gold_ids, slices = _item_columns(project.pk, round_number)
    gold = np.full(item_ids.size, np.nan)
    has_gold = gold_ids >= 0
    gold[has_gold] = class_order[_codes(gold_ids[has_gold], class_ids[class_order])]

    rows = _annotation_columns(project.pk, round_number)
    # Labels of items that have since moved to a later round belong to no column here.
    known = np.isin(rows[:, 1], item_ids)
    rows = rows[known]
    rows = rows[rows[:, 3] >= 0]  # a label without a class (not classification) has no code
    labeler_ids = np.unique(rows[:, 2])
    labeler_codes = _codes(rows[:, 2], labeler_ids)
    item_codes = _codes(rows[:, 1], item_ids)
    # class ids → codes in display order (ids sorted for searchsorted, then mapped back)
    label_codes = class_order[_codes(rows[:, 3], class_ids[class_order])]

    matrix = np.full((labeler_ids.size, item_ids.size), np.nan)
    matrix[labeler_codes, item_codes] = label_codes
    return ProjectLabels(
        round=round_number,
        item_ids=item_ids,
        labeler_ids=labeler_ids,
        class_ids=class_ids,
        class_keys=[k for _, k in classes],
        matrix=matrix,
        gold=gold,
        time_spent_ms=np.where(rows[:, 4] >= 0, rows[:, 4], np.nan),
        annotation_labeler=labeler_codes,
        slices=slices,
        high_water_mark=int(rows[:, 0].max()) if rows.size else 0,
    )
