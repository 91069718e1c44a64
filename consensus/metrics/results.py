"""Result types and input checks shared by the metric modules.

Reliability data is a labelers × items array of float category codes, ``np.nan`` where a labeler
did not label an item (the convention of the ``krippendorff`` package). Every metric returns a
small frozen dataclass: ``value`` (a float, or ``None`` when undefined) and ``reason`` (why it is
undefined, else ``None``), plus the figures it naturally has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class Result:
    """A coefficient that may be undefined: ``value is None`` exactly when ``reason`` says why."""

    value: float | None
    reason: str | None = None

    @property
    def defined(self) -> bool:
        return self.value is not None


def undefined(cls: type, reason: str, **figures: object):
    """Build ``cls`` with ``value=None`` and ``reason``; other fields keep their defaults."""
    return cls(value=None, reason=reason, **figures)


def as_reliability(data: ArrayLike) -> NDArray[np.float64]:
    """Check and convert reliability data to a 2-D float array (labelers × items).

    Raises ``ValueError`` for anything that is not 2-D or holds infinities; NaN means missing.
    """
    array = np.asarray(data, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"reliability data must be 2-D (labelers × items), got {array.ndim}-D")
    if np.isinf(array).any():
        raise ValueError("reliability data must not hold infinities (use NaN for missing)")
    return array
