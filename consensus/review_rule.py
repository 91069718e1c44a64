"""The per-project rule that says which items' labels are disputed.

One rule, three readers: escalation (ask one more label), the disagreement queue, and the
report's escalation figures. ``Project.review_rule`` is one of

* ``any`` — the labels are not unanimous: majority share < 1;
* ``majority_below`` — majority share < ``review_threshold`` (e.g. 0.75: 2 of 3 is disputed);
* ``posterior_below`` — the consensus confidence (Dawid–Skene posterior of the chosen label after
  a recompute; the majority share before one) < ``review_threshold``.

An item needs two labels or more to be disputed at all.
"""

from __future__ import annotations

import numpy as np
from django.db.models import Q
from numpy.typing import ArrayLike, NDArray

from annotations.models import Project, ReviewRule


def disputed_q(project: Project, prefix: str = "") -> Q:
    """The rule as a filter on ``ItemConsensus`` rows (``prefix``: a relation path to them)."""
    share, confidence = f"{prefix}majority_share", f"{prefix}confidence"
    enough = Q(**{f"{prefix}n_labels__gte": 2})
    if project.review_rule == ReviewRule.MAJORITY_BELOW:
        return enough & Q(**{f"{share}__lt": project.review_threshold})
    if project.review_rule == ReviewRule.POSTERIOR_BELOW:
        return enough & Q(**{f"{confidence}__lt": project.review_threshold})
    return enough & Q(**{f"{share}__lt": 1.0 - 1e-9})


def disputed_mask(
    project: Project, *, n_labels: ArrayLike, majority_share: ArrayLike, confidence: ArrayLike
) -> NDArray[np.bool_]:
    """The rule over arrays (NaN never counts as disputed)."""
    n = np.asarray(n_labels)
    share = np.asarray(majority_share, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        if project.review_rule == ReviewRule.MAJORITY_BELOW:
            below = share < project.review_threshold
        elif project.review_rule == ReviewRule.POSTERIOR_BELOW:
            below = conf < project.review_threshold
        else:
            below = share < 1.0 - 1e-9
    return (n >= 2) & below
