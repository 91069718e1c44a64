"""Agreement coefficients: published worked examples, the krippendorff package, properties.

Pure NumPy: no database, no Django.
"""

import dataclasses
import time
import tracemalloc

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.metrics.agreement import (
    CohenKappa,
    category_agreement,
    category_counts,
    cohen_kappa,
    coincidence_matrix,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    labeler_agreement,
    pairwise_agreement,
    percent_agreement,
)

nan = np.nan
LEVELS = ["nominal", "ordinal", "interval", "ratio"]

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", Annenberg School for
# Communication, departmental paper 43: the 4 observers × 12 units example, values 1..5, missing.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)

# Fleiss' kappa worked example (Wikipedia "Fleiss' kappa", after Fleiss 1971): 10 subjects,
# 14 raters, 5 categories; published P̄ = 0.378, P_e = 0.213, κ = 0.210.
FLEISS_WIKIPEDIA = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed., as shipped with his irrCAC R package:
# "cont3x3abstractors" (2 abstractors, 100 pregnancies: Ectopic / AIU / NIU) and
# "cont4x4diagnosis" (223 psychiatric patients, clinical vs research diagnosis).
CONT3X3_ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
CONT4X4_DIAGNOSIS = [[40, 4, 4, 17], [6, 25, 2, 13], [4, 1, 21, 12], [15, 5, 9, 45]]


def from_table(table):
    """Two raters' label vectors from a contingency table (rows: rater A, columns: rater B)."""
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return np.array(a, dtype=float), np.array(b, dtype=float)


def random_reliability(seed, labelers, items, categories, missing=0.3):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, categories, (labelers, items)).astype(float)
    data[rng.random(data.shape) < missing] = nan
    return data


# Hypothesis: small reliability matrices of category codes with NaN holes.
@st.composite
def reliability(draw, min_labelers=2, max_labelers=5, max_items=12, max_categories=4):
    labelers = draw(st.integers(min_labelers, max_labelers))
    items = draw(st.integers(1, max_items))
    cells = st.one_of(st.none(), st.integers(0, max_categories - 1))
    rows = draw(
        st.lists(
            st.lists(cells, min_size=items, max_size=items),
            min_size=labelers,
            max_size=labelers,
        )
    )
    return np.array([[nan if v is None else float(v) for v in row] for row in rows])


@st.composite
def permuted(draw, data):
    labelers = draw(st.permutations(range(data.shape[0])))
    items = draw(st.permutations(range(data.shape[1])))
    return data[np.ix_(labelers, items)]


def same(a, b, tol=1e-12):
    if a.value is None or b.value is None:
        return a.value is None and b.value is None and a.reason == b.reason
    return abs(a.value - b.value) <= tol


# ------------------------------------------------------------------ Krippendorff's alpha


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_example(level, published):
    # Krippendorff (2011): the published nominal, ordinal, interval and ratio alphas.
    result = krippendorff_alpha(KRIPPENDORFF_2011, level)
    assert result.value == pytest.approx(published, abs=5e-4)
    assert result.n_pairable == 40
    assert result.n_units == 11


def test_krippendorff_2011_coincidence_matrix():
    # The coincidence matrix printed in Krippendorff (2011) for it (n_c = 9, 13, 10, 5, 3).
    values, o = coincidence_matrix(KRIPPENDORFF_2011)
    third = 1 / 3
    published = np.array(
        [
            [7, 4 * third, third, third, 0],
            [4 * third, 10, 4 * third, third, 0],
            [third, 4 * third, 8, third, 0],
            [third, third, third, 4, 0],
            [0, 0, 0, 0, 3],
        ]
    )
    np.testing.assert_array_equal(values, [1, 2, 3, 4, 5])
    np.testing.assert_allclose(o, published, atol=1e-12)


def test_krippendorff_2011_binary_two_coders():
    # Krippendorff (2011): the binary example, 2 coders × 10 units, no missing data, α = 0.095.
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    result = krippendorff_alpha([a, b], "nominal")
    assert result.value == pytest.approx(0.095, abs=5e-4)
    assert result.value == pytest.approx(
        1 - 19 * 4 / (14 * 6), abs=1e-12
    )  # 1 − (n−1)o_01/(n_0 n_1)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    ("seed", "labelers", "items", "categories"),
    [(0, 2, 30, 2), (1, 3, 50, 5), (2, 6, 40, 3), (3, 10, 60, 7), (4, 4, 80, 100), (5, 8, 25, 12)],
)
def test_alpha_equals_krippendorff_package(level, seed, labelers, items, categories):
    data = random_reliability(seed, labelers, items, categories)
    if level == "ratio":
        data = data + 1.0  # ratio data are non-negative magnitudes; keep 0 + 0 out of the way
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level).value == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", [10, 11, 12])
def test_alpha_equals_package_on_continuous_values(level, seed):
    rng = np.random.default_rng(seed)
    data = np.abs(rng.normal(5.0, 2.0, (5, 70)))
    data[rng.random(data.shape) < 0.3] = nan
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level).value == pytest.approx(expected, abs=1e-9)


def _delta2(values, n_c, level):
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        return ((c - k) / (c + k)) ** 2
    cum = np.concatenate([[0.0], np.cumsum(n_c)])
    index = np.arange(len(values))
    lo = np.minimum(index[:, None], index[None, :])
    hi = np.maximum(index[:, None], index[None, :])
    # Σ_{g=lo}^{hi} n_g − (n_lo + n_hi)/2, squared
    return (cum[hi + 1] - cum[lo] - (n_c[lo] + n_c[hi]) / 2) ** 2


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_from_the_coincidence_matrix_textbook_formula(level):
    # α = 1 − (n−1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck on the explicit V × V matrices.
    data = random_reliability(7, 5, 40, 6) + 1.0
    values, o = coincidence_matrix(data)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    np.testing.assert_allclose(o, o.T)
    d2 = _delta2(values, n_c, level)
    textbook = 1 - (n - 1) * (o * d2).sum() / (np.outer(n_c, n_c) * d2).sum()
    assert krippendorff_alpha(data, level).value == pytest.approx(textbook, abs=1e-12)


def test_alpha_rejects_an_unknown_level():
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(KRIPPENDORFF_2011, "circular")


def test_alpha_is_fast_and_small_on_10_labelers_20000_units_100_categories():
    data = random_reliability(42, 10, 20_000, 100, missing=0.2)
    start = time.perf_counter()
    result = krippendorff_alpha(data, "nominal")
    elapsed = time.perf_counter() - start
    assert result.defined
    assert elapsed < 2.0
    # A units × V × V float tensor alone would be 20,000 × 100 × 100 × 8 B = 1.6 GB.
    for level in LEVELS:
        tracemalloc.start()
        try:
            krippendorff_alpha(data, level)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 200e6, (level, peak)


# ------------------------------------------------------------------ Fleiss' kappa


def test_fleiss_wikipedia_example():
    result = fleiss_kappa(FLEISS_WIKIPEDIA)
    assert result.value == pytest.approx(0.210, abs=5e-4)
    assert result.p_bar == pytest.approx(0.378, abs=5e-4)
    assert result.p_e == pytest.approx(0.213, abs=5e-4)
    assert (result.n_items, result.n_raters) == (10, 14)


def test_fleiss_unequal_raters_is_undefined_with_a_reason():
    result = fleiss_kappa([[2, 1], [1, 1]])
    assert result.value is None
    assert "same number of raters" in result.reason


def test_fleiss_ignores_items_nobody_rated():
    with_empty = np.vstack([FLEISS_WIKIPEDIA, np.zeros((3, 5), dtype=int)])
    assert fleiss_kappa(with_empty).value == pytest.approx(fleiss_kappa(FLEISS_WIKIPEDIA).value)


@pytest.mark.parametrize("bad", [[[1, -1]], [[0.5, 1.5]], [1, 2, 3], [[nan, 1]]])
def test_fleiss_rejects_malformed_counts(bad):
    with pytest.raises(ValueError, match="counts"):
        fleiss_kappa(bad)


def test_category_counts_feeds_fleiss():
    cats, counts = category_counts([[1, 1, 2], [1, 2, 2], [nan, 2, 2]], categories=[1, 2, 3])
    np.testing.assert_array_equal(cats, [1, 2, 3])
    np.testing.assert_array_equal(counts, [[2, 0, 0], [1, 2, 0], [0, 3, 0]])


# ------------------------------------------------------------------ Cohen's kappa


@pytest.mark.parametrize(
    ("table", "published"),
    [
        # Wikipedia "Cohen's kappa", worked example: 50 proposals, yes/yes 20, yes/no 5,
        # no/yes 10, no/no 15 → p_o = 0.7, p_e = 0.5, κ = 0.4.
        ([[20, 5], [10, 15]], 0.4),
        # Wikipedia, "same percentages but different numbers": κ = 0.1304 and 0.2593.
        ([[45, 15], [25, 15]], 0.1304),
        ([[25, 35], [5, 35]], 0.2593),
    ],
)
def test_cohen_wikipedia_examples(table, published):
    result = cohen_kappa(*from_table(table))
    assert result.value == pytest.approx(published, abs=5e-5)


def test_cohen_wikipedia_figures():
    result = cohen_kappa(*from_table([[20, 5], [10, 15]]))
    assert (result.observed, result.expected, result.n) == (
        pytest.approx(0.7),
        pytest.approx(0.5),
        50,
    )


@pytest.mark.parametrize(
    ("table", "weights", "published"),
    [
        # Gwet (2014) / irrCAC: kappa2.table(cont3x3abstractors) = 0.7964094, linear 0.843,
        # quadratic 0.892; cont4x4diagnosis: 0.432, linear 0.407, quadratic 0.383.
        (CONT3X3_ABSTRACTORS, None, 0.7964094),
        (CONT3X3_ABSTRACTORS, "linear", 0.843),
        (CONT3X3_ABSTRACTORS, "quadratic", 0.892),
        (CONT4X4_DIAGNOSIS, None, 0.432),
        (CONT4X4_DIAGNOSIS, "linear", 0.407),
        (CONT4X4_DIAGNOSIS, "quadratic", 0.383),
    ],
)
def test_cohen_gwet_handbook_examples(table, weights, published):
    tol = 5e-8 if published == 0.7964094 else 5e-4
    assert cohen_kappa(*from_table(table), weights=weights).value == pytest.approx(
        published, abs=tol
    )


def test_weighted_kappa_by_hand_on_a_tiny_table():
    # 3 ordered categories, a = 0 1 2 2, b = 0 2 2 1; both marginals are (1/4, 1/4, 1/2).
    # Linear disagreement weights |i−j|/2: observed (0 + ½ + 0 + ½)/4 = 1/4; expected
    # Σ_ij pa_i pb_j |i−j|/2 = (2·(1/16)·1 + 2·(1/8)·2 + 2·(1/8)·1)/2 = 7/16 → κ = 1 − 4/7 = 3/7.
    # Quadratic weights (i−j)²/4: observed (¼ + ¼)/4 = 1/8; expected
    # (2·(1/16)·1 + 2·(1/8)·4 + 2·(1/8)·1)/4 = 11/32 → κ = 1 − 4/11 = 7/11.
    a, b = np.array([0.0, 1, 2, 2]), np.array([0.0, 2, 2, 1])
    linear = cohen_kappa(a, b, weights="linear")
    assert linear.value == pytest.approx(3 / 7, abs=1e-12)
    assert (linear.observed, linear.expected) == (pytest.approx(3 / 4), pytest.approx(9 / 16))
    quadratic = cohen_kappa(a, b, weights="quadratic")
    assert quadratic.value == pytest.approx(7 / 11, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=40).filter(
        lambda pairs: len({p[0] for p in pairs} | {p[1] for p in pairs}) >= 2
    )
)
def test_quadratic_kappa_equals_the_concordance_identity(pairs):
    # Fleiss & Cohen (1973): quadratic κ_w = 2 s_ab / (s_a² + s_b² + (ā − b̄)²) (1/n moments)
    # on the category positions; with contiguous codes 0..K−1 the positions are the codes.
    a = np.array([p[0] for p in pairs], dtype=float)
    b = np.array([p[1] for p in pairs], dtype=float)
    cats = np.arange(5.0)
    result = cohen_kappa(a, b, weights="quadratic", categories=cats)
    denominator = a.var() + b.var() + (a.mean() - b.mean()) ** 2
    cov = ((a - a.mean()) * (b - b.mean())).mean()
    assert result.value == pytest.approx(2 * cov / denominator, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=30),
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_lies_in_minus_one_one(pairs, weights):
    a = np.array([p[0] for p in pairs], dtype=float)
    b = np.array([p[1] for p in pairs], dtype=float)
    result = cohen_kappa(a, b, weights=weights)
    if result.defined:
        assert -1 - 1e-12 <= result.value <= 1 + 1e-12
    else:
        assert result.reason


def test_cohen_drops_missing_pairs_and_checks_shapes():
    a = [1, 2, nan, 1, 2]
    b = [1, 2, 1, nan, 1]
    assert cohen_kappa(a, b).n == 3
    with pytest.raises(ValueError, match="same length"):
        cohen_kappa([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")


# ------------------------------------------------------------------ Gwet's AC1


def test_gwet_ac1_handbook_four_raters():
    # Gwet (2014) p. 120 / irrCAC gwet.ac1.raw(cac.raw4raters): p_a 0.818, p_e 0.190, AC1 0.775.
    # The dataset is Krippendorff's 4 × 12 example (unit 12's single rating sits with another
    # rater, which changes nothing).
    result = gwet_ac1(KRIPPENDORFF_2011)
    assert result.value == pytest.approx(0.775, abs=5e-4)
    assert result.p_a == pytest.approx(0.818, abs=5e-4)
    assert result.p_e == pytest.approx(0.190, abs=5e-4)


@pytest.mark.parametrize(
    ("table", "published"), [(CONT3X3_ABSTRACTORS, 0.849), (CONT4X4_DIAGNOSIS, 0.456)]
)
def test_gwet_ac1_handbook_two_raters(table, published):
    # Gwet (2014) / irrCAC gwet.ac1.table(): cont3x3abstractors 0.849, cont4x4diagnosis 0.456.
    assert gwet_ac1(np.vstack(from_table(table))).value == pytest.approx(published, abs=5e-4)


def test_gwet_ac1_uses_the_full_category_list():
    data = [[1, 1, 1, 2], [1, 1, 1, 1]]
    observed_only = gwet_ac1(data)
    full_scale = gwet_ac1(data, categories=[1, 2, 3])
    assert observed_only.n_categories == 2
    assert full_scale.n_categories == 3
    assert full_scale.p_e < observed_only.p_e
    with pytest.raises(ValueError, match="categories"):
        gwet_ac1(data, categories=[1])


# ------------------------------------------------------------------ percent and per category


def test_percent_agreement_by_hand():
    # Item 1: 3 labels all equal (1); item 2: labels 1, 1, 2 → 2 of 6 ordered pairs agree;
    # item 3: one label only (ignored).
    data = [[1, 1, 1], [1, 1, nan], [1, 2, nan]]
    result = percent_agreement(data)
    assert result.value == pytest.approx((1 + 2 / 6) / 2)
    assert result.n_items == 2


def test_specific_agreement_two_raters_is_cicchetti_feinstein():
    # Two raters, Wikipedia table: p_pos = 2a/(2a+b+c) = 40/55, p_neg = 2d/(2d+b+c) = 30/45.
    a, b = from_table([[20, 5], [10, 15]])
    result = category_agreement(np.vstack([a, b]))
    assert result.specific[0.0] == pytest.approx(40 / 55)
    assert result.specific[1.0] == pytest.approx(30 / 45)
    assert result.value == pytest.approx(0.7)  # pooled = percent agreement with two raters
    assert result.n_labels == {0.0: 55, 1.0: 45}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_vs_rest_kappa_is_alpha_on_binarised_data(seed):
    data = random_reliability(seed, 5, 30, 4)
    result = category_agreement(data)
    for code, value in result.kappa.items():
        binary = np.where(np.isnan(data), nan, (data == code).astype(float))
        expected = krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal")
        assert value == pytest.approx(expected, abs=1e-12)
        assert krippendorff_alpha(binary).value == pytest.approx(value, abs=1e-12)


def test_category_agreement_marks_undefined_classes():
    # Category 3 appears only on an item with a single label; category 1 is every other label.
    result = category_agreement([[1, 1, 3], [1, 1, nan]])
    assert result.specific[3.0] is None
    assert result.kappa[3.0] is None
    assert result.kappa[1.0] is None  # all pairable labels are 1: binary alpha is 0/0
    assert result.specific[1.0] == 1.0


# ------------------------------------------------------------------ labeler pairs and labelers


def test_pairwise_matches_cohen_kappa_and_counts_shared_items():
    data = random_reliability(3, 5, 40, 3)
    data[4, :] = nan
    data[4, :3] = [0, 1, 2]
    data[3, :3] = nan  # labelers 3 and 4 share no item
    result = pairwise_agreement(data)
    assert result.shared[3, 4] == 0
    assert np.isnan(result.percent[3, 4])
    assert np.isnan(result.kappa[3, 4])
    np.testing.assert_array_equal(result.kappa, result.kappa.T)
    kappas = []
    for a in range(5):
        for b in range(5):
            expected = cohen_kappa(data[a], data[b])
            both = ~np.isnan(data[a]) & ~np.isnan(data[b])
            assert result.shared[a, b] == both.sum()
            if expected.defined:
                assert result.kappa[a, b] == pytest.approx(expected.value, abs=1e-12)
                assert result.percent[a, b] == pytest.approx(expected.observed, abs=1e-12)
                if a < b:
                    kappas.append(expected.value)
            else:
                assert np.isnan(result.kappa[a, b])
    assert result.value == pytest.approx(np.mean(kappas))  # Light's kappa


def test_pairwise_arrays_are_read_only():
    result = pairwise_agreement(KRIPPENDORFF_2011)
    with pytest.raises(ValueError, match="read-only"):
        result.kappa[0, 1] = 0.0


def test_labeler_agreement_by_hand():
    # Rows are labelers; item 3 is labeled by labeler 0 alone.
    data = [
        [1, 2, 1, 5],
        [1, 2, 2, nan],
        [2, 2, 1, nan],
    ]
    result = labeler_agreement(data)
    # item 0: others of L0 = {1, 2} tie; L1 others {1, 2} tie; L2 others {1, 1} → plurality 1 ≠ 2.
    # item 1: all agree. item 2: L0 others {2, 1} tie; L1 others {1, 1} → 1 ≠ 2; L2 others {1, 2}.
    np.testing.assert_array_equal(result.agreed, [1, 1, 1])
    np.testing.assert_array_equal(result.compared, [1, 2, 2])
    np.testing.assert_array_equal(result.tied, [2, 1, 1])
    np.testing.assert_array_equal(result.alone, [1, 0, 0])
    np.testing.assert_allclose(result.agreement, [1.0, 0.5, 0.5])
    assert result.value == pytest.approx(3 / 5)


@settings(max_examples=40, deadline=None)
@given(reliability(max_labelers=6, max_items=10))
def test_labeler_agreement_matches_a_brute_force_count(data):
    result = labeler_agreement(data)
    for a in range(data.shape[0]):
        agreed = compared = tied = alone = 0
        for i in range(data.shape[1]):
            if np.isnan(data[a, i]):
                continue
            others = data[np.arange(data.shape[0]) != a, i]
            values, counts = np.unique(others[~np.isnan(others)], return_counts=True)
            if len(values) == 0:
                alone += 1
            elif (counts == counts.max()).sum() > 1:
                tied += 1
            else:
                compared += 1
                agreed += values[counts.argmax()] == data[a, i]
        assert (agreed, compared, tied, alone) == (
            result.agreed[a],
            result.compared[a],
            result.tied[a],
            result.alone[a],
        )


# ------------------------------------------------------------------ properties


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_permuting_labelers_or_items_changes_nothing(draw):
    data = draw.draw(reliability())
    shuffled = draw.draw(permuted(data))
    for level in LEVELS:
        assert same(krippendorff_alpha(data, level), krippendorff_alpha(shuffled, level), 1e-9)
    assert same(percent_agreement(data), percent_agreement(shuffled))
    assert same(gwet_ac1(data), gwet_ac1(shuffled))
    counts = category_counts(data)[1]
    shuffled_counts = category_counts(shuffled)[1]
    assert same(fleiss_kappa(counts), fleiss_kappa(shuffled_counts))
    rows = draw.draw(st.permutations(range(len(counts))))
    assert same(fleiss_kappa(counts), fleiss_kappa(counts[rows]))


@settings(max_examples=30, deadline=None)
@given(
    st.integers(2, 5),
    st.lists(st.integers(0, 3), min_size=2, max_size=12).filter(lambda v: len(set(v)) >= 2),
    st.data(),
)
def test_perfect_agreement_gives_one(labelers, truth, draw):
    data = np.tile(np.array(truth, dtype=float), (labelers, 1))
    holes = draw.draw(st.lists(st.booleans(), min_size=data.size, max_size=data.size))
    masked = data.copy()
    masked.ravel()[np.array(holes)] = nan
    masked[:2] = data[:2]  # two full rows keep every item (and both values) pairable
    for level in LEVELS:
        assert krippendorff_alpha(masked, level).value == pytest.approx(1.0)
    assert percent_agreement(masked).value == pytest.approx(1.0)
    assert gwet_ac1(masked).value == pytest.approx(1.0)
    assert fleiss_kappa(category_counts(data)[1]).value == pytest.approx(1.0)
    assert cohen_kappa(data[0], data[1]).value == pytest.approx(1.0)
    for weights in ("linear", "quadratic"):
        assert cohen_kappa(data[0], data[1], weights=weights).value == pytest.approx(1.0)
    assert pairwise_agreement(masked).value == pytest.approx(1.0)
    assert labeler_agreement(data).value == pytest.approx(1.0)


# ------------------------------------------------------------------ undefined cases

ALL_DATA_FUNCTIONS = [
    percent_agreement,
    krippendorff_alpha,
    gwet_ac1,
    category_agreement,
    pairwise_agreement,
    labeler_agreement,
]


@pytest.mark.parametrize("function", ALL_DATA_FUNCTIONS)
@pytest.mark.parametrize(
    ("data", "why"),
    [
        (np.array([[1.0, 2.0, 1.0]]), "one labeler"),
        (np.array([[1.0, nan, nan], [nan, 2.0, nan], [nan, nan, 1.0]]), "two or more"),
        (np.empty((3, 0)), "no items"),
        (np.full((2, 4), nan), "no items"),
        (np.empty((0, 0)), "no items"),
    ],
)
def test_undefined_data_gives_none_and_a_reason(function, data, why):
    result = function(data)
    assert result.value is None
    assert why in result.reason


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_all_labels_identical_is_undefined(level):
    result = krippendorff_alpha([[3, 3, 3, nan], [3, 3, nan, 1]], level)  # the 1 is unpairable
    assert result.value is None
    assert "identical" in result.reason


def test_chance_corrected_coefficients_on_identical_labels_are_undefined():
    same_labels = np.full((3, 5), 2.0)
    assert "identical" in cohen_kappa(same_labels[0], same_labels[1]).reason
    assert "identical" in cohen_kappa(same_labels[0], same_labels[1], weights="linear").reason
    assert "identical" in fleiss_kappa(category_counts(same_labels)[1]).reason
    assert "one category" in gwet_ac1(same_labels).reason
    assert gwet_ac1(same_labels, categories=[1, 2]).value == pytest.approx(1.0)
    assert "identical" in pairwise_agreement(same_labels).reason
    # Not chance-corrected: percent agreement is simply 1.
    assert percent_agreement(same_labels).value == 1.0


def test_cohen_with_no_shared_items_is_undefined():
    result = cohen_kappa([1, nan, 2], [nan, 1, nan])
    assert result.value is None
    assert "both raters" in result.reason
    assert isinstance(result, CohenKappa)


def test_pairwise_with_no_shared_items():
    result = pairwise_agreement([[1, 2, nan, nan], [nan, nan, 1, 2]])
    assert result.value is None
    assert "share" in result.reason
    assert result.shared[0, 1] == 0
    assert np.isnan(result.percent[0, 1])
    assert np.isnan(result.kappa[0, 1])


def test_fleiss_undefined_cases():
    assert fleiss_kappa(np.zeros((3, 2))).reason.startswith("no items")
    assert "one rater" in fleiss_kappa([[1, 0], [0, 1]]).reason


def test_results_are_frozen():
    result = krippendorff_alpha(KRIPPENDORFF_2011)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = 1.0
