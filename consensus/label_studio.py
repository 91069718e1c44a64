"""The consistency domain's part in Label Studio interoperability (annotations never imports
consensus, so it asks through signals; ``consensus/receivers.py`` wires these in).

* After an import: :func:`items_consensus_refresh` stores the imported items' consensus at
  once, in bulk, before the report's pass. Classification: the majority vote — the same figures
  ``item_consensus_refresh`` stores for one item, computed with the same vectorised code the
  report uses — until the report's Dawid–Skene. Transcription: the medoid transcript and its
  figures, computed exactly as the report computes them (``services.text_reports``) on the
  imported items' rows of the project's transcript table; and, when a standardisation rule set
  is active, the imported transcripts' normalised rows (``NormalizedTranscript``), which
  ``receivers.on_annotation_committed`` stores for a submitted transcript but an import, sending
  no per-label signal, would otherwise leave missing.
* During an export: :func:`consensus_predictions` gives each item's current consensus as a Label
  Studio prediction (a current review decision wins, score 1.0; a transcription item's is its
  consensus transcript).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from django.db import DatabaseError, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import KT

from annotations.models import Annotation, Project, TaskType
from consensus import standardise
from consensus.data import project_labels_load, project_transcripts_load, transcript_normalizer_for
from consensus.metrics.aggregation import DawidSkene, item_disagreement
from consensus.metrics.results import undefined
from consensus.metrics.text import text_agreement, text_consensus
from consensus.models import (
    ConsensusMethod,
    DecisionOutcome,
    ItemConsensus,
    NormalizedTranscript,
    ReviewDecision,
    RuleSet,
)
from consensus.services.consensus_store import (
    consensus_columns,
    consensus_rows_upsert,
    consensus_store,
)
from consensus.services.text_reports import text_consensus_rows

logger = logging.getLogger(__name__)


def items_consensus_refresh(*, project_id: int, item_ids: list[int]) -> int:
    """Majority-vote consensus of ``item_ids`` (each in its round), upserted where it changed.

    Reads the project's labels once (``consensus.data.project_labels_load``: two or three
    queries), runs ``item_disagreement`` over the whole labelers × items matrix, keeps the
    columns of ``item_ids`` and lets ``consensus_store`` write only changed rows — so other
    items' Dawid–Skene consensus is left alone. Returns the number of rows written.
    """
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not item_ids:
        return 0
    if project.task_type == TaskType.TRANSCRIPTION:
        _normalized_store(project, item_ids)
        return _transcripts_consensus_refresh(project, item_ids)
    labels = project_labels_load(project=project)
    disagreement = item_disagreement(labels.matrix, n_classes=max(len(labels.class_keys), 1))
    # Dawid–Skene is the report's job (over the whole project); here: majority only.
    columns = consensus_columns(labels, disagreement, undefined(DawidSkene, "not computed"))
    wanted = np.isin(columns.item_id, np.asarray(item_ids, dtype=np.int64))
    return consensus_store(project_id=project_id, columns=columns.take(wanted))


def _transcripts_consensus_refresh(project: Project, item_ids: list[int]) -> int:
    """The medoid consensus of ``item_ids``' transcripts, upserted; returns the rows written.

    Reads the project's transcript table once (``project_transcripts_load``: two or three
    queries), keeps the imported items' rows and runs the report's own code on them
    (``text_agreement`` for each item's pooled WER, ``text_consensus`` for the medoid,
    ``text_consensus_rows`` for the row) — each is per item, so the figures equal the report's
    for those items, and the report's next pass rewrites identical rows."""
    transcripts = project_transcripts_load(project=project)
    wanted = np.flatnonzero(np.isin(transcripts.item_ids, np.asarray(item_ids, dtype=np.int64)))
    if wanted.size == 0:
        return 0
    part = dataclasses.replace(
        transcripts,
        item_ids=transcripts.item_ids[wanted],
        item_round=transcripts.item_round[wanted],
        table=[transcripts.table[i] for i in wanted],
        raw=[transcripts.raw[i] for i in wanted],
    )
    rows = text_consensus_rows(
        part, project.pk, text_agreement(part.table), text_consensus(part.table)
    )
    consensus_rows_upsert(rows)
    return len(rows)


def _normalized_store(project: Project, item_ids: list[int]) -> int:
    """Store the active rule set's normalised text of ``item_ids``' transcripts that have none
    (the text ``rule_sets.transcript_normalize`` stores for one submitted transcript: the rules'
    output, cleaned up). One insert, ignoring rows stored meanwhile; a regex timeout or a
    database error is logged and leaves the rows missing — activating the version again fills
    them, as for a submitted transcript. Returns the rows inserted."""
    if not project.rule_set_version:
        return 0
    rule_set_id = (
        RuleSet.objects.filter(project=project, version=project.rule_set_version)
        .values_list("pk", flat=True)
        .first()
    )
    if rule_set_id is None:
        return 0
    stored = NormalizedTranscript.objects.filter(rule_set_id=rule_set_id).values("annotation_id")
    rows = list(
        Annotation.objects.filter(project=project, item_id__in=item_ids, withdrawn=False)
        .exclude(pk__in=Subquery(stored))
        .order_by("pk")
        .values_list("pk", KT("value__text"))
    )
    if not rows:
        return 0
    try:
        texts = transcript_normalizer_for(project.pk, project.rule_set_version)(
            [text if isinstance(text, str) else "" for _, text in rows]
        )
        with transaction.atomic():  # a savepoint: a failed insert leaves the caller usable
            NormalizedTranscript.objects.bulk_create(
                [
                    NormalizedTranscript(annotation_id=pk, rule_set_id=rule_set_id, text=text)
                    for (pk, _), text in zip(rows, texts, strict=True)
                ],
                batch_size=2000,
                ignore_conflicts=True,
            )
    except (standardise.RuleTimeout, standardise.RuleError, DatabaseError):
        logger.exception("label studio import: project %s's transcripts not normalised", project.pk)
        return 0
    return len(rows)


def consensus_predictions(*, project_id: int, item_ids: list[int]) -> dict[int, dict]:
    """Item id → ``{"label_id", "score", "model_version"}`` for items that have a consensus
    label, or ``{"text", "score", "model_version"}`` for transcription items that have a
    consensus transcript (one query). ``model_version`` names how it was decided:
    ``labelhub-reviewed`` (a current review decision, score 1.0), ``labelhub-dawid_skene``,
    ``labelhub-majority`` or ``labelhub-medoid`` (score = the stored confidence: for a medoid,
    the share of transcripts identical to it)."""
    decision = ReviewDecision.objects.filter(
        item=OuterRef("item_id"),
        round=OuterRef("round"),
        current=True,
        outcome=DecisionOutcome.LABEL,
    )
    rows = (
        ItemConsensus.objects.filter(project_id=project_id, item_id__in=item_ids)
        .annotate(decision_label_id=Subquery(decision.values("label_id")[:1]))
        .values_list("item_id", "label_id", "confidence", "method", "decision_label_id", "text")
    )
    answer: dict[int, dict] = {}
    for item_id, label_id, confidence, method, decided, text in rows:
        if method == ConsensusMethod.MEDOID:
            answer[item_id] = {
                "text": text,
                "score": confidence,
                "model_version": f"labelhub-{method}",
            }
        elif decided is not None:
            answer[item_id] = {
                "label_id": decided,
                "score": 1.0,
                "model_version": "labelhub-reviewed",
            }
        elif label_id is not None:
            answer[item_id] = {
                "label_id": label_id,
                "score": confidence,
                "model_version": f"labelhub-{method}",
            }
    return answer
