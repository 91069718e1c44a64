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
from consensus.metrics.count_bootstrap import nominal_agreement_intervals
from consensus.metrics.hlp import human_level_performance
from consensus.models import ConsensusMethod, ConsistencyReport, ItemConsensus

logger = logging.getLogger(__name__)

#: Bootstrap replicates for the report's 95% intervals (each replicate is a few weighted sums).
REPORT_BOOTSTRAP_RESAMPLES = 500
TOP_DISAGREEMENTS = 100
_UPSERT_BATCH = 2000


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


def _overall(labels: ProjectLabels, counts: np.ndarray, n_classes: int) -> dict[str, Any]:
    data = labels.matrix
    intervals = nominal_agreement_intervals(counts, n=REPORT_BOOTSTRAP_RESAMPLES, seed=0)
    m = counts.sum(axis=1)
    labeled = m[m >= 2]
    modal = int(np.bincount(labeled.astype(np.int64)).argmax()) if labeled.size else 0
    fleiss = fleiss_kappa(counts[m == modal]) if modal >= 2 else None
    hlp_agreement = human_level_performance(data)
    hlp_gold = human_level_performance(data, gold=labels.gold)
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
    labels: ProjectLabels, counts: np.ndarray, classes: Iterable[str]
) -> list[dict[str, Any]]:
    agreement = category_agreement(labels.matrix)
    gold = human_level_performance(labels.matrix, gold=labels.gold)
    rows = []
    for code, key in enumerate(classes):
        human = gold.per_class.get(code) if gold.per_class else None
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


def _per_labeler(labels: ProjectLabels, usernames: dict[int, str], ds: Any) -> list[dict]:
    data = labels.matrix
    loo = labeler_agreement(data)
    gold = human_level_performance(data, gold=labels.gold)
    given = np.count_nonzero(~np.isnan(data), axis=1)
    gold_items = ~np.isnan(labels.gold)
    on_gold = np.count_nonzero(~np.isnan(data[:, gold_items]), axis=1)
    times = labels.time_spent_ms
    rows = []
    for code, labeler_id in enumerate(labels.labeler_ids):
        own = times[(labels.annotation_labeler == code) & ~np.isnan(times)]
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
                "median_time_ms": _num(np.median(own), 1) if own.size else None,
            }
        )
    return rows


def _per_slice(labels: ProjectLabels) -> list[dict[str, Any]]:
    rows = []
    n_items = labels.item_ids.size
    for dimension in labels.slices:
        for code, value in enumerate(dimension.values):
            mask = dimension.codes == code
            part = labels.matrix[:, mask]
            hlp = human_level_performance(part, gold=labels.gold[mask])
            agreement = human_level_performance(part)
            rows.append(
                {
                    "slice": dimension.name,
                    "value": value,
                    "items": int(mask.sum()),
                    "share": _num(mask.sum() / n_items) if n_items else None,
                    "krippendorff_alpha": _figure(krippendorff_alpha(part)),
                    "hlp_agreement": _figure(agreement),
                    "hlp_gold": _figure(hlp),
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


def _item_consensus_rows(
    labels: ProjectLabels, disagreement: Any, ds: Any, project_id: int
) -> list[ItemConsensus]:
    use_ds = ds.defined
    label = ds.label if use_ds else np.full(labels.item_ids.size, np.nan)
    probability = ds.probability if use_ds else np.full(labels.item_ids.size, np.nan)
    rows = []
    for i, item_id in enumerate(labels.item_ids.tolist()):
        n = int(disagreement.n_labels[i])
        code = label[i] if use_ds and n else disagreement.majority[i]
        rows.append(
            ItemConsensus(
                item_id=item_id,
                project_id=project_id,
                round=labels.round,
                label_id=int(labels.class_ids[int(code)]) if np.isfinite(code) else None,
                method=ConsensusMethod.DAWID_SKENE if use_ds and n else ConsensusMethod.MAJORITY,
                confidence=_num(probability[i] if use_ds else disagreement.majority_share[i]),
                n_labels=n,
                majority_share=_num(disagreement.majority_share[i]),
                entropy=_num(disagreement.entropy[i]),
                tied=bool(disagreement.tied[i]),
                updated_at=timezone.now(),
            )
        )
    return rows


def report_build(labels: ProjectLabels, usernames: dict[int, str]) -> tuple[dict, list]:
    """Every figure of a report (as JSON-ready fields) and the item consensus rows."""
    n_classes = max(len(labels.class_keys), 1)  # a project without classes has no labels either
    _, counts = category_counts(labels.matrix, categories=np.arange(n_classes))
    disagreement = item_disagreement(labels.matrix, n_classes=n_classes)
    ds = dawid_skene(labels.matrix, n_classes=n_classes)
    fields = {
        "n_items": int(labels.item_ids.size),
        "n_labeled_items": int(np.count_nonzero(counts.sum(axis=1))),
        "n_annotations": labels.n_annotations,
        "n_labelers": int(labels.labeler_ids.size),
        "overall": {
            **_overall(labels, counts, n_classes),
            "dawid_skene": {
                **_figure(ds),
                "iterations": ds.iterations,
                "converged": ds.converged,
            },
            "tied_items": int(np.count_nonzero(disagreement.tied)),
        },
        "per_class": _per_class(labels, counts, labels.class_keys),
        "per_labeler": _per_labeler(labels, usernames, ds),
        "per_slice": _per_slice(labels),
        "pairwise": _pairwise(labels, usernames),
        "confusion_pairs": _confusion_pairs(counts, labels.class_keys),
        "top_disagreements": _top_disagreements(labels, disagreement, labels.class_keys),
    }
    return fields, (disagreement, ds)


def report_recompute(*, project_id: int, version: int) -> ConsistencyReport | None:
    """Compute the project's report for its current round and store it with ``version``.

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
    rows = _item_consensus_rows(labels, disagreement, ds, project_id)
    try:
        with transaction.atomic():
            report = ConsistencyReport.objects.create(
                project=project,
                round=labels.round,
                version=version,
                high_water_mark=labels.high_water_mark,
                computed_at=timezone.now(),
                duration_ms=int((time.perf_counter() - started) * 1000),
                **fields,
            )
            for start in range(0, len(rows), _UPSERT_BATCH):
                ItemConsensus.objects.bulk_create(
                    rows[start : start + _UPSERT_BATCH],
                    update_conflicts=True,
                    unique_fields=["item"],
                    update_fields=[
                        "project",
                        "round",
                        "label",
                        "method",
                        "confidence",
                        "n_labels",
                        "majority_share",
                        "entropy",
                        "tied",
                        "updated_at",
                    ],
                )
    except IntegrityError:
        logger.info("report v%s of project %s exists already", version, project_id)
        return ConsistencyReport.objects.filter(project_id=project_id, version=version).first()
    report.duration_ms = int((time.perf_counter() - started) * 1000)
    ConsistencyReport.objects.filter(pk=report.pk).update(duration_ms=report.duration_ms)
    return report
