"""The report's round and guideline figures, and what escalation cost and saved.

All from ``ProjectLabels.history`` (every active label of every round) with bincounts: no query
and no loop over labels. Agreement here is nominal (alpha, percent agreement) on an items ×
classes count matrix built per group of labels; only labels of the same group are compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from annotations.models import Project
from consensus.data import LabelHistory, ProjectLabels
from consensus.metrics.count_bootstrap import nominal_agreement_intervals, nominal_coefficients
from consensus.metrics.round_change import round_change
from consensus.review_rule import disputed_mask

ROUND_BOOTSTRAP_RESAMPLES = 2000


def _num(value: Any, digits: int = 6) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


def _counts(history: LabelHistory, mask: np.ndarray, n_items: int, n_classes: int) -> np.ndarray:
    """Items × classes label counts of the history entries selected by ``mask``."""
    return np.bincount(
        history.item[mask] * n_classes + history.label[mask], minlength=n_items * n_classes
    ).reshape(n_items, n_classes)


def _group_figures(counts: np.ndarray, n_labels: int) -> dict[str, Any]:
    m = counts.sum(axis=1)
    coefficients = nominal_coefficients(counts[m >= 2]) if (m >= 2).any() else {}
    interval = nominal_agreement_intervals(counts[m >= 2], n=500, seed=0, groups=2000)
    alpha = coefficients.get("krippendorff_alpha")
    return {
        "items": int((m >= 1).sum()),
        "items_compared": int((m >= 2).sum()),
        "labels": n_labels,
        "krippendorff_alpha": {
            "value": _num(alpha),
            "low": _num(interval["krippendorff_alpha"].low),
            "high": _num(interval["krippendorff_alpha"].high),
            "reason": None if alpha is not None else "no item with two labels, or no variation",
        },
        "percent_agreement": _num(coefficients.get("percent_agreement")),
    }


def per_group(labels: ProjectLabels, key: str) -> list[dict[str, Any]]:
    """Agreement per round (``key="round"``) or per guideline version (``"guideline"``)."""
    history = labels.history
    if history is None or history.item.size == 0:
        return []
    values = getattr(history, key)
    n_items, n_classes = labels.item_ids.size, max(len(labels.class_keys), 1)
    rows = []
    for value in np.unique(values).tolist():
        mask = values == value
        counts = _counts(history, mask, n_items, n_classes)
        rows.append({key: int(value), **_group_figures(counts, int(mask.sum()))})
    return rows


def newest_round_change(labels: ProjectLabels) -> dict[str, Any]:
    """Did the newest round with labels raise agreement on its items?

    Items labeled in round r (the newest round holding labels, r > 1) are compared with their
    own labels in the round they were labeled in before (the latest earlier round holding labels
    on that item): a paired bootstrap CI of α_after − α_before (``metrics.round_change``).
    """
    history = labels.history
    if history is None or history.item.size == 0 or history.round.max() <= 1:
        return {"round": None, "reason": "no later round with labels yet"}
    newest = int(history.round.max())
    n_items, n_classes = labels.item_ids.size, max(len(labels.class_keys), 1)
    earlier = history.round < newest
    previous = np.zeros(n_items, dtype=np.int64)
    np.maximum.at(previous, history.item[earlier], history.round[earlier])
    after = _counts(history, history.round == newest, n_items, n_classes)
    before_mask = earlier & (history.round == previous[history.item])
    before = _counts(history, before_mask, n_items, n_classes)
    relabeled = (after.sum(axis=1) > 0) & (previous > 0)
    result = round_change(
        before[relabeled], after[relabeled], n_resamples=ROUND_BOOTSTRAP_RESAMPLES, seed=0
    )
    from_rounds = sorted(set(previous[relabeled].tolist()))
    return {
        "round": newest,
        "compared_with_rounds": from_rounds,
        "items": result.n_items,
        "before": _num(result.before),
        "after": _num(result.after),
        "difference": _num(result.value),
        "low": _num(result.low),
        "high": _num(result.high),
        "significant": bool(result.significant),
        "direction": result.direction,
        "reason": result.reason,
        "resamples": result.n_resamples,
    }


def escalation_figures(
    labels: ProjectLabels, project: Project, disagreement: Any, confidence: np.ndarray
) -> dict[str, Any]:
    """Labels that escalation asked for, and the SME reviews it saved: escalated items whose
    labels no longer count as disputed under the project's rule."""
    extra = labels.item_extra_labels
    escalated = extra > 0
    n_labels = np.asarray(disagreement.n_labels)
    overlap = project.overlap
    # The labels actually given beyond the overlap on escalated items (some may still come).
    given = np.clip(n_labels - overlap, 0, extra)
    disputed = disputed_mask(
        project,
        n_labels=n_labels,
        majority_share=disagreement.majority_share,
        confidence=confidence,
    )
    complete = n_labels >= overlap + extra
    return {
        "enabled": project.escalation_max_labels > 0,
        "max_extra_labels": project.escalation_max_labels,
        "items_escalated": int(escalated.sum()),
        "extra_labels_asked": int(extra.sum()),
        "extra_labels_given": int(given[escalated].sum()),
        "reviews_saved": int((escalated & complete & ~disputed).sum()),
        "still_disputed": int((escalated & complete & disputed).sum()),
        "disputed_items": int((complete & disputed).sum()),
    }
