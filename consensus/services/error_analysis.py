"""Error analysis of a model run against the humans (DOMAIN.md sections 2–5).

``run_analysis`` reads the run once (``data.run_predictions_load``), compares each prediction
with the human reference the caller chooses — the items' consensus (a reviewed decision wins) or
their gold labels — and returns, JSON-ready:

* ``overall``: accuracy with its Wilson 95% interval, macro / micro / weighted precision, recall
  and F1 (undefined figures are ``null`` with a reason, never 0);
* ``classes``: per class P/R/F1, support, TP/FP/FN, whether false positives or false negatives
  dominate, and whether the class is rare (under ``RARE_SHARE`` of the reference labels);
* ``confusion``: the K × K matrix (rows: reference, columns: model);
* ``priorities``: per slice value, model accuracy (with its interval), HLP from the newest
  consistency report (labeler agreement for a consensus reference, labeler accuracy on gold for a
  gold one), the gap to HLP, the slice's share of the run's data and gap × share, sorted by
  gap × share (``metrics.classification.slice_priorities``); slices with fewer than
  ``min_slice_items`` compared items are marked ``too_small``;
* ``audit``: for the project's key slice dimensions, per value accuracy and macro P/R/F1, and a
  warning where accuracy or macro F1 falls more than ``project.audit_margin`` below the whole;
* ``weeks``: shadow mode — per calendar week (Monday first, UTC) of ``predicted_at``, how often
  the model agreed with the humans, with its interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from annotations.models import Project
from consensus.data import RunPredictions, run_predictions_load
from consensus.metrics.classification import (
    ClassificationReport,
    classification_report,
    per_slice_reports,
    slice_priorities,
    wilson_interval,
)
from consensus.models import ConsistencyReport, ModelRun
from labelhub.errors import ApplicationError

REFERENCES = ("consensus", "gold")
#: A class is "rare" when it holds less than this share of the reference labels.
RARE_SHARE = 0.05
#: Slices with fewer compared items than this are marked too small to rank on.
MIN_SLICE_ITEMS = 30
_WEEK = 7 * 24 * 3600
_MONDAY = 4 * 24 * 3600  # 1970-01-05, the first Monday after the epoch


def _num(value: Any, digits: int = 6) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


def _average(report: ClassificationReport, kind: str) -> dict[str, Any]:
    average = getattr(report, kind)
    return {
        "precision": _num(average.precision),
        "recall": _num(average.recall),
        "f1": _num(average.value),
        "reasons": dict(average.reasons),
    }


def _overall(report: ClassificationReport) -> dict[str, Any]:
    correct = int(np.trace(report.confusion))
    low, high = wilson_interval([correct], [report.n])
    return {
        "accuracy": _num(report.accuracy),
        "accuracy_low": _num(low[0]),
        "accuracy_high": _num(high[0]),
        "compared": report.n,
        "macro": _average(report, "macro"),
        "micro": _average(report, "micro"),
        "weighted": _average(report, "weighted"),
    }


def _classes(report: ClassificationReport, keys: list[str]) -> list[dict[str, Any]]:
    total = max(int(report.support.sum()), 1)
    rows = []
    for code, key in enumerate(keys):
        figures = report.per_class[code]
        if figures.fp > figures.fn:
            errors = "more false positives"
        elif figures.fn > figures.fp:
            errors = "more false negatives"
        else:
            errors = "balanced"
        rows.append(
            {
                "class": key,
                "support": int(report.support[code]),
                "predicted": int(report.predicted[code]),
                "tp": figures.tp,
                "fp": figures.fp,
                "fn": figures.fn,
                "precision": _num(figures.precision),
                "recall": _num(figures.recall),
                "f1": _num(figures.f1),
                "reasons": dict(figures.reasons),
                "errors": errors,
                "rare": bool(0 < report.support[code] / total < RARE_SHARE),
            }
        )
    return rows


def _hlp_by_slice(project: Project, reference: str) -> tuple[dict, float | None, str]:
    report = ConsistencyReport.objects.filter(project=project).order_by("-version").first()
    source = "hlp_gold" if reference == "gold" else "hlp_agreement"
    if report is None:
        return {}, None, source
    per_slice = {
        (row["slice"], row["value"]): (row.get(source) or {}).get("value")
        for row in report.per_slice
    }
    return per_slice, (report.overall.get(source) or {}).get("value"), source


def _priorities(
    data: RunPredictions,
    reference: np.ndarray,
    hlp: dict,
    min_items: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The prioritisation table over every slice dimension, and each dimension's reports
    (name → (its ``SliceCodes``, its ``SliceReports``))."""
    labels = np.arange(len(data.class_keys))
    rows: list[dict[str, Any]] = []
    reports: dict[str, Any] = {}
    for dimension in data.slices:
        codes = np.where(dimension.codes >= 0, dimension.codes, np.nan)
        result = per_slice_reports(reference, data.predicted, codes, labels=labels)
        reports[dimension.name] = (dimension, result)
        counted = {int(k): r.n for k, r in result.per_slice.items()}
        in_dimension = sum(counted.values())
        inputs = []
        for code, value in enumerate(dimension.values):
            n = counted.get(code, 0)
            if not n:
                continue
            accuracy = result.per_slice[float(code)].accuracy
            inputs.append((value, accuracy, hlp.get((dimension.name, value)), n / in_dimension))
        by_value = {}
        for code, value in enumerate(dimension.values):
            n = counted.get(code, 0)
            if n:
                correct = int(np.trace(result.per_slice[float(code)].confusion))
                low, high = wilson_interval([correct], [n])
                by_value[value] = (n, low[0], high[0])
        for priority in slice_priorities(inputs):
            n, low, high = by_value[priority.slice]
            rows.append(
                {
                    "slice": dimension.name,
                    "value": priority.slice,
                    "items": n,
                    "share": _num(priority.share),
                    "accuracy": _num(priority.accuracy),
                    "accuracy_low": _num(low),
                    "accuracy_high": _num(high),
                    "hlp": _num(priority.hlp),
                    "gap": _num(priority.gap),
                    "gap_x_share": _num(priority.value),
                    "reason": priority.reason,
                    "too_small": n < min_items,
                }
            )
    rows.sort(
        key=lambda r: (
            r["too_small"],
            r["gap_x_share"] is None,
            -(r["gap_x_share"] or 0.0),
            r["slice"],
            r["value"],
        )
    )
    return rows, reports


def _audit(
    project: Project, reports: dict[str, Any], whole: ClassificationReport
) -> dict[str, Any]:
    margin = project.audit_margin
    whole_accuracy, whole_f1 = whole.accuracy, whole.macro.value
    rows = []
    for name in project.audit_slices or []:
        if name not in reports:
            continue
        dimension, result = reports[name]
        for key, report in result.per_slice.items():
            accuracy, f1 = report.accuracy, report.macro.value
            below = [
                figure
                for figure, mine, overall in (
                    ("accuracy", accuracy, whole_accuracy),
                    ("macro F1", f1, whole_f1),
                )
                if mine is not None and overall is not None and mine < overall - margin
            ]
            rows.append(
                {
                    "slice": name,
                    "value": dimension.values[int(key)],
                    "items": report.n,
                    "accuracy": _num(accuracy),
                    "precision": _num(report.macro.precision),
                    "recall": _num(report.macro.recall),
                    "f1": _num(f1),
                    "warning": (
                        f"{' and '.join(below)} more than {margin:.0%} below the whole"
                        if below
                        else None
                    ),
                }
            )
    return {
        "key_slices": list(project.audit_slices or []),
        "margin": margin,
        "whole": {"accuracy": _num(whole_accuracy), "f1": _num(whole_f1)},
        "rows": rows,
    }


def _weeks(data: RunPredictions, reference: np.ndarray) -> list[dict[str, Any]]:
    if data.predicted_at.size == 0:
        return []
    week = np.floor((data.predicted_at - _MONDAY) / _WEEK).astype(np.int64)
    first = int(week.min())
    index = week - first
    compared = ~np.isnan(reference)
    agree = compared & (reference == data.predicted)
    n_weeks = int(index.max()) + 1
    predictions = np.bincount(index, minlength=n_weeks)
    n = np.bincount(index[compared], minlength=n_weeks)
    correct = np.bincount(index[agree], minlength=n_weeks)
    low, high = wilson_interval(correct, n)
    rows = []
    for w in np.flatnonzero(predictions).tolist():
        start = np.datetime64(int((first + w) * _WEEK + _MONDAY), "s").astype("datetime64[D]")
        rows.append(
            {
                "week": str(start),
                "predictions": int(predictions[w]),
                "compared": int(n[w]),
                "agreement": _num(correct[w] / n[w]) if n[w] else None,
                "low": _num(low[w]),
                "high": _num(high[w]),
            }
        )
    return rows


def run_analysis(
    *, run: ModelRun, reference: str = "consensus", min_slice_items: int = MIN_SLICE_ITEMS
) -> dict[str, Any]:
    """Everything the error-analysis page and API show for ``run`` (see the module docstring)."""
    if reference not in REFERENCES:
        raise ApplicationError(
            "invalid", f"reference must be one of {', '.join(REFERENCES)}.", field="reference"
        )
    project = run.project
    data = run_predictions_load(run_id=run.pk, project=project)
    truth = data.gold if reference == "gold" else data.consensus
    labels = np.arange(len(data.class_keys))
    whole = classification_report(truth, data.predicted, labels=labels)
    hlp, hlp_overall, hlp_source = _hlp_by_slice(project, reference)
    priorities, reports = _priorities(data, truth, hlp, min_slice_items)
    return {
        "run": {"id": run.pk, "name": run.name, "version": run.version, "shadow": run.shadow},
        "reference": reference,
        "predictions": int(data.item_ids.size),
        "compared": whole.n,
        "without_reference": int(np.isnan(truth).sum()),
        "overall": _overall(whole),
        "hlp": {"value": _num(hlp_overall), "source": hlp_source},
        "classes": _classes(whole, data.class_keys),
        "confusion": {
            "labels": data.class_keys,
            "matrix": whole.confusion.tolist(),
        },
        "priorities": priorities,
        "audit": _audit(project, reports, whole),
        "weeks": _weeks(data, truth),
    }
