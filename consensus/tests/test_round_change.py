"""The paired bootstrap of the change in nominal alpha between two labeling rounds."""

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from consensus.metrics import round_change as module
from consensus.metrics.agreement import category_counts
from consensus.metrics.count_bootstrap import nominal_alpha
from consensus.metrics.round_change import _replicates, round_change

CLASSES = 4


def _labels(rng, truth, accuracy, labelers=3):
    """Labelers × items: the true class with probability ``accuracy``, else another at random."""
    items = len(truth)
    wrong = (truth + rng.integers(1, CLASSES, (labelers, items))) % CLASSES
    return np.where(rng.random((labelers, items)) < accuracy, truth, wrong).astype(float)


def _counts(data):
    return category_counts(data, categories=np.arange(float(CLASSES)))[1]


def _rounds(seed, accuracy_before, accuracy_after, items=300):
    """Reliability data of the same items labeled in two rounds."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, CLASSES, items)
    return _labels(rng, truth, accuracy_before), _labels(rng, truth, accuracy_after)


def test_much_better_agreement_in_the_new_round_is_a_significant_rise():
    # given 300 items, 3 labelers each round, 60 % accurate before and 95 % after
    data_before, data_after = _rounds(0, 0.60, 0.95)
    before, after = _counts(data_before), _counts(data_after)
    # when the change is computed
    result = round_change(before, after)
    # then it is a significant rise with a CI above 0
    assert result.significant
    assert result.direction == "raised"
    assert result.reason is None
    assert 0 < result.low < result.value < result.high
    assert result.n_items == 300
    assert result.n_resamples == 2000
    # and before / after are the nominal alphas of each matrix and of the krippendorff package
    assert result.before == nominal_alpha(before)
    assert result.after == nominal_alpha(after)
    for got, data in ((result.before, data_before), (result.after, data_after)):
        reference = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert got == pytest.approx(reference, abs=1e-9)
    assert result.value == pytest.approx(result.after - result.before, abs=0)


def test_the_same_process_in_both_rounds_is_no_significant_change():
    # given two rounds drawn from the same 70 %-accurate process
    data_before, data_after = _rounds(1, 0.70, 0.70)
    # when the change is computed
    result = round_change(_counts(data_before), _counts(data_after))
    # then the interval contains 0
    assert result.low < 0 < result.high
    assert not result.significant
    assert result.direction == "no significant change"


def test_identical_rounds_change_by_exactly_zero():
    # given the same counts in both rounds
    data, _ = _rounds(2, 0.70, 0.70)
    counts = _counts(data)
    # when the change is computed
    result = round_change(counts, counts.copy())
    # then every replicate differs by exactly 0
    assert result.value == 0.0
    assert result.low == result.high == 0.0
    assert not result.significant
    assert result.direction == "no significant change"


def test_worse_agreement_in_the_new_round_is_lowered():
    # given a round at 90 % accuracy followed by one at 50 %
    data_before, data_after = _rounds(3, 0.90, 0.50)
    # when the change is computed
    result = round_change(_counts(data_before), _counts(data_after))
    # then it is a significant drop
    assert result.direction == "lowered"
    assert result.significant
    assert result.low < result.value < result.high < 0


@pytest.mark.parametrize("seed", [0, 5])
def test_interval_equals_explicit_resampling_of_items(seed, monkeypatch):
    # given 30 usable items and 4 that lack a second label in one of the rounds
    data_before, data_after = _rounds(10 + seed, 0.55, 0.75, items=34)
    data_before[1:, 30:32] = np.nan
    data_after[1:, 32:] = np.nan
    before, after = _counts(data_before), _counts(data_after)
    usable_before, usable_after = before[:30], after[:30]
    n_resamples = 500
    # when the documented indices are drawn and alpha is recomputed on each resample
    indices = np.random.default_rng(seed).integers(0, 30, size=(n_resamples, 30))
    brute = np.array(
        [
            np.nan
            if (a := nominal_alpha(usable_after[idx])) is None
            or (b := nominal_alpha(usable_before[idx])) is None
            else a - b
            for idx in indices
        ]
    )
    result = round_change(before, after, n_resamples=n_resamples, seed=seed)
    # then each replicate matches, and so does the percentile interval
    np.testing.assert_allclose(_replicates(usable_before, usable_after, indices), brute, atol=1e-12)
    defined = brute[np.isfinite(brute)]
    low, high = np.quantile(defined, [0.025, 0.975])
    assert result.n_items == 30
    assert result.low == pytest.approx(low, abs=1e-9)
    assert result.high == pytest.approx(high, abs=1e-9)
    # and drawing in blocks of 7 replicates yields the same stream, so the same result
    monkeypatch.setattr(module, "_BLOCK_ENTRIES", 7 * 30)
    assert round_change(before, after, n_resamples=n_resamples, seed=seed) == result


def test_random_groups_on_large_data_match_the_item_bootstrap(monkeypatch):
    # given 20,000 items, 40 % of them hard in both rounds (so the rounds are correlated by
    # item): grouped by default, item by item when the threshold is raised
    rng = np.random.default_rng(20)
    truth = rng.integers(0, CLASSES, 20_000)
    accuracy = np.where(rng.random(20_000) < 0.4, 0.35, 0.97)
    before = _counts(_labels(rng, truth, accuracy))
    after = _counts(_labels(rng, truth, accuracy + 0.01))
    grouped = round_change(before, after, n_resamples=400, seed=1)
    monkeypatch.setattr(module, "_GROUP_ABOVE", 10**9)
    items = round_change(before, after, n_resamples=400, seed=1)
    # then the intervals agree closely; grouping the rounds apart would lose the pairing and
    # widen the interval by about 3/4 on these data
    width = items.high - items.low
    assert grouped.value == items.value
    assert abs(grouped.low - items.low) < 0.2 * width
    assert abs(grouped.high - items.high) < 0.2 * width
    assert abs((grouped.high - grouped.low) - width) < 0.2 * width


def test_no_item_with_two_labels_in_both_rounds_is_undefined():
    # given each item pairable in one round only
    before = np.array([[2, 0], [0, 1]])
    after = np.array([[0, 1], [1, 1]])
    # when the change is computed
    result = round_change(before, after)
    # then it is undefined, with a reason
    assert result.value is None
    assert "two or more labels in both rounds" in result.reason
    assert not result.significant
    assert result.direction == "undefined"
    assert result.n_items == 0


def test_no_variation_is_undefined():
    # given every label the same class in both rounds
    counts = np.array([[3, 0, 0], [2, 0, 0], [3, 0, 0]])
    # when the change is computed
    result = round_change(counts, counts)
    # then alpha is 0/0 in both rounds
    assert result.value is None
    assert result.before is None
    assert result.after is None
    assert "earlier and new round" in result.reason
    assert (result.significant, result.direction) == (False, "undefined")


def test_no_variation_in_one_round_keeps_the_other_alpha():
    before = np.array([[2, 1], [0, 3], [3, 0]])
    after = np.array([[3, 0], [3, 0], [2, 0]])
    result = round_change(before, after)
    assert result.value is None
    assert result.before == nominal_alpha(before)
    assert result.after is None
    assert "in the new round" in result.reason


def test_mostly_undefined_resamples_make_the_result_undefined():
    # given each round's only variation on a different item: a resample lacks one of them
    # with probability 15/27
    before = np.array([[2, 0], [2, 0], [0, 2]])
    after = np.array([[0, 2], [2, 0], [2, 0]])
    # when the change is computed
    result = round_change(before, after)
    # then the full-data alphas are defined but the result is not
    assert (result.before, result.after) == (1.0, 1.0)
    assert result.value is None
    assert "resamples" in result.reason
    assert result.direction == "undefined"


def test_one_usable_item_is_undefined():
    result = round_change(np.array([[2, 1], [1, 0]]), np.array([[1, 2], [0, 1]]))
    assert result.value is None
    assert result.n_items == 1
    assert "only one item" in result.reason


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        (np.zeros((3, 4)), np.zeros((3, 5)), "same shape"),
        (np.zeros((3, 4)), np.zeros((2, 4)), "same shape"),
        (np.zeros(4), np.zeros(4), "2-D"),
        (np.array([[2, -1]]), np.array([[2, 1]]), "non-negative whole counts"),
        (np.array([[1.5, 1]]), np.array([[2, 1]]), "non-negative whole counts"),
    ],
)
def test_bad_input_raises_a_clear_error(before, after, message):
    with pytest.raises(ValueError, match=message):
        round_change(before, after)


def test_bad_options_raise():
    counts = np.array([[2, 1], [1, 2]])
    with pytest.raises(ValueError, match="n_resamples"):
        round_change(counts, counts, n_resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        round_change(counts, counts, confidence=1.0)


@st.composite
def _two_rounds(draw):
    shape = (draw(st.integers(2, 15)), draw(st.integers(2, 4)))
    counts = arrays(np.int64, shape, elements=st.integers(0, 4))
    return draw(counts), draw(counts)


@settings(max_examples=60, deadline=None)
@given(rounds=_two_rounds(), seed=st.integers(0, 2**16))
def test_swapping_the_rounds_negates_the_change_and_mirrors_the_interval(rounds, seed):
    # given two rounds, and the same rounds swapped
    before, after = rounds
    # when both are computed with the same seed
    forward = round_change(before, after, n_resamples=200, seed=seed)
    backward = round_change(after, before, n_resamples=200, seed=seed)
    # then the change flips sign and the interval mirrors
    assert (forward.before, forward.after) == (backward.after, backward.before)
    assert forward.n_items == backward.n_items
    assert forward.significant == backward.significant
    if forward.value is None:
        assert backward.value is None
        assert forward.direction == backward.direction == "undefined"
        return
    assert backward.value == -forward.value
    assert backward.low == pytest.approx(-forward.high, abs=1e-12)
    assert backward.high == pytest.approx(-forward.low, abs=1e-12)
    mirrored = {"raised": "lowered", "lowered": "raised"}
    assert backward.direction == mirrored.get(forward.direction, forward.direction)
