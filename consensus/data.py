"""The one bridge from database rows to arrays: a project's labels as integer-coded NumPy data.

Rows are read with ``values_list`` (no model instances), labelers, items and classes are coded
once with ``np.unique``, and the labelers × items matrix is filled with one fancy-index
assignment. Memory: the dense matrix costs 8 bytes × labelers × items (50 × 200,000 → 80 MB).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
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


def project_labels_load(*, project: Project, round_number: int | None = None) -> ProjectLabels:
    """Read the project's items and active annotations of ``round_number`` (default: current)."""
    round_number = round_number or project.current_round
    classes = list(
        LabelClass.objects.filter(project=project).order_by("order", "id").values_list("id", "key")
    )
    class_ids = np.array([c for c, _ in classes], dtype=np.int64)
    class_order = np.argsort(class_ids)
    class_code = {c: code for code, (c, _) in enumerate(classes)}

    items = list(
        Item.objects.filter(project=project, round=round_number)
        .order_by("id")
        .values_list("id", "gold_label_id", "slices")
    )
    item_ids = np.fromiter((i for i, _, _ in items), dtype=np.int64, count=len(items))
    gold = np.fromiter(
        (class_code.get(g, np.nan) if g is not None else np.nan for _, g, _ in items),
        dtype=np.float64,
        count=len(items),
    )

    rows = np.array(
        Annotation.objects.filter(project=project, round=round_number, withdrawn=False)
        .order_by()
        .values_list("id", "item_id", "labeler_id", "label_id", "time_spent_ms"),
        dtype=np.float64,
    ).reshape(-1, 5)
    # Labels of items that have since moved to a later round belong to no column here.
    known = np.isin(rows[:, 1].astype(np.int64), item_ids)
    rows = rows[known]
    labeler_ids = np.unique(rows[:, 2]).astype(np.int64)
    labeler_codes = _codes(rows[:, 2].astype(np.int64), labeler_ids)
    item_codes = _codes(rows[:, 1].astype(np.int64), item_ids)
    # class ids → codes in display order (ids sorted for searchsorted, then mapped back)
    sorted_ids = class_ids[class_order]
    label_codes = class_order[_codes(rows[:, 3].astype(np.int64), sorted_ids)]

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
        time_spent_ms=rows[:, 4],
        annotation_labeler=labeler_codes,
        slices=_slices([s for _, _, s in items]),
        high_water_mark=int(rows[:, 0].max()) if rows.size else 0,
    )
