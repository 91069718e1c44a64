"""Compute and store a project's consistency report, and rebuild its items' consensus.

``report_recompute`` reads the round's labels once (``consensus.data``), computes everything with
the pure metrics package, and writes the report row and every item's consensus in one
transaction: a reader sees the previous report or the new one, never half of one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.models import Project
from consensus.data import ProjectLabels, project_labels_load
from consensus.metrics.aggregation import dawid_skene, item_disagreement
from consensus.metrics.agreement import (
    category_agreement,
    category_counts,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    labeler_agreement,
    pairwise_agreement,
    percent_agreement,
)
from consensus.metrics.count_bootstrap import nominal_agreement_intervals, nominal_alpha
from consensus.metrics.hlp import human_level_performance
from consensus.models import ConsistencyReport
from consensus.services.consensus_store import consensus_columns, consensus_store
from consensus.services.report_history import (
    escalation_figures,
    newest_round_change,
    per_group,
)

logger = logging.getLogger(__name__)

#: Bootstrap replicates for the report's 95% intervals (each replicate is a few weighted sums),
#: over at most this many random groups of items (see ``metrics.count_bootstrap``).
REPORT_BOOTSTRAP_RESAMPLES = 1000
REPORT_BOOTSTRAP_GROUPS = 2000
#: Largest change of any Dawid–Skene parameter that counts as converged.
DAWID_SKENE_TOLERANCE = 1e-5
TOP_DISAGREEMENTS = 100


def _num(value: Any, digits: int = 6) -> float | None:
    """A JSON-safe float: None for None, NaN and infinities."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


def _figure(result: Any, interval: Any = None) -> dict[str, Any]:
    body = {"value": _num(result.value), "reason": result.reason}
    if interval is not None:
        body.update(low=_num(interval.low), high=_num(interval.high))
    return body


def _overall(
    labels: ProjectLabels, counts: np.ndarray, n_classes: int, hlp_gold: Any, hlp_agreement: Any
) -> dict[str, Any]:
    data = labels.matrix
    intervals = nominal_agreement_intervals(
        counts, n=REPORT_BOOTSTRAP_RESAMPLES, seed=0, groups=REPORT_BOOTSTRAP_GROUPS
    )
    m = counts.sum(axis=1)
    labeled = m[m >= 2]
    modal = int(np.bincount(labeled.astype(np.int64)).argmax()) if labeled.size else 0
    fleiss = fleiss_kappa(counts[m == modal]) if modal >= 2 else None
    return {
        "krippendorff_alpha": _figure(krippendorff_alpha(data), intervals["krippendorff_alpha"]),
        "percent_agreement": _figure(percent_agreement(data), intervals["percent_agreement"]),
        "gwet_ac1": _figure(gwet_ac1(data, categories=np.arange(n_classes)), intervals["gwet_ac1"]),
        "fleiss_kappa": {
            **(
                _figure(fleiss)
                if fleiss
                else {"value": None, "reason": "no item has two or more labels"}
            ),
            "items": int((m == modal).sum()) if modal >= 2 else 0,
            "raters_per_item": modal,
        },
        "hlp_agreement": _figure(hlp_agreement),
        "hlp_gold": {**_figure(hlp_gold), "pooled": _num(hlp_gold.pooled)},
        "bootstrap_resamples": REPORT_BOOTSTRAP_RESAMPLES,
    }


def _per_class(
    labels: ProjectLabels, counts: np.ndarray, classes: Iterable[str], hlp_gold: Any
) -> list[dict[str, Any]]:
    agreement = category_agreement(labels.matrix)
    rows = []
    for code, key in enumerate(classes):
        human = hlp_gold.per_class.get(code) if hlp_gold.per_class else None
        rows.append(
            {
                "class": key,
                "labels": int(counts[:, code].sum()),
                "specific_agreement": _num(agreement.specific.get(float(code))),
                "kappa": _num(agreement.kappa.get(float(code))),
                "gold_recall": _num(human.value) if human is not None else None,
            }
        )
    return rows


def _per_labeler(
    labels: ProjectLabels, usernames: dict[int, str], ds: Any, gold: Any
) -> list[dict]:
    data = labels.matrix
    loo = labeler_agreement(data)
    given = np.count_nonzero(~np.isnan(data), axis=1)
    gold_items = ~np.isnan(labels.gold)
    on_gold = np.count_nonzero(~np.isnan(data[:, gold_items]), axis=1)
    medians = _median_per_labeler(labels)
    rows = []
    for code, labeler_id in enumerate(labels.labeler_ids):
        rows.append(
            {
                "labeler_id": int(labeler_id),
                "username": usernames.get(int(labeler_id), str(labeler_id)),
                "labels": int(given[code]),
                "agreement_with_others": _num(loo.agreement[code])
                if loo.agreement is not None
                else None,
                "compared": int(loo.compared[code]) if loo.compared is not None else 0,
                "gold_accuracy": _num(gold.per_labeler[code]) if gold.per_labeler.size else None,
                "gold_labels": int(on_gold[code]),
                "dawid_skene_accuracy": _num(ds.labeler_accuracy[code])
                if ds.labeler_accuracy.size
                else None,
                "median_time_ms": _num(medians[code], 1),
            }
        )
    return rows


def _median_per_labeler(labels: ProjectLabels) -> np.ndarray:
    """Median time per label of each labeler (NaN without timed labels): one sort, no loop over
    annotations."""
    times, who = labels.time_spent_ms, labels.annotation_labeler
    timed = ~np.isnan(times)
    times, who = times[timed], who[timed]
    order = np.lexsort((times, who))
    times, who = times[order], who[order]
    n = labels.labeler_ids.size
    counts = np.bincount(who, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    medians = np.full(n, np.nan)
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    medians[has] = (times[low] + times[high]) / 2
    return medians


def _slice_codes(labels: ProjectLabels) -> dict[str, np.ndarray]:
    """Slice dimension → per-item float codes, NaN where the item has no value."""
    return {d.name: np.where(d.codes >= 0, d.codes, np.nan) for d in labels.slices}


def _per_slice(
    labels: ProjectLabels, counts: np.ndarray, hlp_gold: Any, hlp_agreement: Any
) -> list[dict[str, Any]]:
    rows = []
    n_items = labels.item_ids.size
    for dimension in labels.slices:
        for code, value in enumerate(dimension.values):
            mask = dimension.codes == code
            key = (dimension.name, float(code))
            alpha = nominal_alpha(counts[mask])
            rows.append(
                {
                    "slice": dimension.name,
                    "value": value,
                    "items": int(mask.sum()),
                    "share": _num(mask.sum() / n_items) if n_items else None,
                    "krippendorff_alpha": {
                        "value": _num(alpha),
                        "reason": None if alpha is not None else "no variation or no pairs",
                    },
                    "hlp_agreement": _figure(hlp_agreement.per_slice[key])
                    if key in hlp_agreement.per_slice
                    else {"value": None, "reason": hlp_agreement.reason},
                    "hlp_gold": _figure(hlp_gold.per_slice[key])
                    if key in hlp_gold.per_slice
                    else {"value": None, "reason": hlp_gold.reason},
                }
            )
    return rows


def _pairwise(labels: ProjectLabels, usernames: dict[int, str]) -> dict[str, Any]:
    result = pairwise_agreement(labels.matrix)

    def table(matrix: np.ndarray | None) -> list[list[float | None]]:
        if matrix is None:
            return []
        return [[_num(v, 4) for v in row] for row in matrix]

    return {
        "labelers": [usernames.get(int(i), str(i)) for i in labels.labeler_ids],
        "lights_kappa": _figure(result),
        "percent": table(result.percent),
        "kappa": table(result.kappa),
        "shared": result.shared.tolist() if result.shared is not None else [],
    }


def _confusion_pairs(counts: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    """Class pairs that share items: label pairs Σ_i n_ia n_ib, and items holding both."""
    pairable = counts[counts.sum(axis=1) >= 2]
    pairs = pairable.T @ pairable
    present = (pairable > 0).astype(np.int64)
    items = present.T @ present
    rows = [
        {
            "a": classes[a],
            "b": classes[b],
            "label_pairs": int(pairs[a, b]),
            "items": int(items[a, b]),
        }
        for a in range(len(classes))
        for b in range(a + 1, len(classes))
        if items[a, b]
    ]
    return sorted(rows, key=lambda r: (-r["items"], -r["label_pairs"]))


def _top_disagreements(labels: ProjectLabels, disagreement: Any, classes: list[str]) -> list:
    entropy = np.where(disagreement.n_labels >= 2, disagreement.entropy, -np.inf)
    order = np.lexsort((labels.item_ids, -entropy))[:TOP_DISAGREEMENTS]
    return [
        {
            "item_id": int(labels.item_ids[i]),
            "entropy": _num(disagreement.entropy[i], 4),
            "majority_share": _num(disagreement.majority_share[i], 4),
            "labels": {classes[c]: int(n) for c, n in enumerate(disagreement.counts[i]) if n},
        }
        for i in order
        if np.isfinite(entropy[i]) and disagreement.entropy[i] > 0
    ]


def report_build(labels: ProjectLabels, usernames: dict[int, str]) -> tuple[dict, tuple]:
    """Every figure of a report (as JSON-ready fields) and what the item consensus needs."""
    n_classes = max(len(labels.class_keys), 1)  # a project without classes has no labels either
    data = labels.matrix
    _, counts = category_counts(data, categories=np.arange(n_classes))
    disagreement = item_disagreement(data, n_classes=n_classes)
    ds = dawid_skene(data, n_classes=n_classes, tol=DAWID_SKENE_TOLERANCE)
    slices = _slice_codes(labels) or None
    hlp_gold = human_level_performance(data, gold=labels.gold, slices=slices)
    hlp_agreement = human_level_performance(data, slices=slices)
    fields = {
        "n_items": int(labels.item_ids.size),
        "n_labeled_items": int(np.count_nonzero(counts.sum(axis=1))),
        "n_annotations": labels.n_annotations,
        "n_labelers": int(labels.labeler_ids.size),
        "overall": {
            **_overall(labels, counts, n_classes, hlp_gold, hlp_agreement),
            "dawid_skene": {
                **_figure(ds),
                "iterations": ds.iterations,
                "converged": ds.converged,
            },
            "tied_items": int(np.count_nonzero(disagreement.tied)),
        },
        "per_class": _per_class(labels, counts, labels.class_keys, hlp_gold),
        "per_labeler": _per_labeler(labels, usernames, ds, hlp_gold),
        "per_slice": _per_slice(labels, counts, hlp_gold, hlp_agreement),
        "pairwise": _pairwise(labels, usernames),
        "confusion_pairs": _confusion_pairs(counts, labels.class_keys),
        "top_disagreements": _top_disagreements(labels, disagreement, labels.class_keys),
        "per_round": per_group(labels, "round"),
        "per_guideline": per_group(labels, "guideline"),
        "round_change": newest_round_change(labels),
    }
    return fields, (disagreement, ds)


def report_recompute(*, project_id: int, version: int) -> ConsistencyReport | None:
    """Compute the project's report (each item in its current round, plus per-round and
    per-guideline history) and store it with ``version``.

    Writes, in one transaction: the report row, and every item's consensus (Dawid–Skene where it
    is defined, else majority vote). A report for the same version that already exists wins.
    """
    started = time.perf_counter()
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return None
    labels = project_labels_load(project=project)
    usernames = dict(
        get_user_model()
        .objects.filter(pk__in=labels.labeler_ids.tolist())
        .values_list("pk", "username")
    )
    fields, (disagreement, ds) = report_build(labels, usernames)
    columns = consensus_columns(labels, disagreement, ds)
    fields["escalation"] = escalation_figures(labels, project, disagreement, columns.confidence)
    # Reading and computing; the row is never updated afterwards (reports are written whole).
    duration_ms = int((time.perf_counter() - started) * 1000)
    try:
        with transaction.atomic():
            report = ConsistencyReport.objects.create(
                project=project,
                round=labels.round,
                version=version,
                high_water_mark=labels.high_water_mark,
                computed_at=timezone.now(),
                duration_ms=duration_ms,
                **fields,
            )
            consensus_store(project_id=project_id, columns=columns)
    except IntegrityError:
        logger.info("report v%s of project %s exists already", version, project_id)
        return ConsistencyReport.objects.filter(project_id=project_id, version=version).first()
    return report
