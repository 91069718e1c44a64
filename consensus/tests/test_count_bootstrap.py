"""The weighted-sum bootstrap equals recomputing each coefficient on resampled items."""

import numpy as np
import pytest

from consensus.metrics.agreement import (
    category_counts,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
)
from consensus.metrics.count_bootstrap import draw_weights, nominal_agreement_intervals


def _random_labels(seed: int, labelers=6, items=80, classes=4, missing=0.4):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, items)
    data = np.where(
        rng.random((labelers, items)) < 0.7, truth, rng.integers(0, classes, (labelers, items))
    )
    return np.where(rng.random((labelers, items)) < missing, np.nan, data.astype(float))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_replicate_equals_the_coefficient_on_resampled_items(seed):
    # given data and 5 replicates of drawn item indices
    data = _random_labels(seed)
    categories = np.arange(4.0)
    _, counts = category_counts(data, categories=categories)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.shape[1], size=(5, data.shape[1]))
    # when the interval is computed from the matching weights with confidence → 0
    for b in range(5):
        weights = draw_weights(idx[b : b + 1], data.shape[1])
        got = nominal_agreement_intervals(counts, weights=weights, confidence=1e-9)
        resampled = data[:, idx[b]]
        # then each coefficient equals the one computed on the resampled data
        expected = {
            "krippendorff_alpha": krippendorff_alpha(resampled).value,
            "percent_agreement": percent_agreement(resampled).value,
            "gwet_ac1": gwet_ac1(resampled, categories=categories).value,
        }
        for name, value in expected.items():
            assert got[name].low == pytest.approx(value, abs=1e-12), name


def test_interval_brackets_the_full_data_value_and_is_reproducible():
    data = _random_labels(7, items=400)
    _, counts = category_counts(data, categories=np.arange(4.0))
    first = nominal_agreement_intervals(counts, n=200, seed=3)
    again = nominal_agreement_intervals(counts, n=200, seed=3)
    alpha = krippendorff_alpha(data).value
    assert first["krippendorff_alpha"].low < alpha < first["krippendorff_alpha"].high
    assert first == again
    assert first["gwet_ac1"].n_resamples == 200


def test_undefined_replicates_are_counted_not_crashed():
    # one pairable item in three: many replicates draw none
    counts = np.array([[2, 0], [1, 0], [0, 1]])
    result = nominal_agreement_intervals(counts, n=100, seed=0)
    assert result["percent_agreement"].n_undefined > 0
    empty = nominal_agreement_intervals(np.zeros((0, 3)), n=50)
    assert empty["krippendorff_alpha"] == empty["krippendorff_alpha"].__class__(None, None, 0, 0)


def test_random_groups_match_the_item_bootstrap_on_large_data():
    # given 20,000 items, the interval from 1,000 random groups is close to the item bootstrap
    data = _random_labels(11, labelers=8, items=20_000)
    _, counts = category_counts(data, categories=np.arange(4.0))
    items = nominal_agreement_intervals(counts, n=300, seed=1)
    grouped = nominal_agreement_intervals(counts, n=300, seed=1, groups=1000)
    for name in ("krippendorff_alpha", "percent_agreement", "gwet_ac1"):
        width = items[name].high - items[name].low
        assert abs(grouped[name].low - items[name].low) < 0.25 * width, name
        assert abs(grouped[name].high - items[name].high) < 0.25 * width, name


def test_nominal_alpha_from_counts_equals_krippendorff_alpha():
    from consensus.metrics.count_bootstrap import nominal_alpha

    data = _random_labels(5)
    _, counts = category_counts(data, categories=np.arange(4.0))
    assert nominal_alpha(counts) == pytest.approx(krippendorff_alpha(data).value, abs=1e-12)
    assert nominal_alpha(np.array([[3, 0], [2, 0]])) is None  # all labels identical
