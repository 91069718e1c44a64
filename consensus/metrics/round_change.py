"""Did the latest labeling round raise agreement? A paired bootstrap of the change in nominal alpha.

Input: two items × classes count matrices over the same items (rows) and classes (columns),
n_ic = labels of class c on item i in the earlier round (``before``) and the new round (``after``).
Only items with m_i = Σ_c n_ic ≥ 2 in *both* rounds are used (N = ``n_items``), so both
coefficients describe the same items:

    Δ = α_after − α_before,   α = 1 − (n − 1) Σ_i d_i / (n² − Σ_c n_c²)   (nominal alpha),
    d_i = (m_i² − Σ_c n_ic²)/(m_i − 1),  n = Σ_i m_i,  n_c = Σ_i n_ic

(Krippendorff 2011, "Computing Krippendorff's alpha-reliability", coincidences; the formula of
:mod:`consensus.metrics.count_bootstrap`, whose helpers compute it here).

Paired bootstrap: a replicate draws N items with replacement *once* and applies the draw to both
rounds — item i gets weight w_i (how often it was drawn, w ~ Multinomial(N, 1/N)) in both — so
Δ*_b = α_after(w_b) − α_before(w_b). Pairing keeps what the rounds share (the same hard and easy
items), so the interval is about the change, not about which items happened to be sampled; two
independent bootstraps would ignore that covariance (with 40 % hard items in a simulation, their
interval is about 3/4 wider). The interval at ``confidence`` c is the (1 − c)/2 and (1 + c)/2
quantiles of the defined Δ*_b (``np.quantile``, linear interpolation: the percentile interval,
B. Efron & R. J. Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 6 and §13.3). The
change is ``significant`` when the interval excludes 0; ``direction`` is "raised" (low > 0),
"lowered" (high < 0) or "no significant change".

Replicates: a weight matrix W (B × N) per block of replicates times per-item terms, no loop over
items. With N ≤ 5,000 (``_GROUP_ABOVE``) the item indices are exactly
``np.random.default_rng(seed).integers(0, N, size=(n_resamples, N))`` over the usable items in
their order (drawn in blocks of whole replicates, which yields the same stream), so a caller can
reproduce every replicate (see :func:`_replicates`). Above that, the usable items are dealt at
random into 5,000 groups (one permutation from the same generator, first, shared by both rounds
so the pairing is kept) and groups are resampled: the random-group method (K. M. Wolter 2007,
*Introduction to Variance Estimation*, 2nd ed., ch. 2), as ``groups=`` in count_bootstrap.

Undefined (``value`` None, ``reason`` set, ``significant`` False, ``direction`` "undefined"):
fewer than two usable items (one item cannot show sampling variation), alpha undefined in either
round on the usable items (all labels identical: 0/0), or more than half of the replicates
undefined (a replicate is dropped when either of its alphas is). ``before`` and ``after`` are
still reported when they are defined.

Reading it: a significant rise means these items were labeled more consistently in the new round.
If the items were *chosen* for relabeling because they disagreed in the earlier round, part of
the rise is regression to the mean, not a better process; compare against items relabeled at
random to separate the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from consensus.metrics.count_bootstrap import (
    _coefficients,
    _terms,
    draw_weights,
    nominal_alpha,
    random_groups,
    sum_by_group,
)
from consensus.metrics.results import Result, undefined

__all__ = ["RoundChange", "round_change"]

#: Above this many usable items, resample random groups instead of items.
_GROUP_ABOVE = 5_000
#: Number of random groups then.
_GROUPS = 5_000
#: Weight-matrix entries per block of replicates (bounds memory, keeps a block in cache).
_BLOCK_ENTRIES = 250_000

RAISED = "raised"
LOWERED = "lowered"
NO_CHANGE = "no significant change"
UNDEFINED = "undefined"


@dataclass(frozen=True)
class RoundChange(Result):
    """``value`` = α_after − α_before (nominal alpha on the items usable in both rounds).

    [``low``, ``high``] is the paired percentile bootstrap interval of the difference over
    ``n_resamples`` replicates; ``n_items`` the items with two or more labels in both rounds.
    """

    before: float | None = None
    after: float | None = None
    low: float | None = None
    high: float | None = None
    n_items: int = 0
    n_resamples: int = 0
    significant: bool = False
    direction: str = UNDEFINED


def round_change(
    before_counts: ArrayLike,
    after_counts: ArrayLike,
    *,
    n_resamples: int = 2000,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> RoundChange:
    """Change in nominal Krippendorff's alpha from one round to the next, with a paired bootstrap
    percentile CI; see the module docstring for the formula, the resampling and the sources.

    Raises ``ValueError`` when the matrices are not 2-D, differ in shape, or hold anything but
    non-negative whole counts, and for ``n_resamples`` < 1 or ``confidence`` outside (0, 1).
    """
    before = _as_counts(before_counts, "before_counts")
    after = _as_counts(after_counts, "after_counts")
    if before.shape != after.shape:
        raise ValueError(
            "before_counts and after_counts must have the same shape (the same items as rows, "
            f"the same classes as columns): got {before.shape} and {after.shape}"
        )
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")

    usable = (before.sum(axis=1) >= 2) & (after.sum(axis=1) >= 2)
    before, after = before[usable], after[usable]
    n_items = int(usable.sum())
    common: dict[str, object] = {"n_items": n_items, "n_resamples": n_resamples}
    if n_items == 0:
        return undefined(RoundChange, "no item has two or more labels in both rounds", **common)
    alpha_before, alpha_after = nominal_alpha(before), nominal_alpha(after)
    common |= {"before": alpha_before, "after": alpha_after}
    if alpha_before is None or alpha_after is None:
        rounds = [
            name
            for name, alpha in (("earlier", alpha_before), ("new", alpha_after))
            if alpha is None
        ]
        return undefined(
            RoundChange,
            f"alpha is undefined in the {' and '.join(rounds)} round: all labels on the "
            "usable items are identical (expected disagreement is 0, alpha is 0/0)",
            **common,
        )
    if n_items < 2:
        return undefined(
            RoundChange,
            "only one item has two or more labels in both rounds: resampling one item cannot "
            "show sampling variation",
            **common,
        )

    differences = _bootstrap(before, after, n_resamples, np.random.default_rng(seed))
    defined = differences[np.isfinite(differences)]
    n_undefined = n_resamples - defined.size
    if 2 * n_undefined > n_resamples:
        return undefined(
            RoundChange,
            f"alpha is undefined in {n_undefined} of {n_resamples} resamples (no variation in "
            "the labels drawn): too few to trust an interval",
            **common,
        )
    tail = (1.0 - confidence) / 2.0
    low, high = (float(v) for v in np.quantile(defined, [tail, 1.0 - tail]))
    direction = RAISED if low > 0 else LOWERED if high < 0 else NO_CHANGE
    return RoundChange(
        value=alpha_after - alpha_before,
        low=low,
        high=high,
        significant=direction != NO_CHANGE,
        direction=direction,
        before=alpha_before,
        after=alpha_after,
        n_items=n_items,
        n_resamples=n_resamples,
    )


def _as_counts(counts: ArrayLike, name: str) -> NDArray[np.float64]:
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"{name} must be 2-D (items × classes), got {c.ndim}-D")
    if not np.isfinite(c).all() or (c < 0).any() or (c != np.round(c)).any():
        raise ValueError(f"{name} must hold non-negative whole counts")
    return c


def _q(counts: NDArray[np.float64]) -> int:
    # Only AC1 (computed alongside, unused here) depends on the number of classes.
    return max(counts.shape[1], 2)


def _differences(
    w: NDArray[np.float64],
    t_before: dict[str, NDArray[np.float64]],
    t_after: dict[str, NDArray[np.float64]],
    q: int,
) -> NDArray[np.float64]:
    """α_after − α_before for each row of weights ``w`` (NaN where either alpha is undefined)."""
    before = _coefficients(w, t_before, q)["krippendorff_alpha"]
    after = _coefficients(w, t_after, q)["krippendorff_alpha"]
    with np.errstate(invalid="ignore"):
        return np.asarray(after - before, dtype=np.float64)


def _bootstrap(
    before: NDArray[np.float64],
    after: NDArray[np.float64],
    n_resamples: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """The ``n_resamples`` paired replicate differences (NaN = undefined) on usable items."""
    t_before, t_after = _terms(before), _terms(after)
    if len(before) > _GROUP_ABOVE:
        # One assignment for both rounds, so an item's two rounds stay in the same unit.
        group = random_groups(len(before), _GROUPS, rng)
        t_before = sum_by_group(t_before, group, _GROUPS)
        t_after = sum_by_group(t_after, group, _GROUPS)
    n_units = len(t_before["m2"])
    q = _q(before)
    block = max(1, _BLOCK_ENTRIES // n_units)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        idx = rng.integers(0, n_units, size=(size, n_units))
        out[start : start + size] = _differences(draw_weights(idx, n_units), t_before, t_after, q)
    return out


def _replicates(before: ArrayLike, after: ArrayLike, indices: ArrayLike) -> NDArray[np.float64]:
    """Paired replicate differences for explicit item indices (B × N), NaN where undefined.

    ``before`` and ``after`` are the usable items' counts (two or more labels in both rounds);
    row b of ``indices`` is the items drawn in replicate b. With the indices documented in the
    module docstring, the defined values are those :func:`round_change` takes quantiles of.
    """
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    idx = np.atleast_2d(np.asarray(indices))
    n_items = len(b)
    t_before, t_after = _terms(b), _terms(a)
    block = max(1, _BLOCK_ENTRIES // max(n_items, 1))
    parts = [
        _differences(draw_weights(idx[s : s + block], n_items), t_before, t_after, _q(b))
        for s in range(0, len(idx), block)
    ]
    return np.concatenate(parts) if parts else np.empty(0)
