"""Compute and store a project's consistency report, and rebuild its items' consensus.

``report_recompute`` reads the round's labels once (``consensus.data``), computes everything with
the pure metrics package, and writes the report row and every item's consensus in one
transaction: a reader sees the previous report or the new one, never half of one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.models import ClassKind, Project, TaskType
from consensus.data import ProjectLabels, project_labels_load, project_transcripts_load
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
from consensus.services.consensus_store import (
    consensus_codes,
    consensus_columns,
    consensus_rows_upsert,
    consensus_store,
)
from consensus.services.report_history import (
    escalation_figures,
    newest_round_change,
    per_group,
)
from consensus.services.text_reports import text_report_build
from consensus.services.webhooks import webhook_event_emit

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


def _borderline(labels: ProjectLabels, counts: np.ndarray) -> dict[str, Any] | None:
    """How the borderline class is used (DOMAIN.md §1: a class that captures uncertainty).

    ``confused``: per other class, the items that got both that class and borderline, and their
    share of the class's items. ``ordinal_alpha``: Krippendorff's ordinal alpha over the class
    order, reported when the project is a two-sided scale with borderline between the sides
    (e.g. ok < borderline < defect): there a borderline-vs-defect disagreement is smaller than
    ok-vs-defect, which nominal alpha cannot say. Elsewhere the class order is not a scale and
    ordinal alpha would be meaningless, so it is left out with that reason."""
    kinds = labels.class_kinds
    if ClassKind.BORDERLINE not in kinds:
        return None
    border = kinds.index(ClassKind.BORDERLINE)
    present = counts > 0
    with_border = present[:, border]
    confused = []
    for code, key in enumerate(labels.class_keys):
        if code == border:
            continue
        items = int(present[:, code].sum())
        both = int((present[:, code] & with_border).sum())
        confused.append(
            {"class": key, "items": both, "share": _num(both / items) if items else None}
        )
    scale = len(kinds) == 3 and border == 1
    ordinal = (
        _figure(krippendorff_alpha(labels.matrix, level="ordinal"))
        if scale
        else {
            "value": None,
            "reason": "the classes are not a two-sided scale with borderline in the middle",
        }
    )
    return {
        "class": labels.class_keys[border],
        "labels": int(counts[:, border].sum()),
        "items": int(with_border.sum()),
        "ordinal_alpha": ordinal,
        "confused": confused,
    }


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


@dataclass(frozen=True)
class Coefficients:
    """The agreement figures a what-if preview compares: the report's ``overall``, ``per_class``
    and ``per_slice`` exactly as a report stores them, and each item's consensus code (Dawid–Skene
    where it is defined, else the plurality; NaN for an item without labels)."""

    overall: dict[str, Any]
    per_class: list[dict[str, Any]]
    per_slice: list[dict[str, Any]]
    consensus: np.ndarray
    counts: np.ndarray
    disagreement: Any
    ds: Any
    hlp_gold: Any


def report_coefficients(labels: ProjectLabels) -> Coefficients:
    """Overall, per-class and per-slice agreement of ``labels``, and each item's consensus."""
    n_classes = max(len(labels.class_keys), 1)  # a project without classes has no labels either
    data = labels.matrix
    _, counts = category_counts(data, categories=np.arange(n_classes))
    disagreement = item_disagreement(data, n_classes=n_classes)
    ds = dawid_skene(data, n_classes=n_classes, tol=DAWID_SKENE_TOLERANCE)
    slices = _slice_codes(labels) or None
    hlp_gold = human_level_performance(data, gold=labels.gold, slices=slices)
    hlp_agreement = human_level_performance(data, slices=slices)
    overall = {
        **_overall(labels, counts, n_classes, hlp_gold, hlp_agreement),
        "dawid_skene": {
            **_figure(ds),
            "iterations": ds.iterations,
            "converged": ds.converged,
        },
        "tied_items": int(np.count_nonzero(disagreement.tied)),
        "borderline": _borderline(labels, counts),
    }
    return Coefficients(
        overall=overall,
        per_class=_per_class(labels, counts, labels.class_keys, hlp_gold),
        per_slice=_per_slice(labels, counts, hlp_gold, hlp_agreement),
        consensus=consensus_codes(disagreement, ds),
        counts=counts,
        disagreement=disagreement,
        ds=ds,
        hlp_gold=hlp_gold,
    )


def report_build(labels: ProjectLabels, usernames: dict[int, str]) -> tuple[dict, tuple]:
    """Every figure of a report (as JSON-ready fields) and what the item consensus needs."""
    core = report_coefficients(labels)
    counts, disagreement, ds = core.counts, core.disagreement, core.ds
    fields = {
        "n_items": int(labels.item_ids.size),
        "n_labeled_items": int(np.count_nonzero(counts.sum(axis=1))),
        "n_annotations": labels.n_annotations,
        "n_labelers": int(labels.labeler_ids.size),
        "overall": core.overall,
        "per_class": core.per_class,
        "per_labeler": _per_labeler(labels, usernames, ds, core.hlp_gold),
        "per_slice": core.per_slice,
        "pairwise": _pairwise(labels, usernames),
        "confusion_pairs": _confusion_pairs(counts, labels.class_keys),
        "top_disagreements": _top_disagreements(labels, disagreement, labels.class_keys),
        "per_round": per_group(labels, "round"),
        "per_guideline": per_group(labels, "guideline"),
        "round_change": newest_round_change(labels),
    }
    return fields, (disagreement, ds)


def _usernames(labeler_ids: np.ndarray) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=labeler_ids.tolist())
    return dict(users.values_list("pk", "username"))


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
    if project.task_type == TaskType.TRANSCRIPTION:
        transcripts = project_transcripts_load(project=project)
        fields, rows = text_report_build(
            transcripts,
            _usernames(transcripts.labeler_ids),
            project_id=project_id,
            rule_set=project.rule_set_version,
        )
        high_water_mark = transcripts.high_water_mark

        def store() -> None:
            consensus_rows_upsert(rows)

    else:
        labels = project_labels_load(project=project)
        fields, (disagreement, ds) = report_build(labels, _usernames(labels.labeler_ids))
        columns = consensus_columns(labels, disagreement, ds)
        fields["escalation"] = escalation_figures(labels, project, disagreement, columns.confidence)
        high_water_mark = labels.high_water_mark

        def store() -> None:
            consensus_store(project_id=project_id, columns=columns)

    # Reading and computing; the row is never updated afterwards (reports are written whole).
    duration_ms = int((time.perf_counter() - started) * 1000)
    try:
        with transaction.atomic():
            report = ConsistencyReport.objects.create(
                project=project,
                taxonomy_version=project.taxonomy_version,
                round=project.current_round,
                version=version,
                high_water_mark=high_water_mark,
                computed_at=timezone.now(),
                duration_ms=duration_ms,
                **fields,
            )
            store()
            webhook_event_emit(
                project_id=project_id,
                event="report.computed",
                payload={
                    "report": report.pk,
                    "version": version,
                    "round": report.round,
                    "n_items": report.n_items,
                    "n_annotations": report.n_annotations,
                    "krippendorff_alpha": (report.overall.get("krippendorff_alpha") or {}).get(
                        "value"
                    ),
                },
            )
    except IntegrityError:
        logger.info("report v%s of project %s exists already", version, project_id)
        return ConsistencyReport.objects.filter(project_id=project_id, version=version).first()
    if project.task_type == TaskType.TRANSCRIPTION:
        # Imported here: the rules service enqueues recomputes through consensus.tasks.
        from consensus.services.rule_sets import rule_preview_warm

        rule_preview_warm(project=project)
    return report
