"""Classification metrics: DOMAIN.md's worked figures, undefined cases, scikit-learn, properties.

Pure NumPy: no database, no Django.
"""

import itertools
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import precision_recall_fscore_support

from consensus.metrics.classification import (
    FIGURES,
    NO_ACTUAL_NEGATIVES,
    NO_ACTUAL_POSITIVES,
    NO_EXAMPLES,
    NO_PAIRS,
    NO_PREDICTED_POSITIVES,
    binary_metrics,
    classification_report,
    confusion_matrix,
    f1_score,
    per_slice_reports,
    slice_priorities,
)

nan = np.nan


def pct(x):
    """A rate as a percentage rounded to 0.1%, the way DOMAIN.md prints it."""
    return round(x * 100, 1)


def labels_from_counts(tn, fp, fn, tp):
    """y_true, y_pred (0/1) holding exactly the given binary confusion counts."""
    y_true = np.array([0] * tn + [0] * fp + [1] * fn + [1] * tp)
    y_pred = np.array([0] * tn + [1] * fp + [0] * fn + [1] * tp)
    return y_true, y_pred


def sk_prf(y_true, y_pred, labels, average=None, zero_division=nan):
    return precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=average, zero_division=zero_division
    )


def as_nan(values):
    return np.array([nan if v is None else v for v in values], dtype=float)


# --------------------------------------------------------------------------------------------
# DOMAIN.md §4: the worked figures
# --------------------------------------------------------------------------------------------


def test_domain_binary_example():
    # given DOMAIN.md's confusion matrix: TN 905, FN 18, FP 9, TP 68
    # when its figures are computed
    result = binary_metrics(tp=68, fp=9, fn=18, tn=905)
    # then P = 68/77 = 88.3%, R = 68/86 = 79.1%, F1 = 83.4%, all defined
    assert result.precision == 68 / 77
    assert result.recall == 68 / 86
    assert result.f1 == pytest.approx(2 / (77 / 68 + 86 / 68))
    assert (pct(result.precision), pct(result.recall), pct(result.f1)) == (88.3, 79.1, 83.4)
    assert result.value == result.f1
    assert result.accuracy == (905 + 68) / 1000
    assert result.specificity == 905 / 914
    assert (result.tp + result.fn, result.tn + result.fp) == (86, 914)
    assert result.reason is None
    assert dict(result.reasons) == {}


def test_domain_second_model_f1_from_rates():
    # given a second model with P = 97.0%, R = 7.3%
    # when F1 is computed from the two rates
    result = f1_score(0.970, 0.073)
    # then F1 = 2 / (1/P + 1/R) = 13.6%
    assert pct(result.value) == 13.6
    assert result.value == pytest.approx(2 / (1 / 0.970 + 1 / 0.073))
    assert result.reason is None


def test_domain_binary_example_from_label_arrays():
    # given 1,000 examples laid out as DOMAIN.md's matrix
    y_true, y_pred = labels_from_counts(tn=905, fp=9, fn=18, tp=68)
    # when the report is built from the labels
    report = classification_report(y_true, y_pred)
    # then the confusion matrix is the table and class 1 has the same figures
    np.testing.assert_array_equal(report.confusion, [[905, 9], [18, 68]])
    positive = report.per_class[1]
    assert (positive.tp, positive.fp, positive.fn, positive.tn) == (68, 9, 18, 905)
    assert (pct(positive.precision), pct(positive.recall), pct(positive.f1)) == (88.3, 79.1, 83.4)
    assert report.accuracy == 0.973
    assert report.labels == (0, 1)
    np.testing.assert_array_equal(report.support, [914, 86])
    np.testing.assert_array_equal(report.predicted, [923, 77])


def test_domain_hlp_example_is_accuracy():
    # given DOMAIN.md §2: ground truth 1,1,1,0,0,0 and an inspector's 1,0,1,0,0,1
    report = classification_report([1, 1, 1, 0, 0, 0], [1, 0, 1, 0, 0, 1])
    # then the inspector is right on 4 of 6: 66.7%
    assert pct(report.value) == 66.7


# --------------------------------------------------------------------------------------------
# Undefined figures: reported as such, never as 0, never a crash
# --------------------------------------------------------------------------------------------


def test_model_that_always_answers_zero_has_f1_zero_and_undefined_precision():
    # given DOMAIN.md's data (86 positives of 1,000) and a model that always answers 0
    result = binary_metrics(tp=0, fp=0, fn=86, tn=914)
    # then recall is 0/86 = 0%, precision is 0/0: undefined with the reason
    assert result.recall == 0.0
    assert result.precision is None
    assert result.reasons["precision"] == NO_PREDICTED_POSITIVES
    # and F1 = 2TP / (2TP + FP + FN) = 0/86 = 0: every positive is missed, not "undefined"
    assert result.f1 == 0.0
    assert result.value == 0.0
    assert result.reason is None
    assert result.accuracy == 0.914
    assert result.specificity == 1.0
    assert set(result.reasons) == {"precision"}


def test_model_that_always_answers_zero_in_a_report():
    # given 2% positives and a model that always answers 0
    y_true = np.array([1] * 20 + [0] * 980)
    y_pred = np.zeros(1000, int)
    # when the report is built
    report = classification_report(y_true, y_pred)
    # then class 1's precision is undefined (NaN in the array), its recall and F1 are 0
    positive = report.per_class[1]
    assert positive.precision is None
    assert positive.reasons["precision"] == NO_PREDICTED_POSITIVES
    assert positive.recall == 0.0
    assert positive.f1 == 0.0
    assert positive.reason is None
    assert "f1" not in positive.reasons
    assert math.isnan(report.precision[1])
    assert report.f1[1] == 0.0
    assert report.recall[1] == 0.0
    # and class 0 (TP 980, FP 20, FN 0) has F1 = 1960 / 1980
    assert report.f1[0] == 2 * 980 / (2 * 980 + 20)
    # and accuracy looks good although the model finds nothing (DOMAIN.md: accuracy misleads)
    assert report.accuracy == 0.98


def test_model_that_always_answers_one_on_two_percent_positives():
    # given 2% positives and a model that always answers 1
    y_true = np.array([1] * 20 + [0] * 980)
    y_pred = np.ones(1000, int)
    # when the report is built
    report = classification_report(y_true, y_pred)
    # then recall is 100% and precision about 2%
    positive = report.per_class[1]
    assert positive.recall == 1.0
    assert positive.precision == 0.02
    assert positive.f1 == pytest.approx(2 * 0.02 / 1.02)
    # and class 0 is never predicted: its precision is undefined, its recall 0
    negative = report.per_class[0]
    assert negative.precision is None
    assert negative.recall == 0.0
    assert negative.reasons["precision"] == NO_PREDICTED_POSITIVES


def test_f1_is_zero_when_precision_and_recall_are_both_zero():
    # given predictions that are all wrong but exist on both sides
    result = binary_metrics(tp=0, fp=5, fn=7, tn=3)
    # then P = R = 0 are defined, so F1 is 0 (not undefined)
    assert (result.precision, result.recall, result.f1) == (0.0, 0.0, 0.0)
    assert result.reason is None


def test_binary_metrics_with_no_examples():
    # given an empty confusion matrix
    result = binary_metrics(tp=0, fp=0, fn=0, tn=0)
    # then every figure is undefined with its reason
    assert all(
        getattr(result, f) is None for f in ("precision", "recall", "f1", "accuracy", "specificity")
    )
    assert result.reasons["precision"] == NO_PREDICTED_POSITIVES
    assert result.reasons["recall"] == NO_ACTUAL_POSITIVES
    assert result.reasons["accuracy"] == NO_EXAMPLES
    assert result.reasons["specificity"] == NO_ACTUAL_NEGATIVES
    assert "precision and recall" in result.reasons["f1"]


def test_binary_metrics_without_positives_or_negatives():
    # given only negatives, all predicted negative
    only_negatives = binary_metrics(tp=0, fp=0, fn=0, tn=10)
    # then precision and recall are undefined, specificity and accuracy are 1
    assert (only_negatives.precision, only_negatives.recall) == (None, None)
    assert (only_negatives.specificity, only_negatives.accuracy) == (1.0, 1.0)
    # given only positives: specificity is undefined
    only_positives = binary_metrics(tp=4, fp=0, fn=1, tn=0)
    assert only_positives.specificity is None
    assert only_positives.reasons["specificity"] == NO_ACTUAL_NEGATIVES
    assert only_positives.f1 == pytest.approx(8 / 9)


def test_false_alarms_without_actual_positives_give_undefined_recall_and_f1_zero():
    # given a model that raises false alarms on data with no positives
    result = binary_metrics(tp=0, fp=3, fn=0, tn=7)
    # then precision is 0, recall undefined with the reason
    assert result.precision == 0.0
    assert result.recall is None
    assert result.reasons["recall"] == NO_ACTUAL_POSITIVES
    # and F1 = 0/3 = 0: the class is invented entirely, which F1 counts as a failure
    assert result.f1 == 0.0
    assert result.reason is None
    assert set(result.reasons) == {"recall"}
    assert result.specificity == 0.7


@pytest.mark.parametrize(
    "counts",
    [
        {"tp": -1, "fp": 0, "fn": 0, "tn": 0},
        {"tp": 1.5, "fp": 0, "fn": 0, "tn": 0},
        {"tp": 1, "fp": True, "fn": 0, "tn": 0},
        {"tp": 1, "fp": 0, "fn": "2", "tn": 0},
    ],
)
def test_binary_metrics_rejects_non_counts(counts):
    with pytest.raises(ValueError, match="count"):
        binary_metrics(**counts)


def test_binary_metrics_accepts_numpy_integers():
    result = binary_metrics(tp=np.int64(68), fp=np.int32(9), fn=np.uint8(18), tn=905)
    assert result.precision == 68 / 77


def test_f1_score_undefined_and_edge_cases():
    # given an undefined precision (None or NaN)
    for undefined_precision in (None, nan):
        result = f1_score(undefined_precision, 0.5)
        # then F1 is undefined, with the reason
        assert result.value is None
        assert result.reason.startswith("precision undefined")
    assert f1_score(None, None).reason.startswith("precision and recall undefined")
    # given P = R = 0: F1 = 0
    assert f1_score(0.0, 0.0).value == 0.0
    assert f1_score(1, 1).value == 1.0
    # given a rate outside [0, 1]: an error
    with pytest.raises(ValueError, match="precision"):
        f1_score(97.0, 0.073)


def test_all_empty_input():
    # given no examples at all
    report = classification_report([], [])
    # then the report is undefined with a reason, with no classes, and nothing crashes
    assert report.value is None
    assert NO_PAIRS in report.reason
    assert report.confusion.shape == (0, 0)
    assert report.labels == ()
    assert (report.n, report.n_excluded) == (0, 0)
    for average in (report.macro, report.micro, report.weighted):
        assert (average.precision, average.recall, average.f1) == (None, None, None)
        assert average.reason == "no classes"
    assert confusion_matrix([], []).shape == (0, 0)


def test_empty_input_with_labels():
    # given no examples but known labels
    report = classification_report(np.array([], int), np.array([], int), labels=["a", "b"])
    # then a zero 2 × 2 matrix and every per-class figure undefined (NaN), none reported as 0
    np.testing.assert_array_equal(report.confusion, np.zeros((2, 2)))
    assert report.value is None
    assert report.reason == NO_PAIRS
    assert np.isnan(report.precision).all()
    assert np.isnan(report.recall).all()
    assert report.per_class["a"].reasons["accuracy"] == NO_EXAMPLES
    assert report.macro.precision is None
    assert report.macro.excluded["precision"] == ("a", "b")
    assert report.micro.value is None
    assert report.micro.reason == NO_PAIRS


def test_all_labels_missing():
    # given pairs where one side is always missing
    report = classification_report([1, None, nan], [None, 0, 1])
    # then every pair is excluded and counted, and the report is undefined
    assert (report.n, report.n_excluded) == (0, 3)
    assert (report.n_missing_true, report.n_missing_pred) == (2, 1)
    assert report.value is None


# --------------------------------------------------------------------------------------------
# Averages: how undefined per-class figures enter them
# --------------------------------------------------------------------------------------------


def test_macro_f1_counts_a_never_predicted_class_as_zero_and_leaves_out_undefined_precision():
    # given 2% positives and a model that always answers 0
    y_true = np.array([1] * 20 + [0] * 980)
    y_pred = np.zeros(1000, int)
    report = classification_report(y_true, y_pred)
    # then class 1's undefined precision is left out of the macro average (listed), not taken as 0
    macro = report.macro
    assert macro.excluded == {"precision": (1,), "recall": (), "f1": ()}
    assert macro.precision == report.precision[0] == 0.98
    # while class 1's recall and F1 of 0 are averaged in: recall (1 + 0) / 2
    assert macro.recall == 0.5
    # and F1 (1960/1980 + 0) / 2 = 49/99 ≈ 0.495: the missed class pulls macro F1 down
    assert macro.f1 == (2 * 980 / (2 * 980 + 20) + 0) / 2
    assert macro.f1 == pytest.approx(49 / 99, abs=1e-15)
    assert round(macro.f1, 3) == 0.495
    assert macro.reason is None
    # weighted by support 980, 20: F1 = 0.98 · 1960/1980
    assert report.weighted.f1 == pytest.approx(0.98 * 98 / 99, abs=1e-15)
    assert report.weighted.excluded["f1"] == ()
    # which is scikit-learn with zero_division=np.nan for all three figures
    sk_p, sk_r, sk_f, _ = sk_prf(y_true, y_pred, [0, 1], "macro", zero_division=nan)
    assert (macro.precision, macro.recall, macro.f1) == pytest.approx((sk_p, sk_r, sk_f), abs=1e-15)
    # and not scikit-learn's zero_division=0, which would count the 0/0 precision as 0
    sk_p0, _, sk_f0, _ = sk_prf(y_true, y_pred, [0, 1], "macro", zero_division=0)
    assert sk_p0 == pytest.approx(0.49)
    assert sk_f0 == pytest.approx(macro.f1, abs=1e-15)  # F1 has no 0/0 here: the same


def test_weighted_and_micro_averages_by_hand():
    # given 3 classes: a (4 items, 3 right), b (2 items, 1 right), c (never true, predicted once)
    y_true = ["a", "a", "a", "a", "b", "b"]
    y_pred = ["a", "a", "a", "b", "b", "c"]
    report = classification_report(y_true, y_pred)
    # then per class: a P 1 R .75; b P .5 R .5; c P 0, R undefined (no actual c)
    np.testing.assert_allclose(report.precision, [1, 0.5, 0])
    np.testing.assert_allclose(report.recall[:2], [0.75, 0.5])
    assert math.isnan(report.recall[2])
    assert report.per_class["c"].reasons["recall"] == NO_ACTUAL_POSITIVES
    # weighted by support 4, 2, 0
    assert report.weighted.precision == pytest.approx((4 * 1 + 2 * 0.5) / 6)
    assert report.weighted.recall == pytest.approx((4 * 0.75 + 2 * 0.5) / 6)
    assert report.weighted.excluded["recall"] == ("c",)
    # macro recall over a and b only; macro precision over all three
    assert report.macro.recall == pytest.approx((0.75 + 0.5) / 2)
    assert report.macro.precision == pytest.approx(0.5)
    # micro = accuracy for all three figures
    assert report.micro.precision == report.micro.recall == report.micro.f1 == 4 / 6
    assert report.accuracy == 4 / 6


def test_weighted_average_undefined_when_defined_classes_have_no_support():
    # given class 1 present but never predicted and class 2 predicted but never present
    report = classification_report([1, 1], [2, 2], labels=[1, 2])
    # then weighted precision has only class 2 (support 0) to average: undefined, with the reason
    assert report.weighted.precision is None
    assert "no support" in report.weighted.reasons["precision"]
    assert report.weighted.excluded["precision"] == (1,)
    assert report.macro.precision == 0.0
    # while F1 is 0 for both classes (one missed, one invented), so no F1 average is undefined
    np.testing.assert_array_equal(report.f1, [0.0, 0.0])
    assert report.per_class[1].f1 == report.per_class[2].f1 == 0.0
    assert (report.macro.f1, report.weighted.f1) == (0.0, 0.0)
    assert report.macro.excluded["f1"] == report.weighted.excluded["f1"] == ()
    assert "f1" not in report.weighted.reasons


# --------------------------------------------------------------------------------------------
# Confusion matrix and inputs
# --------------------------------------------------------------------------------------------


def test_confusion_matrix_follows_label_order():
    # given string labels and an explicit order
    y_true = ["dent", "scratch", "scratch", "pit mark", "dent"]
    y_pred = ["dent", "dent", "scratch", "scratch", "dent"]
    # when the matrix is built
    cm = confusion_matrix(y_true, y_pred, labels=["scratch", "dent", "pit mark"])
    # then rows are true, columns predicted, in that order
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    assert cm.dtype == np.int64


def test_value_outside_labels_is_an_error_naming_it():
    with pytest.raises(ValueError, match="y_pred holds 'borderline'"):
        confusion_matrix(["a", "b"], ["a", "borderline"], labels=["a", "b"])
    with pytest.raises(ValueError, match="y_true holds 7"):
        confusion_matrix([7, 1], [1, 1], labels=[0, 1])
    with pytest.raises(ValueError, match=r"y_true holds 0\.5"):
        confusion_matrix([0.5, 1.0], [1, 1], labels=[0, 1])
    with pytest.raises(ValueError, match="y_true holds 1"):
        confusion_matrix([1], ["1"], labels=["1"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y_true": [0, 1], "y_pred": [0]}, "same length"),
        ({"y_true": [[0, 1]], "y_pred": [[0, 1]]}, "1-D"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "labels": [0, 1, 1]}, "distinct"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "labels": [0, None]}, "None or NaN"),
        ({"y_true": ["a", 1], "y_pred": ["a", 1]}, "cannot order"),
    ],
)
def test_bad_inputs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(**kwargs)


def test_missing_labels_are_excluded_and_counted():
    # given None and NaN on either side, in lists of strings and of floats
    y_true = ["a", None, "b", nan, "b"]
    y_pred = ["a", "a", nan, "b", "b"]
    report = classification_report(y_true, y_pred)
    # then only the two complete pairs count, and "nan" never becomes a label
    assert report.labels == ("a", "b")
    np.testing.assert_array_equal(report.confusion, [[1, 0], [0, 1]])
    assert (report.n, report.n_excluded, report.n_missing_true, report.n_missing_pred) == (
        2,
        3,
        2,
        1,
    )
    floats = classification_report(np.array([0.0, nan, 1.0]), np.array([0, 1, 1]))
    assert floats.labels == (0.0, 1.0)
    assert (floats.n, floats.n_excluded) == (2, 1)


def test_int_and_float_codes_mean_the_same_labels():
    # given float codes (as the consensus engine stores them) against int predictions
    report = classification_report(np.array([0.0, 1.0, 2.0]), np.array([0, 1, 1]), labels=[0, 1, 2])
    # then they are matched by value
    np.testing.assert_array_equal(report.confusion, [[1, 0, 0], [0, 1, 0], [0, 1, 0]])
    assert report.per_class[2].recall == 0.0


def test_result_arrays_are_read_only():
    report = classification_report([0, 1], [0, 0])
    for array in (report.confusion, report.precision, report.support):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 5


# --------------------------------------------------------------------------------------------
# Agreement with scikit-learn
# --------------------------------------------------------------------------------------------


def assert_matches_sklearn(y_true, y_pred, labels, report):
    """Everything in ``report`` against scikit-learn on the same complete pairs.

    Per class: precision, recall and F1 equal scikit-learn's with zero_division=np.nan, NaN
    exactly where ours is undefined (for F1: only a class that appears nowhere, TP = FP = FN = 0;
    a class never predicted or never present has F1 = 0 in both). Averages: all three figures
    equal scikit-learn's (zero_division=np.nan), which leaves out the same NaN classes; the one
    difference is a weighted average whose defined classes all have support 0 (ours undefined).
    """
    np.testing.assert_array_equal(
        report.confusion, sk_confusion_matrix(y_true, y_pred, labels=labels)
    )
    assert report.labels == tuple(labels)
    p, r, f, support = sk_prf(y_true, y_pred, labels)
    np.testing.assert_allclose(report.precision, p, equal_nan=True)
    np.testing.assert_allclose(report.recall, r, equal_nan=True)
    np.testing.assert_allclose(report.f1, f, equal_nan=True)
    np.testing.assert_array_equal(report.support, support)
    cm = report.confusion
    absent = (cm.sum(axis=0) + cm.sum(axis=1)) == 0
    np.testing.assert_array_equal(np.isnan(report.f1), absent)

    for kind in ("macro", "micro", "weighted"):
        ours = getattr(report, kind)
        sk = sk_prf(y_true, y_pred, labels, kind)
        for figure, theirs in zip(FIGURES, sk[:3], strict=True):
            value = getattr(ours, figure)
            kept = np.array([lab not in ours.excluded[figure] for lab in labels])
            if value is None and kind == "weighted":
                # the classes with a defined figure have no support; scikit-learn then falls
                # back to their unweighted mean
                assert support[kept].sum() == 0
            elif value is None:
                assert math.isnan(theirs)
            else:
                assert value == pytest.approx(theirs, abs=1e-12)
            # macro and weighted leave out exactly the classes whose figure is undefined
            # (micro pools counts: it leaves out none)
            expected = ~np.isnan(getattr(report, figure)) if kind != "micro" else True
            np.testing.assert_array_equal(kept, expected)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("zero_division", [0, 1, nan])
def test_matches_sklearn_when_every_class_is_defined(seed, zero_division):
    # given random labels over 6 classes where every class is both true and predicted
    rng = np.random.default_rng(seed)
    labels = list(range(6))
    y_true = np.concatenate([labels, rng.integers(0, 6, 2000)])
    y_pred = np.concatenate(
        [labels, np.where(rng.random(2000) < 0.7, y_true[6:], rng.integers(0, 6, 2000))]
    )
    # when our report and scikit-learn's figures are computed
    report = classification_report(y_true, y_pred)
    # then nothing is undefined and every figure agrees, whatever zero_division scikit-learn uses
    assert not np.isnan(report.f1).any()
    p, r, f, s = sk_prf(y_true, y_pred, labels, zero_division=zero_division)
    np.testing.assert_allclose(report.precision, p)
    np.testing.assert_allclose(report.recall, r)
    np.testing.assert_allclose(report.f1, f)
    np.testing.assert_array_equal(report.support, s)
    for kind in ("macro", "micro", "weighted"):
        ours = getattr(report, kind)
        sk = sk_prf(y_true, y_pred, labels, kind, zero_division=zero_division)
        assert (ours.precision, ours.recall, ours.f1) == pytest.approx(sk[:3], abs=1e-12)
        assert all(excluded == () for excluded in ours.excluded.values())
    np.testing.assert_array_equal(
        confusion_matrix(y_true, y_pred), sk_confusion_matrix(y_true, y_pred)
    )


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn_with_undefined_classes(seed):
    # given 8 labels of which some are never predicted, never true, or appear nowhere
    rng = np.random.default_rng(seed)
    labels = list(range(8))
    y_true = rng.choice([0, 1, 2, 3, 4], 500, p=[0.6, 0.2, 0.1, 0.07, 0.03])
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.choice([0, 1, 2, 5, 6], 500))
    y_pred = np.where(y_pred == 4, 0, y_pred)  # class 4 is never predicted
    # when the report is built with all 8 labels
    report = classification_report(y_true, y_pred, labels=labels)
    # then class 4 has undefined precision, 5 and 6 undefined recall, 7 nothing defined
    assert math.isnan(report.precision[4])
    assert report.recall[4] == 0
    assert np.isnan(report.recall[[5, 6, 7]]).all()
    assert math.isnan(report.precision[7])
    # and F1 is 0 for 4 (never predicted), 5 and 6 (never true), undefined only for 7
    np.testing.assert_array_equal(report.f1[[4, 5, 6]], [0.0, 0.0, 0.0])
    assert math.isnan(report.f1[7])
    assert report.per_class[7].reasons["f1"].startswith("precision and recall are undefined")
    assert report.macro.excluded == {"precision": (4, 7), "recall": (5, 6, 7), "f1": (7,)}
    assert report.weighted.excluded["f1"] == (7,)
    # so macro F1 is the mean over the 7 classes that appear, zeros included
    assert report.macro.f1 == pytest.approx(report.f1[:7].sum() / 7, abs=1e-15)
    # and everything matches scikit-learn as documented
    assert_matches_sklearn(y_true, y_pred, labels, report)


def test_only_zero_division_nan_gives_sklearn_f1_equal_to_ours_in_every_case():
    # given classes 0 (right), 1 (never predicted), 2 (never true) and 3 (appears nowhere)
    y_true, y_pred, labels = [0, 0, 1, 1], [0, 2, 0, 0], [0, 1, 2, 3]
    report = classification_report(y_true, y_pred, labels=labels)
    np.testing.assert_allclose(report.f1, [0.4, 0.0, 0.0, nan], equal_nan=True)
    # then scikit-learn's per-class F equals ours with zero_division=np.nan, NaN for class 3 only
    np.testing.assert_allclose(sk_prf(y_true, y_pred, labels)[2], report.f1, equal_nan=True)
    macro = sk_prf(y_true, y_pred, labels, "macro")[2]
    assert macro == pytest.approx(report.macro.f1, abs=1e-15) == pytest.approx(0.4 / 3)
    # while zero_division=0 or 1 agree on classes 0-2 but turn class 3's 0/0 into 0 or 1
    for zero_division in (0, 1):
        f = sk_prf(y_true, y_pred, labels, zero_division=zero_division)[2]
        np.testing.assert_allclose(f[:3], report.f1[:3])
        assert f[3] == zero_division


def test_matches_sklearn_on_string_labels():
    rng = np.random.default_rng(11)
    names = np.array(["scratch", "dent", "pit mark", "discoloration"])
    y_true = names[rng.integers(0, 4, 300)]
    y_pred = np.where(rng.random(300) < 0.8, y_true, names[rng.integers(0, 4, 300)])
    report = classification_report(y_true, y_pred)
    assert report.labels == tuple(sorted(names))
    assert_matches_sklearn(y_true, y_pred, sorted(names), report)


label_arrays = st.integers(1, 5).flatmap(
    lambda k: st.integers(0, 40).flatmap(
        lambda n: st.tuples(
            st.just(k),
            st.lists(st.one_of(st.integers(0, k - 1), st.none()), min_size=n, max_size=n),
            st.lists(st.one_of(st.integers(0, k - 1), st.none()), min_size=n, max_size=n),
        )
    )
)


# scikit-learn warns when its matrix is 1 × 1 (k = 1): expected here
@pytest.mark.filterwarnings("ignore:A single label was found")
@settings(max_examples=200, deadline=None)
@given(label_arrays)
def test_property_matches_sklearn_on_random_label_arrays(case):
    # given random label arrays over k classes with missing labels (None) on either side
    k, y_true, y_pred = case
    labels = list(range(k))
    # when our report is built (missing as None in one, NaN in the other)
    report = classification_report(y_true, as_nan(y_pred), labels=labels)
    # then it matches scikit-learn on the complete pairs
    keep = [t is not None and p is not None for t, p in zip(y_true, y_pred, strict=True)]
    t = np.array([v for v, ok in zip(y_true, keep, strict=True) if ok], dtype=int)
    p = np.array([v for v, ok in zip(y_pred, keep, strict=True) if ok], dtype=int)
    assert report.n_excluded == len(y_true) - t.size
    assert report.n == t.size
    assert report.confusion.sum() == t.size
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, labels), report.confusion)
    if t.size == 0:
        assert report.value is None
        assert np.isnan(report.precision).all()
        return
    assert report.accuracy == pytest.approx(np.mean(t == p))
    assert_matches_sklearn(t, p, labels, report)


# --------------------------------------------------------------------------------------------
# Per-slice reports
# --------------------------------------------------------------------------------------------


def test_per_slice_reports_equal_reports_of_each_subset():
    # given 3,000 predictions over 4 labels and 5 slices, some pairs and slices missing
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 3000).astype(float)
    y_pred = np.where(rng.random(3000) < 0.75, y_true, rng.integers(0, 4, 3000)).astype(float)
    y_true[rng.random(3000) < 0.05] = nan
    y_pred[rng.random(3000) < 0.05] = nan
    slices = rng.choice(np.array(["A", "B", "C", "D", "E", None], dtype=object), 3000)
    # when every slice is reported in one pass
    result = per_slice_reports(y_true, y_pred, slices, labels=[0, 1, 2, 3])
    # then each slice's report is the report of its own rows
    assert result.slices == ("A", "B", "C", "D", "E")
    assert result.confusion.shape == (5, 4, 4)
    for s, key in enumerate(result.slices):
        rows = slices == key
        alone = classification_report(y_true[rows], y_pred[rows], labels=[0, 1, 2, 3])
        mine = result.per_slice[key]
        np.testing.assert_array_equal(mine.confusion, alone.confusion)
        np.testing.assert_array_equal(result.confusion[s], alone.confusion)
        np.testing.assert_array_equal(mine.precision, alone.precision)
        np.testing.assert_array_equal(mine.f1, alone.f1)
        assert (mine.macro.f1, mine.weighted.recall) == (alone.macro.f1, alone.weighted.recall)
        assert (mine.n_excluded, mine.n_missing_true, mine.n_missing_pred) == (
            alone.n_excluded,
            alone.n_missing_true,
            alone.n_missing_pred,
        )
    # and the whole, rows without a slice included, is the plain report
    whole = classification_report(y_true, y_pred, labels=[0, 1, 2, 3])
    np.testing.assert_array_equal(result.overall.confusion, whole.confusion)
    assert result.overall.n_excluded == whole.n_excluded
    assert result.overall.macro.f1 == pytest.approx(whole.macro.f1)
    no_slice = np.equal(slices, None) & ~np.isnan(y_true) & ~np.isnan(y_pred)
    assert result.n_no_slice == int(no_slice.sum())


def test_per_slice_reports_with_integer_slices_and_default_labels():
    # given integer slice codes and string labels
    result = per_slice_reports(["a", "b", "a", "b"], ["a", "a", "a", "b"], [2, 2, 7, 7])
    # then slices are keyed by code and labels come from the data
    assert result.slices == (2, 7)
    assert result.labels == ("a", "b")
    assert result.per_slice[2].per_class["b"].recall == 0.0
    assert result.per_slice[2].per_class["b"].precision is None
    assert result.per_slice[7].accuracy == 1.0


def test_per_slice_reports_checks_slice_length():
    with pytest.raises(ValueError, match="slices"):
        per_slice_reports([0, 1], [0, 1], [0])


# --------------------------------------------------------------------------------------------
# Slice prioritisation: DOMAIN.md §3
# --------------------------------------------------------------------------------------------

# Copied from DOMAIN.md §3, as printed there.
SPEECH_TABLE = """
| clean speech | 94% | 95% | 1% | 60% | 0.6% |
| car noise | 89% | 93% | 4% | 4% | 0.16% |
| people noise | 87% | 89% | 2% | 30% | 0.6% |
| low bandwidth | 70% | 70% | 0% | 6% | ~0% |
"""


def parse_percent(text):
    """'0.16%' → 0.0016 (the nearest float, via Decimal); '~0%' → 0 (DOMAIN.md's "about 0")."""
    return float(Decimal(text.removeprefix("~").removesuffix("%")) / 100)


def speech_rows():
    rows = []
    for line in SPEECH_TABLE.strip().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append((cells[0], *(parse_percent(c) for c in cells[1:])))
    return rows  # (slice, accuracy, hlp, gap, share, gap × share)


def test_speech_table_comes_out_as_printed():
    # given the accuracy, HLP and share columns of DOMAIN.md's speech table
    printed = {row[0]: row for row in speech_rows()}
    rows = [(name, acc, hlp, share) for name, acc, hlp, _, share, _ in printed.values()]
    # when the priorities are computed
    result = slice_priorities(rows)
    # then gap and gap × share are the printed figures exactly
    for row in result:
        _, accuracy, hlp, gap, share, gap_x_share = printed[row.slice]
        assert (row.accuracy, row.hlp, row.share) == (accuracy, hlp, share)
        assert row.gap == gap
        assert row.value == row.gap_x_share == gap_x_share
    # and "~0%" is exactly 0 for low bandwidth
    assert result[-1].value == 0.0
    # and the rows are sorted by gap × share; the 0.6% tie keeps slice-name order
    assert [row.slice for row in result] == [
        "clean speech",
        "people noise",
        "car noise",
        "low bandwidth",
    ]
    assert [f"{row.value:.2%}" for row in result] == ["0.60%", "0.60%", "0.16%", "0.00%"]


def test_speech_table_order_does_not_depend_on_input_order():
    rows = [(name, acc, hlp, share) for name, acc, hlp, _, share, _ in speech_rows()]
    orders = {
        tuple(r.slice for r in slice_priorities(list(p))) for p in itertools.permutations(rows)
    }
    assert len(orders) == 1


def test_visual_inspection_example():
    # given DOMAIN.md §3: scratch 95% vs HLP 98% on 50%; discoloration 90% vs 90% on 50%
    result = slice_priorities([("discoloration", 0.90, 0.90, 0.5), ("scratch", 0.95, 0.98, 0.5)])
    # then scratch comes first: a 3% gap, 1.5% of the whole
    assert [r.slice for r in result] == ["scratch", "discoloration"]
    assert (result[0].gap, result[0].value) == (0.03, 0.015)


def test_slice_priorities_accepts_mappings_and_puts_missing_hlp_last():
    # given a slice whose HLP is unknown and one where the model beats the humans
    result = slice_priorities(
        [
            {"slice": "night", "accuracy": 0.8, "hlp": None, "share": 0.2},
            {"slice": "day", "accuracy": 0.9, "hlp": 0.95, "share": 0.5},
            {"slice": "dusk", "accuracy": 0.9, "hlp": 0.85, "share": 0.3},
        ]
    )
    # then the negative gap sorts after the positive one and the unknown HLP goes last
    assert [r.slice for r in result] == ["day", "dusk", "night"]
    assert result[1].gap == -0.05
    assert result[2].value is None
    assert result[2].gap is None
    assert result[2].reason == "no HLP for this slice"


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([("a", 0.9, 0.95, 0.5), ("b", 0.9, 0.95, None)], r"row 1 \('b'\): share is missing"),
        ([("a", nan, 0.95, 0.5)], r"row 0 \('a'\): accuracy is missing"),
        ([("a", None, 0.95, 0.5)], r"row 0 \('a'\): accuracy is missing"),
        ([("a", 0.9, 0.95, nan)], r"row 0 \('a'\): share is missing"),
        (
            [("a", 0.9, 0.95, 0.6), ("b", 0.9, 0.95, 0.3), ("c", 0.9, 0.95, 0.2)],
            r"row 2 \('c'\): shares sum to 1\.1",
        ),
        ([("a", 94, 95, 0.6)], r"row 0 \('a'\): accuracy must be a number in \[0, 1\]"),
        ([("a", 0.9, "0.95", 0.6)], r"row 0 \('a'\): hlp must be a number"),
        ([("a", 0.9, 0.95, 0.3), ("a", 0.8, 0.9, 0.3)], "appears more than once"),
        ([("a", 0.9, 0.95)], "row 0 must be"),
        ([{"slice": "a", "accuracy": 0.9}], "row 0: missing share"),
    ],
)
def test_slice_priorities_rejects_bad_rows_naming_them(rows, match):
    with pytest.raises(ValueError, match=match):
        slice_priorities(rows)


def test_shares_summing_to_one_with_rounding_noise_are_fine():
    # given shares of 33% + 56% + 11%, which sum to 1.0000000000000002 in floating point
    rows = [("a", 0.9, 0.95, 0.33), ("b", 0.9, 0.95, 0.56), ("c", 0.9, 0.95, 0.11)]
    assert sum(row[3] for row in rows) > 1
    # then they are accepted
    assert len(slice_priorities(rows)) == 3


def test_wilson_interval_matches_published_values_and_stays_in_range():
    from consensus.metrics.classification import wilson_interval

    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", table I:
    # 81/263 → 0.2553 to 0.3662; 15/148 → 0.0624 to 0.1605; 0/20 → 0 to 0.1611; 1/29 → 0.0061
    # to 0.1718 (method 3, Wilson score without continuity correction).
    low, high = wilson_interval([81, 15, 0, 1], [263, 148, 20, 29])
    assert np.round(low, 4).tolist() == [0.2553, 0.0624, 0.0, 0.0061]
    assert np.round(high, 4).tolist() == [0.3662, 0.1605, 0.1611, 0.1718]
    low, high = wilson_interval([0, 5], [0, 5])
    assert np.isnan(low[0])
    assert high[1] == 1.0
