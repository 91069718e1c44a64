"""Human-level performance (HLP): how well a typical human does the task, on the same data.

Two modes (DOMAIN.md §2; A. Ng, "Machine Learning Yearning", ch. 33–35, and the *MLOps* course
on human-level performance):

- **against gold** (an externally defined ground truth, e.g. a lab test): a human's accuracy;
- **without gold** (the "ground truth" is just another human): how often one labeler's label
  agrees with another labeler's label on the same item.

Labels are compared by equality of their values, so any float codes work (no integer check).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from consensus.metrics.aggregation import plurality
from consensus.metrics.results import Result, as_reliability, undefined


def _frozen(array: NDArray) -> NDArray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class HLPFigure(Result):
    """HLP on a subset of items (a slice or a class).

    ``value`` is defined as for the whole data (labeler mean with gold, pooled without);
    ``n_items`` = items in the subset, ``n_evaluated`` = those that contribute (labelled and with
    gold; or with ≥ 2 labels), ``n_labels`` = contributing labels, ``share`` = the subset's share
    of the data (see :func:`human_level_performance`).
    """

    pooled: float | None = None
    labeler_mean: float | None = None
    n_items: int = 0
    n_evaluated: int = 0
    n_labels: int = 0
    share: float | None = None


@dataclass(frozen=True, eq=False)
class HumanLevelPerformance(Result):
    """HLP of the whole data, with per-labeler, per-slice and per-class figures."""

    mode: str = ""  # "gold" or "agreement"
    pooled: float | None = None
    labeler_mean: float | None = None
    per_labeler: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    labeler_n_labels: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    n_items: int = 0
    n_labels: int = 0
    per_slice: dict = field(default_factory=dict)
    per_class: dict = field(default_factory=dict)


def _summary(labeler, scores, n_labelers):
    """(per-labeler mean, per-labeler count, pooled mean, mean of labeler means) of label scores."""
    count = np.bincount(labeler, minlength=n_labelers)
    total = np.bincount(labeler, weights=scores, minlength=n_labelers)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_labeler = np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)
    if scores.size == 0:
        return per_labeler, count, None, None
    return per_labeler, count, float(scores.mean()), float(per_labeler[count > 0].mean())


def _slice_masks(slices, n_items: int) -> dict[object, NDArray[np.bool_]]:
    """Turn ``slices`` into {key: boolean item mask}; see :func:`human_level_performance`."""
    if isinstance(slices, Mapping):
        masks: dict[object, NDArray[np.bool_]] = {}
        for name, codes in slices.items():
            codes = np.asarray(codes)
            if codes.dtype == np.bool_:
                _check_length(codes, n_items, f"slice mask {name!r}")
                masks[name] = codes
            else:
                for code, mask in _slice_masks(codes, n_items).items():
                    masks[(name, code)] = mask
        return masks
    codes = np.asarray(slices)
    _check_length(codes, n_items, "slices")
    if codes.dtype.kind == "f":
        present = ~np.isnan(codes)
    elif codes.dtype.kind == "O":
        present = np.not_equal(codes, None) & np.equal(codes, codes)  # None and NaN are missing
    else:
        present = np.ones(codes.shape, bool)
    keys, inverse = np.unique(codes[present], return_inverse=True)
    index = np.full(codes.shape, -1, np.intp)
    index[present] = inverse
    return {key.item() if hasattr(key, "item") else key: index == i for i, key in enumerate(keys)}


def _check_length(array: NDArray, n_items: int, what: str) -> None:
    if array.ndim != 1 or array.shape[0] != n_items:
        raise ValueError(
            f"{what} must be 1-D with one entry per item ({n_items}), got {array.shape}"
        )


def human_level_performance(
    data: ArrayLike,
    gold: ArrayLike | None = None,
    slices: ArrayLike | Mapping[str, ArrayLike] | None = None,
) -> HumanLevelPerformance:
    """Human-level performance, against gold or as labeler-to-labeler agreement.

    Every label gets a score; all figures are means of scores:

    - **With gold** (``gold``: one value per item, NaN = no gold; ``mode="gold"``): a label of item
      i scores 1 when it equals gold_i, else 0; only items with gold count. ``per_labeler[j]`` =
      labeler j's accuracy on gold items (NaN without any), ``labeler_mean`` = mean of the
      per-labeler accuracies (the "typical human" of Ng's HLP), ``pooled`` = correct / all
      (labeler, gold item) pairs. **value = labeler_mean.** DOMAIN.md §2: gold 1,1,1,0,0,0 and an
      inspector's 1,0,1,0,0,1 give 4/6 = 0.667.
    - **Without gold** (``mode="agreement"``): a label l of item i with n_i ≥ 2 labels, n_il of
      them equal to l, scores (n_il − 1) / (n_i − 1): the share of the *other* labels on the item
      that agree with it (leave-one-out). Averaged over all labels this is the chance that a label
      agrees with another label drawn at random from the same item, i.e. the pairwise agreement
      rate Σ_i Σ_c n_ic (n_ic − 1) / (n_i − 1) / Σ_i n_i, which is Krippendorff's observed
      agreement 1 − D_o for nominal data (Krippendorff 2011, "Computing Krippendorff's
      alpha-reliability"), and equals Fleiss' P̄ (1971) when every item has the same n_i.
      Items with one label are left out. **value = pooled** (this pairwise rate);
      ``labeler_mean`` = mean over labelers of their mean score, ``per_labeler[j]`` = how often
      labeler j's labels agree with the others' on the same items. Needs ≥ 2 labelers.

    ``slices`` (optional) groups items for ``per_slice``: either one code per item (NaN/None = in
    no slice) → keys are the codes; or a dict name → per-item array, where a boolean array is a
    membership mask (slices may overlap) → key ``name``, and any other array holds codes of one
    slicing → keys ``(name, code)``. ``per_slice[key]`` is an :class:`HLPFigure` whose ``share``
    = items in the slice / all items (the "% of data" of DOMAIN.md §3).

    ``per_class``: with gold, keyed by gold class c over items whose gold is c, so its value is
    the humans' recall on c; without gold, keyed by the item's unique plurality label (tied items
    are in no class). Its ``share`` = the class's evaluated items / all evaluated items.

    Undefined (``value=None`` + reason): no items; with gold, no gold at all or no labelled gold
    item; without gold, fewer than two labelers or no item with two or more labels. A slice or
    class without evaluated items is an undefined :class:`HLPFigure`.
    """
    data = as_reliability(data)
    n_labelers, n_items = data.shape
    mode = "agreement" if gold is None else "gold"
    if n_items == 0:
        return undefined(HumanLevelPerformance, "no items", mode=mode)
    item, labeler = np.nonzero(~np.isnan(data).T)
    values = data[labeler, item]

    if gold is not None:
        gold = np.asarray(gold, dtype=np.float64)
        _check_length(gold, n_items, "gold")
        has_gold = ~np.isnan(gold)
        if not has_gold.any():
            return undefined(HumanLevelPerformance, "no gold labels", mode=mode)
        keep = has_gold[item]
        if not keep.any():
            return undefined(HumanLevelPerformance, "no labelled item has a gold label", mode=mode)
        item, labeler, values = item[keep], labeler[keep], values[keep]
        scores = (values == gold[item]).astype(np.float64)
        evaluated = np.zeros(n_items, bool)
        evaluated[item] = True
        item_class = np.where(evaluated, gold, np.nan)
    else:
        if n_labelers < 2:
            return undefined(
                HumanLevelPerformance,
                "one labeler: no other label to agree with (give gold for accuracy)",
                mode=mode,
            )
        classes, code = np.unique(values, return_inverse=True)
        k = classes.size
        counts = np.bincount(item * k + code, minlength=n_items * k).reshape(n_items, k)
        n = counts.sum(axis=1)
        evaluated = n >= 2
        if not evaluated.any():
            return undefined(HumanLevelPerformance, "no item has two or more labels", mode=mode)
        keep = evaluated[item]
        item, labeler, code = item[keep], labeler[keep], code[keep]
        scores = (counts[item, code] - 1) / (n[item] - 1)
        _, majority, _, _, _ = plurality(counts)
        majority_code = np.where(evaluated, majority, np.nan)
        item_class = np.full(n_items, np.nan)
        known = ~np.isnan(majority_code)
        item_class[known] = classes[majority_code[known].astype(np.intp)]

    per_labeler, labeler_n, pooled, labeler_mean = _summary(labeler, scores, n_labelers)
    n_evaluated = int(evaluated.sum())

    def figure(mask: NDArray[np.bool_], share_of: int, share_count: int) -> HLPFigure:
        selected = mask[item]
        _, _, sub_pooled, sub_mean = _summary(labeler[selected], scores[selected], n_labelers)
        counts_in = {
            "n_items": int(mask.sum()),
            "n_evaluated": int((mask & evaluated).sum()),
            "n_labels": int(selected.sum()),
            "share": share_count / share_of if share_of else None,
        }
        if sub_pooled is None:
            return undefined(HLPFigure, "no evaluated item in this subset", **counts_in)
        value = sub_mean if mode == "gold" else sub_pooled
        return HLPFigure(value=value, pooled=sub_pooled, labeler_mean=sub_mean, **counts_in)

    per_slice = {}
    if slices is not None:
        for key, mask in _slice_masks(slices, n_items).items():
            per_slice[key] = figure(mask, n_items, int(mask.sum()))
    per_class = {}
    for c in np.unique(item_class[~np.isnan(item_class)]):
        mask = item_class == c
        per_class[c.item()] = figure(mask, n_evaluated, int(mask.sum()))

    return HumanLevelPerformance(
        value=labeler_mean if mode == "gold" else pooled,
        mode=mode,
        pooled=pooled,
        labeler_mean=labeler_mean,
        per_labeler=_frozen(per_labeler),
        labeler_n_labels=_frozen(labeler_n),
        n_items=n_evaluated,
        n_labels=int(scores.size),
        per_slice=per_slice,
        per_class=per_class,
    )
