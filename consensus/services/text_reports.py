"""The consistency report of a transcription project, and each item's consensus transcript.

Transcripts are compared after normalisation (the active standardisation rule set, else
whitespace clean-up: ``consensus.data.transcript_normalizer``). Figures (from
``consensus.metrics.text``):

- ``exact_agreement``: the share of pairs of transcripts of one item that are identical;
  ``percent_agreement``: the mean over items of that share (percent agreement on the strings);
- ``word_error_rate`` / ``character_error_rate``: the symmetric corpus-level WER/CER between the
  labelers, pooled over every pair of transcripts of an item (Σ 2E / Σ (|a| + |b|));
- ``krippendorff_alpha``: alpha over the normalised word edit distance (edits / longer length),
  meaningful for short utterances;
- per labeler: WER and exact agreement with everyone else; per slice: the same figures on the
  slice's items; pairwise matrices; the items whose transcripts differ most.

Item consensus: the medoid — the transcript with the smallest summed word edit distance to the
item's others (ties: the most frequent transcript, then the earliest labeler). Its share is the
share of transcripts identical to it, the entropy is over distinct transcripts (nats), and the
item's word error rate is its pooled pairwise WER. These fill the same ``ItemConsensus`` fields a
classification item has, so the disagreement queue, its rules and escalation work unchanged.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from django.utils import timezone

from consensus.data import ProjectTranscripts
from consensus.metrics.text import text_agreement, text_figures
from consensus.models import ConsensusMethod, ItemConsensus

TOP_DISAGREEMENTS = 20
_CLASSIFICATION_ONLY = "classification projects only"


def _num(value: Any, digits: int = 6) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _figure(value: Any, reason: str | None = None) -> dict[str, Any]:
    number = _num(value)
    return {"value": number, "reason": reason if number is None else None}


def item_text_figures(texts: list[str]) -> dict[str, Any]:
    """Share of the most common transcript, entropy over distinct transcripts (nats), whether
    the top count is shared."""
    n = len(texts)
    if n == 0:
        return {"n_labels": 0, "majority_share": None, "entropy": None, "tied": False}
    counts = sorted(Counter(texts).values(), reverse=True)
    shares = [c / n for c in counts]
    return {
        "n_labels": n,
        "majority_share": counts[0] / n,
        "entropy": -sum(p * math.log(p) for p in shares),
        "tied": len(counts) > 1 and counts[0] == counts[1],
    }


def text_consensus_rows(
    transcripts: ProjectTranscripts, project_id: int, agreement: Any, consensus: Any
) -> list[ItemConsensus]:
    """One ``ItemConsensus`` per item with at least one transcript."""
    now = timezone.now()
    rows = []
    for i, row in enumerate(transcripts.table):
        texts = [t for t in row if t is not None]
        if not texts:
            continue
        figures = item_text_figures(texts)
        wer = agreement.item_wer[i] if agreement.item_wer is not None else np.nan
        rows.append(
            ItemConsensus(
                item_id=int(transcripts.item_ids[i]),
                project_id=project_id,
                round=int(transcripts.item_round[i]),
                label=None,
                method=ConsensusMethod.MEDOID,
                confidence=figures["majority_share"],
                n_labels=figures["n_labels"],
                majority_share=figures["majority_share"],
                entropy=figures["entropy"],
                tied=figures["tied"],
                pair_low=None,
                pair_high=None,
                text=consensus.text[i] or "",
                word_error_rate=_num(wer),
                updated_at=now,
            )
        )
    return rows


def _labeler_rows(transcripts: ProjectTranscripts, agreement: Any, usernames: dict) -> list:
    rows = []
    n = transcripts.labeler_ids.size
    for a in range(n):
        others = [b for b in range(n) if b != a]
        edits = sum(agreement.word_edits[a, b] + agreement.word_edits[b, a] for b in others)
        words = sum(agreement.words[a, b] + agreement.words[b, a] for b in others)
        shared = sum(agreement.shared[a, b] for b in others)
        same = sum(
            agreement.exact[a, b] * agreement.shared[a, b] for b in others if agreement.shared[a, b]
        )
        labeler_id = int(transcripts.labeler_ids[a])
        rows.append(
            {
                "labeler_id": labeler_id,
                "username": usernames.get(labeler_id, str(labeler_id)),
                "labels": int(agreement.shared[a, a]),
                "word_error_rate_with_others": _num(edits / words) if words else None,
                "exact_with_others": _num(same / shared) if shared else None,
            }
        )
    return rows


def _slice_rows(transcripts: ProjectTranscripts) -> list[dict[str, Any]]:
    rows = []
    n_items = transcripts.item_ids.size
    for dimension in transcripts.slices:
        for code, value in enumerate(dimension.values):
            members = np.flatnonzero(dimension.codes == code)
            part = text_agreement([transcripts.table[i] for i in members])
            rows.append(
                {
                    "slice": dimension.name,
                    "value": value,
                    "items": int(members.size),
                    "share": _num(members.size / n_items) if n_items else None,
                    "exact_agreement": _figure(part.exact_agreement, part.reason),
                    "word_error_rate": _figure(part.wer_overall, part.reason),
                    "character_error_rate": _figure(part.cer_overall, part.reason),
                }
            )
    return rows


def _top(transcripts: ProjectTranscripts, agreement: Any) -> list[dict[str, Any]]:
    if agreement.item_wer is None:
        return []
    wer = np.where(np.isfinite(agreement.item_wer), agreement.item_wer, -1.0)
    order = np.lexsort((transcripts.item_ids, -wer))[:TOP_DISAGREEMENTS]
    return [
        {
            "item_id": int(transcripts.item_ids[i]),
            "word_error_rate": _num(wer[i], 4),
            "transcripts": dict(Counter(t for t in transcripts.table[i] if t is not None)),
        }
        for i in order
        if wer[i] > 0
    ]


def text_report_build(
    transcripts: ProjectTranscripts, usernames: dict[int, str], *, project_id: int, rule_set: int
) -> tuple[dict[str, Any], list[ItemConsensus]]:
    """Every figure of a transcription report (JSON-ready) and the items' consensus rows."""
    table = transcripts.table
    computed = text_figures(table, alpha_distance="word")  # the table's pairs measured once
    agreement, alpha, consensus = computed.agreement, computed.alpha, computed.consensus
    rows = text_consensus_rows(transcripts, project_id, agreement, consensus)
    reason = agreement.reason
    labeled = sum(1 for row in table if any(t is not None for t in row))
    pairwise_names = [usernames.get(int(i), str(i)) for i in transcripts.labeler_ids]

    def matrix(values: Any) -> list[list[float | None]]:
        return [[_num(v, 4) for v in row] for row in values] if values is not None else []

    overall = {
        "task": "transcription",
        "rule_set_version": rule_set,
        "exact_agreement": _figure(agreement.exact_agreement, reason),
        "percent_agreement": _figure(agreement.exact_item_mean, reason),
        "word_error_rate": _figure(agreement.wer_overall, reason),
        "character_error_rate": _figure(agreement.cer_overall, reason),
        "krippendorff_alpha": {**_figure(alpha.value, alpha.reason), "distance": "word"},
        "gwet_ac1": _figure(None, _CLASSIFICATION_ONLY),
        "fleiss_kappa": _figure(None, _CLASSIFICATION_ONLY),
        "hlp_agreement": _figure(None, _CLASSIFICATION_ONLY),
        "hlp_gold": _figure(None, _CLASSIFICATION_ONLY),
        "dawid_skene": _figure(None, _CLASSIFICATION_ONLY),
        "tied_items": sum(1 for r in rows if r.tied),
        "borderline": None,
    }
    fields = {
        "n_items": int(transcripts.item_ids.size),
        "n_labeled_items": labeled,
        "n_annotations": transcripts.n_annotations,
        "n_labelers": int(transcripts.labeler_ids.size),
        "overall": overall,
        "per_class": [],
        "per_labeler": _labeler_rows(transcripts, agreement, usernames)
        if agreement.shared is not None
        else [],
        "per_slice": _slice_rows(transcripts),
        "pairwise": {
            "labelers": pairwise_names,
            "word_error_rate": matrix(agreement.wer),
            "exact": matrix(agreement.exact),
            "shared": agreement.shared.tolist() if agreement.shared is not None else [],
        },
        "confusion_pairs": [],
        "top_disagreements": _top(transcripts, agreement),
        "per_round": [],
        "per_guideline": [],
        "round_change": {},
        "escalation": {},
    }
    return fields, rows
