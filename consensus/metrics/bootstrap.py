"""Percentile bootstrap confidence intervals for any agreement statistic.

Source: B. Efron & R. J. Tibshirani (1993), *An Introduction to the Bootstrap*, Chapman & Hall,
ch. 6 (resampling) and ch. 13.3 (the percentile interval). For reliability data the unit of
resampling is the item (Krippendorff 2004, *Content Analysis*, §11.4.2, bootstraps items too):
labels of one item are dependent, items are taken as independent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from consensus.metrics.results import Result, as_reliability, undefined

# Index arrays are drawn in blocks of at most this many entries (≈ 80 MB of int64).
_BLOCK_ENTRIES = 10_000_000


@dataclass(frozen=True, eq=False)
class BootstrapCI(Result):
    """``value`` = the statistic on the full data; [``low``, ``high``] its percentile interval."""

    low: float | None = None
    high: float | None = None
    confidence: float = 0.95
    standard_error: float | None = None
    n_resamples: int = 0
    n_undefined: int = 0
    replicates: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))


def _value_of(result: object) -> tuple[float | None, str | None]:
    """The float a statistic returned (a ``Result`` or a number), or ``None`` and why not."""
    if isinstance(result, Result):
        value, reason = result.value, result.reason
    else:
        value, reason = result, None
    if value is None:
        return None, reason or "statistic returned None"
    value = float(value)
    if not math.isfinite(value):
        return None, f"statistic returned {value}"
    return value, None


def bootstrap_ci(
    statistic: Callable[..., object],
    data: ArrayLike,
    n: int = 1000,
    seed: int | None = 0,
    confidence: float = 0.95,
    axis: str = "items",
    aligned: Mapping[str, ArrayLike] | None = None,
) -> BootstrapCI:
    """Percentile bootstrap CI of ``statistic(data)``, resampling items (columns) with replacement.

    For b = 1..n draw N item indices uniformly with replacement, θ*_b = statistic(data[:, idx_b]);
    the interval is the (1 − c)/2 and (1 + c)/2 quantiles of the defined θ*_b (``np.quantile``,
    linear interpolation), ``standard_error`` their standard deviation (ddof = 1).
    ``axis="labelers"`` resamples rows instead (how much a figure depends on who labelled; a
    labeler drawn twice agrees with itself, which inflates agreement figures: read with care).

    ``statistic`` takes the data and returns a ``Result`` (its ``.value``) or a number. A
    replicate whose statistic is undefined (``None``, NaN or ±inf) is skipped and counted in
    ``n_undefined``; ``replicates`` holds the defined ones in draw order. ``aligned`` passes
    per-item arrays (e.g. ``{"gold": gold, "slices": slices}``) resampled with the same indices as
    keyword arguments, so ``bootstrap_ci(human_level_performance, data, aligned={"gold": g})``
    keeps gold attached to its item.

    All index arrays come from one ``np.random.default_rng(seed)``, drawn at once as an n × N
    array (in blocks of whole replicates once n · N exceeds 10⁷ indices, which yields the same
    stream), so a seed reproduces the interval.
    Undefined: no items (or labelers), the statistic undefined on the full data, or on every
    replicate.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if axis not in ("items", "labelers"):
        raise ValueError('axis must be "items" or "labelers"')
    data = as_reliability(data)
    aligned = {name: np.asarray(array) for name, array in (aligned or {}).items()}
    if aligned and axis != "items":
        raise ValueError("aligned per-item arrays only make sense with axis='items'")
    for name, array in aligned.items():
        if array.shape[:1] != (data.shape[1],):
            raise ValueError(f"aligned array {name!r} must have one entry per item")
    size = data.shape[1] if axis == "items" else data.shape[0]
    common = {"confidence": confidence, "n_resamples": n}
    if size == 0:
        return undefined(BootstrapCI, f"no {axis} to resample", **common)
    full, reason = _value_of(statistic(data, **aligned))
    if full is None:
        return undefined(BootstrapCI, f"statistic undefined on the full data: {reason}", **common)

    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_ENTRIES // size)
    replicates = np.full(n, np.nan)
    for start in range(0, n, block):
        indices = rng.integers(0, size, size=(min(block, n - start), size))
        for offset, idx in enumerate(indices):
            if axis == "items":
                sample = data[:, idx]
                extra = {name: array[idx] for name, array in aligned.items()}
            else:
                sample, extra = data[idx], {}
            value, _ = _value_of(statistic(sample, **extra))
            if value is not None:
                replicates[start + offset] = value
    defined = replicates[~np.isnan(replicates)]
    defined.flags.writeable = False
    n_undefined = n - defined.size
    common |= {"n_undefined": n_undefined, "replicates": defined}
    if defined.size == 0:
        return BootstrapCI(value=None, reason="statistic undefined on every resample", **common)
    tail = (1 - confidence) / 2
    low, high = np.quantile(defined, [tail, 1 - tail])
    se = float(defined.std(ddof=1)) if defined.size > 1 else None
    return BootstrapCI(value=full, low=float(low), high=float(high), standard_error=se, **common)
