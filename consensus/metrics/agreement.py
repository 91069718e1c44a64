"""Inter-annotator agreement coefficients.

Input is reliability data (see :mod:`consensus.metrics.results`): a labelers × items float array,
``np.nan`` where a labeler did not label an item, category codes stored as floats (any real values
for interval and ratio data). Every coefficient returns a frozen :class:`Result` subclass whose
``value`` is ``None`` with a ``reason`` whenever the coefficient is undefined (one labeler, no item
with two labels, no items, no variation in the labels, ...): never a silent 0 and never a crash.

Implementation notes
--------------------
* Labels are encoded once (:func:`_encode`): the present entries in item-major order and their
  value codes from ``np.unique(..., return_inverse=True)``. Per (item, value) counts are taken from
  those entries, so memory is O(labels) — no items × values matrix, and never the
  units × values × values tensor the ``krippendorff`` package builds.
* No Python loop runs over items. Loops run over labelers (pairwise), over the offset between
  distinct values inside an item (at most ``min(labelers, values)`` passes) or over blocks of
  values (ratio alpha).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from consensus.metrics.results import Result, as_reliability, undefined

__all__ = [
    "CategoryAgreement",
    "CohenKappa",
    "FleissKappa",
    "GwetAC1",
    "KrippendorffAlpha",
    "LabelerAgreement",
    "PairwiseAgreement",
    "PercentAgreement",
    "category_agreement",
    "category_counts",
    "coincidence_matrix",
    "cohen_kappa",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "labeler_agreement",
    "pairwise_agreement",
    "percent_agreement",
]

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None

_LEVELS = ("nominal", "ordinal", "interval", "ratio")

NO_ITEMS = "no items: there are no labels to compare"
ONE_LABELER = "only one labeler: agreement needs at least two"
NO_PAIRS = "no item has labels from two or more labelers (no two labelers share an item)"
NO_VARIATION = "all labels are identical: expected disagreement is 0, the coefficient is 0/0"


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class PercentAgreement(Result):
    """Mean share of agreeing label pairs per item; ``n_items`` items had two or more labels."""

    n_items: int = 0


@dataclass(frozen=True)
class CohenKappa(Result):
    """Cohen's kappa with its observed and chance agreement over ``n`` paired labels."""

    observed: float | None = None
    expected: float | None = None
    n: int = 0
    weights: str | None = None


@dataclass(frozen=True)
class FleissKappa(Result):
    """Fleiss' kappa with P̄ (``p_bar``, mean item agreement) and P_e (``p_e``, chance)."""

    p_bar: float | None = None
    p_e: float | None = None
    n_items: int = 0
    n_raters: int = 0


@dataclass(frozen=True)
class KrippendorffAlpha(Result):
    """Krippendorff's alpha = 1 − D_o / D_e, with the figures it is made of.

    ``n_pairable`` is n.. (labels in units with two or more labels), ``n_units`` those units,
    ``n_values`` the distinct values among them.
    """

    level: str = "nominal"
    observed_disagreement: float | None = None
    expected_disagreement: float | None = None
    n_pairable: int = 0
    n_units: int = 0
    n_values: int = 0


@dataclass(frozen=True)
class GwetAC1(Result):
    """Gwet's AC1 with its percent agreement ``p_a`` and chance agreement ``p_e``."""

    p_a: float | None = None
    p_e: float | None = None
    n_items: int = 0
    n_categories: int = 0


@dataclass(frozen=True)
class CategoryAgreement(Result):
    """Per-category agreement, keyed by category code.

    ``value`` is the pooled share of agreeing pairs, Σ_i Σ_k n_ik(n_ik−1) / Σ_i n_i(n_i−1) (the
    pair-weighted mean of the specific agreements). ``specific[k]`` is the specific agreement of
    category k, ``kappa[k]`` the one-vs-rest Krippendorff nominal alpha of k, ``n_labels[k]`` the
    number of labels k in items with two or more labels. ``None`` marks an undefined entry.
    """

    specific: dict[float, float | None] = field(default_factory=dict, hash=False)
    kappa: dict[float, float | None] = field(default_factory=dict, hash=False)
    n_labels: dict[float, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class PairwiseAgreement(Result):
    """Labeler × labeler matrices (read-only arrays, NaN where undefined).

    ``value`` is Light's kappa, the mean of the defined Cohen's kappas over labeler pairs.
    ``percent[a, b]`` is the share of items labeled by both on which they agree, ``kappa[a, b]``
    their Cohen's kappa, ``shared[a, b]`` the number of items both labeled (the diagonal holds each
    labeler's own item count, percent 1 and kappa 1 or NaN).
    """

    percent: NDArray[np.float64] | None = field(default=None, compare=False)
    kappa: NDArray[np.float64] | None = field(default=None, compare=False)
    shared: NDArray[np.int64] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LabelerAgreement(Result):
    """Each labeler against the plurality label of the other labelers (leave-one-out).

    Per labeler (read-only arrays): ``agreement`` = ``agreed / compared`` (NaN when nothing was
    compared), ``compared`` items where the others had a unique plurality label, ``tied`` items
    where the others tied, ``alone`` items no other labeler labeled. ``value`` pools all labelers:
    Σ agreed / Σ compared.
    """

    agreement: NDArray[np.float64] | None = field(default=None, compare=False)
    agreed: NDArray[np.int64] | None = field(default=None, compare=False)
    compared: NDArray[np.int64] | None = field(default=None, compare=False)
    tied: NDArray[np.int64] | None = field(default=None, compare=False)
    alone: NDArray[np.int64] | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- encoding helpers


@dataclass(frozen=True)
class _Encoded:
    """The present labels of reliability data, item-major.

    ``item``/``labeler``/``code`` hold one entry per kept label (sorted by item, then labeler);
    ``values[code]`` is the label. ``m`` counts all labels per item (kept or not).
    """

    values: NDArray[np.float64]
    item: NDArray[np.intp]
    labeler: NDArray[np.intp]
    code: NDArray[np.intp]
    m: NDArray[np.intp]
    n_labelers: int
    n_items: int


def _encode(x: NDArray[np.float64], min_labels: int = 1) -> _Encoded:
    """Encode labels of items holding at least ``min_labels`` labels. O(labels log labels)."""
    item, labeler = np.nonzero(~np.isnan(x.T))  # row-major over items × labelers: item-sorted
    m = np.bincount(item, minlength=x.shape[1])
    if min_labels > 1:
        keep = m[item] >= min_labels
        item, labeler = item[keep], labeler[keep]
    values, code = np.unique(x[labeler, item], return_inverse=True)
    return _Encoded(values, item, labeler, code.reshape(-1), m, x.shape[0], x.shape[1])


@dataclass(frozen=True)
class _Triples:
    """Non-zero (item, value code, count) cells of the items × values count matrix n_iv."""

    item: NDArray[np.intp]
    code: NDArray[np.intp]
    count: NDArray[np.int64]
    inverse: NDArray[np.intp] | None  # triple of each encoded label, when asked for


def _triples(enc: _Encoded, with_inverse: bool = False) -> _Triples:
    """Sparse value counts n_iv, sorted by item then code, in O(labels) memory."""
    n_values = max(len(enc.values), 1)
    key = enc.item.astype(np.int64) * n_values + enc.code
    if with_inverse:
        uniq, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
    else:
        uniq, count = np.unique(key, return_counts=True)
        inverse = None
    return _Triples(uniq // n_values, uniq % n_values, count.astype(np.int64), inverse)


def _reason(enc: _Encoded) -> str | None:
    """Why no agreement can be computed at all, else None."""
    if enc.n_items == 0 or not enc.m.any():
        return NO_ITEMS
    if enc.n_labelers < 2:
        return ONE_LABELER
    if not (enc.m >= 2).any():
        return NO_PAIRS
    return None


def _pairs_within_items(tri: _Triples):
    """Yield (index_a, index_b) arrays of triples that share an item, each unordered pair once.

    Triples are item-sorted, so pairs sit at a fixed offset d inside an item: one vectorised pass
    per offset, at most (largest number of distinct values in an item) − 1 passes.
    """
    if len(tri.item) == 0:
        return
    max_distinct = int(np.bincount(tri.item).max())
    index = np.arange(len(tri.item))
    for d in range(1, max_distinct):
        same = tri.item[d:] == tri.item[:-d]
        if not same.any():
            break
        first = index[:-d][same]
        yield first, first + d


def _ratio_delta2(c: NDArray[np.float64], k: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ratio metric ((c − k)/(c + k))², 0 where c + k = 0 (as the ``krippendorff`` package)."""
    c, k = np.broadcast_arrays(c, k)
    den = c + k
    out = np.zeros(den.shape)
    np.divide(c - k, den, out=out, where=den != 0)
    return out * out


def _readonly(array: NDArray) -> NDArray:
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------- percent agreement


def _item_agreement(enc: _Encoded) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Per item with ≥ 2 labels: Σ_k n_ik(n_ik − 1) / (n_i(n_i − 1)), and those items' indices."""
    tri = _triples(enc)
    m = enc.m
    agreeing = np.bincount(tri.item, weights=tri.count * (tri.count - 1.0), minlength=enc.n_items)
    items = np.flatnonzero(m >= 2)
    return agreeing[items] / (m[items] * (m[items] - 1.0)), items


def percent_agreement(data: ArrayLike) -> PercentAgreement:
    """Mean pairwise percent agreement.

    For each item i with n_i ≥ 2 labels, the share of agreeing pairs among its n_i(n_i − 1)
    ordered label pairs, averaged over those items:

        P̄ = (1/N') Σ_i Σ_k n_ik (n_ik − 1) / (n_i (n_i − 1))

    (n_ik: labels k on item i). With a constant n_i this is Fleiss' P̄ (Fleiss 1971, "Measuring
    nominal scale agreement among many raters", Psychological Bulletin 76(5):378–382); with varying
    n_i it is Gwet's p_a (Gwet 2014, *Handbook of Inter-Rater Reliability*, 4th ed., ch. 2).
    Items with fewer than two labels are ignored. Not chance-corrected.
    """
    enc = _encode(as_reliability(data), min_labels=2)
    reason = _reason(enc)
    if reason:
        return undefined(PercentAgreement, reason)
    per_item, items = _item_agreement(enc)
    return PercentAgreement(value=float(per_item.mean()), n_items=len(items))


# --------------------------------------------------------------------------- Cohen's kappa


def cohen_kappa(
    a: ArrayLike, b: ArrayLike, weights: Weights = None, categories: ArrayLike | None = None
) -> CohenKappa:
    """Cohen's kappa between two raters' label vectors (positions with a NaN are dropped).

        κ = (p_o − p_e) / (1 − p_e),   p_o = Σ_k p_kk,   p_e = Σ_k p_k· p_·k

    (Cohen 1960, "A coefficient of agreement for nominal scales", Educational and Psychological
    Measurement 20:37–46). Weighted kappa (Cohen 1968, "Weighted kappa", Psychological Bulletin
    70:213–220) replaces agreement by 1 − w_jk with disagreement weights on the ordered categories

        linear:    w_jk = |j − k| / (K − 1),   quadratic: w_jk = (j − k)² / (K − 1)²

    where j, k are positions in the sorted category list (``categories``, default: the union of
    the two raters' labels), so that κ_w = 1 − Σ w_jk p_jk / Σ w_jk p_j· p_·k. ``observed`` and
    ``expected`` are the (weighted) agreements p_o and p_e. Quadratic κ_w equals
    2 s_ab / (s_a² + s_b² + (ā − b̄)²) on the category positions (Fleiss & Cohen 1973,
    Educational and Psychological Measurement 33:613–619).

    Computed from the two marginal distributions and the paired labels in O(n + K): no K × K table.
    Undefined when no position holds both labels, or when p_e = 1 (both raters used one and the
    same category: expected disagreement 0).
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be 1-D of the same length, got {x.shape} and {y.shape}")
    if np.isinf(x).any() or np.isinf(y).any():
        raise ValueError("labels must not hold infinities (use NaN for missing)")
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    n = len(x)
    if n == 0:
        return undefined(CohenKappa, "no item was labeled by both raters", weights=weights)
    if categories is None:
        cats = np.unique(np.concatenate([x, y]))
    else:
        cats = np.unique(np.asarray(categories, dtype=np.float64))
        if not (np.isin(x, cats).all() and np.isin(y, cats).all()):
            raise ValueError("a label is not among the given categories")
    i = np.searchsorted(cats, x)
    j = np.searchsorted(cats, y)
    k = len(cats)
    count_a = np.bincount(i, minlength=k)
    count_b = np.bincount(j, minlength=k)
    if weights is None:
        observed = float(np.count_nonzero(i == j)) / n
        chance_pairs = int(count_a @ count_b)  # exact integers: p_e == 1 tested exactly
        if chance_pairs == n * n:
            return undefined(CohenKappa, NO_VARIATION, n=n, observed=observed, expected=1.0)
        expected = chance_pairs / (n * n)
    else:
        pa, pb = count_a / n, count_b / n
        if weights == "linear":
            # E|J − K| for independent J ~ pa, K ~ pb: Σ_t F_a(t)(1 − F_b(t)) + F_b(t)(1 − F_a(t))
            fa, fb = np.cumsum(pa)[:-1], np.cumsum(pb)[:-1]
            disagree_obs = float(np.abs(i - j).mean())
            disagree_exp = float((fa * (1 - fb) + fb * (1 - fa)).sum())
        else:
            positions = np.arange(k, dtype=np.float64)
            mean_a, mean_b = pa @ positions, pb @ positions
            var_a = pa @ (positions - mean_a) ** 2
            var_b = pb @ (positions - mean_b) ** 2
            disagree_obs = float(((i - j) ** 2).mean())
            disagree_exp = float(var_a + var_b + (mean_a - mean_b) ** 2)
        if disagree_exp <= 0.0 or k < 2:
            return undefined(CohenKappa, NO_VARIATION, n=n, weights=weights)
        scale = float(k - 1) if weights == "linear" else float(k - 1) ** 2
        observed = 1.0 - disagree_obs / scale
        expected = 1.0 - disagree_exp / scale
    kappa = (observed - expected) / (1.0 - expected)
    return CohenKappa(
        value=float(kappa), observed=observed, expected=expected, n=n, weights=weights
    )


# --------------------------------------------------------------------------- Fleiss' kappa


def category_counts(
    data: ArrayLike, categories: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Items × categories count matrix n_ik from reliability data (input of :func:`fleiss_kappa`).

    Returns ``(categories, counts)``; categories default to the sorted distinct labels. Dense: meant
    for a modest number of categories.
    """
    x = as_reliability(data)
    enc = _encode(x)
    cats = enc.values if categories is None else np.unique(np.asarray(categories, float))
    if not np.isin(enc.values, cats).all():
        raise ValueError("a label is not among the given categories")
    code = np.searchsorted(cats, enc.values)[enc.code]
    key = enc.item.astype(np.int64) * len(cats) + code
    counts = np.bincount(key, minlength=x.shape[1] * len(cats)).reshape(x.shape[1], len(cats))
    return cats, counts.astype(np.int64)


def fleiss_kappa(counts: ArrayLike) -> FleissKappa:
    """Fleiss' kappa from an items × categories count matrix n_ij (n raters per item).

        P_i = (Σ_j n_ij² − n) / (n(n − 1)),   P̄ = (1/N) Σ_i P_i
        p_j = Σ_i n_ij / (N n),               P_e = Σ_j p_j²
        κ = (P̄ − P_e) / (1 − P_e)

    (Fleiss 1971, "Measuring nominal scale agreement among many raters", Psychological Bulletin
    76(5):378–382.) Rows summing to 0 (items nobody rated) are ignored. Fleiss' kappa assumes the
    same number of raters n on every item: when the remaining row sums differ the result is
    *undefined* with a reason (use :func:`krippendorff_alpha` or :func:`gwet_ac1`, which allow a
    varying number of labels) rather than an error, because real labeling data often has uneven
    overlap and the caller should show "undefined", not crash. Malformed input (not 2-D, negative,
    non-finite or non-integer counts) raises ``ValueError``.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"counts must be 2-D (items × categories), got {c.ndim}-D")
    if not np.isfinite(c).all() or (c < 0).any() or (c != np.round(c)).any():
        raise ValueError("counts must be finite non-negative integers")
    c = c.astype(np.int64)
    totals = c.sum(axis=1)
    c, totals = c[totals > 0], totals[totals > 0]
    n_items = len(totals)
    if n_items == 0:
        return undefined(FleissKappa, NO_ITEMS)
    n = int(totals[0])
    if (totals != n).any():
        return undefined(
            FleissKappa,
            "Fleiss' kappa needs the same number of raters on every item; "
            f"row totals range from {int(totals.min())} to {int(totals.max())}",
            n_items=n_items,
        )
    if n < 2:
        return undefined(FleissKappa, "one rater per item: no pairs of ratings", n_items=n_items)
    p_bar = float((((c * c).sum(axis=1) - n) / (n * (n - 1.0))).mean())
    column = c.sum(axis=0)
    if np.count_nonzero(column) < 2:
        return undefined(
            FleissKappa, NO_VARIATION, p_bar=p_bar, p_e=1.0, n_items=n_items, n_raters=n
        )
    p = column / float(n_items * n)
    p_e = float(p @ p)
    kappa = (p_bar - p_e) / (1.0 - p_e)
    return FleissKappa(value=kappa, p_bar=p_bar, p_e=p_e, n_items=n_items, n_raters=n)


# --------------------------------------------------------------------------- Krippendorff's alpha


def coincidence_matrix(data: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Krippendorff's coincidence matrix of reliability data: ``(values, o)``.

        o_ck = Σ_u (n_uc n_uk − [c = k] n_uc) / (m_u − 1)

    over units u with m_u ≥ 2 labels (n_uc: labels c in unit u; Krippendorff 2011, "Computing
    Krippendorff's Alpha-Reliability", Annenberg School for Communication). Built from the sparse
    value counts: the diagonal by one ``bincount`` and the off-diagonal cells by one ``bincount``
    per offset between distinct values of a unit — O(labels · max distinct values per unit) time,
    O(labels + V²) memory.
    """
    x = as_reliability(data)
    enc = _encode(x, min_labels=2)
    n_values = len(enc.values)
    o = np.zeros(n_values * n_values)
    if n_values == 0:
        return enc.values, o.reshape(0, 0)
    tri = _triples(enc)
    w = 1.0 / (enc.m[tri.item] - 1.0)
    o += np.bincount(
        tri.code * (n_values + 1), weights=tri.count * (tri.count - 1.0) * w, minlength=o.size
    )
    for first, second in _pairs_within_items(tri):
        weight = tri.count[first] * tri.count[second] * w[first]
        c, k = tri.code[first], tri.code[second]
        o += np.bincount(c * n_values + k, weights=weight, minlength=o.size)
        o += np.bincount(k * n_values + c, weights=weight, minlength=o.size)
    return enc.values, o.reshape(n_values, n_values)


def _squared_difference_disagreements(
    t: NDArray[np.float64], enc: _Encoded, n_c: NDArray[np.float64]
) -> tuple[float, float]:
    """n·D_o and n(n−1)·D_e for δ²_ck = (t_c − t_k)², without any V × V matrix.

    Within a unit, Σ over ordered label pairs of (t_i − t_j)² = 2 m_u SS_u (SS_u: sum of squares
    about the unit mean), so n·D_o = Σ_u 2 m_u SS_u / (m_u − 1); likewise over all pairable labels
    n(n − 1)·D_e = Σ_ck n_c n_k (t_c − t_k)² = 2 n SS. Values are centred first for accuracy.
    """
    n = n_c.sum()
    t = t - (n_c @ t) / n
    labels = t[enc.code]
    m = enc.m.astype(np.float64)
    unit_mean = np.bincount(enc.item, weights=labels, minlength=enc.n_items)
    np.divide(unit_mean, m, out=unit_mean, where=m > 0)
    ss_unit = np.bincount(
        enc.item, weights=(labels - unit_mean[enc.item]) ** 2, minlength=enc.n_items
    )
    pairable = m >= 2
    observed = float((2.0 * m[pairable] * ss_unit[pairable] / (m[pairable] - 1.0)).sum())
    expected = float(2.0 * n * (n_c @ (t * t)))
    return observed, expected


def _ratio_disagreements(
    values: NDArray[np.float64], enc: _Encoded, n_c: NDArray[np.float64]
) -> tuple[float, float]:
    """n·D_o and n(n−1)·D_e for the ratio metric.

    D_o sums over pairs of distinct values inside units (sparse); D_e over all value pairs in
    row blocks of the V × V distance matrix: O(V²) time but O(V · block) memory.
    """
    tri = _triples(enc)
    w = 1.0 / (enc.m[tri.item] - 1.0)
    observed = 0.0
    for first, second in _pairs_within_items(tri):
        delta2 = _ratio_delta2(values[tri.code[first]], values[tri.code[second]])
        observed += 2.0 * float((tri.count[first] * tri.count[second] * w[first]) @ delta2)
    n_values = len(values)
    block = max(1, (1 << 20) // n_values)
    expected = 0.0
    for start in range(0, n_values, block):
        rows = slice(start, start + block)
        delta2 = _ratio_delta2(values[rows, None], values[None, :])
        expected += float(n_c[rows] @ delta2 @ n_c)
    return observed, expected


def krippendorff_alpha(data: ArrayLike, level: Level = "nominal") -> KrippendorffAlpha:
    """Krippendorff's alpha for reliability data with any number of labelers and missing labels.

        α = 1 − D_o / D_e,   D_o = (1/n) Σ_c Σ_k o_ck δ²_ck,
        D_e = (1/(n(n − 1))) Σ_c Σ_k n_c n_k δ²_ck

    with o the coincidence matrix (:func:`coincidence_matrix`), n_c = Σ_k o_ck the pairable labels
    of value c and n = Σ_c n_c; only units with two or more labels count. Metrics δ²_ck:

        nominal  [c ≠ k]
        ordinal  (Σ_{g=c}^{k} n_g − (n_c + n_k)/2)²
        interval (c − k)²
        ratio    ((c − k)/(c + k))²

    (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability", Annenberg School for
    Communication departmental paper 43; Krippendorff 2004, *Content Analysis*, 2nd ed., ch. 11.)

    The sums Σ o_ck δ²_ck are evaluated without materialising o when δ² allows, so memory is
    O(labels) whatever the number V of distinct values:

    * nominal needs only the trace: n·D_o = n − Σ_c o_cc, n(n − 1)·D_e = n² − Σ_c n_c²;
    * ordinal is interval on the mid-ranks t_c = Σ_{g<c} n_g + n_c/2 (then
      Σ_{g=c}^{k} n_g − (n_c + n_k)/2 = t_k − t_c), and interval δ² = (t_c − t_k)² turns both sums
      into sums of squares: n·D_o = Σ_u 2 m_u SS_u/(m_u − 1), n(n − 1)·D_e = 2 n SS;
    * ratio sums δ² over pairs of distinct values inside units for D_o, and over value pairs in
      blocks for D_e (O(V²) time, O(V) memory: round continuous ratio data if V is huge).

    Equals ``krippendorff.alpha(reliability_data=data, level_of_measurement=level)`` (tested to
    1e-9). Undefined with a reason for: no labels, one labeler, no unit with two labels, a single
    distinct pairable value (D_e = 0).
    """
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {_LEVELS}, got {level!r}")
    enc = _encode(as_reliability(data), min_labels=2)
    reason = _reason(enc)
    if reason:
        return undefined(KrippendorffAlpha, reason, level=level)
    n_values = len(enc.values)
    n_c = np.bincount(enc.code, minlength=n_values).astype(np.float64)
    n = float(len(enc.code))
    figures = {
        "level": level,
        "n_pairable": len(enc.code),
        "n_units": int(np.count_nonzero(enc.m >= 2)),
        "n_values": n_values,
    }
    if n_values < 2:
        return undefined(KrippendorffAlpha, NO_VARIATION, **figures)
    if level == "nominal":
        tri = _triples(enc)
        w = 1.0 / (enc.m[tri.item] - 1.0)
        observed = n - float((tri.count * (tri.count - 1.0)) @ w)
        expected = n * n - float(n_c @ n_c)
    elif level == "ratio":
        observed, expected = _ratio_disagreements(enc.values, enc, n_c)
    else:
        t = enc.values if level == "interval" else np.cumsum(n_c) - n_c / 2.0
        observed, expected = _squared_difference_disagreements(t, enc, n_c)
    d_o = observed / n
    d_e = expected / (n * (n - 1.0))
    if not d_e > 0.0:
        return undefined(
            KrippendorffAlpha,
            NO_VARIATION,
            observed_disagreement=d_o,
            expected_disagreement=d_e,
            **figures,
        )
    return KrippendorffAlpha(
        value=1.0 - d_o / d_e, observed_disagreement=d_o, expected_disagreement=d_e, **figures
    )


# --------------------------------------------------------------------------- Gwet's AC1


def gwet_ac1(data: ArrayLike, categories: ArrayLike | None = None) -> GwetAC1:
    """Gwet's AC1 for any number of raters, with missing ratings.

        p_a = (1/n') Σ_{i: r_i ≥ 2} Σ_q r_iq (r_iq − 1) / (r_i (r_i − 1))
        π_q = (1/n) Σ_{i: r_i ≥ 1} r_iq / r_i
        p_e = (1/(Q − 1)) Σ_q π_q (1 − π_q)
        AC1 = (p_a − p_e) / (1 − p_e)

    (r_iq: ratings q on item i, r_i = Σ_q r_iq; n' items with two or more ratings, n items with at
    least one; Q categories.) Gwet 2008, "Computing inter-rater reliability and its variance in
    the presence of high agreement", British Journal of Mathematical and Statistical Psychology
    61:29–48; Gwet 2014, *Handbook of Inter-Rater Reliability*, 4th ed., ch. 4 (as the ``irrCAC``
    R package). Q is the number of ``categories`` when given (the full scale, used or not), else
    the number of distinct labels; undefined when Q < 2 (pass ``categories``). p_e ≤ 1/Q < 1, so AC1
    is defined whenever one item has two ratings and Q ≥ 2.
    """
    enc = _encode(as_reliability(data))
    reason = _reason(enc)
    if reason:
        return undefined(GwetAC1, reason)
    if categories is None:
        cats, code = enc.values, enc.code
    else:
        cats = np.unique(np.asarray(categories, dtype=np.float64))
        if not np.isin(enc.values, cats).all():
            raise ValueError("a label is not among the given categories")
        code = np.searchsorted(cats, enc.values)[enc.code]
    q = len(cats)
    per_item, items = _item_agreement(enc)
    p_a = float(per_item.mean())
    if q < 2:
        return undefined(
            GwetAC1,
            "only one category: AC1 needs Q ≥ 2 (pass the full category list as categories)",
            p_a=p_a,
            n_items=len(items),
            n_categories=q,
        )
    rated = np.count_nonzero(enc.m)
    pi = np.bincount(code, weights=1.0 / enc.m[enc.item], minlength=q) / rated
    p_e = float(pi @ (1.0 - pi)) / (q - 1)
    ac1 = (p_a - p_e) / (1.0 - p_e)
    return GwetAC1(value=ac1, p_a=p_a, p_e=p_e, n_items=len(items), n_categories=q)


# --------------------------------------------------------------------------- per category


def category_agreement(data: ArrayLike) -> CategoryAgreement:
    """Agreement per category: specific agreement and one-vs-rest alpha, keyed by category code.

    Specific (positive) agreement of category k over items with n_i ≥ 2 labels:

        p_s(k) = Σ_i n_ik (n_ik − 1) / Σ_i n_ik (n_i − 1)

    — of the label pairs that involve a label k, the share where both are k (Fleiss 1975,
    "Measuring agreement between two judges on the presence or absence of a trait", Biometrics
    31:651–659; Uebersax, "Raw agreement indices"; for two raters it is Cicchetti & Feinstein's
    1990 p_pos = 2a / (2a + b + c), J Clin Epidemiol 43:551–558).

    One-vs-rest chance-corrected agreement ``kappa[k]``: Krippendorff's nominal alpha of the data
    binarised to "k / not k" (chosen over Fleiss' kappa because it allows a varying number of
    labels per item). For two values it reduces to

        α_k = 1 − (n − 1) o_k¬k / (n_k (n − n_k)),   o_k¬k = Σ_u n_uk (m_u − n_uk) / (m_u − 1)

    computed for all categories at once. Undefined entries are ``None``: p_s(k) when k never
    appears on an item with two labels, α_k also when every pairable label is k.
    """
    enc = _encode(as_reliability(data))
    reason = _reason(enc)
    if reason:
        return undefined(CategoryAgreement, reason)
    tri = _triples(enc)
    m_tri = enc.m[tri.item].astype(np.float64)
    pairable = m_tri >= 2
    code, count, m_tri = tri.code[pairable], tri.count[pairable].astype(np.float64), m_tri[pairable]
    n_values = len(enc.values)
    agreeing = np.bincount(code, weights=count * (count - 1.0), minlength=n_values)
    involving = np.bincount(code, weights=count * (m_tri - 1.0), minlength=n_values)
    n_k = np.bincount(code, weights=count, minlength=n_values)
    cross = np.bincount(code, weights=count * (m_tri - count) / (m_tri - 1.0), minlength=n_values)
    n = n_k.sum()
    m_items = enc.m[enc.m >= 2].astype(np.float64)
    pooled = float(agreeing.sum() / (m_items * (m_items - 1.0)).sum())
    specific: dict[float, float | None] = {}
    kappa: dict[float, float | None] = {}
    n_labels: dict[float, int] = {}
    for index, value in enumerate(enc.values.tolist()):
        specific[value] = (
            float(agreeing[index] / involving[index]) if involving[index] > 0 else None
        )
        inside = 0 < n_k[index] < n
        kappa[value] = (
            float(1.0 - (n - 1.0) * cross[index] / (n_k[index] * (n - n_k[index])))
            if inside
            else None
        )
        n_labels[value] = int(n_k[index])
    return CategoryAgreement(value=pooled, specific=specific, kappa=kappa, n_labels=n_labels)


# --------------------------------------------------------------------------- labeler pairs


def pairwise_agreement(data: ArrayLike) -> PairwiseAgreement:
    """Labeler × labeler percent agreement, Cohen's kappa and shared-item counts.

    For labelers a, b over the items both labeled (n_ab of them):

        percent_ab = (1/n_ab) Σ_i [x_ai = x_bi]
        kappa_ab = (percent_ab − p_e) / (1 − p_e),   p_e = Σ_k (n^a_k / n_ab)(n^b_k / n_ab)

    with n^a_k the labels k of a on those shared items (Cohen 1960, see :func:`cohen_kappa`).
    ``value`` is Light's kappa, the mean of the defined pairwise kappas over a < b (Light 1971,
    "Measures of response agreement for qualitative data", Psychological Bulletin 76:365–377;
    Conger 1980). NaN where undefined: no shared item, or p_e = 1.

    Computed from the label pairs within items (O(Σ_i m_i²) time for m_i labels on item i, not
    O(L² · items)): for each unordered pair of labels on one item, ``bincount`` over the labeler
    pair (a, b) counts the shared item, the agreement, and a's and b's values for the marginals
    n^a_k, n^b_k (an L × L × V array).
    """
    x = as_reliability(data)
    enc = _encode(x)
    n_labelers = x.shape[0]
    n_values = max(len(enc.values), 1)
    pairs_size = n_labelers * n_labelers
    shared_flat = np.zeros(pairs_size, dtype=np.int64)
    agree_flat = np.zeros(pairs_size, dtype=np.int64)
    marginals = np.zeros(pairs_size * n_values, dtype=np.int64)  # [a, b, k]: a said k, b labeled
    index = np.arange(len(enc.item))
    max_labels = int(enc.m.max()) if enc.m.size else 0
    for d in range(1, max_labels):
        same = enc.item[d:] == enc.item[:-d]
        first = index[:-d][same]
        second = first + d
        la, lb = enc.labeler[first], enc.labeler[second]
        ca, cb = enc.code[first], enc.code[second]
        for a, b, code_a, code_b in ((la, lb, ca, cb), (lb, la, cb, ca)):
            key = a * n_labelers + b
            shared_flat += np.bincount(key, minlength=pairs_size)
            agree_flat += np.bincount(key[code_a == code_b], minlength=pairs_size)
            marginals += np.bincount(key * n_values + code_a, minlength=pairs_size * n_values)
    shared = shared_flat.reshape(n_labelers, n_labelers)
    agree = agree_flat.reshape(n_labelers, n_labelers)
    marginals = marginals.reshape(n_labelers, n_labelers, n_values)
    chance = (marginals * marginals.transpose(1, 0, 2)).sum(axis=2)
    # The diagonal: each labeler with themself over the items they labeled.
    own = np.bincount(enc.labeler * n_values + enc.code, minlength=n_labelers * n_values).reshape(
        n_labelers, n_values
    )
    diagonal = np.arange(n_labelers)
    shared[diagonal, diagonal] = own.sum(axis=1)
    agree[diagonal, diagonal] = own.sum(axis=1)
    chance[diagonal, diagonal] = (own * own).sum(axis=1)
    square = shared.astype(np.float64) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.where(shared > 0, agree / shared, np.nan)
        p_e = np.where(shared > 0, chance / square, np.nan)
        kappa = np.where(
            (shared > 0) & (chance != shared * shared), (percent - p_e) / (1 - p_e), np.nan
        )
    arrays = {
        "percent": _readonly(percent),
        "kappa": _readonly(kappa),
        "shared": _readonly(shared),
    }
    reason = _reason(enc)
    if reason:
        return undefined(PairwiseAgreement, reason, **arrays)
    upper = kappa[np.triu_indices(n_labelers, k=1)]
    defined = upper[~np.isnan(upper)]
    if len(defined) == 0:
        reason = "no labeler pair has a defined kappa: " + NO_VARIATION
        return undefined(PairwiseAgreement, reason, **arrays)
    return PairwiseAgreement(value=float(defined.mean()), **arrays)


def labeler_agreement(data: ArrayLike) -> LabelerAgreement:
    """Each labeler against the plurality label of the *other* labelers (leave-one-out).

    For labeler a and an item a labeled, the others' label counts are n_ik − [k = x_ai]. If they
    have a unique most frequent label, the item is *compared* and a *agreed* when it is x_ai; if
    several labels tie for most frequent the item is counted as *tied*, if no one else labeled it as
    *alone*; neither enters the share agreement_a = agreed_a / compared_a. ``value`` pools all
    labelers (Σ agreed / Σ compared). No chance correction. This is the leave-one-out comparison
    of each annotator with the aggregate of the others (Snow et al. 2008, "Cheap and fast — but is
    it good? Evaluating non-expert annotations for natural language tasks", EMNLP, who correlate
    each annotator with the mean of the others), with the plurality label as the aggregate of
    nominal labels.

    Vectorised: the three largest counts t1 ≥ t2 ≥ t3 of every item (from the sparse value counts)
    settle the leave-one-out plurality for all labels at once, with x = n_{i,x_ai}:
    x = t1 → agree if x − 1 > t2, tie if x − 1 = t2 (alone if both are 0), else (t2 = t1 = x) a
    different plurality, unique iff t3 < t2; x < t1 → a different plurality, unique iff t2 < t1.
    """
    x = as_reliability(data)
    enc = _encode(x)
    n_labelers = x.shape[0]
    tri = _triples(enc, with_inverse=True)
    # Top three counts per item: sort triples by (item, −count), rank within item.
    order = np.lexsort((-tri.count, tri.item))
    item_sorted = tri.item[order]
    starts = np.flatnonzero(np.r_[True, item_sorted[1:] != item_sorted[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    top = np.zeros((enc.n_items, 3), dtype=np.int64)
    first3 = rank < 3
    top[item_sorted[first3], rank[first3]] = tri.count[order][first3]

    own = tri.count[tri.inverse]
    t1, t2, t3 = (top[enc.item, r] for r in range(3))
    is_top = own == t1
    rest = own - 1
    agreed = is_top & (rest > t2)
    alone = is_top & (rest == 0) & (t2 == 0)
    tied = (
        (is_top & (rest == t2) & ~alone)
        | (is_top & (rest < t2) & (t3 == t2))
        | (~is_top & (t2 == t1))
    )
    compared = ~(tied | alone)

    def per_labeler(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        return np.bincount(enc.labeler[mask], minlength=n_labelers).astype(np.int64)

    counts = {
        "agreed": per_labeler(agreed),
        "compared": per_labeler(compared),
        "tied": per_labeler(tied),
        "alone": per_labeler(alone),
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(counts["compared"] > 0, counts["agreed"] / counts["compared"], np.nan)
    arrays = {"agreement": _readonly(share), **{k: _readonly(v) for k, v in counts.items()}}
    reason = _reason(enc)
    if reason:
        return undefined(LabelerAgreement, reason, **arrays)
    total = int(counts["compared"].sum())
    if total == 0:
        return undefined(LabelerAgreement, "the other labelers tie on every shared item", **arrays)
    return LabelerAgreement(value=int(counts["agreed"].sum()) / total, **arrays)
