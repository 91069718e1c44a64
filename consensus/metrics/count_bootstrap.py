"""Fast bootstrap CIs of nominal agreement coefficients from an items × classes count matrix.

Resampling items with replacement is the same as giving item i a weight w_i (how often it was
drawn; w ~ Multinomial(N, 1/N)). Nominal Krippendorff's alpha, percent agreement and Gwet's AC1
are all ratios of per-item sums, so a replicate is a few weighted sums — W (B × N) @ per-item
terms — instead of recomputing the coefficient on resampled data: O(B·N) time in blocks of
replicates, O(N·K) memory. Equal to :func:`consensus.metrics.bootstrap.bootstrap_ci` with the
same drawn indices (tested). Formulas, with n_ic the labels c on item i and m_i = Σ_c n_ic:

* alpha (nominal): α = 1 − (n − 1) Σ_i d_i / (n² − Σ_c n_c²), d_i = (m_i² − Σ_c n_ic²)/(m_i − 1),
  over items with m_i ≥ 2, n = Σ_i m_i, n_c = Σ_i n_ic (Krippendorff 2011, coincidences).
* percent agreement: the weighted mean of p_i = Σ_c n_ic(n_ic − 1) / (m_i(m_i − 1)), m_i ≥ 2.
* Gwet's AC1: (p_a − p_e)/(1 − p_e), p_e = Σ_q π_q(1 − π_q)/(Q − 1), π_q the weighted mean of
  n_iq/m_i over items with m_i ≥ 1 (Gwet 2008).

Percentile intervals as in Efron & Tibshirani (1993), §13.3.

Large projects: with ``groups=G`` the items are dealt at random into G groups whose terms are
summed, and groups are resampled instead of items (the random-group method: K. M. Wolter, 2007,
*Introduction to Variance Estimation*, 2nd ed., ch. 2). Every term is a sum over items, so a
group behaves as one item carrying its members' sums; for G in the thousands the interval
matches the item bootstrap closely (tested) at O(N + B·G) cost instead of O(B·N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Replicates drawn per block (bounds the B × N weight matrix in memory).
_BLOCK = 25


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    n_resamples: int
    n_undefined: int


def draw_weights(indices: NDArray[np.integer], n_items: int) -> NDArray[np.float64]:
    """How often each item was drawn in each replicate: B × n_items from B × k drawn indices."""
    b = len(indices)
    offset = (np.asarray(indices) + np.arange(b)[:, None] * n_items).ravel()
    return np.bincount(offset, minlength=b * n_items).reshape(b, n_items).astype(np.float64)


def nominal_alpha(counts: ArrayLike) -> float | None:
    """Nominal Krippendorff's alpha straight from an items × classes count matrix (the formula
    above, with every weight 1), None when undefined. Cheap for any subset of rows, e.g. a slice
    of the data: only pairable rows (two or more labels) are summed."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.size == 0:
        return None
    m = c.sum(axis=1)
    pairable = m >= 2
    c, m = c[pairable], m[pairable]
    n = m.sum()
    n_c = c.sum(axis=0)
    d = ((m * m - (c * c).sum(axis=1)) / (m - 1.0)).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 1.0 - (n - 1.0) * d / (n * n - (n_c * n_c).sum())
    return float(value) if np.isfinite(value) else None


def nominal_coefficients(counts: ArrayLike) -> dict[str, float | None]:
    """Nominal alpha, percent agreement and Gwet's AC1 (over the matrix's columns as the scale)
    from an items × classes count matrix; None where undefined."""
    c = np.asarray(counts, dtype=np.float64).reshape(-1, np.shape(counts)[-1])
    values = _coefficients(np.ones((1, len(c))), _terms(c), max(c.shape[1], 2))
    return {name: float(v[0]) if np.isfinite(v[0]) else None for name, v in values.items()}


def _terms(counts: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Per-item terms whose weighted sums make each coefficient."""
    m = counts.sum(axis=1)
    pairable = m >= 2
    squares = (counts * counts).sum(axis=1)
    safe_pairs = np.where(pairable, m * (m - 1), 1.0)
    return {
        "m2": np.where(pairable, m, 0.0),
        "d": np.where(pairable, (m * m - squares) / np.where(pairable, m - 1, 1.0), 0.0),
        "nc": counts * pairable[:, None],
        "pairable": pairable.astype(np.float64),
        "p": np.where(pairable, (squares - m) / safe_pairs, 0.0),
        "rated": (m >= 1).astype(np.float64),
        "share": counts / np.where(m >= 1, m, 1.0)[:, None],
    }


def _coefficients(w: NDArray[np.float64], t: dict[str, NDArray[np.float64]], q: int):
    """Alpha, percent agreement and AC1 for each row of weights ``w`` (B × N)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        n = w @ t["m2"]
        n_c = w @ t["nc"]
        alpha = 1.0 - (n - 1.0) * (w @ t["d"]) / (n * n - (n_c * n_c).sum(axis=1))
        pairable = w @ t["pairable"]
        p_a = (w @ t["p"]) / pairable
        pi = (w @ t["share"]) / (w @ t["rated"])[:, None]
        p_e = (pi * (1.0 - pi)).sum(axis=1) / (q - 1) if q >= 2 else np.full(len(w), np.nan)
        ac1 = (p_a - p_e) / (1.0 - p_e)
    return {"krippendorff_alpha": alpha, "percent_agreement": p_a, "gwet_ac1": ac1}


def random_groups(n_items: int, groups: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """Deal ``n_items`` items at random into ``groups`` groups (sizes differ by at most one):
    the group of each item, from one ``rng.permutation``."""
    return rng.permutation(n_items) % groups


def sum_by_group(
    t: dict[str, NDArray[np.float64]], group: NDArray[np.intp], groups: int
) -> dict[str, NDArray[np.float64]]:
    """Sum each per-item term over the groups in ``group`` (one group index per item); share one
    assignment between term sets that must stay paired, e.g. two rounds of the same items."""
    summed = {}
    for name, values in t.items():
        if values.ndim == 1:
            summed[name] = np.bincount(group, weights=values, minlength=groups)
        else:
            summed[name] = np.stack(
                [
                    np.bincount(group, weights=values[:, j], minlength=groups)
                    for j in range(values.shape[1])
                ],
                axis=1,
            )
    return summed


def _grouped(t: dict[str, NDArray[np.float64]], groups: int, rng: np.random.Generator):
    """Sum each term over ``groups`` random groups of items (sizes differ by at most one)."""
    return sum_by_group(t, random_groups(len(t["m2"]), groups, rng), groups)


def nominal_agreement_intervals(
    counts: ArrayLike,
    n: int = 1000,
    seed: int | None = 0,
    confidence: float = 0.95,
    weights: NDArray[np.float64] | None = None,
    groups: int | None = None,
) -> dict[str, Interval]:
    """Percentile CIs of nominal alpha, percent agreement and AC1 by resampling items.

    ``counts`` is items × classes (Q = number of columns, the full scale). ``weights`` (B × N)
    replaces the random draw, for tests. ``groups`` caps the resampled units (see the module
    docstring); None resamples items themselves. Undefined replicates (no pairable item drawn,
    or all labels identical) are skipped and counted.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError("counts must be items × classes")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    t = _terms(c)
    q = c.shape[1]
    rng = np.random.default_rng(seed)
    if groups is not None and weights is None and c.shape[0] > groups:
        t = _grouped(t, groups, rng)
    n_items = len(t["m2"])
    draws: dict[str, list[NDArray[np.float64]]] = {}
    total = len(weights) if weights is not None else (n if n_items else 0)
    for start in range(0, total, _BLOCK):
        if weights is not None:
            w = np.asarray(weights[start : start + _BLOCK], dtype=np.float64)
        else:
            size = min(_BLOCK, total - start)
            idx = rng.integers(0, n_items, size=(size, n_items))
            w = draw_weights(idx, n_items)
        for name, values in _coefficients(w, t, q).items():
            draws.setdefault(name, []).append(values)
    tail = (1.0 - confidence) / 2.0
    result = {}
    for name in ("krippendorff_alpha", "percent_agreement", "gwet_ac1"):
        values = np.concatenate(draws[name]) if name in draws else np.empty(0)
        finite = values[np.isfinite(values)]
        low, high = (
            (float(np.quantile(finite, tail)), float(np.quantile(finite, 1.0 - tail)))
            if finite.size
            else (None, None)
        )
        result[name] = Interval(low, high, int(values.size), int(values.size - finite.size))
    return result
