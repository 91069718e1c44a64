"""Human-level performance: DOMAIN.md's example, hand-computed slices and classes, properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from consensus.metrics.hlp import human_level_performance

nan = np.nan


def reliability(max_labelers=6, max_items=12):
    shapes = st.tuples(st.integers(1, max_labelers), st.integers(1, max_items))
    return shapes.flatmap(
        lambda shape: hnp.arrays(np.float64, shape, elements=st.sampled_from((nan, 0.0, 1.0, 2.0)))
    )


# --- with gold ---------------------------------------------------------------------------------


def test_domain_example_inspector_against_ground_truth():
    # given DOMAIN.md §2: ground truth 1,1,1,0,0,0; inspector 1,0,1,0,0,1
    result = human_level_performance([[1, 0, 1, 0, 0, 1]], gold=[1, 1, 1, 0, 0, 0])
    # then 4 of 6 right
    assert result.value == 4 / 6
    assert round(result.value, 3) == 0.667
    assert result.pooled == 4 / 6
    assert result.mode == "gold"
    np.testing.assert_array_equal(result.per_labeler, [4 / 6])
    # recall on each gold class: 2 of 3 ones, 2 of 3 zeros
    assert result.per_class[1].value == pytest.approx(2 / 3)
    assert result.per_class[0].value == pytest.approx(2 / 3)


@pytest.fixture
def two_inspectors():
    """Gold for items 0–4 (none for 5); inspector A labels all, B skips item 2."""
    data = [[0, 1, 1, 1, 0, 1], [0, 0, nan, 1, 1, 0]]
    gold = [0, 0, 1, 1, 1, nan]
    return np.array(data, float), np.array(gold, float)


def test_gold_per_labeler_mean_and_pooled(two_inspectors):
    data, gold = two_inspectors
    result = human_level_performance(data, gold=gold)
    # A: right on 0, 2, 3 of 0–4 → 3/5; B: right on 0, 1, 3, 4 → 4/4
    np.testing.assert_allclose(result.per_labeler, [3 / 5, 1.0])
    np.testing.assert_array_equal(result.labeler_n_labels, [5, 4])
    assert result.value == pytest.approx((3 / 5 + 1) / 2)  # the typical human
    assert result.labeler_mean == result.value
    assert result.pooled == pytest.approx(7 / 9)
    assert (result.n_items, result.n_labels) == (5, 9)


def test_gold_per_class_is_human_recall(two_inspectors):
    data, gold = two_inspectors
    result = human_level_performance(data, gold=gold)
    assert set(result.per_class) == {0, 1}
    zero, one = result.per_class[0], result.per_class[1]
    # gold 0 (items 0, 1): A 1/2, B 2/2
    assert zero.value == pytest.approx(0.75)
    assert zero.pooled == pytest.approx(3 / 4)
    assert (zero.n_items, zero.n_evaluated, zero.share) == (2, 2, pytest.approx(2 / 5))
    # gold 1 (items 2, 3, 4): A 2/3, B 2/2
    assert one.value == pytest.approx((2 / 3 + 1) / 2)
    assert one.pooled == pytest.approx(4 / 5)
    assert one.share == pytest.approx(3 / 5)


def test_gold_per_slice(two_inspectors):
    data, gold = two_inspectors
    result = human_level_performance(data, gold=gold, slices=["a", "a", "a", "b", "b", "b"])
    a, b = result.per_slice["a"], result.per_slice["b"]
    # slice a (items 0–2): A 2/3, B 2/2
    assert a.value == pytest.approx(5 / 6)
    assert a.pooled == pytest.approx(4 / 5)
    assert (a.n_items, a.n_evaluated, a.n_labels, a.share) == (3, 3, 5, 0.5)
    # slice b (items 3–5, item 5 without gold): A 1/2, B 2/2
    assert b.value == pytest.approx(0.75)
    assert (b.n_items, b.n_evaluated, b.n_labels, b.share) == (3, 2, 4, 0.5)


def test_slice_without_gold_items_is_undefined(two_inspectors):
    data, gold = two_inspectors
    result = human_level_performance(data, gold=gold, slices=[0, 0, 0, 0, 0, 1])
    assert result.per_slice[1].value is None
    assert result.per_slice[1].reason == "no evaluated item in this subset"
    assert result.per_slice[1].n_items == 1
    assert result.per_slice[0].defined


def test_gold_mode_with_a_single_labeler_is_defined():
    assert human_level_performance([[0, 1]], gold=[0, 0]).value == 0.5


@pytest.mark.parametrize(
    ("data", "gold", "reason"),
    [
        (np.empty((2, 0)), [], "no items"),
        ([[0, 1]], [nan, nan], "no gold labels"),
        ([[0, nan]], [nan, 1], "no labelled item has a gold label"),
    ],
)
def test_gold_undefined_cases(data, gold, reason):
    result = human_level_performance(data, gold=gold)
    assert result.value is None
    assert result.reason == reason


def test_gold_of_wrong_length_is_an_error():
    with pytest.raises(ValueError, match="gold"):
        human_level_performance([[0, 1]], gold=[0, 1, 1])


# --- without gold: leave-one-out agreement -----------------------------------------------------


@pytest.fixture
def three_labelers():
    """Items: (0,0,0), (0,0,1), (1,1,–), (1,–,–), (0,1,–)."""
    return np.array([[0, 0, 1, 1, 0], [0, 0, 1, nan, 1], [0, 1, nan, nan, nan]], float)


def test_agreement_without_gold_hand_computed(three_labelers):
    result = human_level_performance(three_labelers)
    # label scores: item 0: 1,1,1; item 1: ½,½,0; item 2: 1,1; item 3: none (one label); item 4: 0,0
    assert result.mode == "agreement"
    assert result.value == pytest.approx(6 / 10)
    assert result.pooled == result.value
    np.testing.assert_allclose(result.per_labeler, [2.5 / 4, 2.5 / 4, 0.5])
    assert result.labeler_mean == pytest.approx((0.625 + 0.625 + 0.5) / 3)
    assert (result.n_items, result.n_labels) == (4, 10)


def test_agreement_equals_krippendorff_observed_agreement(three_labelers):
    # Σ_i Σ_c n_ic (n_ic − 1) / (n_i − 1) / Σ_i n_i over items with n_i ≥ 2
    per_item = [3 * 2 / 2, 2 * 1 / 2, 2 * 1 / 1, 0]
    assert human_level_performance(three_labelers).value == pytest.approx(sum(per_item) / 10)


def test_agreement_per_majority_class(three_labelers):
    result = human_level_performance(three_labelers)
    # majority 0: items 0, 1 → scores 1,1,1,½,½,0; majority 1: item 2; item 4 tied: no class
    assert set(result.per_class) == {0, 1}
    assert result.per_class[0].value == pytest.approx(4 / 6)
    assert (result.per_class[0].n_evaluated, result.per_class[0].share) == (2, 0.5)
    assert result.per_class[1].value == 1.0
    assert result.per_class[1].share == 0.25


def test_agreement_per_slice_codes_and_masks(three_labelers):
    codes = human_level_performance(three_labelers, slices=[0, 0, 1, 1, nan])
    assert set(codes.per_slice) == {0, 1}  # NaN = in no slice
    assert codes.per_slice[0].value == pytest.approx(4 / 6)
    assert (codes.per_slice[0].n_items, codes.per_slice[0].share) == (2, 0.4)
    assert codes.per_slice[1].value == 1.0
    assert (codes.per_slice[1].n_items, codes.per_slice[1].n_evaluated) == (2, 1)

    night = np.array([True, False, True, False, True])
    named = human_level_performance(
        three_labelers, slices={"night": night, "camera": np.array([0, 0, 1, 1, 1])}
    )
    assert set(named.per_slice) == {"night", ("camera", 0), ("camera", 1)}
    assert named.per_slice["night"].value == pytest.approx(5 / 7)
    assert named.per_slice[("camera", 1)].value == pytest.approx(2 / 4)
    assert named.per_slice[("camera", 0)].value == codes.per_slice[0].value


def test_string_and_missing_slice_codes():
    data = [[0, 0, 1, 1], [0, 1, 1, 1]]
    result = human_level_performance(data, slices=np.array(["x", None, "x", "y"], dtype=object))
    assert set(result.per_slice) == {"x", "y"}
    assert result.per_slice["x"].value == 1.0
    assert result.per_slice["x"].share == 0.5


def test_same_inspectors_agreement_without_gold_is_four_of_six():
    # DOMAIN.md §2, second bullet: the "truth" is just another human's labels
    result = human_level_performance([[1, 1, 1, 0, 0, 0], [1, 0, 1, 0, 0, 1]])
    assert result.value == 4 / 6


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (np.empty((3, 0)), "no items"),
        ([[0, 1, 1]], "one labeler: no other label to agree with (give gold for accuracy)"),
        ([[0, nan], [nan, 1]], "no item has two or more labels"),
        ([[nan, nan], [nan, nan]], "no item has two or more labels"),
    ],
)
def test_agreement_undefined_cases(data, reason):
    result = human_level_performance(data)
    assert result.value is None
    assert result.reason == reason


# --- properties --------------------------------------------------------------------------------


def _figures(result):
    keys = sorted(result.per_class)
    return [result.value, result.pooled, result.labeler_mean] + [
        result.per_class[k].value for k in keys
    ]


@settings(max_examples=60, deadline=None)
@given(data=reliability(), seed=st.integers(0, 2**32 - 1), with_gold=st.booleans())
def test_permuting_labelers_changes_nothing(data, seed, with_gold):
    rng = np.random.default_rng(seed)
    order = rng.permutation(data.shape[0])
    gold = rng.choice([nan, 0.0, 1.0, 2.0], data.shape[1]) if with_gold else None
    slices = rng.integers(0, 3, data.shape[1])
    first = human_level_performance(data, gold=gold, slices=slices)
    second = human_level_performance(data[order], gold=gold, slices=slices)
    assert first.reason == second.reason
    assert _figures(first) == pytest.approx(_figures(second))
    if first.defined:
        np.testing.assert_allclose(second.per_labeler, first.per_labeler[order])
    assert set(first.per_slice) == set(second.per_slice)
    for key, figure in first.per_slice.items():
        assert figure.value == pytest.approx(second.per_slice[key].value)


@settings(max_examples=60, deadline=None)
@given(data=reliability())
def test_perfect_agreement_is_hlp_one(data):
    # given every labeler agrees on every item they label
    item_label = np.nanmax(np.where(np.isnan(data), -1, data), axis=0)
    agreed = np.where(np.isnan(data), nan, item_label[None, :])
    n_labels = (~np.isnan(agreed)).sum(axis=0)
    # then agreement is 1 wherever it is defined, and accuracy against that label is 1
    without_gold = human_level_performance(agreed)
    if agreed.shape[0] >= 2 and (n_labels >= 2).any():
        assert without_gold.value == 1.0
        assert all(figure.value == 1.0 for figure in without_gold.per_class.values())
    else:
        assert without_gold.value is None
    gold = np.where(n_labels > 0, item_label, nan)
    with_gold = human_level_performance(agreed, gold=gold)
    assert with_gold.value == (1.0 if (n_labels > 0).any() else None)
