"""Agreement between free-text labels (transcripts): WER, CER, exact agreement, consensus, alpha.

Transcription projects ask several labelers to write down the same clip; DOMAIN.md's example is
"Um, nearest gas station" / "Umm, nearest gas station" / "Nearest gas station [unintelligible]".
The figures here say how far apart such transcripts are and which one (or which word sequence)
the group agrees on. All functions take text that the caller has **already normalised** (the
project's standardisation rules: case, punctuation, filler spellings); nothing here lower-cases
or strips punctuation, so the figures describe exactly the text that is stored.

Input shapes
------------
* Two strings for the single-pair rates (:func:`word_error_rate`, :func:`character_error_rate`).
* A **transcript table** for everything per project: items × labelers, each cell a ``str`` or
  ``None`` (the labeler did not transcribe that item) — a list of lists or a 2-D object array.
  Note the orientation: items are rows here (one row per clip, as a project reads), whereas the
  numeric reliability data of :mod:`consensus.metrics.agreement` is labelers × items.

Units
-----
* Words: :func:`words` splits on runs of Unicode whitespace (``str.split()``).
* Characters: :func:`characters` is the string's code points, spaces included (as NIST sclite's
  ``-c`` character scoring and the common CER tools do), so "nearest gas" vs "nearestgas" is one
  character edit.

Implementation notes
--------------------
Edit distances are computed by RapidFuzz (``rapidfuzz.distance.Levenshtein``, C++, bit-parallel
Myers/Hyyrö algorithms). Words are mapped once to integer ids and each transcript to a string of
code points (one per word), so a word-level distance is a string distance in C with no hashing
collisions. Per project, every transcript string gets an id, the pairs of transcripts that share
an item are enumerated with NumPy (no Python loop over items), and each *distinct* pair of
strings is measured once (realistic projects hold many identical transcripts). Sums per labeler
pair and per item are ``np.bincount`` scatters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist, cpdist

from consensus.metrics.results import Result, undefined

__all__ = [
    "ErrorRate",
    "ItemConsensus",
    "TextAgreement",
    "TextAlpha",
    "TextConsensus",
    "TextFigures",
    "character_edit_distance",
    "character_error_rate",
    "characters",
    "edit_distance",
    "medoid",
    "normalized_word_distance",
    "pairwise_error_rates",
    "rover",
    "text_agreement",
    "text_alpha",
    "text_consensus",
    "text_figures",
    "word_edit_distance",
    "word_error_rate",
    "words",
]

Distance = Literal["word", "character", "exact"]
Table = Sequence[Sequence[str | None]] | NDArray[np.object_]

_DISTANCES = ("word", "character", "exact")
nan = np.nan
EMPTY_REFERENCE = (
    "the reference is empty and the hypothesis is not: the error rate divides by 0 reference units"
)
NO_ITEMS = "no items: there are no transcripts to compare"
ONE_LABELER = "only one labeler: agreement needs at least two"
NO_PAIRS = "no item has transcripts from two or more labelers"
NO_VARIATION = "all pairable transcripts are identical: expected disagreement is 0, alpha is 0/0"

# Code points usable as word ids: everything but the UTF-16 surrogates (RapidFuzz compares code
# points; a Python str can hold lone surrogates, but skipping them keeps the strings printable).
_SURROGATES = 0xD800
_SURROGATE_SPAN = 0x800
_MAX_WORD_IDS = 0x110000 - _SURROGATE_SPAN


# --------------------------------------------------------------------------- tokens and distance


def words(text: str) -> list[str]:
    """The words of already-normalised ``text``: split on runs of whitespace."""
    return text.split()


def characters(text: str) -> list[str]:
    """The characters (code points) of ``text``, spaces included."""
    return list(text)


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance: the least number of substitutions, deletions and insertions turning
    ``a`` into ``b`` (Levenshtein 1966, "Binary codes capable of correcting deletions, insertions
    and reversals", Soviet Physics Doklady 10(8):707–710). Works on strings (characters) and on
    sequences of hashables (e.g. lists of words). A metric: d(a, b) = 0 iff a = b, symmetric,
    triangle inequality.
    """
    if isinstance(a, str) and isinstance(b, str):
        return int(Levenshtein.distance(a, b))
    encoded = _WordCodes()
    return int(Levenshtein.distance(encoded.sequence(list(a)), encoded.sequence(list(b))))


def word_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between the word sequences of ``a`` and ``b``."""
    return edit_distance(words(a), words(b))


def character_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between the character sequences of ``a`` and ``b``."""
    return int(Levenshtein.distance(a, b))


def normalized_word_distance(a: str, b: str) -> float:
    """δ(a, b) = word edit distance / max(|a|, |b|) in words, 0 when both are empty.

    In [0, 1]: 0 iff the word sequences are equal, 1 when no word lines up (e.g. two different
    single words). The difference function of :func:`text_alpha`.
    """
    wa, wb = words(a), words(b)
    longest = max(len(wa), len(wb))
    return edit_distance(wa, wb) / longest if longest else 0.0


class _WordCodes:
    """Maps words to integer ids for one-off comparisons.

    RapidFuzz compares sequences of ints exactly (a sequence of other hashables would be compared
    by ``hash()``, where a collision could count two different words as equal).
    """

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def sequence(self, tokens: list[str]) -> str | tuple[int, ...]:
        ids = self.ids
        codes = [ids.setdefault(token, len(ids)) for token in tokens]
        return tuple(codes)


def _encode_texts(texts: Sequence[str]) -> list[str] | list[tuple[int, ...]]:
    """Each text's word sequence as a string with one code point per distinct word.

    RapidFuzz then measures word sequences with its fastest (string, bit-parallel) kernels, in C.
    Past ~1.1 million distinct words the code points run out: tuples of int ids instead (slower).

    Fast path: the texts are split in one ``str.split`` of their join with a separator word
    ``"\\x00"`` between them, mapped to code points in one pass and cut at the separator's code
    point (U+0000, which no word gets): C loops instead of one split per text, ~3× faster on 10^5
    texts. Used when no text contains U+0000 (then the separator cannot be confused with a word).
    """
    joined = " \x00 ".join(texts)
    if texts and joined.count("\x00") == len(texts) - 1:
        flat = joined.split()
        vocabulary = dict.fromkeys(flat)
        vocabulary.pop("\x00", None)
        if len(vocabulary) < _MAX_WORD_IDS:
            ids = range(1, len(vocabulary) + 1)  # 0 is the separator
            code = dict(zip(vocabulary, map(_code_point, ids), strict=True))
            code["\x00"] = "\x00"
            return "".join(map(code.__getitem__, flat)).split("\x00")
    tokens = [words(t) for t in texts]
    vocabulary = dict.fromkeys(chain.from_iterable(tokens))
    if len(vocabulary) > _MAX_WORD_IDS:
        ids = {w: i for i, w in enumerate(vocabulary)}
        return [tuple(ids[w] for w in t) for t in tokens]
    code = {w: _code_point(i) for i, w in enumerate(vocabulary)}
    return ["".join([code[w] for w in t]) for t in tokens]


def _code_point(word_id: int) -> str:
    return chr(word_id if word_id < _SURROGATES else word_id + _SURROGATE_SPAN)


# --------------------------------------------------------------------------- single-pair rates


@dataclass(frozen=True)
class ErrorRate(Result):
    """(S + D + I) / N_ref with its parts. ``unit`` is "word" or "character".

    ``edits`` = S + D + I is the Levenshtein distance (unique). The split into substitutions,
    deletions and insertions comes from one optimal alignment; when several alignments are
    optimal the split may differ from another tool's, the total never does.
    """

    unit: str = "word"
    edits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference_length: int = 0
    hypothesis_length: int = 0


def _error_rate(reference: Sequence, hypothesis: Sequence, unit: str) -> ErrorRate:
    if isinstance(reference, str) and isinstance(hypothesis, str):
        ref, hyp = reference, hypothesis
    else:
        encoded = _WordCodes()
        ref, hyp = encoded.sequence(list(reference)), encoded.sequence(list(hypothesis))
    ops = Counter(op.tag for op in Levenshtein.editops(ref, hyp))
    parts = {
        "unit": unit,
        "edits": ops["replace"] + ops["delete"] + ops["insert"],
        "substitutions": ops["replace"],
        "deletions": ops["delete"],
        "insertions": ops["insert"],
        "reference_length": len(ref),
        "hypothesis_length": len(hyp),
    }
    if len(ref) == 0:
        if len(hyp) == 0:
            return ErrorRate(value=0.0, **parts)
        return undefined(ErrorRate, EMPTY_REFERENCE, **parts)
    return ErrorRate(value=parts["edits"] / len(ref), **parts)


def word_error_rate(reference: str, hypothesis: str) -> ErrorRate:
    """Word error rate of ``hypothesis`` against ``reference``.

        WER = (S + D + I) / N_ref

    with S, D, I the substitutions, deletions and insertions of a minimum-edit word alignment and
    N_ref the number of reference words — the NIST scoring convention (sclite, NIST Speech
    Recognition Scoring Toolkit; Jurafsky & Martin, *Speech and Language Processing*, 3rd ed.,
    ch. 16). It can exceed 1 (many insertions). Empty reference: 0 if the hypothesis is empty too,
    else undefined (``value`` None, with a reason) — never a silent 0 or infinity.
    """
    return _error_rate(words(reference), words(hypothesis), "word")


def character_error_rate(reference: str, hypothesis: str) -> ErrorRate:
    """Character error rate: (S + D + I) / N_ref over characters (spaces count), as
    :func:`word_error_rate` over words; the same empty-reference rules.
    """
    return _error_rate(reference, hypothesis, "character")


# --------------------------------------------------------------------------- transcript tables


@dataclass(frozen=True)
class _Table:
    """A checked transcript table: distinct strings, items × labelers id matrix (−1 = none)."""

    strings: list[str]
    ids: NDArray[np.intp]

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.ids.shape[0]), int(self.ids.shape[1])


def _as_table(data: Table) -> _Table:
    """Check a transcript table and give every distinct string an id.

    Raises ``ValueError`` naming the row (item) and column (labeler) of the first bad cell: rows of
    different lengths, or a cell that is neither ``str`` nor ``None``.
    """
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise ValueError(
                f"a transcript table must be 2-D (items × labelers), got {data.ndim}-D"
            )
        rows = data.tolist()
    else:
        rows = list(data)
    n_labelers = len(rows[0]) if rows else 0
    # The usual input (lists of one length) is checked in C; the loop below names a bad row.
    plain = set(map(type, rows)) <= {list, tuple} and set(map(len, rows)) <= {n_labelers}
    for i, row in enumerate(() if plain else rows):
        if isinstance(row, str) or not isinstance(row, Sequence):
            raise ValueError(f"row {i}: expected a sequence of transcripts (one per labeler)")
        if len(row) != n_labelers:
            raise ValueError(
                f"row {i}: has {len(row)} cells, but row 0 has {n_labelers} (one per labeler)"
            )
    flat = list(chain.from_iterable(rows))
    # Ids in order of first occurrence; C-level passes (dict.fromkeys, map) over the cells.
    try:
        distinct = [cell for cell in dict.fromkeys(flat) if cell is not None]
        bad = not all(isinstance(key, str) for key in distinct)
    except TypeError:  # an unhashable cell (a list, a dict, ...)
        bad = True
    if not bad:
        seen = dict(zip(distinct, range(len(distinct)), strict=True))
        seen_or_none = {**seen, None: -1}
        codes = list(map(seen_or_none.__getitem__, flat))
    if bad:
        k = next(k for k, c in enumerate(flat) if c is not None and not isinstance(c, str))
        raise ValueError(
            f"row {k // n_labelers}, labeler {k % n_labelers}: expected a transcript (str) or "
            f"None, got {type(flat[k]).__name__}"
        )
    ids = np.array(codes, dtype=np.intp).reshape(len(rows), n_labelers)
    return _Table(list(seen), ids)


@dataclass(frozen=True)
class _Pairs:
    """Every unordered pair of transcripts on one item, and their distances.

    One entry per pair (item, labeler a < labeler b) with the string ids and the word and
    character edit distances; ``words``/``chars`` are the lengths of each distinct string.
    """

    item: NDArray[np.intp]
    a: NDArray[np.intp]
    b: NDArray[np.intp]
    id_a: NDArray[np.intp]
    id_b: NDArray[np.intp]
    word_edits: NDArray[np.int64]
    char_edits: NDArray[np.int64]
    words: NDArray[np.int64]
    chars: NDArray[np.int64]
    m: NDArray[np.intp]  # transcripts per item
    coded_words: list = field(repr=False)


def _enumerate_pairs(ids: NDArray[np.intp]) -> tuple[NDArray, ...]:
    """(item, labeler a, labeler b) of every pair of present cells sharing an item, a < b.

    Present cells in row-major order are sorted by item then labeler, so the pairs of an item sit
    at a fixed offset d: one vectorised pass per offset, at most (labelers per item − 1) passes.
    """
    item, labeler = np.nonzero(ids >= 0)
    m = np.bincount(item, minlength=ids.shape[0])
    index = np.arange(len(item))
    firsts, seconds = [], []
    for d in range(1, int(m.max()) if m.size else 0):
        same = item[d:] == item[:-d]
        if not same.any():
            break
        first = index[:-d][same]
        firsts.append(first)
        seconds.append(first + d)
    first = np.concatenate(firsts) if firsts else np.empty(0, np.intp)
    second = np.concatenate(seconds) if seconds else np.empty(0, np.intp)
    return item[first], labeler[first], labeler[second], m


def _pair_distances(
    coded: Sequence,
    strings: Sequence[str],
    id_a: NDArray,
    id_b: NDArray,
    with_words: bool = True,
    with_chars: bool = True,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Word and character edit distances of string-id pairs, each distinct pair computed once.

    Distances not asked for are left at 0.
    """
    word_edits = np.zeros(len(id_a), dtype=np.int64)
    char_edits = np.zeros(len(id_a), dtype=np.int64)
    differ = id_a != id_b  # identical strings: distance 0, nothing to compute
    if differ.any():
        lo = np.minimum(id_a[differ], id_b[differ]).astype(np.int64)
        hi = np.maximum(id_a[differ], id_b[differ]).astype(np.int64)
        key, inverse = np.unique(lo * len(strings) + hi, return_inverse=True)
        u_lo, u_hi = key // len(strings), key % len(strings)
        left_ids, right_ids = u_lo.tolist(), u_hi.tolist()
        left = list(map(coded.__getitem__, left_ids))
        right = list(map(coded.__getitem__, right_ids))
        if with_words:
            dw = cpdist(left, right, scorer=Levenshtein.distance, dtype=np.int64, workers=-1)
            word_edits[differ] = np.asarray(dw, dtype=np.int64)[inverse.reshape(-1)]
        if with_chars:
            left = list(map(strings.__getitem__, left_ids))
            right = list(map(strings.__getitem__, right_ids))
            dc = cpdist(left, right, scorer=Levenshtein.distance, dtype=np.int64, workers=-1)
            char_edits[differ] = np.asarray(dc, dtype=np.int64)[inverse.reshape(-1)]
    return word_edits, char_edits


def _pairs(table: _Table, with_words: bool = True, with_chars: bool = True) -> _Pairs:
    coded = _encode_texts(table.strings)
    item, a, b, m = _enumerate_pairs(table.ids)
    id_a, id_b = table.ids[item, a], table.ids[item, b]
    word_edits, char_edits = _pair_distances(
        coded, table.strings, id_a, id_b, with_words, with_chars
    )
    return _Pairs(
        item=item,
        a=a,
        b=b,
        id_a=id_a,
        id_b=id_b,
        word_edits=word_edits,
        char_edits=char_edits,
        words=np.fromiter(map(len, coded), dtype=np.int64, count=len(coded)),
        chars=np.fromiter(map(len, table.strings), dtype=np.int64, count=len(table.strings)),
        m=m,
        coded_words=coded,
    )


def _readonly(array: NDArray) -> NDArray:
    array.setflags(write=False)
    return array


def _pooled_rate(edits: NDArray, units: NDArray, defined: NDArray) -> NDArray[np.float64]:
    """edits / units where ``defined``, else NaN. No units: 0 if there are no edits either (only
    empty texts were compared), NaN otherwise (edits against an empty reference, as in WER)."""
    out = np.full(np.shape(edits), np.nan)
    np.divide(edits, units, out=out, where=defined & (units > 0))
    out[defined & (units == 0) & (edits == 0)] = 0.0
    return out


# --------------------------------------------------------------------------- pairwise agreement


@dataclass(frozen=True)
class TextAgreement(Result):
    """Pairwise agreement of a transcript table (read-only arrays; NaN where undefined).

    ``value`` is the overall symmetric WER (``wer_overall``). Labeler × labeler (L × L):

    * ``shared[a, b]`` items both transcribed (diagonal: each labeler's item count);
    * ``word_edits[a, b]`` total word edit distance over those items (symmetric);
      ``words[a, b]`` total words of *a*'s transcripts on those items (a as the reference);
      ``char_edits``/``chars`` likewise in characters;
    * ``wer[a, b]`` = (E_ab + E_ba) / (N_ab + N_ba) = 2 E_ab / (N_ab + N_ba), the symmetric
      corpus-level WER (see :func:`text_agreement`), ``cer`` likewise;
      ``wer_directional[a, b]`` = E_ab / N_ab, the ordinary WER of b with a as the reference;
    * ``exact[a, b]`` share of shared items on which the two transcripts are identical.

    Per item (length items; NaN for items with fewer than two transcripts): ``item_wer``,
    ``item_cer`` (pooled over the item's pairs, each pair counted in both directions) and
    ``item_exact`` (share of identical pairs). Overall: ``wer_overall``, ``cer_overall``,
    ``exact_agreement`` (share of identical pairs among all pairs of transcripts sharing an item)
    and ``exact_item_mean`` (the mean of ``item_exact``; equals
    :func:`consensus.metrics.agreement.percent_agreement` on the strings as categories).
    """

    shared: NDArray[np.int64] | None = field(default=None, compare=False)
    word_edits: NDArray[np.int64] | None = field(default=None, compare=False)
    words: NDArray[np.int64] | None = field(default=None, compare=False)
    char_edits: NDArray[np.int64] | None = field(default=None, compare=False)
    chars: NDArray[np.int64] | None = field(default=None, compare=False)
    wer: NDArray[np.float64] | None = field(default=None, compare=False)
    cer: NDArray[np.float64] | None = field(default=None, compare=False)
    wer_directional: NDArray[np.float64] | None = field(default=None, compare=False)
    exact: NDArray[np.float64] | None = field(default=None, compare=False)
    item_wer: NDArray[np.float64] | None = field(default=None, compare=False)
    item_cer: NDArray[np.float64] | None = field(default=None, compare=False)
    item_exact: NDArray[np.float64] | None = field(default=None, compare=False)
    wer_overall: float | None = None
    cer_overall: float | None = None
    exact_agreement: float | None = None
    exact_item_mean: float | None = None
    n_pairs: int = 0
    n_items: int = 0


def text_agreement(data: Table) -> TextAgreement:
    """Pairwise word/character error rates and exact agreement of a transcript table.

    **Symmetric WER between peers.** WER (:func:`word_error_rate`) needs a reference; between two
    labelers neither is one. Scoring a against b and b against a gives the same edit distance
    E (Levenshtein is symmetric) over two denominators, |a| and |b|. We pool both scorings the way
    NIST sclite pools utterances into a corpus figure — total errors / total reference words:

        WER_sym(a, b) = (E + E) / (|a| + |b|) = E / mean(|a|, |b|)

    i.e. the mean of WER(a→b) and WER(b→a) *weighted by their reference lengths*. Chosen over
    the unweighted mean (E/|a| + E/|b|)/2 because that is undefined as soon as one transcript is
    empty and over-weights short transcripts, and over E / max(|a|, |b|) because it keeps WER's
    meaning (errors per reference word) and equals the ordinary WER when |a| = |b|. In speech
    corpus work inter-transcriber agreement is usually reported as the WER of one transcriber's
    text scored against another's with sclite (e.g. the LDC's consistency studies, Glenn et al.
    2010, "Transcription Methods for Consistency, Volume and Efficiency", LREC), where which
    side is the reference is arbitrary; pooling both directions removes that choice.

    **Corpus-level, not mean of rates.** Over the items two labelers share, totals are summed
    first: WER[a, b] = Σ_i 2 E_i / Σ_i (|a_i| + |b_i|) (the usual corpus-level WER), not the mean
    of per-item rates, so a one-word item does not weigh as much as a forty-word one. The overall
    figure pools every pair of transcripts on every item the same way:

        WER_overall = Σ_pairs 2 E / Σ_pairs (|a| + |b|)

    CER is the same over characters. A rate whose compared texts are all empty is 0 (no edits,
    nothing to edit); a labeler pair with no shared item is NaN. ``wer_directional`` keeps the
    one-way sclite figure for when one labeler *is* the reference (an expert, a gold set).

    **Exact agreement** is the share of pairs of transcripts on the same item that are identical
    strings (after the caller's normalisation): Σ identical pairs / Σ pairs. Whitespace counts:
    normalise it if "a  b" and "a b" should agree.

    Undefined (``value`` None, with a reason, arrays still filled) when there are no items, only
    one labeler, or no item with two transcripts. Raises ``ValueError`` for a malformed table.
    """
    table = _as_table(data)
    return _agreement(table, _pairs(table))


def _agreement(table: _Table, p: _Pairs) -> TextAgreement:
    """:func:`text_agreement` of a checked table from its pairs (word and character distances)."""
    n_items, n_labelers = table.shape
    ll = n_labelers * n_labelers

    def per_pair(weights: NDArray | None, key: NDArray) -> NDArray:
        return np.bincount(key, weights=weights, minlength=ll).reshape(n_labelers, n_labelers)

    ab, ba = p.a * n_labelers + p.b, p.b * n_labelers + p.a
    identical = (p.id_a == p.id_b).astype(np.int64)
    shared = per_pair(None, ab) + per_pair(None, ba)
    word_edits = per_pair(p.word_edits, ab) + per_pair(p.word_edits, ba)
    char_edits = per_pair(p.char_edits, ab) + per_pair(p.char_edits, ba)
    words_ = per_pair(p.words[p.id_a], ab) + per_pair(p.words[p.id_b], ba)
    chars_ = per_pair(p.chars[p.id_a], ab) + per_pair(p.chars[p.id_b], ba)
    same = per_pair(identical, ab) + per_pair(identical, ba)
    present = table.ids >= 0
    diagonal = np.arange(n_labelers)
    own = present.sum(axis=0)
    shared[diagonal, diagonal] = own
    same[diagonal, diagonal] = own
    words_[diagonal, diagonal] = [p.words[table.ids[present[:, j], j]].sum() for j in diagonal]
    chars_[diagonal, diagonal] = [p.chars[table.ids[present[:, j], j]].sum() for j in diagonal]
    shared = shared.astype(np.int64)
    has = shared > 0
    wer = _pooled_rate(2 * word_edits, words_ + words_.T, has)
    cer = _pooled_rate(2 * char_edits, chars_ + chars_.T, has)
    directional = _pooled_rate(word_edits, words_, has)
    with np.errstate(invalid="ignore", divide="ignore"):
        exact = np.where(has, same / np.where(has, shared, 1), np.nan)

    # Per item: each pair counted in both directions, as in the labeler-pair figures.
    pair_words = p.words[p.id_a] + p.words[p.id_b]
    pair_chars = p.chars[p.id_a] + p.chars[p.id_b]

    def per_item(weights: NDArray) -> NDArray[np.float64]:
        return np.bincount(p.item, weights=weights, minlength=n_items)

    pairs_per_item = per_item(np.ones(len(p.item)))
    multi = pairs_per_item > 0
    item_wer = _pooled_rate(per_item(2.0 * p.word_edits), per_item(pair_words), multi)
    item_cer = _pooled_rate(per_item(2.0 * p.char_edits), per_item(pair_chars), multi)
    with np.errstate(invalid="ignore", divide="ignore"):
        item_exact = np.where(multi, per_item(identical) / np.where(multi, pairs_per_item, 1), nan)

    arrays = {
        "shared": _readonly(shared),
        "word_edits": _readonly(word_edits.astype(np.int64)),
        "words": _readonly(words_.astype(np.int64)),
        "char_edits": _readonly(char_edits.astype(np.int64)),
        "chars": _readonly(chars_.astype(np.int64)),
        "wer": _readonly(wer),
        "cer": _readonly(cer),
        "wer_directional": _readonly(directional),
        "exact": _readonly(exact),
        "item_wer": _readonly(item_wer),
        "item_cer": _readonly(item_cer),
        "item_exact": _readonly(item_exact),
        "n_pairs": len(p.item),
        "n_items": int(multi.sum()),
    }
    if n_items == 0 or not present.any():
        return undefined(TextAgreement, NO_ITEMS, **arrays)
    if n_labelers < 2:
        return undefined(TextAgreement, ONE_LABELER, **arrays)
    if len(p.item) == 0:
        return undefined(TextAgreement, NO_PAIRS, **arrays)
    all_true = np.ones(1, dtype=bool)
    wer_overall = _pooled_rate(
        np.array([2 * p.word_edits.sum()]), np.array([pair_words.sum()]), all_true
    )
    cer_overall = _pooled_rate(
        np.array([2 * p.char_edits.sum()]), np.array([pair_chars.sum()]), all_true
    )
    return TextAgreement(
        value=float(wer_overall[0]),
        wer_overall=float(wer_overall[0]),
        cer_overall=float(cer_overall[0]),
        exact_agreement=float(identical.mean()),
        exact_item_mean=float(item_exact[multi].mean()),
        **arrays,
    )


def pairwise_error_rates(transcripts: Sequence[str | None]) -> TextAgreement:
    """:func:`text_agreement` for one item: ``transcripts[j]`` is labeler j's (``None``: none).

    ``wer[a, b]`` = 2 E / (|a| + |b|) is the symmetric WER of the pair (its justification is in
    :func:`text_agreement`), ``cer`` likewise, ``exact`` 1/0; ``value`` pools all pairs.
    """
    return text_agreement([list(transcripts)])


# --------------------------------------------------------------------------- consensus


@dataclass(frozen=True)
class ItemConsensus:
    """The consensus transcript of one item.

    ``text`` (None when the item has no transcript), ``labeler`` whose transcript it is (None for a
    voted text nobody wrote), ``distance`` its summed word edit distance to the item's
    transcripts, ``support`` how many transcripts are identical to it (for "rover": have the
    same words), ``method``.
    """

    text: str | None
    labeler: int | None
    distance: int
    support: int
    method: str


@dataclass(frozen=True)
class TextConsensus:
    """Per-item consensus of a transcript table (``text[i]`` None when item i has no transcript).

    ``labeler[i]`` the labeler whose transcript was chosen (−1: none, or a voted text nobody
    wrote), ``distance[i]`` its summed word edit distance to the item's transcripts,
    ``support[i]`` the number of transcripts identical to it, ``n_transcripts[i]``.
    """

    method: str
    text: tuple[str | None, ...]
    labeler: NDArray[np.intp] = field(compare=False)
    distance: NDArray[np.int64] = field(compare=False)
    support: NDArray[np.int64] = field(compare=False)
    n_transcripts: NDArray[np.int64] = field(compare=False)


def _medoids(table: _Table, p: _Pairs) -> tuple[NDArray, NDArray, NDArray]:
    """Per item: (medoid labeler or −1, its summed word distance, its support). Vectorised."""
    n_items, n_labelers = table.shape
    size = n_items * n_labelers
    if size == 0:  # no items, or rows without cells: no transcript anywhere
        return (
            np.full(n_items, -1, np.intp),
            np.zeros(n_items, np.int64),
            np.zeros(n_items, np.int64),
        )
    identical = (p.id_a == p.id_b).astype(np.float64)
    cells = (p.item * n_labelers + p.a, p.item * n_labelers + p.b)
    total = sum(np.bincount(c, weights=p.word_edits, minlength=size) for c in cells)
    copies = sum(np.bincount(c, weights=identical, minlength=size) for c in cells)
    total = total.reshape(n_items, n_labelers)
    support = copies.reshape(n_items, n_labelers).astype(np.int64) + 1  # + the transcript itself
    present = table.ids >= 0
    total = np.where(present, total, np.inf)
    best_total = total.min(axis=1, initial=np.inf)
    minimal = present & (total == best_total[:, None])
    best_support = np.where(minimal, support, -1).max(axis=1, initial=-1)
    chosen = minimal & (support == best_support[:, None])
    labeler = np.where(present.any(axis=1), chosen.argmax(axis=1), -1)  # argmax: first True
    rows = np.arange(n_items)
    has = labeler >= 0
    distance = np.where(has, np.where(np.isfinite(best_total), best_total, 0), 0).astype(np.int64)
    chosen_support = np.where(has, support[rows, np.maximum(labeler, 0)], 0)
    return labeler, distance, chosen_support.astype(np.int64)


def text_consensus(data: Table, method: Literal["medoid", "rover"] = "medoid") -> TextConsensus:
    """Consensus transcript per item of a transcript table.

    **medoid** (default): the transcript minimising the summed word edit distance to the item's
    other transcripts, argmin_a Σ_b d(a, b) — the set median string (Kohonen 1985, "Median
    strings", Pattern Recognition Letters 3:309–313; unlike the general median string, which is
    NP-hard: de la Higuera & Casacuberta 2000, Theoretical Computer Science 230:39–48). It is
    always a transcript someone actually wrote. Ties go to the transcript written most often on
    the item, then to the earliest labeler (lowest column). With two transcripts both have the
    same sum, so the more frequent, else the first, wins. Vectorised over items from the pair
    distances (each distinct pair of strings measured once).

    **rover**: word-level voting around the medoid (:func:`rover`), one item at a time.
    """
    _check_method(method)
    table = _as_table(data)
    return _consensus(table, _pairs(table, with_chars=False), method)


def _check_method(method: str) -> None:
    if method not in ("medoid", "rover"):
        raise ValueError(f"method must be 'medoid' or 'rover', got {method!r}")


def _consensus(table: _Table, p: _Pairs, method: str) -> TextConsensus:
    """:func:`text_consensus` of a checked table from its pairs (word distances)."""
    labeler, distance, support = _medoids(table, p)
    n_transcripts = (table.ids >= 0).sum(axis=1).astype(np.int64)
    rows = np.arange(table.shape[0])
    pool = np.empty(len(table.strings) + 1, dtype=object)  # the last entry: None, for "no text"
    pool[:-1] = table.strings
    chosen = table.ids[rows, np.maximum(labeler, 0)] if table.shape[1] else np.full(rows.size, -1)
    texts: list[str | None] = pool[np.where(labeler >= 0, chosen, -1)].tolist()
    if method == "rover":
        voted = [
            _rover_item(
                [table.strings[k] for k in table.ids[i] if k >= 0], int(labeler[i]), table.ids[i]
            )
            if labeler[i] >= 0
            else None
            for i in rows
        ]
        texts = [v.text if v else None for v in voted]
        labeler = np.array([v.labeler if v and v.labeler is not None else -1 for v in voted], int)
        distance = np.array([v.distance if v else 0 for v in voted], dtype=np.int64)
        support = np.array([v.support if v else 0 for v in voted], dtype=np.int64)
    return TextConsensus(
        method=method,
        text=tuple(texts),
        labeler=_readonly(np.asarray(labeler, dtype=np.intp)),
        distance=_readonly(distance),
        support=_readonly(support),
        n_transcripts=_readonly(n_transcripts),
    )


def medoid(transcripts: Sequence[str | None]) -> ItemConsensus:
    """The medoid transcript of one item (``transcripts[j]``: labeler j's, None if none).

    See :func:`text_consensus` for the definition and the tie-breaking.
    """
    result = text_consensus([list(transcripts)])
    j = int(result.labeler[0])
    return ItemConsensus(
        text=result.text[0],
        labeler=j if j >= 0 else None,
        distance=int(result.distance[0]),
        support=int(result.support[0]),
        method="medoid",
    )


def _align_to_pivot(pivot: list[str], other: list[str]) -> tuple[list, list[list[str]]]:
    """Align ``other`` to ``pivot`` by a minimum-edit word alignment.

    Returns ``(slots, gaps)``: ``slots[k]`` the word of ``other`` aligned with pivot word k (None
    if ``other`` deleted it), ``gaps[g]`` the words ``other`` inserted before pivot word g
    (g = len(pivot): at the end).
    """
    codes = _WordCodes()
    ops = Levenshtein.editops(codes.sequence(pivot), codes.sequence(other))
    slots: list[str | None] = [None] * len(pivot)
    gaps: list[list[str]] = [[] for _ in range(len(pivot) + 1)]
    i = j = 0
    for op in ops:
        while i < op.src_pos:  # an equal run up to the edit
            slots[i] = other[j]
            i, j = i + 1, j + 1
        if op.tag == "replace":
            slots[i] = other[j]
            i, j = i + 1, j + 1
        elif op.tag == "delete":
            i += 1
        else:  # insert
            gaps[i].append(other[j])
            j += 1
    while i < len(pivot):
        slots[i] = other[j]
        i, j = i + 1, j + 1
    return slots, gaps


def _vote(candidates: list[str | None], default: str | None) -> str | None:
    """Plurality over candidates (None = no word); ties go to ``default`` (the pivot's choice)."""
    counts = Counter(candidates)
    top = max(counts.values())
    tied = [c for c in counts if counts[c] == top]  # Counter keeps first-seen order
    return default if default in tied else tied[0]


def _rover_item(texts: list[str], pivot_index: int, row_ids: NDArray) -> ItemConsensus:
    """ROVER-style vote for one item; ``pivot_index`` is the medoid's labeler column."""
    labelers = [j for j, k in enumerate(row_ids) if k >= 0]
    pivot_text = texts[labelers.index(pivot_index)]
    pivot = words(pivot_text)
    aligned = [_align_to_pivot(pivot, words(t)) for t in texts]
    out: list[str] = []
    for g in range(len(pivot) + 1):
        depth = max(len(gaps[g]) for _, gaps in aligned)
        for k in range(depth):  # insertion slots: the pivot votes "no word"
            word = _vote([gaps[g][k] if k < len(gaps[g]) else None for _, gaps in aligned], None)
            if word is not None:
                out.append(word)
        if g < len(pivot):
            word = _vote([slots[g] for slots, _ in aligned], pivot[g])
            if word is not None:
                out.append(word)
    # Report a transcript someone wrote, verbatim, when the vote reproduces its words.
    writer_at = next((n for n, t in enumerate(texts) if words(t) == out), None)
    text = texts[writer_at] if writer_at is not None else " ".join(out)
    writer = labelers[writer_at] if writer_at is not None else None
    distance = sum(edit_distance(out, words(t)) for t in texts)
    support = sum(words(t) == out for t in texts)
    return ItemConsensus(text, writer, distance, support, "rover")


def rover(transcripts: Sequence[str | None]) -> ItemConsensus:
    """Word-level voting consensus of one item, after ROVER (Fiscus 1997, "A post-processing
    system to yield reduced word error rates: Recognizer Output Voting Error Reduction (ROVER)",
    IEEE ASRU, pp. 347–354).

    ROVER aligns the hypotheses into a word transition network and keeps, in each slot, the word
    (or the empty "@" arc) with the most votes. Here, as a star alignment: every transcript is
    aligned to the medoid (:func:`medoid`) by a minimum-edit word alignment (Levenshtein
    editops). Each medoid word is a slot whose candidates are the words aligned with it, and "no
    word" for transcripts that deleted it; the words a transcript inserts before a medoid word
    form insertion slots (by position within the gap), where transcripts that inserted nothing
    vote "no word". A slot keeps the plurality candidate — so a word survives when more
    transcripts have it than drop it — with ties going to the medoid's choice (its own word, or
    "no word" in an insertion slot). This is ROVER's frequency-only voting (α = 1, no
    confidence scores). Differences from ROVER: the network is built against one pivot instead
    of incrementally, so two insertions that the pivot lacks are matched by position only.

    The result may be a word sequence nobody wrote (``labeler`` None) — useful as a suggestion,
    while the medoid is the safer automatic consensus because a person wrote it.
    """
    row = list(transcripts)
    table = _as_table([row])
    present = [t for t in row if t is not None]
    if not present:
        return ItemConsensus(None, None, 0, 0, "rover")
    pivot = medoid(row)
    return _rover_item(present, int(pivot.labeler), table.ids[0])


# --------------------------------------------------------------------------- Krippendorff's alpha


@dataclass(frozen=True)
class TextAlpha(Result):
    """Krippendorff's alpha over a text distance, with the figures it is made of.

    ``n_pairable`` is n (transcripts in items with two or more), ``n_units`` those items,
    ``n_values`` the distinct transcripts among them. ``expected_sampled`` is the number of
    random pairs D_e was estimated from (0: computed exactly), ``expected_stderr`` the standard
    error of that estimate (0 when exact).
    """

    distance: str = "word"
    observed_disagreement: float | None = None
    expected_disagreement: float | None = None
    n_pairable: int = 0
    n_units: int = 0
    n_values: int = 0
    expected_sampled: int = 0
    expected_stderr: float = 0.0


def _delta(kind: Distance, edits: NDArray, len_a: NDArray, len_b: NDArray) -> NDArray:
    """δ = edits / max(len_a, len_b) (0 when both are empty); exact: [edits > 0]."""
    if kind == "exact":
        return (edits > 0).astype(np.float64)
    longest = np.maximum(len_a, len_b).astype(np.float64)
    out = np.zeros(np.shape(edits))
    np.divide(edits, longest, out=out, where=longest > 0)
    return out


def text_alpha(
    data: Table,
    distance: Distance = "word",
    max_expected_pairs: int = 20_000_000,
    samples: int = 200_000,
    seed: int = 0,
) -> TextAlpha:
    """Krippendorff's alpha of a transcript table over a text distance δ.

        α = 1 − D_o / D_e
        D_o = (1/n) Σ_u 1/(m_u − 1) Σ_{i ≠ j in u} δ(v_i, v_j)
        D_e = (1/(n(n − 1))) Σ_{i ≠ j} δ(v_i, v_j)    (all pairable values, any units)

    — the general form of Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability"
    (Annenberg School for Communication, departmental paper 43), where any difference function
    may take the place of δ²_ck; only units u with m_u ≥ 2 transcripts are pairable and n counts
    their transcripts. Distances (``distance``):

        word       δ = word edit distance / max(|a|, |b|) in words (0 if both are empty)
        character  δ = character edit distance / max(|a|, |b|) in characters
        exact      δ = [a ≠ b]  (the nominal metric: alpha on the strings as categories)

    Word δ lies in [0, 1] and is 1 between two different one-word transcripts, so on one-word
    transcripts (or with ``exact``) this is exactly Krippendorff's nominal alpha (tested against
    the ``krippendorff`` package). The same "distance-based alpha" for complex annotations is
    used by Braylan, Alonso & Lease (2022), "Measuring Annotator Agreement Generally across
    Complex Structured, Multi-object, and Free-text Annotation Tasks", WWW.

    **Where it makes sense.** D_e compares transcripts of *different* items, so alpha asks "are
    transcripts of one clip closer to each other than transcripts of random clips?". For short
    utterances (commands, queries, names: a few words) that is a meaningful, chance-corrected
    reliability figure. For long or very different transcripts almost every cross-item pair is
    near δ = 1, D_e ≈ 1 and alpha ≈ 1 − D_o: it adds little beyond the normalised edit distance
    itself; use WER/CER there.

    **Cost.** D_o needs the within-item pairs only. D_e needs all pairs of distinct pairable
    transcripts, V²/2 distances: computed exactly (blocked ``rapidfuzz.process.cdist``) when
    V² ≤ ``max_expected_pairs``; above that D_e is estimated from ``samples`` uniformly drawn
    ordered pairs i ≠ j of pairable transcripts (seeded by ``seed``, so reproducible), and
    ``expected_sampled``/``expected_stderr`` say so. ``exact`` needs no distances:
    n(n − 1) D_e = n² − Σ_c n_c².

    Undefined (value None, with a reason) for: no transcripts, one labeler, no item with two
    transcripts, all pairable transcripts identical (D_e = 0).
    """
    _check_distance(distance)
    table = _as_table(data)
    p = _pairs(table, with_words=distance == "word", with_chars=distance == "character")
    return _alpha(table, p, distance, max_expected_pairs, samples, seed)


def _check_distance(distance: str) -> None:
    if distance not in _DISTANCES:
        raise ValueError(f"distance must be one of {_DISTANCES}, got {distance!r}")


def _alpha(
    table: _Table,
    p: _Pairs,
    distance: Distance,
    max_expected_pairs: int,
    samples: int,
    seed: int,
) -> TextAlpha:
    """:func:`text_alpha` of a checked table from its pairs (with the distance ``distance``
    needs: word, character, or none for exact)."""
    n_items, n_labelers = table.shape
    present = table.ids >= 0
    if n_items == 0 or not present.any():
        return undefined(TextAlpha, NO_ITEMS, distance=distance)
    if n_labelers < 2:
        return undefined(TextAlpha, ONE_LABELER, distance=distance)
    pairable_items = p.m >= 2
    if not pairable_items.any():
        return undefined(TextAlpha, NO_PAIRS, distance=distance)
    lengths = p.chars if distance == "character" else p.words
    edits = p.char_edits if distance == "character" else p.word_edits
    if distance == "exact":  # no distances were computed: compare the string ids
        delta = (p.id_a != p.id_b).astype(np.float64)
    else:
        delta = _delta(distance, edits, lengths[p.id_a], lengths[p.id_b])
    m = p.m[p.item].astype(np.float64)
    observed_sum = float((2.0 * delta / (m - 1.0)).sum())  # Σ over ordered pairs: 2 × unordered

    values = table.ids[pairable_items][present[pairable_items]]
    uniq, n_c = np.unique(values, return_counts=True)
    n = int(n_c.sum())
    figures = {
        "distance": distance,
        "n_pairable": n,
        "n_units": int(pairable_items.sum()),
        "n_values": len(uniq),
    }
    observed = observed_sum / n
    sampled, stderr = 0, 0.0
    if len(uniq) < 2:
        return undefined(TextAlpha, NO_VARIATION, observed_disagreement=observed, **figures)
    if distance == "exact":
        expected = float(n * n - (n_c.astype(np.float64) ** 2).sum()) / (n * (n - 1.0))
    elif len(uniq) ** 2 <= max_expected_pairs:
        expected = _expected_exact(table, p, distance, uniq, n_c) / (n * (n - 1.0))
    else:
        expected, stderr = _expected_sampled(table, p, distance, values, samples, seed)
        sampled = samples
    if expected <= 0.0:
        return undefined(TextAlpha, NO_VARIATION, observed_disagreement=observed, **figures)
    return TextAlpha(
        value=1.0 - observed / expected,
        observed_disagreement=observed,
        expected_disagreement=expected,
        expected_sampled=sampled,
        expected_stderr=stderr,
        **figures,
    )


def _sequences(table: _Table, p: _Pairs, distance: Distance) -> Sequence:
    return table.strings if distance == "character" else p.coded_words


def _expected_exact(
    table: _Table, p: _Pairs, distance: Distance, uniq: NDArray, n_c: NDArray
) -> float:
    """Σ_c Σ_k n_c n_k δ_ck over distinct pairable values, in row blocks of the V × V matrix."""
    seqs = _sequences(table, p, distance)
    lengths = p.chars if distance == "character" else p.words
    chosen = [seqs[k] for k in uniq]
    length = lengths[uniq]
    weights = n_c.astype(np.float64)
    block = max(1, 4_000_000 // len(uniq))
    total = 0.0
    for start in range(0, len(uniq), block):
        rows = slice(start, start + block)
        edits = cdist(chosen[rows], chosen, scorer=Levenshtein.distance, dtype=np.int64, workers=-1)
        delta = _delta(distance, edits, length[rows, None], length[None, :])
        total += float(weights[rows] @ delta @ weights)
    return total


def _expected_sampled(
    table: _Table, p: _Pairs, distance: Distance, values: NDArray, samples: int, seed: int
) -> tuple[float, float]:
    """Monte Carlo D_e: mean δ over ``samples`` uniform ordered pairs i ≠ j of pairable values.

    Unbiased for D_e (which is exactly that mean over all n(n − 1) ordered pairs); its standard
    error is sd(δ) / √samples.
    """
    if samples < 2:
        raise ValueError("samples must be at least 2")
    rng = np.random.default_rng(seed)
    n = len(values)
    i = rng.integers(0, n, samples)
    j = rng.integers(0, n - 1, samples)
    j = j + (j >= i)  # uniform over j ≠ i
    a, b = values[i], values[j]
    seqs = _sequences(table, p, distance)
    lengths = p.chars if distance == "character" else p.words
    # Fancy indexing of an object array: C loops instead of two 10^5-long list comprehensions.
    pool = np.empty(len(seqs), dtype=object)
    pool[:] = seqs
    edits = cpdist(
        pool[a].tolist(),
        pool[b].tolist(),
        scorer=Levenshtein.distance,
        dtype=np.int64,
        workers=-1,
    )
    delta = _delta(distance, np.asarray(edits), lengths[a], lengths[b])
    return float(delta.mean()), float(delta.std(ddof=1) / np.sqrt(samples))


# --------------------------------------------------------------------------- all at once


@dataclass(frozen=True)
class TextFigures:
    """:func:`text_agreement`, :func:`text_alpha` and :func:`text_consensus` of one table."""

    agreement: TextAgreement
    alpha: TextAlpha
    consensus: TextConsensus


def text_figures(
    data: Table,
    *,
    alpha_distance: Distance = "word",
    consensus: Literal["medoid", "rover"] = "medoid",
    max_expected_pairs: int = 20_000_000,
    samples: int = 200_000,
    seed: int = 0,
) -> TextFigures:
    """Agreement, alpha and consensus of a transcript table, sharing the work they have in common.

    Equal to ``text_agreement(data)``, ``text_alpha(data, alpha_distance, max_expected_pairs,
    samples, seed)`` and ``text_consensus(data, consensus)`` (definitions there), but the table
    is checked, its strings encoded and the within-item pairs measured (word and character edit
    distances, each distinct pair once) once instead of three times — those steps are most of
    each call's cost on a large project (a report, a rule preview's before and after sides).
    Raises ``ValueError`` as they do (an unknown distance or method before reading the table).
    """
    _check_distance(alpha_distance)
    _check_method(consensus)
    table = _as_table(data)
    p = _pairs(table)
    return TextFigures(
        agreement=_agreement(table, p),
        alpha=_alpha(table, p, alpha_distance, max_expected_pairs, samples, seed),
        consensus=_consensus(table, p, consensus),
    )
