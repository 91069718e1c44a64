"""Benchmark of the classification metrics: 1,000,000 predictions over 20 slices.

What it measures
    The error-analysis issue's target: metrics for 1,000,000 predictions over 20 slices in
    ≤ 1 s of math. ``--n`` predictions (1,000,000) over ``--classes`` classes (10, skewed like a
    defect taxonomy) and ``--slices`` slices (20, uneven sizes); the model is right 85% of the
    time, else it picks a random class. It prints the best of ``--repeat`` runs of:

    * ``per_slice_reports``: per-slice confusion matrices and per-class P/R/F1 with macro /
      micro / weighted averages for every slice **and** the whole (the target);
    * ``classification_report`` of the whole, and ``confusion_matrix`` alone;
    * scikit-learn's ``precision_recall_fscore_support`` for the same figures (whole + one call
      per slice mask, average=None), for scale;
    * the peak of NumPy/Python allocations during ``per_slice_reports`` (tracemalloc, a
      separate untimed run).

    Three input shapes: integer codes; float codes with NaN (1% of predictions and 0.5% of slice
    keys missing, as the consensus engine stores codes); strings (object arrays).

Method
    Pure NumPy in this process, no database. Data are generated once per shape with a fixed seed;
    only the metric call is timed (``time.perf_counter``).

Run: ``python bench/classification.py`` (about a minute on 2 cores, most of it scikit-learn).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.metrics import precision_recall_fscore_support  # noqa: E402

from consensus.metrics.classification import (  # noqa: E402
    classification_report,
    confusion_matrix,
    per_slice_reports,
)


def make_data(n: int, n_classes: int, n_slices: int, seed: int):
    rng = np.random.default_rng(seed)
    class_p = 1 / np.arange(1, n_classes + 1)  # skewed: class 0 the most common
    y_true = rng.choice(n_classes, n, p=class_p / class_p.sum())
    y_pred = np.where(rng.random(n) < 0.85, y_true, rng.integers(0, n_classes, n))
    slice_p = rng.uniform(0.2, 1.0, n_slices)
    slices = rng.choice(n_slices, n, p=slice_p / slice_p.sum())
    return y_true, y_pred, slices


def shapes(y_true, y_pred, slices, seed: int):
    rng = np.random.default_rng(seed + 1)
    yield "int codes", y_true, y_pred, slices
    pred_f = y_pred.astype(float)
    pred_f[rng.random(pred_f.size) < 0.01] = np.nan
    slices_f = slices.astype(float)
    slices_f[rng.random(slices_f.size) < 0.005] = np.nan
    yield "float codes + NaN", y_true.astype(float), pred_f, slices_f
    names = np.array([f"class-{k}" for k in range(y_true.max() + 1)], dtype=object)
    slice_names = np.array([f"slice-{s:02d}" for s in range(slices.max() + 1)], dtype=object)
    yield "strings (object)", names[y_true], names[y_pred], slice_names[slices]


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def sklearn_per_slice(y_true, y_pred, slices, labels) -> None:
    keep = ~(np.isnan(y_pred) if y_pred.dtype.kind == "f" else np.zeros(y_pred.size, bool))
    t, p, s = y_true[keep], y_pred[keep], slices[keep]
    precision_recall_fscore_support(t, p, labels=labels, zero_division=np.nan)
    for key in np.unique(s[s == s]):
        mask = s == key
        precision_recall_fscore_support(t[mask], p[mask], labels=labels, zero_division=np.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--slices", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-sklearn", action="store_true", help="skip the scikit-learn rows")
    args = parser.parse_args()

    y_true, y_pred, slices = make_data(args.n, args.classes, args.slices, args.seed)
    print(
        f"{args.n:,} predictions, {args.classes} classes, {args.slices} slices, "
        f"best of {args.repeat}\n"
    )
    print(f"{'input':<20}{'step':<44}{'best s':>9}")
    for shape, t, p, s in shapes(y_true, y_pred, slices, args.seed):
        labels = np.unique(t)
        result = per_slice_reports(t, p, s, labels)
        rows = [
            (
                "per_slice_reports (20 slices + whole)",
                best_of(
                    args.repeat, lambda t=t, p=p, s=s, lab=labels: per_slice_reports(t, p, s, lab)
                ),
            ),
            (
                "classification_report (whole)",
                best_of(args.repeat, lambda t=t, p=p, lab=labels: classification_report(t, p, lab)),
            ),
            (
                "confusion_matrix (whole)",
                best_of(args.repeat, lambda t=t, p=p, lab=labels: confusion_matrix(t, p, lab)),
            ),
        ]
        if not args.no_sklearn and shape != "strings (object)":
            rows.append(
                (
                    "scikit-learn P/R/F1, whole + per slice",
                    best_of(1, lambda t=t, p=p, s=s, lab=labels: sklearn_per_slice(t, p, s, lab)),
                )
            )
        for step, seconds in rows:
            print(f"{shape:<20}{step:<44}{seconds:>9.3f}")
        tracemalloc.start()
        per_slice_reports(t, p, s, labels)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{shape:<20}{'per_slice_reports peak allocations':<44}{peak / 2**20:>6.0f} MB")
        overall = result.overall
        print(
            f"{'':<20}accuracy {overall.accuracy:.4f}, macro F1 {overall.macro.f1:.4f}, "
            f"{len(result.slices)} slices, {overall.n_excluded:,} pairs excluded, "
            f"{result.n_no_slice:,} without slice\n"
        )


if __name__ == "__main__":
    main()
