"""Classification metrics: predictions (a model's, or one labeler's) against reference labels.

DOMAIN.md §3–4 and the error-analysis issue: the confusion matrix, accuracy, precision, recall,
F1, specificity, per-class figures with macro / micro / weighted averages, per-slice reports, and
the slice prioritisation table (gap to HLP weighted by the slice's share of the data).

Conventions
-----------
* ``y_true`` / ``y_pred`` are 1-D, one entry per example: integers, floats or strings (any values
  that can be compared with ``<``; a mix of strings and numbers is refused). ``None`` or NaN in
  either means "no label": that pair is left out and counted (``n_excluded``). A list holding
  strings is read as an object array, so ``["a", nan]`` keeps its NaN as missing instead of the
  string ``"nan"`` NumPy would make of it.
* ``labels`` fixes the classes and their order (rows and columns of the confusion matrix); by
  default it is the sorted union of the values present in ``y_true`` and ``y_pred``. A value that
  is not among the labels is a caller error: ``ValueError`` naming the value.
* A figure whose denominator is 0 is **undefined**: ``None`` in a result object (``NaN`` in a
  per-class array) with a reason, never a silent 0 and never a crash.

Definitions (for one class, one-vs-rest; C. J. van Rijsbergen 1979, *Information Retrieval*,
ch. 7, for F; A. Ng, *MLOps* course / DOMAIN.md §4 for the worked figures):

* precision P = TP / (TP + FP) — undefined when TP + FP = 0 ("no predicted positives");
* recall R = TP / (TP + FN) — undefined when TP + FN = 0 ("no actual positives");
* F1 = 2TP / (2TP + FP + FN), which is the harmonic mean 2PR / (P + R) when P and R are both
  defined, and stays defined when only one of them is: a class that is present but never
  predicted has F1 = 0 (it is missed entirely), not "undefined" — otherwise a model that never
  predicts a rare class would leave it out of macro F1 and look better for it. F1 is undefined
  only when TP = FP = FN = 0 (no predicted and no actual positives);
* accuracy = (TP + TN) / N (multi-class: Σ_k TP_k / N); specificity = TN / (TN + FP).

Implementation notes
--------------------
* Values are turned into class codes with one ``np.searchsorted`` against the sorted labels
  (O(n log K)). Default labels and slice keys are found without sorting the data: integer (or
  integral float) codes by ``np.bincount``, strings through a ``set`` (:func:`_unique`). The
  confusion matrix is one ``np.bincount`` over ``true · K + pred``, and :func:`per_slice_reports`
  does every slice in the same single ``np.bincount`` over ``(slice · K + true) · K + pred``.
  No Python loop runs over examples; loops run over classes or slices (building their result
  objects). ``bench/classification.py``: 1,000,000 predictions × 20 slices × 10 classes, every
  slice's report and the whole in ~0.07 s (integer codes) to ~0.35 s (strings).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from consensus.metrics.results import Result

__all__ = [
    "Average",
    "BinaryMetrics",
    "ClassificationReport",
    "SlicePriority",
    "SliceReports",
    "binary_metrics",
    "classification_report",
    "confusion_matrix",
    "f1_score",
    "per_slice_reports",
    "slice_priorities",
]

NO_PREDICTED_POSITIVES = "no predicted positives (TP + FP = 0): precision is 0/0"
NO_ACTUAL_POSITIVES = "no actual positives (TP + FN = 0): recall is 0/0"
NO_ACTUAL_NEGATIVES = "no actual negatives (TN + FP = 0): specificity is 0/0"
NO_EXAMPLES = "no examples: accuracy is 0/0"
NO_PAIRS = "no example has both a true and a predicted label"
NO_CLASSES = "no classes"

FIGURES = ("precision", "recall", "f1")

# Shares may be rounded figures (60% + 4% + 30% + 6%); a sum above 1 by more than this is an error.
SHARE_TOLERANCE = 1e-9
# Gaps and gap × share are rounded to this many decimals, dropping binary floating-point noise
# (0.95 − 0.94 = 0.010000000000000009) so that equal figures tie exactly.
_PRIORITY_DECIMALS = 12


def _frozen(array: NDArray) -> NDArray:
    """Mark an array read-only, so a frozen result cannot be changed through its figures."""
    array.flags.writeable = False
    return array


def _proxy(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _optional(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


# --------------------------------------------------------------------------------------------
# Inputs: label arrays, missing values, class codes
# --------------------------------------------------------------------------------------------


def _as_1d(values: ArrayLike, name: str) -> NDArray:
    """A 1-D array of labels; strings from a list become an object array (keeps None/NaN)."""
    if isinstance(values, np.ndarray):
        array = values
    else:
        array = np.asarray(values)
        if array.dtype.kind in "US":
            # np.asarray(["a", nan]) is ['a', 'nan']: re-read as objects so NaN stays missing.
            array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per example), got {array.ndim}-D")
    if array.dtype.kind not in "biufUSO":
        raise ValueError(f"{name} must hold integers, floats or strings, not {array.dtype}")
    return array


def _missing(array: NDArray) -> NDArray[np.bool_]:
    """True where an entry means "no label": NaN in a float array, None or NaN in an object one."""
    kind = array.dtype.kind
    if kind == "f":
        return np.isnan(array)
    if kind == "O":
        return np.equal(array, None) | np.not_equal(array, array)  # x != x only for NaN
    return np.zeros(array.shape, np.bool_)


def _unique(values: NDArray, name: str) -> NDArray:
    """Sorted distinct values, without sorting all of them where that can be avoided.

    Integer (or integral float) codes in a small range are counted with ``np.bincount``; an
    object array (strings) goes through a ``set`` — C-level hashing, ~40× faster than
    ``np.unique``'s comparison sort of a million Python strings — and only the few distinct
    values are sorted.
    """
    if values.size == 0:
        return values[:0]
    kind = values.dtype.kind
    if kind in "iuf":
        lo, hi = values.min(), values.max()
        span_ok = bool(np.isfinite(lo) and np.isfinite(hi))
        span_ok = span_ok and hi - lo <= max(1 << 16, 2 * values.size)
        if span_ok and (kind != "f" or bool(np.all(values == np.floor(values)))):
            offsets = (values - lo).astype(np.intp)
            present = np.bincount(offsets, minlength=int(hi - lo) + 1) > 0
            return (np.flatnonzero(present) + lo).astype(values.dtype)
    try:
        if kind == "O":
            distinct = sorted(set(values.tolist()))
            out = np.empty(len(distinct), dtype=object)
            out[:] = distinct
            return out
        return np.unique(values)
    except TypeError as error:
        raise ValueError(
            f"cannot order the values of {name} (strings mixed with numbers?): {error}"
        ) from None


def _label_array(labels: ArrayLike, name: str = "labels") -> NDArray:
    """Check user-given labels: 1-D, no missing entry, no duplicates."""
    array = _as_1d(labels, name)
    if _missing(array).any():
        raise ValueError(f"{name} must not contain None or NaN (those mean 'no label')")
    if np.unique(_sortable(array, name)).size != array.size:
        seen, dupes = set(), []
        for label in array.tolist():  # only on the error path, over the (few) labels
            if label in seen:
                dupes.append(label)
            seen.add(label)
        raise ValueError(f"{name} must be distinct; repeated: {dupes!r}")
    return array


def _sortable(array: NDArray, name: str) -> NDArray:
    try:
        np.argsort(array, kind="stable")
    except TypeError as error:
        raise ValueError(
            f"cannot order the values of {name} (strings mixed with numbers?): {error}"
        ) from None
    return array


class _Lookup:
    """Maps values to their position in ``labels`` by binary search over the sorted labels."""

    def __init__(self, labels: NDArray, name: str = "labels") -> None:
        self.labels = labels
        self.order = np.argsort(_sortable(labels, name), kind="stable")
        self.sorted = labels[self.order]

    def codes(self, values: NDArray, name: str) -> NDArray[np.intp]:
        k = self.labels.size
        if values.size == 0:
            return np.empty(0, np.intp)
        if k == 0:
            raise ValueError(f"{name} holds {values[0]!r}, but there are no labels")
        try:
            pos = np.minimum(np.searchsorted(self.sorted, values), k - 1)
            found = np.asarray(self.sorted[pos] == values, dtype=np.bool_)
        except TypeError:
            found = np.zeros(values.shape, np.bool_)
            pos = np.zeros(values.shape, np.intp)
        if found.shape != values.shape:  # e.g. a string compared with numbers as a whole
            found = np.zeros(values.shape, np.bool_)
        if not found.all():
            bad = values[np.argmin(found)]
            bad = bad.item() if isinstance(bad, np.generic) else bad
            shown = self.labels.tolist()
            shown = shown if len(shown) <= 20 else [*shown[:20], "..."]
            raise ValueError(f"{name} holds {bad!r}, which is not one of the labels {shown!r}")
        return self.order[pos]


@dataclass(frozen=True)
class _Pairs:
    """Class codes of the examples with both labels, and how many examples were left out."""

    true: NDArray[np.intp]
    pred: NDArray[np.intp]
    labels: NDArray
    missing_true: NDArray[np.bool_]
    missing_pred: NDArray[np.bool_]
    keep: NDArray[np.bool_]

    @property
    def n_excluded(self) -> int:
        return int(self.keep.size - self.true.size)

    @property
    def n_missing_true(self) -> int:
        return int(self.missing_true.sum())

    @property
    def n_missing_pred(self) -> int:
        return int(self.missing_pred.sum())


def _pairs(y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None) -> _Pairs:
    t = _as_1d(y_true, "y_true")
    p = _as_1d(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.size} and {p.size}")
    missing_t, missing_p = _missing(t), _missing(p)
    keep = ~(missing_t | missing_p)
    if keep.all():
        t_kept, p_kept = t, p
    else:
        t_kept, p_kept = t[keep], p[keep]
    if labels is None:
        try:
            both = np.concatenate([_unique(t_kept, "y_true"), _unique(p_kept, "y_pred")])
        except TypeError:  # no common dtype
            both = np.concatenate([t_kept.astype(object), p_kept.astype(object)])
        label_array = _unique(both, "y_true and y_pred")
    else:
        label_array = _label_array(labels)
    lookup = _Lookup(label_array)
    return _Pairs(
        true=lookup.codes(t_kept, "y_true"),
        pred=lookup.codes(p_kept, "y_pred"),
        labels=label_array,
        missing_true=missing_t,
        missing_pred=missing_p,
        keep=keep,
    )


# --------------------------------------------------------------------------------------------
# Binary figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BinaryMetrics(Result):
    """Figures of one binary confusion matrix (or one class against the rest).

    ``value`` = F1 (``reason`` = why F1 is undefined). Each of ``precision``, ``recall``, ``f1``,
    ``accuracy``, ``specificity`` is a float in [0, 1] or ``None``; ``reasons[figure]`` says why
    for each undefined figure (defined figures have no entry).
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    accuracy: float | None = None
    specificity: float | None = None
    reasons: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def support(self) -> int:
        """Actual positives, TP + FN."""
        return self.tp + self.fn


def _divide(numerator: NDArray, denominator: NDArray) -> NDArray[np.float64]:
    """numerator / denominator as floats, NaN where the denominator is 0."""
    numerator = np.asarray(numerator, np.float64)
    denominator = np.asarray(denominator, np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _rates(
    tp: NDArray[np.int64], fp: NDArray[np.int64], fn: NDArray[np.int64], tn: NDArray[np.int64]
) -> dict[str, NDArray[np.float64]]:
    """Vectorised precision, recall, F1, accuracy, specificity (NaN = undefined)."""
    precision = _divide(tp, tp + fp)
    recall = _divide(tp, tp + fn)
    # 2TP / (2TP + FP + FN): the harmonic mean where P and R are defined; 0 for a class missed
    # or invented entirely; undefined only without predicted and actual positives.
    f1 = _divide(2 * tp, 2 * tp + fp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": _divide(tp + tn, tp + fp + fn + tn),
        "specificity": _divide(tn, tn + fp),
    }


def _f1_reason(precision_undefined: bool, recall_undefined: bool) -> str | None:
    if precision_undefined and recall_undefined:
        return "precision and recall are undefined (no predicted and no actual positives)"
    return None


def _binary_result(tp: int, fp: int, fn: int, tn: int, rates: Mapping[str, float]) -> BinaryMetrics:
    values = {name: _optional(float(x)) for name, x in rates.items()}
    reasons = {}
    if values["precision"] is None:
        reasons["precision"] = NO_PREDICTED_POSITIVES
    if values["recall"] is None:
        reasons["recall"] = NO_ACTUAL_POSITIVES
    f1_reason = _f1_reason(values["precision"] is None, values["recall"] is None)
    if f1_reason:
        reasons["f1"] = f1_reason
    if values["accuracy"] is None:
        reasons["accuracy"] = NO_EXAMPLES
    if values["specificity"] is None:
        reasons["specificity"] = NO_ACTUAL_NEGATIVES
    return BinaryMetrics(
        value=values["f1"],
        reason=f1_reason,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        reasons=MappingProxyType(reasons),
        **values,
    )


def _count(x: object, name: str) -> int:
    if isinstance(x, bool | np.bool_):
        raise ValueError(f"{name} must be a count (a non-negative integer), got {x!r}")
    try:
        n = operator.index(x)
    except TypeError:
        raise ValueError(f"{name} must be a count (a non-negative integer), got {x!r}") from None
    if n < 0:
        raise ValueError(f"{name} must be a count (a non-negative integer), got {n}")
    return n


def binary_metrics(*, tp: int, fp: int, fn: int, tn: int) -> BinaryMetrics:
    """Precision, recall, F1, accuracy and specificity of a binary confusion matrix.

    P = TP / (TP + FP), R = TP / (TP + FN), F1 = 2PR / (P + R) = 2TP / (2TP + FP + FN),
    accuracy = (TP + TN) / N, specificity = TN / (TN + FP). A 0/0 figure is ``None`` with a reason
    in ``reasons``: precision without predicted positives, recall without actual positives, F1
    without either (with only one of them undefined F1 is 0: the class is missed or invented
    entirely), accuracy without examples, specificity without actual negatives. ``value`` = F1.

    DOMAIN.md §4: TN 905, FN 18, FP 9, TP 68 → P = 68/77 = 88.3%, R = 68/86 = 79.1%,
    F1 = 136/163 = 83.4%. Counts must be non-negative integers (``ValueError`` otherwise).
    """
    counts = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    tp, fp, fn, tn = (_count(v, k) for k, v in counts.items())
    rates = _rates(*(np.array([v], np.int64) for v in (tp, fp, fn, tn)))
    return _binary_result(tp, fp, fn, tn, {name: x[0] for name, x in rates.items()})


def f1_score(precision: float | None, recall: float | None) -> Result:
    """F1 from a precision and a recall: the harmonic mean 2 / (1/P + 1/R) = 2PR / (P + R).

    For figures quoted as rates (DOMAIN.md §4: P = 97.0%, R = 7.3% → F1 = 13.6%). ``None`` (or
    NaN) for either gives an undefined result with the reason; P = R = 0 gives 0. Rates must lie
    in [0, 1] (``ValueError`` otherwise). With counts at hand use :func:`binary_metrics`.
    """
    missing = []
    for name, x in (("precision", precision), ("recall", recall)):
        if _rate(x, name, "f1_score", required=False) is None:
            missing.append(name)
    if missing:
        return Result(value=None, reason=f"{' and '.join(missing)} undefined: F1 is undefined")
    p, r = float(precision or 0.0), float(recall or 0.0)
    return Result(value=0.0 if p + r == 0 else 2 * p * r / (p + r))


# --------------------------------------------------------------------------------------------
# Confusion matrix and report
# --------------------------------------------------------------------------------------------


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None = None
) -> NDArray[np.int64]:
    """K × K counts: ``cm[i, j]`` = examples labelled ``labels[i]`` and predicted ``labels[j]``.

    Rows are true classes, columns predicted ones, in the order of ``labels`` (default: the sorted
    union of the values present). Pairs with ``None``/NaN on either side are left out; a value not
    among ``labels`` raises ``ValueError`` naming it. One ``np.bincount`` over ``true · K + pred``.
    """
    pairs = _pairs(y_true, y_pred, labels)
    return _confusion(pairs.true, pairs.pred, pairs.labels.size)


def _confusion(true: NDArray[np.intp], pred: NDArray[np.intp], k: int) -> NDArray[np.int64]:
    flat = np.bincount(true * k + pred, minlength=k * k) if k else np.zeros(0, np.int64)
    return flat.astype(np.int64, copy=False).reshape(k, k)


@dataclass(frozen=True, eq=False)
class Average(Result):
    """An average of the per-class figures; ``value`` = the averaged F1.

    ``kind`` is "macro", "micro" or "weighted". ``excluded[figure]`` lists the labels whose
    per-class figure was undefined and so left out of that average; ``reasons[figure]`` says why
    an averaged figure is itself undefined.
    """

    kind: str = ""
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    excluded: Mapping[str, tuple] = field(default_factory=lambda: MappingProxyType({}))
    reasons: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, eq=False)
class ClassificationReport(Result):
    """Multi-class report; ``value`` = accuracy (undefined when no pair was counted).

    ``labels`` (the class order), ``confusion`` (K × K, rows true, columns predicted),
    per-class arrays ``precision``, ``recall``, ``f1`` (NaN = undefined), ``support`` (actual
    count) and ``predicted`` (predicted count), ``per_class`` (label → :class:`BinaryMetrics` of
    that class against the rest, with reasons), the ``macro``, ``micro`` and ``weighted``
    :class:`Average`, ``n`` (pairs counted) and ``n_excluded`` (pairs left out because a label is
    missing; ``n_missing_true`` / ``n_missing_pred`` count the missing entries on each side).
    """

    labels: tuple = ()
    confusion: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    accuracy: float | None = None
    precision: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    recall: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    f1: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    support: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    predicted: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    per_class: Mapping[Any, BinaryMetrics] = field(default_factory=dict)
    macro: Average = field(default_factory=lambda: Average(value=None, reason=NO_CLASSES))
    micro: Average = field(default_factory=lambda: Average(value=None, reason=NO_CLASSES))
    weighted: Average = field(default_factory=lambda: Average(value=None, reason=NO_CLASSES))
    n: int = 0
    n_excluded: int = 0
    n_missing_true: int = 0
    n_missing_pred: int = 0


def _averages(
    rates: Mapping[str, NDArray[np.float64]],
    support: NDArray[np.int64],
    tp_total: int,
    n: int,
    labels: list,
) -> tuple[Average, Average, Average]:
    """Macro, micro and weighted averages; undefined per-class figures are left out."""
    k = len(labels)
    averaged: dict[str, dict] = {"macro": {}, "weighted": {}}
    for kind, weights in (("macro", None), ("weighted", support.astype(np.float64))):
        values, excluded, reasons = {}, {}, {}
        for figure in FIGURES:
            per_class = rates[figure]
            defined = ~np.isnan(per_class)
            excluded[figure] = tuple(
                label for label, d in zip(labels, defined, strict=True) if not d
            )
            value = None
            if k == 0:
                reasons[figure] = NO_CLASSES
            elif not defined.any():
                reasons[figure] = f"{figure} is undefined for every class"
            elif weights is None:
                value = float(per_class[defined].mean())
            elif weights[defined].sum() == 0:
                reasons[figure] = f"the classes with a defined {figure} have no support"
            else:
                w = weights[defined]
                value = float((per_class[defined] * w).sum() / w.sum())
            values[figure] = value
        averaged[kind] = {
            "precision": values["precision"],
            "recall": values["recall"],
            "f1": values["f1"],
            "excluded": _proxy(excluded),
            "reasons": _proxy(reasons),
        }
    result = []
    for kind in ("macro", "weighted"):
        a = averaged[kind]
        result.append(Average(value=a["f1"], reason=a["reasons"].get("f1"), kind=kind, **a))
    # Micro: pooled counts. Every example is exactly one TP or one (FP of its predicted class and
    # FN of its true class), so ΣTP / Σ(TP + FP) = ΣTP / Σ(TP + FN) = ΣTP / N = accuracy.
    reason = NO_CLASSES if k == 0 else NO_PAIRS if n == 0 else None
    micro_value = None if reason else tp_total / n
    micro = Average(
        value=micro_value,
        reason=reason,
        kind="micro",
        precision=micro_value,
        recall=micro_value,
        f1=micro_value,
        excluded=_proxy(dict.fromkeys(FIGURES, ())),
        reasons=_proxy(dict.fromkeys(FIGURES, reason) if reason else {}),
    )
    return result[0], micro, result[1]


def _report(
    confusion: NDArray[np.int64],
    labels: NDArray,
    n_excluded: int = 0,
    n_missing_true: int = 0,
    n_missing_pred: int = 0,
) -> ClassificationReport:
    """The report of one K × K confusion matrix (shared by the whole and by each slice)."""
    label_list = labels.tolist()
    tp = np.diagonal(confusion).astype(np.int64)
    support = confusion.sum(axis=1, dtype=np.int64)
    predicted = confusion.sum(axis=0, dtype=np.int64)
    n = int(support.sum())
    fp, fn = predicted - tp, support - tp
    tn = n - tp - fp - fn
    rates = _rates(tp, fp, fn, tn)
    per_class = {
        label: _binary_result(
            int(tp[i]), int(fp[i]), int(fn[i]), int(tn[i]), {f: r[i] for f, r in rates.items()}
        )
        for i, label in enumerate(label_list)
    }
    tp_total = int(tp.sum())
    macro, micro, weighted = _averages(rates, support, tp_total, n, label_list)
    accuracy = tp_total / n if n else None
    return ClassificationReport(
        value=accuracy,
        reason=None if n else (NO_PAIRS if labels.size else f"{NO_CLASSES}; {NO_PAIRS}"),
        labels=tuple(label_list),
        confusion=_frozen(confusion),
        accuracy=accuracy,
        precision=_frozen(rates["precision"]),
        recall=_frozen(rates["recall"]),
        f1=_frozen(rates["f1"]),
        support=_frozen(support),
        predicted=_frozen(predicted),
        per_class=per_class,
        macro=macro,
        micro=micro,
        weighted=weighted,
        n=n,
        n_excluded=n_excluded,
        n_missing_true=n_missing_true,
        n_missing_pred=n_missing_pred,
    )


def classification_report(
    y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None = None
) -> ClassificationReport:
    """Confusion matrix, accuracy, per-class P/R/F1/support and their averages.

    Per class k (one-vs-rest, from the confusion matrix C): TP_k = C[k, k], FP_k = Σ_i C[i, k] −
    TP_k, FN_k = Σ_j C[k, j] − TP_k; precision, recall and F1 as in :func:`binary_metrics`
    (undefined with the same reasons). ``value`` = accuracy = Σ_k TP_k / N.

    Averages (``macro``, ``micro``, ``weighted``; each with precision, recall and F1):

    - **macro** = mean over classes of the per-class figure; **weighted** = the same mean weighted
      by support (actual count). **A class whose figure is undefined is left out of that average**
      (listed in ``excluded[figure]``) — never counted as 0. For precision, recall and F1 this
      is scikit-learn's ``zero_division=np.nan``: per-class F1 is 2TP / (2TP + FP + FN) as
      there, so a class the model never predicts (or never meets) counts 0 in macro F1, and only
      a class that appears nowhere (TP = FP = FN = 0) is left out (``zero_division=0`` or ``1``
      would count it as 0 or 1). Where every class is defined the averages equal scikit-learn's
      under any ``zero_division``. One difference: a weighted average whose defined classes all
      have support 0 is undefined (scikit-learn falls back to the unweighted mean).
    - **micro** pools the counts: ΣTP / Σ(TP + FP) = ΣTP / Σ(TP + FN) = accuracy (every value is
      one of the labels), so its three figures are equal; undefined only without pairs.

    Inputs and missing labels as in the module docstring; an empty input gives an undefined
    report (reason), not an error.
    """
    pairs = _pairs(y_true, y_pred, labels)
    confusion = _confusion(pairs.true, pairs.pred, pairs.labels.size)
    return _report(
        confusion, pairs.labels, pairs.n_excluded, pairs.n_missing_true, pairs.n_missing_pred
    )


# --------------------------------------------------------------------------------------------
# Per-slice reports
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SliceReports:
    """One :class:`ClassificationReport` per slice plus ``overall`` (every counted pair).

    ``slices`` = the slice keys in sorted order, ``per_slice[key]`` their reports, ``confusion``
    = S × K × K counts (``confusion[s]`` is slice ``slices[s]``), ``n_no_slice`` = counted pairs
    without a slice (in ``overall`` only).
    """

    slices: tuple
    labels: tuple
    per_slice: Mapping[Any, ClassificationReport]
    overall: ClassificationReport
    confusion: NDArray[np.int64]
    n_no_slice: int = 0


def per_slice_reports(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    slices: ArrayLike,
    labels: ArrayLike | None = None,
) -> SliceReports:
    """:func:`classification_report` of every slice and of the whole, in one counting pass.

    ``slices`` holds one slice key per example (integers or strings; ``None``/NaN = in no slice:
    the example counts in ``overall`` only). With S slices and K labels, every example's
    (slice, true, pred) triple is coded as ``(s · K + t) · K + p`` (s = S for "no slice") and
    counted with **one** ``np.bincount`` into an (S + 1) × K × K array; ``overall`` is its sum over
    slices. The per-slice reports then cost O(S · K²). Pairs with a missing label are excluded
    and counted in each report's ``n_excluded`` (per slice, and in total in ``overall``).
    """
    pairs = _pairs(y_true, y_pred, labels)
    s_array = _as_1d(slices, "slices")
    if s_array.shape != pairs.keep.shape:
        raise ValueError(
            f"slices must have one entry per example ({pairs.keep.size}), got {s_array.size}"
        )
    no_slice = _missing(s_array)
    has_slice = ~no_slice
    keys = _unique(s_array[has_slice] if no_slice.any() else s_array, "slices")
    n_slices = keys.size
    slice_code = np.full(s_array.shape, n_slices, np.intp)
    slice_code[has_slice] = _Lookup(keys, "slices").codes(s_array[has_slice], "slices")

    k = pairs.labels.size
    kept_slice = slice_code[pairs.keep] if pairs.n_excluded else slice_code
    if k:
        flat = np.bincount(
            (kept_slice * k + pairs.true) * k + pairs.pred, minlength=(n_slices + 1) * k * k
        )
        counts = flat.astype(np.int64, copy=False).reshape(n_slices + 1, k, k)
    else:
        counts = np.zeros((n_slices + 1, 0, 0), np.int64)
    if pairs.n_excluded:
        excluded = np.bincount(slice_code[~pairs.keep], minlength=n_slices + 1)
        missing_t = np.bincount(slice_code[pairs.missing_true], minlength=n_slices + 1)
        missing_p = np.bincount(slice_code[pairs.missing_pred], minlength=n_slices + 1)
    else:
        excluded = missing_t = missing_p = np.zeros(n_slices + 1, np.int64)
    key_list = keys.tolist()
    per_slice = {
        key: _report(
            counts[s].copy(), pairs.labels, int(excluded[s]), int(missing_t[s]), int(missing_p[s])
        )
        for s, key in enumerate(key_list)
    }
    overall = _report(
        counts.sum(axis=0),
        pairs.labels,
        pairs.n_excluded,
        pairs.n_missing_true,
        pairs.n_missing_pred,
    )
    return SliceReports(
        slices=tuple(key_list),
        labels=tuple(pairs.labels.tolist()),
        per_slice=per_slice,
        overall=overall,
        confusion=_frozen(counts[:n_slices]),
        n_no_slice=int(counts[n_slices].sum()),
    )


# --------------------------------------------------------------------------------------------
# Slice prioritisation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SlicePriority(Result):
    """One row of the prioritisation table; ``value`` = gap × share.

    ``gap`` = hlp − accuracy (negative when the model beats the humans on the slice). Both are
    ``None`` (with ``reason``) when the slice has no HLP.
    """

    slice: Any = None
    accuracy: float = 0.0
    hlp: float | None = None
    share: float = 0.0
    gap: float | None = None

    @property
    def gap_x_share(self) -> float | None:
        return self.value


_ROW_FIELDS = ("slice", "accuracy", "hlp", "share")


def _rate(x: object, what: str, where: str, required: bool) -> float | None:
    """A rate in [0, 1]; None (or NaN) is missing: ``None`` back, or an error when required."""
    if x is None or (isinstance(x, float | np.floating) and math.isnan(x)):
        if required:
            raise ValueError(f"{where}: {what} is missing")
        return None
    if not isinstance(x, int | float | np.integer | np.floating) or isinstance(x, bool | np.bool_):
        raise ValueError(f"{where}: {what} must be a number in [0, 1], got {x!r}")
    value = float(x)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: {what} must be a number in [0, 1], got {x!r}")
    return value


def _required_rate(x: object, what: str, where: str) -> float:
    value = _rate(x, what, where, required=True)
    if value is None:  # _rate has raised already; this keeps the type a float
        raise ValueError(f"{where}: {what} is missing")
    return value


def _row_fields(index: int, row: object) -> tuple:
    if isinstance(row, Mapping):
        missing = [name for name in ("slice", "accuracy", "share") if name not in row]
        if missing:
            raise ValueError(f"row {index}: missing {', '.join(missing)}")
        return tuple(row.get(name) for name in _ROW_FIELDS)
    if isinstance(row, str | bytes) or not isinstance(row, Sequence) or len(row) != 4:
        raise ValueError(
            f"row {index} must be (slice, accuracy, hlp, share) or a mapping with those keys, "
            f"got {row!r}"
        )
    return tuple(row)


def _name_key(rows: list[SlicePriority]) -> Callable[[SlicePriority], Any]:
    try:
        sorted(row.slice for row in rows)
    except TypeError:
        return lambda row: str(row.slice)
    return lambda row: row.slice


def slice_priorities(rows: Iterable[object]) -> list[SlicePriority]:
    """The prioritisation table of DOMAIN.md §3: where closing the gap to HLP pays most.

    Each row is ``(slice, accuracy, hlp, share)`` (or a mapping with those keys): the model's
    accuracy on the slice, human-level performance on it, and the slice's share of the data, all
    rates in [0, 1]. For each row: gap = hlp − accuracy and gap × share (the accuracy the whole
    would gain if the slice reached HLP), both rounded to 12 decimals so floating-point noise
    (0.95 − 0.94 = 0.010000000000000009) neither shows nor breaks ties.

    Returned sorted by gap × share, largest first; equal values keep the order of the slice names
    (ascending). A row without HLP gets ``value``/``gap`` ``None`` with a reason and goes last
    (by name). Rows with a missing (None/NaN) accuracy or share, rates outside [0, 1], repeated
    slice names, or shares summing above 1 (+1e-9) raise ``ValueError`` naming the row.

    DOMAIN.md's speech table (clean speech 94%/95%/60%, car noise 89/93/4, people noise
    87/89/30, low bandwidth 70/70/6) gives 0.6%, 0.16%, 0.6%, 0% → clean speech, people noise
    (tied at 0.6%, by name), car noise, low bandwidth. Ng, *MLOps*, "Prioritizing what to work on".
    """
    out: list[SlicePriority] = []
    seen: set = set()
    total_share = 0.0
    for index, row in enumerate(rows):
        name, accuracy, hlp, share = _row_fields(index, row)
        where = f"row {index} ({name!r})"
        try:
            repeated = name in seen
            seen.add(name)
        except TypeError:
            raise ValueError(f"{where}: the slice name must be hashable") from None
        if repeated:
            raise ValueError(f"{where}: slice {name!r} appears more than once")
        acc = _required_rate(accuracy, "accuracy", where)
        part = _required_rate(share, "share", where)
        human = _rate(hlp, "hlp", where, required=False)
        total_share += part
        if total_share > 1.0 + SHARE_TOLERANCE:
            raise ValueError(
                f"{where}: shares sum to {total_share:.6g} (above 1) once this row is added"
            )
        if human is None:
            row_result = SlicePriority(
                value=None, reason="no HLP for this slice", slice=name, accuracy=acc, share=part
            )
        else:
            gap = round(human - acc, _PRIORITY_DECIMALS) + 0.0  # + 0.0: no "-0.0"
            weighted = round(gap * part, _PRIORITY_DECIMALS) + 0.0
            row_result = SlicePriority(
                value=weighted, slice=name, accuracy=acc, hlp=human, share=part, gap=gap
            )
        out.append(row_result)
    by_name = _name_key(out)
    defined = sorted((r for r in out if r.value is not None), key=by_name)
    defined.sort(key=lambda r: r.value, reverse=True)  # stable: names stay ascending on ties
    undefined_rows = sorted((r for r in out if r.value is None), key=by_name)
    return defined + undefined_rows


# --------------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------------


def wilson_interval(
    successes: ArrayLike, n: ArrayLike, z: float = 1.959963984540054
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval of a proportion (95% by default), vectorised; NaN where n = 0.

    With p̂ = x / n: centre = (p̂ + z²/2n) / (1 + z²/n), half-width = z·√(p̂(1 − p̂)/n +
    z²/4n²) / (1 + z²/n) (E. B. Wilson 1927, "Probable inference, the law of succession, and
    statistical inference", JASA 22). Unlike p̂ ± z·SE it stays inside [0, 1] and is usable for
    small slices, which is why the prioritisation table shows it.
    """
    x = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    if np.any(x < 0) or np.any(x > m):
        raise ValueError("successes must be between 0 and n")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / m
        z2 = z * z
        denominator = 1 + z2 / m
        centre = (p + z2 / (2 * m)) / denominator
        half = z * np.sqrt(p * (1 - p) / m + z2 / (4 * m * m)) / denominator
    low = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high
