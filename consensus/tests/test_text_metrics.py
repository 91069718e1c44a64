"""Text agreement: hand-computed WER/CER, pairwise matrices, consensus, alpha over a text distance.

Pure Python/NumPy: no database, no Django. Independent oracles: a plain dynamic-programming
Levenshtein written here, brute-force loops for the matrices and for Krippendorff's formula, and
the ``krippendorff`` package for the nominal special case.
"""

import itertools
import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.metrics import text as text_module
from consensus.metrics.agreement import percent_agreement
from consensus.metrics.text import (
    EMPTY_REFERENCE,
    NO_ITEMS,
    NO_PAIRS,
    NO_VARIATION,
    ONE_LABELER,
    character_edit_distance,
    character_error_rate,
    characters,
    edit_distance,
    medoid,
    normalized_word_distance,
    pairwise_error_rates,
    rover,
    text_agreement,
    text_alpha,
    text_consensus,
    text_figures,
    word_edit_distance,
    word_error_rate,
    words,
)

# DOMAIN.md §1, the three transcripts of one clip, after the project's normalisation rules
# (lower case, punctuation stripped): before and after the "um" spelling convention.
DOMAIN_RAW = [
    "um nearest gas station",
    "umm nearest gas station",
    "nearest gas station [unintelligible]",
]
DOMAIN_STANDARD = [
    "um nearest gas station",
    "um nearest gas station",
    "nearest gas station [unintelligible]",
]


def dp_levenshtein(a, b):
    """Textbook O(|a||b|) Levenshtein (Wagner & Fischer 1974): the oracle for RapidFuzz."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def random_table(seed, items, labelers, vocabulary=5, max_words=4, missing=0.25, copies=0.4):
    """Short transcripts over a tiny vocabulary, with missing cells and many exact copies."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{k}" for k in range(vocabulary)]
    table = []
    for _ in range(items):
        base = " ".join(rng.choice(vocab, rng.integers(0, max_words + 1)))
        row = []
        for _ in range(labelers):
            if rng.random() < missing:
                row.append(None)
            elif rng.random() < copies:
                row.append(base)
            else:
                row.append(" ".join(rng.choice(vocab, rng.integers(0, max_words + 1))))
        table.append(row)
    return table


# --------------------------------------------------------------------------- tokens, distance


def test_words_split_on_any_whitespace_and_characters_keep_spaces():
    assert words("  nearest\tgas \n station ") == ["nearest", "gas", "station"]
    assert words("") == []
    assert characters("um ok") == ["u", "m", " ", "o", "k"]


def test_edit_distance_classic_examples():
    # kitten → sitting: k→s, e→i, +g = 3 (the textbook example).
    assert edit_distance("kitten", "sitting") == 3
    assert character_edit_distance("kitten", "sitting") == 3
    # Over words: [um, nearest, gas, station] → [nearest, gas, station]: delete "um" = 1.
    assert edit_distance(["um", "nearest", "gas", "station"], ["nearest", "gas", "station"]) == 1
    assert word_edit_distance("um nearest gas station", "nearest gas station") == 1
    # A word is one symbol: "gas" → "grocery" is one substitution, not several character edits.
    assert word_edit_distance("nearest gas", "nearest grocery") == 1
    assert edit_distance([], ["a", "b"]) == 2


# --------------------------------------------------------------------------- WER / CER by hand


def test_wer_one_deletion():
    # ref: um nearest gas station (N = 4); hyp: nearest gas station → D = 1 ("um"): 1/4.
    r = word_error_rate("um nearest gas station", "nearest gas station")
    assert r.value == 0.25
    assert (r.substitutions, r.deletions, r.insertions, r.edits) == (0, 1, 0, 1)
    assert (r.reference_length, r.hypothesis_length, r.unit) == (4, 3, "word")


def test_wer_substitution_and_insertion():
    # ref: nearest gas station (N = 3); hyp: nearest grocery station please
    # gas → grocery (S = 1), + please (I = 1): (1 + 0 + 1) / 3 = 2/3.
    r = word_error_rate("nearest gas station", "nearest grocery station please")
    assert r.value == pytest.approx(2 / 3)
    assert (r.substitutions, r.deletions, r.insertions) == (1, 0, 1)


def test_wer_can_exceed_one():
    # ref: "a" (N = 1); hyp: "b c d" → S = 1 (a → b), I = 2: 3/1 = 3.
    r = word_error_rate("a", "b c d")
    assert r.value == 3.0
    assert (r.substitutions, r.insertions) == (1, 2)


def test_cer_filler_spellings():
    # "umm" → "um": delete one "m": 1/3; "um" → "umm": insert one "m": 1/2.
    assert character_error_rate("umm", "um").value == pytest.approx(1 / 3)
    assert character_error_rate("um", "umm").value == 0.5
    # Spaces are characters: "nearest gas" (11 chars) → "nearestgas": 1 deletion: 1/11.
    r = character_error_rate("nearest gas", "nearestgas")
    assert r.value == pytest.approx(1 / 11)
    assert (r.deletions, r.reference_length) == (1, 11)


def test_wer_and_cer_empty_cases():
    # Empty reference, non-empty hypothesis: 1 insertion over 0 words is undefined, not 0 or inf.
    for rate in (word_error_rate, character_error_rate):
        r = rate("", "um")
        assert r.value is None
        assert r.reason == EMPTY_REFERENCE
        assert r.insertions >= 1
        # Both empty: nothing to get wrong.
        both = rate("", "")
        assert both.value == 0.0
        assert both.reason is None
    # A whitespace-only reference has no words.
    assert word_error_rate("   ", "um").value is None
    # Empty hypothesis: every reference word deleted: 4/4.
    r = word_error_rate("um nearest gas station", "")
    assert (r.value, r.deletions) == (1.0, 4)


# --------------------------------------------------------------------------- pairwise matrices


def test_domain_example_pairwise_before_and_after_standardising():
    # Word edit distances: A–B 1 (um → umm), A–C 2 (−um, +[unintelligible]), B–C 2. All 4 words.
    # Symmetric WER = 2E / (|a| + |b|): A–B 2/8 = 0.25, A–C 4/8 = 0.5, B–C 0.5.
    # Overall: Σ 2E / Σ (|a| + |b|) = (2 + 4 + 4) / 24 = 5/12. No two transcripts identical.
    r = pairwise_error_rates(DOMAIN_RAW)
    expected = np.array([[0, 0.25, 0.5], [0.25, 0, 0.5], [0.5, 0.5, 0]])
    np.testing.assert_allclose(r.wer, expected)
    assert r.value == pytest.approx(5 / 12)
    assert r.wer_overall == r.value
    assert r.exact_agreement == 0.0
    assert r.n_pairs == 3
    # CER of A–B: one character ("m") over 22 + 23 characters, both directions: 2/45.
    assert r.cer[0, 1] == pytest.approx(2 / 45)
    assert r.char_edits[0, 1] == 1
    # After "umm" → "um": A = B, so A–B 0, A–C 2, B–C 2: 8/24 = 1/3; exact agreement 1 pair of 3.
    after = pairwise_error_rates(DOMAIN_STANDARD)
    assert after.value == pytest.approx(1 / 3)
    assert after.exact_agreement == pytest.approx(1 / 3)
    assert after.wer[0, 1] == 0.0
    assert after.exact[0, 1] == 1.0
    assert after.exact[0, 2] == 0.0


def test_symmetric_wer_pools_both_directions_and_keeps_directional_wer():
    # a = "a b c d" (4 words), b = "a b" (2 words): E = 2 (delete c, d).
    # WER(a → b) = 2/4 = 0.5 (a is the reference), WER(b → a) = 2/2 = 1,
    # symmetric = (2 + 2) / (4 + 2) = 2/3 (the reference-length-weighted mean of 0.5 and 1).
    r = text_agreement([["a b c d", "a b"]])
    assert r.wer_directional[0, 1] == 0.5
    assert r.wer_directional[1, 0] == 1.0
    assert r.wer[0, 1] == pytest.approx(2 / 3)
    assert r.wer[1, 0] == r.wer[0, 1]
    assert (r.words[0, 1], r.words[1, 0], r.word_edits[0, 1]) == (4, 2, 2)


def test_corpus_level_wer_is_total_edits_over_total_words_not_a_mean_of_item_rates():
    # Item 1: "x" vs "y": E = 1 over 1 + 1 words; item 2: eight identical words: E = 0 over 16.
    # Corpus: 2·1 / (2 + 16) = 1/9. The mean of the per-item rates would be (1 + 0)/2 = 0.5.
    long = "p q r s t u v w"
    r = text_agreement([["x", "y"], [long, long]])
    assert r.wer[0, 1] == pytest.approx(1 / 9)
    assert r.value == pytest.approx(1 / 9)
    np.testing.assert_allclose(r.item_wer, [1.0, 0.0])
    assert r.exact_agreement == 0.5
    assert r.shared[0, 1] == 2


def test_missing_transcripts_empty_texts_and_unshared_pairs():
    table = [
        ["um ok", "um ok", None],
        ["", "", None],  # both empty: 0 edits over 0 words → rate 0, identical
        [None, "", "a b"],  # empty vs two words: E = 2 over 0 + 2 words → 2·2/2 = 2
    ]
    r = text_agreement(table)
    assert r.shared[0, 2] == 0
    assert math.isnan(r.wer[0, 2])
    assert math.isnan(r.exact[0, 2])
    assert r.wer[0, 1] == 0.0
    assert r.exact[0, 1] == 1.0
    assert r.wer[1, 2] == 2.0
    # Labeler 1 as the reference for labeler 2 on that item: 0 reference words: undefined.
    assert math.isnan(r.wer_directional[1, 2])
    assert r.wer_directional[2, 1] == 1.0
    np.testing.assert_allclose(r.item_wer, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(np.diag(r.shared), [2, 3, 1])
    np.testing.assert_array_equal(np.diag(r.wer), [0.0, 0.0, 0.0])


def test_undefined_pairwise_agreement_says_why():
    assert text_agreement([]).reason == NO_ITEMS
    assert text_agreement([[None, None]]).reason == NO_ITEMS
    assert text_agreement([["a"], ["b"]]).reason == ONE_LABELER
    r = text_agreement([["a", None], [None, "b"]])
    assert r.value is None
    assert r.reason == NO_PAIRS
    assert r.shared[0, 1] == 0


def test_bad_tables_raise_naming_the_cell():
    with pytest.raises(ValueError, match="row 1: has 1 cells"):
        text_agreement([["a", "b"], ["a"]])
    with pytest.raises(ValueError, match="row 1, labeler 0: expected a transcript .* got int"):
        text_agreement([["a", "b"], [3, "b"]])
    with pytest.raises(ValueError, match="row 0, labeler 1: .* got list"):
        text_alpha([["a", ["b"]]])
    with pytest.raises(ValueError, match="row 0: expected a sequence"):
        text_consensus(["ab"])
    with pytest.raises(ValueError, match="2-D"):
        text_agreement(np.array(["a", "b"], dtype=object))


def test_object_array_input_matches_lists():
    table = random_table(5, items=12, labelers=3)
    as_array = np.empty((12, 3), dtype=object)
    as_array[:] = table
    a, b = text_agreement(table), text_agreement(as_array)
    np.testing.assert_array_equal(a.wer, b.wer)
    assert a.value == b.value


def brute_force_agreement(table):
    """Loops over every item and labeler pair, with the DP oracle: no caching, no NumPy."""
    n_labelers = len(table[0])
    edits = np.zeros((n_labelers, n_labelers))
    ref_words = np.zeros((n_labelers, n_labelers))
    chars_edits = np.zeros((n_labelers, n_labelers))
    ref_chars = np.zeros((n_labelers, n_labelers))
    shared = np.zeros((n_labelers, n_labelers))
    same = np.zeros((n_labelers, n_labelers))
    pairs = identical = 0
    for row in table:
        for a, b in itertools.permutations(range(n_labelers), 2):
            ta, tb = row[a], row[b]
            if ta is None or tb is None:
                continue
            edits[a, b] += dp_levenshtein(ta.split(), tb.split())
            chars_edits[a, b] += dp_levenshtein(ta, tb)
            ref_words[a, b] += len(ta.split())
            ref_chars[a, b] += len(ta)
            shared[a, b] += 1
            same[a, b] += ta == tb
            if a < b:
                pairs += 1
                identical += ta == tb
    return edits, ref_words, chars_edits, ref_chars, shared, same, pairs, identical


@pytest.mark.parametrize("seed", range(6))
def test_matrices_equal_a_brute_force_loop(seed):
    table = random_table(seed, items=40, labelers=4)
    r = text_agreement(table)
    edits, ref_words, c_edits, ref_chars, shared, same, pairs, identical = brute_force_agreement(
        table
    )
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_array_equal(r.word_edits[off], edits[off])
    np.testing.assert_array_equal(r.words[off], ref_words[off])
    np.testing.assert_array_equal(r.char_edits[off], c_edits[off])
    np.testing.assert_array_equal(r.chars[off], ref_chars[off])
    np.testing.assert_array_equal(r.shared[off], shared[off])
    with np.errstate(invalid="ignore", divide="ignore"):
        den = ref_words + ref_words.T
        wer = np.where(
            shared > 0, np.where(den > 0, 2 * edits / np.where(den > 0, den, 1), 0), np.nan
        )
        exact = np.where(shared > 0, same / np.where(shared > 0, shared, 1), np.nan)
    np.testing.assert_allclose(r.wer[off], wer[off])
    np.testing.assert_allclose(r.exact[off], exact[off])
    assert r.n_pairs == pairs
    assert r.exact_agreement == pytest.approx(identical / pairs)
    total_words = (ref_words + ref_words.T)[np.triu_indices(4, 1)].sum()
    assert r.value == pytest.approx(edits[np.triu_indices(4, 1)].sum() * 2 / total_words)


@pytest.mark.parametrize("seed", range(4))
def test_exact_item_mean_is_percent_agreement_on_the_strings(seed):
    table = random_table(seed, items=30, labelers=4, missing=0.3)
    codes = {}
    data = np.array(
        [[np.nan if t is None else codes.setdefault(t, len(codes)) for t in row] for row in table],
        dtype=float,
    ).T  # labelers × items, the reliability-data orientation
    r = text_agreement(table)
    assert r.exact_item_mean == pytest.approx(percent_agreement(data).value)


def test_result_arrays_are_read_only():
    r = text_agreement([DOMAIN_RAW])
    with pytest.raises(ValueError, match="read-only"):
        r.wer[0, 1] = 0.0


# --------------------------------------------------------------------------- consensus


def test_domain_medoid_before_and_after_standardising():
    # Summed word distances: A = 1 + 2 = 3, B = 1 + 2 = 3, C = 2 + 2 = 4: A and B tie, each
    # written once, so the earliest labeler (A) wins.
    m = medoid(DOMAIN_RAW)
    assert (m.text, m.labeler, m.distance, m.support) == (DOMAIN_RAW[0], 0, 3, 1)
    # After standardising, A = B: sums A = 0 + 2 = 2, B = 2, C = 4; written twice.
    m = medoid(DOMAIN_STANDARD)
    assert (m.text, m.labeler, m.distance, m.support) == ("um nearest gas station", 0, 2, 2)


def test_medoid_ties_go_to_the_most_frequent_transcript_then_the_earliest_labeler():
    # "w x" (labeler 0), "w" twice, "w x y z": sums "w x" = 1 + 1 + 2 = 4, "w" = 1 + 0 + 3 = 4,
    # "w x y z" = 2 + 3 + 3 = 8. "w x" and "w" tie on 4; "w" is written twice: it wins.
    m = medoid(["w x", "w", "w", "w x y z"])
    assert (m.text, m.labeler, m.distance, m.support) == ("w", 1, 4, 2)
    # Two different transcripts always tie: the first present labeler wins.
    assert medoid(["a", "b"]).labeler == 0
    assert medoid([None, "b", "a"]).labeler == 1
    assert medoid([None, None]).text is None
    assert medoid([None, None]).labeler is None


def test_text_consensus_over_a_table():
    table = [DOMAIN_STANDARD, [None, None, None], [None, "ok", None]]
    c = text_consensus(table)
    assert c.text == ("um nearest gas station", None, "ok")
    np.testing.assert_array_equal(c.labeler, [0, -1, 1])
    np.testing.assert_array_equal(c.distance, [2, 0, 0])
    np.testing.assert_array_equal(c.support, [2, 0, 1])
    np.testing.assert_array_equal(c.n_transcripts, [3, 0, 1])
    with pytest.raises(ValueError, match="method"):
        text_consensus(table, method="mean")


@pytest.mark.parametrize("table", [[], [[]], [[], []], [[None, None]]])
def test_consensus_of_tables_without_transcripts(table):
    for method in ("medoid", "rover"):
        c = text_consensus(table, method=method)
        assert c.text == (None,) * len(table)
        np.testing.assert_array_equal(c.labeler, [-1] * len(table))
    assert medoid([]).text is None


@pytest.mark.parametrize("seed", range(5))
def test_medoid_is_an_input_with_the_least_summed_distance(seed):
    table = random_table(seed, items=30, labelers=4)
    c = text_consensus(table)
    for i, row in enumerate(table):
        present = [(j, t) for j, t in enumerate(row) if t is not None]
        if not present:
            assert c.text[i] is None
            continue
        sums = {
            j: sum(dp_levenshtein(t.split(), u.split()) for _, u in present) for j, t in present
        }
        best = min(sums.values())
        assert c.text[i] == row[c.labeler[i]]
        assert sums[c.labeler[i]] == best == c.distance[i]
        tied = [j for j in sums if sums[j] == best]
        most = max(sum(u == row[j] for _, u in present) for j in tied)
        assert c.labeler[i] == min(j for j in tied if sum(u == row[j] for _, u in present) == most)


def test_rover_votes_each_slot_and_can_build_a_transcript_nobody_wrote():
    # Medoid: all pairs differ by 2 substitutions, sums all 4, so pivot = labeler 0 "a b c x".
    # Slots: a [a, a, z] → a; b [b, y, b] → b; c [c, c, c] → c; x [x, d, d] → d.
    r = rover(["a b c x", "a y c d", "z b c d"])
    assert r.text == "a b c d"
    assert r.labeler is None
    assert r.support == 0
    assert r.distance == 3  # one substitution from each transcript, medoid's sum is 4
    assert medoid(["a b c x", "a y c d", "z b c d"]).distance == 4


def test_rover_keeps_an_insertion_a_majority_made_and_drops_a_minority_one():
    # "p q" twice, "um p q x", "um p q y", "um p q z". Sums: "p q" 2+2+2+0 = 6,
    # "um p q x" 2+1+1+2 = 6: tie, "p q" is written twice → pivot "p q" (labeler 0).
    # Gap before "p": um from 3 transcripts vs none from 2 → keep "um".
    # Gap after "q": x, y, z once each vs none twice → no word.
    r = rover(["p q", "um p q x", "um p q y", "um p q z", "p q"])
    assert r.text == "um p q"
    assert r.labeler is None
    assert r.distance == 5
    # The DOMAIN example: pivot "um nearest gas station" (A) — "um" is kept (2 of 3 have it),
    # "[unintelligible]" is inserted by 1 of 3 and dropped.
    r = rover(DOMAIN_STANDARD)
    assert (r.text, r.labeler, r.support) == ("um nearest gas station", 0, 2)


def test_rover_slot_ties_go_to_the_medoid_word():
    # Sums: "k q z" 2+2+1 = 5, "p q" 2+0+1 = 3 (twice), "k q" 1+1+1 = 3: "p q" (labeler 1, written
    # twice) is the pivot. First slot: k, p, p, k — a 2–2 tie: the pivot's "p" wins, although
    # "k" is seen first. Gap after "q": z from one of four: dropped.
    r = rover(["k q z", "p q", "p q", "k q"])
    assert (r.text, r.labeler, r.support) == ("p q", 1, 2)


def test_rover_deletion_vote_and_empty_items():
    # Pivot "nearest gas station" (sums: A 1+2 = 3, B 1+1 = 2, C 2+1 = 3). "um" and
    # "[unintelligible]" are each inserted by one transcript of three: dropped.
    r = rover(
        ["um nearest gas station", "nearest gas station", "nearest gas station [unintelligible]"]
    )
    assert (r.text, r.labeler) == ("nearest gas station", 1)
    # Deletion: two of three drop "please".
    assert rover(["call mom please", "call mom", "call mom"]).text == "call mom"
    assert rover([None, None]).text is None
    table = [["a b c x", "a y c d", "z b c d"], [None, None, None], [None, "ok", "ok"]]
    c = text_consensus(table, method="rover")
    assert c.text == ("a b c d", None, "ok")
    np.testing.assert_array_equal(c.labeler, [-1, -1, 1])


# --------------------------------------------------------------------------- alpha


def brute_force_alpha(table, delta):
    """Krippendorff (2011) with an arbitrary difference function, as plain loops."""
    units = [[t for t in row if t is not None] for row in table]
    units = [u for u in units if len(u) >= 2]
    values = [t for u in units for t in u]
    n = len(values)
    d_o = (
        sum(
            sum(delta(a, b) for (i, a), (j, b) in itertools.permutations(enumerate(u), 2))
            / (len(u) - 1)
            for u in units
        )
        / n
    )
    d_e = sum(delta(a, b) for a, b in itertools.permutations(values, 2)) / (n * (n - 1))
    return 1 - d_o / d_e, d_o, d_e


def word_delta(a, b):
    wa, wb = a.split(), b.split()
    longest = max(len(wa), len(wb))
    return dp_levenshtein(wa, wb) / longest if longest else 0.0


def char_delta(a, b):
    longest = max(len(a), len(b))
    return dp_levenshtein(a, b) / longest if longest else 0.0


def test_alpha_small_example_by_hand():
    # Units {a, a}, {b, b}, {c, d}: n = 6. One-word δ is nominal.
    # D_o = (1/6)·(0 + 0 + 2·1/1) = 1/3. D_e: ordered pairs i ≠ j of [a, a, b, b, c, d]: 30, of
    # which equal: a-a twice, b-b twice → 26 differ: D_e = 26/30. α = 1 − (1/3)/(26/30) = 8/13.
    r = text_alpha([["a", "a"], ["b", "b"], ["c", "d"]])
    assert r.value == pytest.approx(8 / 13)
    assert r.observed_disagreement == pytest.approx(1 / 3)
    assert r.expected_disagreement == pytest.approx(26 / 30)
    assert (r.n_pairable, r.n_units, r.n_values, r.expected_sampled) == (6, 3, 4, 0)


@pytest.mark.parametrize("seed", range(6))
def test_alpha_on_one_word_transcripts_is_the_krippendorff_package_nominal_alpha(seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 4, (4, 25)).astype(float)  # labelers × items
    data[rng.random(data.shape) < 0.3] = np.nan
    table = [[None if np.isnan(v) else f"word{int(v)}" for v in column] for column in data.T]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert text_alpha(table, distance="word").value == pytest.approx(expected, abs=1e-12)
    assert text_alpha(table, distance="exact").value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_exact_distance_alpha_is_nominal_alpha_on_multi_word_transcripts(seed):
    table = random_table(seed, items=30, labelers=4)
    codes = {}
    data = np.array(
        [[np.nan if t is None else codes.setdefault(t, len(codes)) for t in row] for row in table],
        dtype=float,
    ).T
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert text_alpha(table, distance="exact").value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("distance", "delta"), [("word", word_delta), ("character", char_delta)])
@pytest.mark.parametrize("seed", range(4))
def test_alpha_equals_the_general_formula_by_brute_force(seed, distance, delta):
    table = random_table(seed, items=15, labelers=3)
    value, d_o, d_e = brute_force_alpha(table, delta)
    r = text_alpha(table, distance=distance)
    assert r.value == pytest.approx(value, abs=1e-12)
    assert r.observed_disagreement == pytest.approx(d_o, abs=1e-12)
    assert r.expected_disagreement == pytest.approx(d_e, abs=1e-12)


def test_sampled_expected_disagreement_is_close_to_the_exact_one():
    table = random_table(11, items=200, labelers=3, vocabulary=8, max_words=5)
    exact = text_alpha(table)
    sampled = text_alpha(table, max_expected_pairs=1, samples=50_000, seed=3)
    assert exact.expected_sampled == 0
    assert sampled.expected_sampled == 50_000
    assert sampled.expected_stderr > 0
    assert abs(sampled.expected_disagreement - exact.expected_disagreement) < (
        5 * sampled.expected_stderr
    )
    assert sampled.observed_disagreement == exact.observed_disagreement
    # Reproducible: the same seed gives the same estimate.
    again = text_alpha(table, max_expected_pairs=1, samples=50_000, seed=3)
    assert again.value == sampled.value


def test_alpha_undefined_cases():
    assert text_alpha([]).reason == NO_ITEMS
    assert text_alpha([["a"], ["b"]]).reason == ONE_LABELER
    assert text_alpha([["a", None], [None, "b"]]).reason == NO_PAIRS
    r = text_alpha([["same words", "same words"], ["same words", None]])
    assert r.value is None
    assert r.reason == NO_VARIATION
    with pytest.raises(ValueError, match="distance"):
        text_alpha([["a", "b"]], distance="cosine")


# --------------------------------------------------------------------------- properties

sentence = st.lists(
    st.sampled_from(["um", "nearest", "gas", "station", "go", "[unintelligible]"]), max_size=6
).map(" ".join)
cell = st.one_of(st.none(), sentence)


@settings(max_examples=150, deadline=None)
@given(sentence, sentence, sentence)
def test_edit_distance_properties(a, b, c):
    assert word_edit_distance(a, a) == 0
    assert word_error_rate(a, a).value == 0.0
    assert (
        word_edit_distance(a, b) == word_edit_distance(b, a) == dp_levenshtein(a.split(), b.split())
    )
    assert character_edit_distance(a, b) == dp_levenshtein(a, b)
    assert word_edit_distance(a, c) <= word_edit_distance(a, b) + word_edit_distance(b, c)
    assert 0.0 <= normalized_word_distance(a, b) <= 1.0
    assert (normalized_word_distance(a, b) == 0.0) == (a.split() == b.split())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=6))
def test_pairwise_matrices_are_symmetric_and_the_medoid_is_an_input(table):
    r = text_agreement(table)
    np.testing.assert_array_equal(np.isnan(r.wer), np.isnan(r.wer.T))
    np.testing.assert_allclose(np.nan_to_num(r.wer), np.nan_to_num(r.wer.T))
    np.testing.assert_array_equal(r.word_edits, r.word_edits.T)
    c = text_consensus(table)
    for i, row in enumerate(table):
        present = [t for t in row if t is not None]
        assert (c.text[i] in present) if present else c.text[i] is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(sentence, min_size=2, max_size=8, unique_by=lambda s: tuple(s.split())),
    st.integers(2, 4),
)
def test_alpha_is_one_when_everyone_agrees(texts, labelers):
    table = [[t] * labelers for t in texts]
    assert text_alpha(table).value == 1.0
    assert text_agreement(table).value == 0.0


# --------------------------------------------------------------------------- text_figures


def assert_same_result(one, other):
    """Every field of two metric results equal, arrays included (NaN equal to NaN)."""
    assert type(one) is type(other)
    for name in one.__dataclass_fields__:
        a, b = getattr(one, name), getattr(other, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype, name
            np.testing.assert_array_equal(a, b, err_msg=name)
        elif isinstance(a, float) and math.isnan(a):
            assert isinstance(b, float), name
            assert math.isnan(b), name
        else:
            assert a == b, name


def assert_figures_equal_separate_calls(table, distance="word", method="medoid", **alpha):
    figures = text_figures(table, alpha_distance=distance, consensus=method, **alpha)
    assert_same_result(figures.agreement, text_agreement(table))
    assert_same_result(figures.alpha, text_alpha(table, distance, **alpha))
    assert_same_result(figures.consensus, text_consensus(table, method))


@pytest.mark.parametrize("distance", ["word", "character", "exact"])
@pytest.mark.parametrize("method", ["medoid", "rover"])
def test_text_figures_equal_the_three_calls_on_the_worked_examples(distance, method):
    examples = [
        [DOMAIN_RAW],
        [DOMAIN_STANDARD],
        [DOMAIN_RAW, DOMAIN_STANDARD, ["go", None, "go home"]],
        [["a b", "a c", None], [None, None, None], ["", "", "x"]],  # empties and a blank row
        [["one"], ["two"]],  # one labeler: undefined figures
        [["same", "same"], ["same", "same"]],  # no variation: alpha undefined
        [],  # no items
    ]
    for table in examples:
        assert_figures_equal_separate_calls(table, distance, method)
    # the sampled estimate of D_e takes the same draws
    table = random_table(4, items=30, labelers=3)
    assert_figures_equal_separate_calls(
        table, distance, method, max_expected_pairs=1, samples=500, seed=9
    )


@pytest.mark.parametrize("seed", range(4))
def test_text_figures_equal_the_three_calls_on_random_tables(seed):
    table = random_table(seed, items=60, labelers=5, vocabulary=7, max_words=6)
    for distance in ("word", "character", "exact"):
        assert_figures_equal_separate_calls(table, distance)
    # and the figures are the brute-force ones, not merely self-consistent
    r = text_figures(table).agreement
    edits, *_, pairs, identical = brute_force_agreement(table)
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_array_equal(r.word_edits[off], edits[off])
    assert (r.n_pairs, r.exact_agreement) == (pairs, identical / pairs)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(cell, min_size=3, max_size=3), min_size=0, max_size=7),
    st.sampled_from(["word", "character", "exact"]),
    st.sampled_from(["medoid", "rover"]),
)
def test_text_figures_equal_the_three_calls_hypothesis(table, distance, method):
    assert_figures_equal_separate_calls(table, distance, method)


def test_text_figures_is_a_frozen_result_and_checks_its_arguments_first():
    figures = text_figures([DOMAIN_STANDARD])
    with pytest.raises(AttributeError):
        figures.alpha = None
    with pytest.raises(ValueError, match="distance must be one of"):
        text_figures("not even a table", alpha_distance="cosine")
    with pytest.raises(ValueError, match="method must be 'medoid' or 'rover'"):
        text_figures("not even a table", consensus="mean")
    with pytest.raises(ValueError, match="row 0, labeler 1: expected a transcript"):
        text_figures([["a", 3]])


def test_word_encoding_is_exact_with_a_nul_character_in_a_text():
    # The fast encoder joins texts with a U+0000 separator word; a text holding U+0000 must not
    # be cut there (the encoder falls back to splitting text by text).
    texts = ["a \x00 b", "a b", "\x00", "", "a\x00b c"]
    coded = text_module._encode_texts(texts)
    assert len(coded) == len(texts)
    for x, y in itertools.product(range(len(texts)), repeat=2):
        assert edit_distance(coded[x], coded[y]) == dp_levenshtein(
            texts[x].split(), texts[y].split()
        )
    table = [["a \x00 b", "a b", None], ["\x00", "", "a\x00b c"]]
    r = text_figures(table).agreement
    # item 0: one deleted word; item 1: "\\x00" vs "" one, "" vs two words two, "\\x00" vs them two
    assert (r.word_edits[0, 1], r.word_edits[1, 2], r.word_edits[0, 2]) == (2, 2, 2)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=" \t\nab\x00\u00e9\U0001f600", max_size=8), max_size=8))
def test_word_encoding_fast_path_and_fallback_give_the_same_distances(texts):
    coded = text_module._encode_texts(texts)
    assert len(coded) == len(texts)
    for x, y in itertools.combinations(range(len(texts)), 2):
        assert edit_distance(coded[x], coded[y]) == dp_levenshtein(
            texts[x].split(), texts[y].split()
        )
