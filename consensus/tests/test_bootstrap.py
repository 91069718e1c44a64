"""Percentile bootstrap: reproducibility, coverage of the full-data value, undefined replicates."""

import numpy as np
import pytest

from consensus.metrics import bootstrap
from consensus.metrics.bootstrap import bootstrap_ci
from consensus.metrics.hlp import human_level_performance
from consensus.metrics.results import Result

nan = np.nan


@pytest.fixture(scope="module")
def labels():
    """4 labelers × 150 items, 3 classes; each labeler gives the hidden truth 80% of the time."""
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 150)
    noise = rng.integers(0, 3, (4, 150))
    data = np.where(rng.random((4, 150)) < 0.8, truth, noise).astype(float)
    data[rng.random((4, 150)) < 0.2] = nan
    return data, truth.astype(float)


def test_same_seed_same_interval(labels):
    data, _ = labels
    first = bootstrap_ci(human_level_performance, data, n=200, seed=5)
    second = bootstrap_ci(human_level_performance, data, n=200, seed=5)
    other = bootstrap_ci(human_level_performance, data, n=200, seed=6)
    assert (first.low, first.high) == (second.low, second.high)
    np.testing.assert_array_equal(first.replicates, second.replicates)
    assert (first.low, first.high) != (other.low, other.high)


def test_interval_contains_full_data_value(labels):
    data, _ = labels
    result = bootstrap_ci(human_level_performance, data, n=300)
    assert result.value == human_level_performance(data).value
    assert result.low < result.value < result.high
    assert result.high - result.low < 0.2
    assert (result.n_resamples, result.n_undefined, result.replicates.size) == (300, 0, 300)
    assert result.standard_error == pytest.approx(result.replicates.std(ddof=1))


def test_percentiles_of_the_replicates(labels):
    data, _ = labels
    result = bootstrap_ci(lambda d: float(np.nanmean(d)), data, n=100, confidence=0.9)
    low, high = np.quantile(result.replicates, [0.05, 0.95])
    assert (result.low, result.high) == (low, high)
    assert result.confidence == 0.9


def test_indices_drawn_at_once_from_the_seed():
    # the k-th replicate resamples the k-th row of default_rng(seed).integers(0, N, (n, N))
    data = np.arange(10, dtype=float)[None, :]
    result = bootstrap_ci(lambda d: float(d.sum()), data, n=50, seed=3)
    indices = np.random.default_rng(3).integers(0, 10, (50, 10))
    np.testing.assert_array_equal(result.replicates, indices.sum(axis=1))


def test_blocks_draw_the_same_stream(labels, monkeypatch):
    data, _ = labels
    whole = bootstrap_ci(human_level_performance, data, n=40, seed=1)
    monkeypatch.setattr(bootstrap, "_BLOCK_ENTRIES", 7 * data.shape[1])  # blocks of 7 replicates
    blocked = bootstrap_ci(human_level_performance, data, n=40, seed=1)
    np.testing.assert_array_equal(whole.replicates, blocked.replicates)


def test_undefined_replicates_are_skipped_and_counted():
    # given 10 items of which only item 0 has two labels: agreement is undefined without it
    data = np.full((2, 10), nan)
    data[0] = 1
    data[1, 0] = 1
    result = bootstrap_ci(human_level_performance, data, n=200, seed=4)
    # then exactly the resamples that miss item 0 are undefined
    indices = np.random.default_rng(4).integers(0, 10, (200, 10))
    expected = int((~(indices == 0).any(axis=1)).sum())
    assert 0 < expected < 200
    assert result.n_undefined == expected
    assert result.replicates.size == 200 - expected
    assert result.value == result.low == result.high == 1.0


def test_float_statistic_nan_counts_as_undefined():
    # given a statistic returning a plain float, NaN when the resample holds no label
    def mean_label(d):
        n_labels = (~np.isnan(d)).sum()
        return float(np.nansum(d) / n_labels) if n_labels else nan

    result = bootstrap_ci(mean_label, [[0.0, 1.0, nan]], n=300, seed=8)
    # then the resamples made only of the unlabelled item (index 2) are the undefined ones
    indices = np.random.default_rng(8).integers(0, 3, (300, 3))
    expected = int((indices == 2).all(axis=1).sum())
    assert expected > 0
    assert result.n_undefined == expected
    assert np.isfinite(result.replicates).all()


def test_undefined_on_full_data():
    result = bootstrap_ci(human_level_performance, [[0, 1, 1]], n=10)
    assert result.value is None
    assert result.reason.startswith("statistic undefined on the full data: one labeler")


def test_undefined_on_every_resample():
    calls = iter(range(10_000))

    def defined_only_first_time(d):
        return Result(1.0) if next(calls) == 0 else Result(None, "nope")

    result = bootstrap_ci(defined_only_first_time, [[0, 1]], n=20)
    assert result.value is None
    assert result.reason == "statistic undefined on every resample"
    assert result.n_undefined == 20


def test_no_items():
    result = bootstrap_ci(human_level_performance, np.empty((2, 0)), n=10)
    assert (result.value, result.reason) == (None, "no items to resample")


def test_aligned_gold_travels_with_its_items(labels):
    data, truth = labels
    result = bootstrap_ci(human_level_performance, data, n=100, aligned={"gold": truth})
    assert result.value == human_level_performance(data, gold=truth).value
    assert result.low < result.value < result.high
    assert 0.8 < result.value < 0.95  # accuracy ≈ 0.8 + 0.2 / 3 against the aligned truth


def test_resampling_labelers(labels):
    data, _ = labels
    result = bootstrap_ci(human_level_performance, data, n=50, axis="labelers")
    assert result.value == human_level_performance(data).value
    assert result.n_undefined + result.replicates.size == 50


@pytest.mark.parametrize(
    "kwargs",
    [{"n": 0}, {"confidence": 1.0}, {"axis": "rows"}, {"aligned": {"gold": [1, 2]}}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 (several messages)
        bootstrap_ci(human_level_performance, [[0, 1, 1], [0, 1, 0]], **kwargs)
