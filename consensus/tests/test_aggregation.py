"""Item disagreement, majority vote, Dawid–Skene: hand-computed cases, simulations, properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from consensus.metrics.aggregation import dawid_skene, item_disagreement, majority_vote

nan = np.nan


def reliability(max_labelers=6, max_items=12, codes=(0.0, 1.0, 2.0)):
    """Small labelers × items arrays of category codes with NaN for missing labels."""
    shapes = st.tuples(st.integers(1, max_labelers), st.integers(1, max_items))
    return shapes.flatmap(
        lambda shape: hnp.arrays(np.float64, shape, elements=st.sampled_from((nan, *codes)))
    )


def simulate(accuracies, n_items, n_classes, seed):
    """Labelers who give the true class with their accuracy, else a uniformly random wrong class."""
    rng = np.random.default_rng(seed)
    accuracies = np.asarray(accuracies)
    truth = rng.integers(0, n_classes, n_items)
    correct = rng.random((accuracies.size, n_items)) < accuracies[:, None]
    wrong = (truth + rng.integers(1, n_classes, (accuracies.size, n_items))) % n_classes
    return np.where(correct, truth, wrong).astype(float), truth


# --- item_disagreement -------------------------------------------------------------------------


def test_item_disagreement_hand_computed():
    # given items with votes (0,0,0), (0,1), (1,1,2) and an item nobody labelled
    data = [[0, 0, 1, nan], [0, 1, 1, nan], [0, nan, 2, nan]]
    # when
    result = item_disagreement(data)
    # then
    h3 = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    np.testing.assert_array_equal(result.n_labels, [3, 2, 3, 0])
    np.testing.assert_array_equal(result.majority, [0, nan, 1, nan])
    np.testing.assert_allclose(result.majority_share, [1, 0.5, 2 / 3, nan])
    np.testing.assert_allclose(result.entropy, [0, math.log(2), h3, nan])
    np.testing.assert_allclose(
        result.normalized_entropy, np.array([0, math.log(2), h3, nan]) / math.log(3)
    )
    np.testing.assert_array_equal(result.tied, [False, True, False, False])
    assert result.value == pytest.approx((math.log(2) + h3) / 3)
    assert result.n_classes == 3


def test_item_disagreement_undefined_cases():
    assert item_disagreement(np.empty((3, 0))).reason == "no items"
    one_label_each = item_disagreement([[0, nan], [nan, 1]])
    assert one_label_each.value is None
    assert one_label_each.reason == "no item has two or more labels"
    np.testing.assert_array_equal(one_label_each.entropy, [0, 0])  # figures still there
    assert item_disagreement([[nan, nan]]).value is None


def test_entropy_in_nats_can_be_converted_to_bits():
    result = item_disagreement([[0, 0], [1, 2], [2, 3], [3, 3]])
    np.testing.assert_allclose(result.entropy / math.log(2), [2.0, 1.5])


@pytest.mark.parametrize(
    ("data", "message"),
    [([[0, -1]], "non-negative integers"), ([[0.5, 1]], "non-negative integers")],
)
def test_codes_must_be_non_negative_integers(data, message):
    with pytest.raises(ValueError, match=message):
        majority_vote(data)


def test_code_beyond_n_classes_is_an_error():
    with pytest.raises(ValueError, match="n_classes"):
        majority_vote([[0, 3]], n_classes=3)


# --- majority_vote -----------------------------------------------------------------------------


def test_two_way_tie_is_reported_not_broken_to_zero():
    # given one item labelled 0 and 1
    result = majority_vote([[0], [1]])
    # then it is a tie: no label, both classes in the tie
    assert np.isnan(result.label[0])
    assert result.tied[0]
    np.testing.assert_array_equal(result.tie_mask, [[True, True]])
    assert result.confidence[0] == 0.5
    assert result.value == 0.0
    assert result.n_tied == 1


def test_tie_mask_lists_exactly_the_tied_classes():
    data = [[0, 2, 1, 3], [1, 2, 1, nan], [2, 3, 0, nan], [nan, 3, nan, nan]]
    result = majority_vote(data, n_classes=5)
    # item 0: 0,1,2 one each; item 1: 2 ×2, 3 ×2; item 2: 1 ×2, 0; item 3: 3 alone
    np.testing.assert_array_equal(result.label, [nan, nan, 1, 3])
    np.testing.assert_array_equal(
        result.tie_mask,
        [[1, 1, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
    )
    np.testing.assert_allclose(result.confidence, [1 / 3, 0.5, 2 / 3, 1])
    assert result.value == 0.5


def test_unlabelled_items_are_neither_labelled_nor_tied():
    result = majority_vote([[1, nan, 0], [1, nan, 0]])
    np.testing.assert_array_equal(result.label, [1, nan, 0])
    np.testing.assert_array_equal(result.tied, [False, False, False])
    assert result.n_labelled == 2
    assert result.value == 1.0


def test_majority_vote_undefined_cases():
    assert majority_vote(np.empty((2, 0))).reason == "no items"
    assert majority_vote([[nan, nan]]).reason == "no labels"


def test_single_labeler_is_its_own_majority():
    result = majority_vote([[2, 0, 1]])
    np.testing.assert_array_equal(result.label, [2, 0, 1])
    assert result.value == 1.0


def test_random_labels_with_few_votes_tie_often():
    # given 3–5 random labels (3 classes) per item
    rng = np.random.default_rng(7)
    data = rng.integers(0, 3, (5, 2000)).astype(float)
    n_missing = rng.integers(0, 3, 2000)
    data[np.arange(5)[:, None] < n_missing[None, :]] = nan
    # when
    result = majority_vote(data)
    # then a notable share of items ties (exact chance for 4 labels, 3 classes: 36/81)
    assert 0.15 < result.n_tied / data.shape[1] < 0.5
    assert np.isnan(result.label[result.tied]).all()
    assert (result.tie_mask.sum(axis=1)[result.tied] >= 2).all()


@settings(max_examples=60, deadline=None)
@given(data=reliability(), seed=st.integers(0, 2**32 - 1))
def test_permuting_labelers_changes_nothing(data, seed):
    order = np.random.default_rng(seed).permutation(data.shape[0])
    first, second = majority_vote(data, n_classes=3), majority_vote(data[order], n_classes=3)
    np.testing.assert_array_equal(first.label, second.label)
    np.testing.assert_array_equal(first.tie_mask, second.tie_mask)
    np.testing.assert_array_equal(first.confidence, second.confidence)
    assert first.value == second.value
    a, b = item_disagreement(data, n_classes=3), item_disagreement(data[order], n_classes=3)
    np.testing.assert_allclose(a.entropy, b.entropy)
    assert a.value == pytest.approx(b.value) if a.value is not None else b.value is None


@settings(max_examples=60, deadline=None)
@given(data=reliability())
def test_perfect_agreement_has_zero_entropy_and_full_share(data):
    # given every labeler who labels an item gives it the item's one label
    item_label = np.nanmax(np.where(np.isnan(data), -1, data), axis=0)
    agreed = np.where(np.isnan(data), nan, item_label[None, :])
    labelled = ~np.isnan(agreed).all(axis=0)
    # when
    disagreement, vote = item_disagreement(agreed), majority_vote(agreed)
    # then
    assert (disagreement.entropy[labelled] == 0).all()
    assert disagreement.value in (0.0, None)
    assert (vote.confidence[labelled] == 1).all()
    np.testing.assert_array_equal(vote.label[labelled], item_label[labelled])
    assert not vote.tied.any()


@settings(max_examples=60, deadline=None)
@given(data=reliability())
def test_label_is_nan_exactly_on_ties_and_unlabelled_items(data):
    result = majority_vote(data, n_classes=3)
    unlabelled = np.isnan(data).all(axis=0)
    np.testing.assert_array_equal(np.isnan(result.label), result.tied | unlabelled)
    np.testing.assert_array_equal(result.tied, result.tie_mask.sum(axis=1) >= 2)


# --- Dawid–Skene -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_and_poor():
    """3 labelers right 90% of the time, 4 right 35% (errors uniform), 1,000 items, 4 classes."""
    return simulate([0.9] * 3 + [0.35] * 4, n_items=1000, n_classes=4, seed=11)


def test_dawid_skene_beats_majority_vote(good_and_poor):
    data, truth = good_and_poor
    ds, mv = dawid_skene(data), majority_vote(data)
    ds_accuracy = (ds.label == truth).mean()
    mv_accuracy = (mv.label == truth).mean()  # ties (NaN) count as wrong
    mv_broken_accuracy = np.mean(
        np.argmax(mv.tie_mask | (mv.label[:, None] == np.arange(4)), 1) == truth
    )
    assert ds.converged
    assert ds_accuracy > 0.97
    assert ds_accuracy > mv_accuracy + 0.05
    assert ds_accuracy > mv_broken_accuracy + 0.05  # even if MV ties were broken for free


def test_dawid_skene_estimates_labeler_accuracy(good_and_poor):
    data, truth = good_and_poor
    result = dawid_skene(data)
    empirical = (data == truth).mean(axis=1)
    np.testing.assert_allclose(result.labeler_accuracy, empirical, atol=0.05)
    np.testing.assert_allclose(result.labeler_accuracy, [0.9] * 3 + [0.35] * 4, atol=0.05)
    np.testing.assert_allclose(result.priors, np.bincount(truth) / truth.size, atol=0.03)
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1)
    np.testing.assert_allclose(np.nansum(result.posterior, axis=1), 1)


def test_dawid_skene_is_deterministic(good_and_poor):
    data, _ = good_and_poor
    first, second = dawid_skene(data), dawid_skene(data)
    np.testing.assert_array_equal(first.posterior, second.posterior)
    np.testing.assert_array_equal(first.confusion, second.confusion)
    assert (first.iterations, first.log_likelihood) == (second.iterations, second.log_likelihood)


def test_dawid_skene_with_a_one_label_labeler_and_an_unseen_class():
    # given 4 classes, class 3 never used, and a labeler who labelled one item
    data, _ = simulate([0.8, 0.8, 0.8], n_items=60, n_classes=3, seed=3)
    lone = np.full((1, 60), nan)
    lone[0, 5] = 1
    data = np.vstack([data, lone])
    # when
    result = dawid_skene(data, n_classes=4)
    # then nothing is NaN and the smoothing keeps every probability positive
    for figure in (result.confusion, result.priors, result.posterior, result.labeler_accuracy):
        assert np.isfinite(figure).all()
    assert (result.confusion > 0).all()
    assert result.priors[3] < 0.05  # only the smoothing keeps it above 0
    assert not (result.label == 3).any()
    assert result.labeler_n_labels.tolist() == [60, 60, 60, 1]
    assert np.isfinite(result.log_likelihood)


def test_dawid_skene_unlabelled_item_and_silent_labeler():
    data = [[0, 1, nan, 1], [0, 1, nan, 1], [nan, nan, nan, nan]]
    result = dawid_skene(data)
    np.testing.assert_array_equal(result.label, [0, 1, nan, 1])
    assert np.isnan(result.posterior[2]).all()
    assert np.isnan(result.probability[2])
    assert np.isnan(result.labeler_accuracy[2])  # gave no label: no accuracy to report
    assert np.isfinite(result.labeler_accuracy[:2]).all()


def test_dawid_skene_reports_an_exactly_balanced_posterior_as_a_tie():
    # two labelers with mirror-image records disagree on the last item: symmetric posterior
    result = dawid_skene([[0, 1, 0], [0, 1, 1]])
    assert result.tied[2]
    assert np.isnan(result.label[2])
    np.testing.assert_allclose(result.posterior[2], [0.5, 0.5])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (np.empty((3, 0)), "no items"),
        ([[0, 1, 1]], "Dawid–Skene needs at least two labelers"),
        ([[nan, nan], [nan, nan]], "no labels"),
        ([[0, nan], [nan, 1]], "no item has two or more labels"),
    ],
)
def test_dawid_skene_undefined_cases(data, reason):
    result = dawid_skene(data)
    assert result.value is None
    assert result.reason == reason


def test_dawid_skene_rejects_bad_settings():
    with pytest.raises(ValueError, match="smoothing"):
        dawid_skene([[0, 1], [0, 1]], smoothing=0)
    with pytest.raises(ValueError, match="max_iter"):
        dawid_skene([[0, 1], [0, 1]], max_iter=0)


def test_dawid_skene_stops_at_max_iter():
    data, _ = simulate([0.7, 0.6, 0.5], n_items=200, n_classes=3, seed=5)
    result = dawid_skene(data, max_iter=2, tol=0.0)
    assert (result.iterations, result.converged) == (2, False)
    assert result.value is not None


@settings(max_examples=30, deadline=None)
@given(data=reliability(max_labelers=5, max_items=10), seed=st.integers(0, 2**32 - 1))
def test_dawid_skene_never_produces_nan_for_labelled_items(data, seed):
    result = dawid_skene(data, n_classes=3, max_iter=20)
    if result.value is None:
        return
    labelled = ~np.isnan(data).all(axis=0)
    assert np.isfinite(result.posterior[labelled]).all()
    assert np.isfinite(result.confusion).all()
    assert 0 < result.value <= 1
    # permuting labelers permutes their confusion matrices and leaves the posterior alone
    order = np.random.default_rng(seed).permutation(data.shape[0])
    permuted = dawid_skene(data[order], n_classes=3, max_iter=20)
    np.testing.assert_allclose(permuted.posterior, result.posterior, atol=1e-9)
    np.testing.assert_allclose(permuted.confusion, result.confusion[order], atol=1e-9)


def test_dawid_skene_keeps_unanimous_items_on_a_tiny_project():
    # 3 labelers × 4 items, 4 classes, one never used: add-one smoothing would flatten this
    data = np.array([[0, 0, 2, np.nan], [0, 1, 2, 2], [0, 1, 1, np.nan]])
    result = dawid_skene(data, n_classes=4)
    assert result.label[0] == 0
    assert result.label[2] == 2
    assert result.probability[0] > 0.9


def test_confusion_pair_takes_the_two_most_chosen_classes_in_code_order():
    from consensus.metrics.aggregation import confusion_pair

    counts = [
        [2, 1, 0],  # 2–1 split: (0, 1)
        [0, 1, 2],  # (1, 2), written low first
        [1, 1, 1],  # three-way tie: the two lowest codes
        [3, 0, 0],  # unanimous: no pair
        [0, 0, 0],  # no labels
        [0, 2, 2],  # tie for first: (1, 2)
    ]
    low, high = confusion_pair(counts)
    assert low.tolist() == [0, 1, 0, -1, -1, 1]
    assert high.tolist() == [1, 2, 1, -1, -1, 2]


@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=6), min_size=4, max_size=4),
        min_size=1,
        max_size=30,
    )
)
def test_confusion_pair_agrees_with_a_plain_sort(rows):
    from consensus.metrics.aggregation import confusion_pair

    low, high = confusion_pair(rows)
    for row, a, b in zip(rows, low.tolist(), high.tolist(), strict=True):
        ranked = sorted(range(4), key=lambda k: (-row[k], k))
        expected = sorted(ranked[:2]) if row[ranked[1]] > 0 else [-1, -1]
        assert [a, b] == expected
