"""Label aggregation: per-item disagreement, majority vote and Dawid–Skene EM.

Input is reliability data (labelers × items, ``np.nan`` = did not label) holding *category codes*:
non-negative integers stored as floats. Class ``k`` is code ``k``; the number of classes ``K`` is
``n_classes`` when given, else the largest code + 1 (so a code nobody used below the maximum is a
class with no votes). Anything else (negative or fractional codes, a code ≥ ``n_classes``) is a
caller error and raises ``ValueError``; a figure that cannot be computed from valid data is
``None``/``NaN`` with a reason, never a silent 0.

Everything is vectorised over items: labels are handled as one flat list of
(labeler, item, code) triples ordered by item, and per-item or per-(labeler, code) sums are
``np.bincount`` scatters over that list, so memory is O(labels · K), never labelers × items × K × K.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from consensus.metrics.results import Result, as_reliability, undefined


def _empty(dtype: type = np.float64, ndim: int = 1) -> NDArray:
    return np.empty((0,) * ndim, dtype=dtype)


def _frozen(array: NDArray) -> NDArray:
    """Mark an array read-only, so a frozen result cannot be changed through its figures."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Labels:
    """Every label of reliability data as flat arrays, ordered by item (then labeler)."""

    labeler: NDArray[np.intp]
    item: NDArray[np.intp]
    code: NDArray[np.intp]
    n_labelers: int
    n_items: int
    n_classes: int

    def counts(self) -> NDArray[np.int64]:
        """items × K matrix of votes: ``counts[i, k]`` = number of labels ``k`` on item ``i``."""
        k = self.n_classes
        flat = np.bincount(self.item * k + self.code, minlength=self.n_items * k)
        return flat.reshape(self.n_items, k)


def labels_of(data: NDArray[np.float64], n_classes: int | None = None) -> Labels:
    """Flatten checked reliability data to (labeler, item, code) triples; validate the codes."""
    observed = ~np.isnan(data)
    item, labeler = np.nonzero(observed.T)
    values = data[labeler, item]
    if values.size and (values.min() < 0 or np.any(values != np.floor(values))):
        raise ValueError("category codes must be non-negative integers (stored as floats)")
    code = values.astype(np.intp)
    k = int(code.max()) + 1 if code.size else 0
    if n_classes is not None:
        if n_classes < 1:
            raise ValueError("n_classes must be at least 1")
        if n_classes < k:
            raise ValueError(f"a category code ({k - 1}) is not below n_classes ({n_classes})")
        k = int(n_classes)
    return Labels(labeler, item, code, data.shape[0], data.shape[1], k)


def plurality(counts: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray]:
    """Plurality winner per item from an items × K vote matrix, ties kept as ties.

    Returns ``(n_labels, label, share, tied, top_mask)``: ``label`` is the class with the most
    votes (NaN when several classes share the top count, or the item has no label), ``share`` the
    top count / n_labels (NaN without labels), ``top_mask`` marks the classes with the top count.
    """
    n = counts.sum(axis=1)
    has = n > 0
    top = counts.max(axis=1) if counts.shape[1] else np.zeros(counts.shape[0], counts.dtype)
    top_mask = (counts == top[:, None]) & has[:, None]
    tied = top_mask.sum(axis=1) > 1
    winner = counts.argmax(axis=1) if counts.shape[1] else np.zeros(counts.shape[0], np.intp)
    label = np.where(has & ~tied, winner, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(has, top / np.where(has, n, 1), np.nan)
    return n, label, share, tied, top_mask


# --------------------------------------------------------------------------------------------
# Per-item disagreement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ItemDisagreement(Result):
    """Per-item vote figures; ``value`` = mean vote entropy (nats) over items with ≥ 2 labels."""

    n_labels: NDArray[np.int64] = field(default_factory=lambda: _empty(np.int64))
    majority: NDArray[np.float64] = field(default_factory=_empty)
    majority_share: NDArray[np.float64] = field(default_factory=_empty)
    entropy: NDArray[np.float64] = field(default_factory=_empty)
    normalized_entropy: NDArray[np.float64] = field(default_factory=_empty)
    tied: NDArray[np.bool_] = field(default_factory=lambda: _empty(np.bool_))
    counts: NDArray[np.int64] = field(default_factory=lambda: _empty(np.int64, 2))
    n_classes: int = 0


def item_disagreement(data: ArrayLike, n_classes: int | None = None) -> ItemDisagreement:
    """Per-item disagreement: label count, plurality label and share, vote entropy, ties.

    For item ``i`` with ``n_i`` labels of which ``n_ik`` are class ``k``, ``p_ik = n_ik / n_i``:

    - ``majority`` = argmax_k n_ik, NaN when the maximum is shared (``tied``) or ``n_i = 0``;
    - ``majority_share`` = max_k p_ik (the share of the top class; 0.5 on a 1–1 tie);
    - ``entropy`` = H_i = −Σ_k p_ik ln p_ik in **nats** (0 ln 0 = 0; divide by ln 2 for bits) —
      the "vote entropy" of Dagan & Engelson (1995), "Committee-based sampling for training
      probabilistic classifiers", ICML; Shannon (1948) for H;
    - ``normalized_entropy`` = H_i / ln K ∈ [0, 1] (NaN when K < 2). The maximum ln K is only
      reachable with n_i ≥ K labels, so items with few labels stay below 1.

    Items without labels have NaN figures. ``value`` is the mean H_i over items with at least two
    labels (one label cannot disagree with itself); undefined when there is no such item.
    """
    data = as_reliability(data)
    labels = labels_of(data, n_classes)
    counts = labels.counts()
    n, label, share, tied, _ = plurality(counts)
    has = n > 0
    p = counts / np.where(has, n, 1)[:, None]
    plogp = np.where(counts > 0, p * np.log(np.where(counts > 0, p, 1.0)), 0.0)
    entropy = np.where(has, -plogp.sum(axis=1), np.nan)
    entropy = np.where(entropy == 0.0, 0.0, entropy)  # no "-0.0"
    k = labels.n_classes
    normalized = entropy / np.log(k) if k >= 2 else np.full_like(entropy, np.nan)
    figures = {
        "n_labels": _frozen(n),
        "majority": _frozen(label),
        "majority_share": _frozen(share),
        "entropy": _frozen(entropy),
        "normalized_entropy": _frozen(normalized),
        "tied": _frozen(tied),
        "counts": _frozen(counts),
        "n_classes": k,
    }
    if labels.n_items == 0:
        return undefined(ItemDisagreement, "no items", **figures)
    multi = n >= 2
    if not multi.any():
        return undefined(ItemDisagreement, "no item has two or more labels", **figures)
    return ItemDisagreement(value=float(entropy[multi].mean()), **figures)


def confusion_pair(counts: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each item's confusion pair: its two most chosen classes, as (lower code, higher code).

    ``counts`` is items × classes (n_ik). The two classes with the largest n_ik are taken, ties
    going to the lower class code; an item with fewer than two distinct classes has no pair
    (−1, −1). Vectorised: one stable argsort of a combined key per row.
    """
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim != 2:
        raise ValueError("counts must be items × classes")
    n_items, k = c.shape
    none = np.full(n_items, -1, dtype=np.int64)
    if k < 2 or n_items == 0:
        return none, none.copy()
    key = c * (k + 1) + (k - np.arange(k))  # larger count first; equal counts: lower code first
    top = np.argsort(-key, axis=1, kind="stable")[:, :2]
    rows = np.arange(n_items)
    has = c[rows, top[:, 1]] > 0
    low = np.where(has, top.min(axis=1), -1)
    high = np.where(has, top.max(axis=1), -1)
    return low.astype(np.int64), high.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Majority vote
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MajorityVote(Result):
    """Plurality label per item; ``value`` = share of labelled items with a unique majority."""

    label: NDArray[np.float64] = field(default_factory=_empty)
    confidence: NDArray[np.float64] = field(default_factory=_empty)
    tied: NDArray[np.bool_] = field(default_factory=lambda: _empty(np.bool_))
    tie_mask: NDArray[np.bool_] = field(default_factory=lambda: _empty(np.bool_, 2))
    n_labels: NDArray[np.int64] = field(default_factory=lambda: _empty(np.int64))
    n_labelled: int = 0
    n_tied: int = 0
    n_classes: int = 0


def majority_vote(data: ArrayLike, n_classes: int | None = None) -> MajorityVote:
    """Majority (plurality) vote per item, reporting ties instead of breaking them.

    ``label_i`` = argmax_k n_ik when one class holds the most votes, else NaN with
    ``tied_i = True`` and ``tie_mask[i, k]`` True for every class sharing the top count (rows of
    untied items are all False). No tie is broken toward the lowest code (``np.argmax`` would).
    ``confidence_i`` = max_k n_ik / n_i, the top share (also on tied items: 0.5 for a 1–1 tie);
    NaN for items without labels, whose label is NaN and which are not counted as tied.

    ``value`` = (labelled items with a unique majority) / (labelled items); undefined when there
    are no items or no labels. A single labeler is allowed (each label is its own majority).
    Plurality voting is the baseline of Dawid & Skene (1979) and of every crowdsourcing study since.
    """
    data = as_reliability(data)
    labels = labels_of(data, n_classes)
    counts = labels.counts()
    n, label, share, tied, top_mask = plurality(counts)
    tie_mask = top_mask & tied[:, None]
    n_labelled = int((n > 0).sum())
    n_tied = int(tied.sum())
    figures = {
        "label": _frozen(label),
        "confidence": _frozen(share),
        "tied": _frozen(tied),
        "tie_mask": _frozen(tie_mask),
        "n_labels": _frozen(n),
        "n_labelled": n_labelled,
        "n_tied": n_tied,
        "n_classes": labels.n_classes,
    }
    if labels.n_items == 0:
        return undefined(MajorityVote, "no items", **figures)
    if n_labelled == 0:
        return undefined(MajorityVote, "no labels", **figures)
    return MajorityVote(value=(n_labelled - n_tied) / n_labelled, **figures)


# --------------------------------------------------------------------------------------------
# Dawid–Skene
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DawidSkene(Result):
    """Dawid–Skene EM fit; ``value`` = mean posterior probability of the MAP label.

    ``confusion[j, k, l]`` = P(labeler j says l | true class k) (rows sum to 1); ``priors[k]`` =
    P(true class k); ``posterior[i, k]`` = P(true class k | labels of item i).
    """

    label: NDArray[np.float64] = field(default_factory=_empty)
    probability: NDArray[np.float64] = field(default_factory=_empty)
    posterior: NDArray[np.float64] = field(default_factory=lambda: _empty(ndim=2))
    tied: NDArray[np.bool_] = field(default_factory=lambda: _empty(np.bool_))
    confusion: NDArray[np.float64] = field(default_factory=lambda: _empty(ndim=3))
    priors: NDArray[np.float64] = field(default_factory=_empty)
    labeler_accuracy: NDArray[np.float64] = field(default_factory=_empty)
    labeler_n_labels: NDArray[np.int64] = field(default_factory=lambda: _empty(np.int64))
    log_likelihood: float | None = None
    iterations: int = 0
    converged: bool = False
    n_classes: int = 0


def dawid_skene(
    data: ArrayLike,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
    n_classes: int | None = None,
) -> DawidSkene:
    """Dawid–Skene maximum-(penalised-)likelihood estimate of labeler confusion matrices by EM.

    Source: A. P. Dawid & A. M. Skene (1979), "Maximum likelihood estimation of observer
    error-rates using the EM algorithm", *Applied Statistics* 28(1):20–28.

    Model: item i has an unknown true class T_i ~ Categorical(π); labeler j, given T_i = k, says
    l with probability θ_j[k, l], independently of the other labelers. With y_ijl = 1 when j gave
    item i label l:

    - E step: log P(T_i = k | y) = log π_k + Σ_j Σ_l y_ijl log θ_j[k, l] − log Z_i
      (computed in log space, normalised with a log-sum-exp);
    - M step: θ_j[k, l] = (α + Σ_i T_ik y_ijl) / (K α + Σ_i T_ik Σ_l y_ijl),
      π_k = (α + Σ_i T_ik) / (K α + N'), N' = items with at least one label.

    ``smoothing`` α > 0 is a symmetric Dirichlet(α + 1) prior, making this the MAP variant of the
    EM: a labeler with one label, or a class nobody used, gets smoothed rows instead of zeros
    (log 0) or 0/0. It biases a labeler's estimated accuracy toward 1/K by about α·K / (labels it
    gave on that class). The default α = 0.01 is weak on purpose: Laplace's add-one (α = 1) swamps
    small projects — 3 labelers × 4 items fall to the uniform fixed point (every posterior 1/K)
    and unanimous items lose their label (tested).

    Start: the soft majority vote T_ik = n_ik / n_i (as in the paper), then M, E, M, E, …; the
    same data always gives the same fit. Stops after the first iteration ≥ 2 whose largest change
    of any θ or π entry is below ``tol`` (``converged``), or after ``max_iter`` iterations.

    Figures: ``label`` = MAP class (NaN for unlabelled items, and ``tied`` when the top posterior
    is shared to 1e-12), ``probability`` = its posterior, ``posterior`` (items × K; NaN rows for
    unlabelled items, which carry no evidence), ``confusion`` (labelers × K × K), ``priors``,
    ``labeler_accuracy`` = Σ_k π_k θ_j[k, k] (expected accuracy of labeler j on an item drawn from
    the priors; NaN for a labeler with no labels), ``log_likelihood`` = Σ_i log P(labels of item i)
    at the final parameters. ``value`` = mean ``probability`` over labelled items (the model's
    expected share of correct aggregated labels). Undefined with no items or labels, fewer than two
    labelers, or no item with two or more labels (then error rates are not identifiable).

    Cost per iteration: O(L · K) for L labels (2K ``np.bincount`` scatters) plus O(J · K²).
    """
    if smoothing <= 0:
        raise ValueError("smoothing must be positive (use a small value such as 1e-3 for ~MLE)")
    if max_iter < 1:
        raise ValueError("max_iter must be at least 1")
    data = as_reliability(data)
    n_labelers, n_items = data.shape
    if n_items == 0:
        return undefined(DawidSkene, "no items")
    if n_labelers < 2:
        return undefined(DawidSkene, "Dawid–Skene needs at least two labelers")
    labels = labels_of(data, n_classes)
    if labels.code.size == 0:
        return undefined(DawidSkene, "no labels")
    counts = labels.counts()
    n = counts.sum(axis=1)
    if not (n >= 2).any():
        return undefined(DawidSkene, "no item has two or more labels")

    k, alpha = labels.n_classes, float(smoothing)
    item, code = labels.item, labels.code
    group = labels.labeler * k + code  # one index per (labeler, given label)
    labelled = n > 0
    n_labelled = int(labelled.sum())
    # Posterior kept class-major (K × items) so every scatter below reads contiguous rows.
    post = (counts / np.where(labelled, n, 1)[:, None]).T.copy()  # soft majority vote
    n_groups = n_labelers * k

    confusion = np.zeros((n_labelers, k, k))
    priors = np.zeros(k)
    converged = False
    log_likelihood = np.nan
    iteration = 0
    for iteration in range(1, max_iter + 1):
        # M step: expected[g, t] = Σ over labels of group g = (j, l) of P(T_item = t).
        expected = np.stack(
            [np.bincount(group, weights=post[t][item], minlength=n_groups) for t in range(k)],
            axis=1,
        )  # (J · K_given) × K_true
        new_confusion = expected.reshape(n_labelers, k, k).transpose(0, 2, 1) + alpha
        new_confusion /= new_confusion.sum(axis=2, keepdims=True)
        new_priors = (post.sum(axis=1) + alpha) / (n_labelled + k * alpha)

        # E step in log space: log_post[t, i] = log π_t + Σ over item i's labels of log θ_j[t, l].
        log_given = np.log(new_confusion).transpose(1, 0, 2).reshape(k, n_groups)  # t × (j, l)
        log_post = np.stack(
            [np.bincount(item, weights=log_given[t][group], minlength=n_items) for t in range(k)]
        )
        log_post += np.log(new_priors)[:, None]
        top = log_post.max(axis=0)
        post = np.exp(log_post - top)
        z = post.sum(axis=0)
        post /= z
        post[:, ~labelled] = 0.0
        log_likelihood = float((top + np.log(z))[labelled].sum())

        change = max(np.abs(new_confusion - confusion).max(), np.abs(new_priors - priors).max())
        confusion, priors = new_confusion, new_priors
        if iteration >= 2 and change < tol:
            converged = True
            break

    post = post.T.copy()
    probability = post.max(axis=1)
    tied = ((post >= probability[:, None] - 1e-12).sum(axis=1) > 1) & labelled
    label = np.where(labelled & ~tied, post.argmax(axis=1), np.nan)
    probability = np.where(labelled, probability, np.nan)
    post[~labelled] = np.nan
    labeler_n = np.bincount(labels.labeler, minlength=n_labelers)
    diagonal = np.diagonal(confusion, axis1=1, axis2=2)  # J × K
    accuracy = np.where(labeler_n > 0, diagonal @ priors, np.nan)
    return DawidSkene(
        value=float(probability[labelled].mean()),
        label=_frozen(label),
        probability=_frozen(probability),
        posterior=_frozen(post),
        tied=_frozen(tied),
        confusion=_frozen(confusion),
        priors=_frozen(priors),
        labeler_accuracy=_frozen(accuracy),
        labeler_n_labels=_frozen(labeler_n),
        log_likelihood=log_likelihood,
        iterations=iteration,
        converged=converged,
        n_classes=k,
    )
