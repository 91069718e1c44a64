"""Standardisation rule sets of transcription projects: save a version, preview it, activate it.

DOMAIN.md section 1, "standardise labels": "Umm, nearest gas station" and "um nearest gas
station" are one answer written two ways. A project's convention is an ordered rule list that
``consensus.standardise`` validates, compiles and applies (the rule kinds and the regex safety
measures are documented there). This module adds the project around it:

Versions (:func:`rule_set_create`, managers)
    Every save is the next ``RuleSet.version`` of the project, numbered under the project's row
    lock; versions are never edited. Saving rules that behave exactly like the newest version
    (the same ``fingerprint``: notes and spelled-out defaults do not count) is 409 ``unchanged``.

Preview (:func:`rule_set_preview`, reviewers, engineers, managers; writes nothing)
    Applies candidate rules to the project's *current* transcripts (each item's non-withdrawn
    transcripts of the item's round, as the consistency report reads them) and returns the
    engine's summary (counts, sample word diffs naming the rules that changed each, warnings such
    as ``same_output``: every transcript becomes one string) and agreement before → after.
    Both sides are the text exactly as the consistency report compares it
    (``consensus.data.transcript_normalizer``: the rules' output, then runs of whitespace
    collapsed and the ends trimmed): *before* under the active version (the raw text cleaned up
    when none is active), *after* under the candidate — so "after" is what the report shows once
    the candidate is activated. Per side: exact agreement, corpus-level word and character
    error rates (``metrics.text.text_agreement``), Krippendorff's alpha over the normalised word
    edit distance (``text_alpha``), and each item's medoid transcript (``text_consensus``).
    ``changed_items`` counts items whose consensus after is not the transcript chosen before as
    the candidate rewrites it: "Umm, nearest gas station" chosen before and "um nearest gas
    station" after is no change; a different labeler's transcript winning is.

    The table given to the metrics has one column per *transcript slot* of an item (its
    transcripts ordered by labeler id), not one per labeler: the overall figures above only
    compare transcripts of the same item, so they are identical to those of the items × labelers
    table, while the table stays items × overlap instead of items × every labeler (20× smaller
    with 20 labelers; the per-labeler figures, which need labeler columns, belong to the report).
    The medoid's tie-break (the earliest column) then means the lowest labeler id, as in a table
    whose labeler columns are ordered by id.

Activation (:func:`rule_set_activate`, managers)
    Under the project's row lock, in one transaction: every non-withdrawn transcript of every
    round gets its normalised text stored for that version (``NormalizedTranscript``: the rules'
    output cleaned up as above, i.e. the text the report compares; rows stored by an earlier
    activation of the version are kept, missing ones added), the version becomes
    ``Project.rule_set_version`` and the report is recomputed after commit. A transcript whose
    rules exceed the regex time limit aborts the activation (400 naming the rule; nothing is
    stored). Version 0 returns to the raw transcripts (cleaned up). ``Annotation`` is never
    written. The transcripts committed while an activation ran are stored right after its commit
    (:func:`_catch_up`).

New transcripts (:func:`transcript_normalize`, from ``receivers.on_annotation_committed``)
    A transcript committed while a version is active gets its row at once (one select, one
    insert). Classification projects pay no query: whether a project transcribes is cached
    (:func:`project_transcribes`; ``task_type`` cannot change after creation).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from annotations.models import Annotation, Project, Role, TaskType
from annotations.selectors import SEES_LABELS, project_get_for_user
from consensus import standardise
from consensus.data import (
    transcript_cleanup,
    transcript_normalizer,
    transcript_rows,
    transcript_text,
)
from consensus.metrics.text import text_figures
from consensus.models import NormalizedTranscript, RuleSet
from consensus.tasks import report_recompute_enqueue
from labelhub.errors import ApplicationError, ConflictError, NotFoundError

logger = logging.getLogger(__name__)

EDITORS = (Role.MANAGER,)
PREVIEWERS = SEES_LABELS
NOTE_MAX = 2000  # RuleSet.note's max_length
BATCH = 2000  # NormalizedTranscript rows per INSERT during activation
#: How long "project p is (not) a transcription project" is cached. ``task_type`` is set at
#: creation and no API changes it, so the answer cannot go stale; the TTL only bounds memory.
TASK_TYPE_CACHE_SECONDS = 24 * 3600
#: How long a preview's "before" figures are kept for the next preview (they are keyed by
#: content, so this only bounds memory).
BEFORE_CACHE_SECONDS = 15 * 60


# ---------- helpers ----------


def _require_transcription(project: Project) -> None:
    if project.task_type != TaskType.TRANSCRIPTION:
        raise ApplicationError(
            "not_transcription",
            f"Standardisation rules apply to transcription projects; this project's task_type "
            f"is {project.task_type!r}.",
            field="task_type",
        )


def _compile(rules: Any) -> standardise.RuleSet:
    """The engine's compiled rules, or 400 whose ``field`` is where the error is
    (``rules[2].pattern``)."""
    try:
        return standardise.compile_rules(rules)
    except standardise.RuleError as error:
        raise ApplicationError(
            "invalid_rule", str(error), field=error.path, details=[error.as_dict()]
        ) from None


def _timeout_error(
    error: standardise.RuleTimeout, *, version: int | None = None
) -> ApplicationError:
    # Only regex rules and fillers rules with a pattern run under the time limit: both keep the
    # user's expression in ``pattern``.
    which = f"version {version}'s " if version is not None else ""
    return ApplicationError(
        "rule_timeout",
        f"{which}rule {error.index} exceeded the regex time limit on the transcript beginning "
        f"{error.text_sample!r}; simplify its pattern.",
        field=f"rules[{error.index}].pattern",
        details=[error.as_dict()],
    )


# ---------- versions ----------


def rule_set_list(*, project: Project) -> QuerySet[RuleSet]:
    """The project's versions, newest first."""
    return RuleSet.objects.filter(project=project).select_related("created_by").order_by("-version")


def rule_set_create(*, user, project_id: int, rules: Any, note: str = "") -> RuleSet:
    """Save ``rules`` as the project's next version (managers; transcription projects).

    400 ``invalid_rule`` naming the field (``rules[2].pattern``); 409 ``unchanged`` when they
    behave exactly like the newest version. Locks the project row while numbering, so two saves
    at once get consecutive versions (the unique constraint backs it)."""
    project = project_get_for_user(user=user, project_id=project_id, roles=EDITORS)
    _require_transcription(project)
    compiled = _compile(rules)
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise ApplicationError(
            "invalid", f"note is text of at most {NOTE_MAX} characters.", field="note"
        )
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        newest = RuleSet.objects.filter(project=project).order_by("-version").first()
        if newest is not None and newest.fingerprint == compiled.fingerprint:
            raise ConflictError(
                "unchanged",
                f"These rules behave exactly like version {newest.version}; nothing to save.",
                field="rules",
            )
        return RuleSet.objects.create(
            project=project,
            version=(newest.version if newest else 0) + 1,
            rules=rules,  # as sent, notes included; the fingerprint ignores notes
            fingerprint=compiled.fingerprint,
            note=note.strip(),
            created_by=user,
        )


# ---------- preview ----------


class _Layout:
    """Where each transcript sits in the items × slots table (see the module docstring)."""

    def __init__(self, items: np.ndarray, labelers: np.ndarray) -> None:
        self.order = np.lexsort((labelers, items))
        sorted_items = items[self.order]
        unique, self.row = np.unique(sorted_items, return_inverse=True)
        self.row = self.row.reshape(-1)
        first = np.searchsorted(sorted_items, unique)
        self.slot = np.arange(sorted_items.size) - first[self.row]
        widest = int(self.slot.max()) + 1 if self.slot.size else 0
        # At least two columns when two labelers exist, so "no item has two transcripts" is
        # reported as such rather than as "one labeler".
        self.width = max(widest, min(2, np.unique(labelers).size))
        self.n_items = unique.size

    def table(self, texts: list[str]) -> np.ndarray:
        out = np.full((self.n_items, self.width), None, dtype=object)
        column = np.empty(len(texts), dtype=object)
        column[:] = texts
        out[self.row, self.slot] = column[self.order]
        return out


def _figures(table: np.ndarray) -> tuple[dict[str, Any], Any]:
    """One side's agreement figures and its medoid consensus (each metric computed once)."""
    table = table.tolist()  # once: each metric would convert an array to lists again
    # One pass over the table and its within-item distances for all three metrics.
    computed = text_figures(table, alpha_distance="word", consensus="medoid")
    agreement, alpha, consensus = computed.agreement, computed.alpha, computed.consensus
    figures = {
        "exact_agreement": agreement.exact_agreement,
        "word_error_rate": agreement.wer_overall,
        "character_error_rate": agreement.cer_overall,
        "alpha": alpha.value,
        "alpha_distance": "word",
        "pairs": agreement.n_pairs,
        "items_compared": agreement.n_items,
        "reason": agreement.reason,
        "alpha_reason": alpha.reason,
    }
    return figures, consensus


def _active_rules(project: Project) -> RuleSet | None:
    if not project.rule_set_version:
        return None
    return RuleSet.objects.filter(project=project, version=project.rule_set_version).first()


def _content_key(
    project: Project, active: RuleSet | None, items: np.ndarray, labelers: np.ndarray, raw: list
) -> str:
    """A cache key that changes whenever the "before" side could: the active version's
    fingerprint and every current transcript (item, labeler, text; lengths keep the joined texts
    unambiguous). Hashing 100,000 transcripts takes a few milliseconds."""
    digest = hashlib.sha256()
    digest.update((active.fingerprint if active else "raw").encode())
    digest.update(items.tobytes())
    digest.update(labelers.tobytes())
    digest.update(np.fromiter(map(len, raw), dtype=np.int64, count=len(raw)).tobytes())
    digest.update("".join(raw).encode("utf-8", "surrogatepass"))
    return f"consensus:rules:before:{project.pk}:{digest.hexdigest()}"


def _before_side(
    project: Project,
    active: RuleSet | None,
    layout: _Layout,
    items: np.ndarray,
    labelers: np.ndarray,
    raw: list[str],
) -> tuple[dict[str, Any], np.ndarray]:
    """The figures of the transcripts as the project reads them now, and each item's medoid
    column. Cached by content (:func:`_content_key`): a manager trying rule after rule on the same
    transcripts pays for this side once; any new, withdrawn or moved transcript, or another
    active version, is another key, so a cached value is never stale."""
    key = _content_key(project, active, items, labelers, raw)
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        before_texts = transcript_normalizer(project)(raw)  # exactly as the report reads them
    except standardise.RuleTimeout as error:
        raise _timeout_error(error, version=project.rule_set_version) from None
    except standardise.RuleError as error:  # only if the engine changed since it was saved
        raise ApplicationError(
            "invalid_rule",
            f"The active version {project.rule_set_version} no longer compiles ({error}); "
            "activate another version.",
            field="rule_set_version",
        ) from None
    figures, consensus = _figures(layout.table(before_texts))
    value = (figures, np.asarray(consensus.labeler))
    cache.set(key, value, BEFORE_CACHE_SECONDS)
    return value


def rule_preview_warm(*, project: Project) -> None:
    """Compute and cache the preview's "before" side now (the report recompute of a transcription
    project calls it, in the worker), so a manager's first preview after new labels pays only
    for the candidate rules. Best effort: a failure is logged, never raised."""
    try:
        items, labelers, raw = transcript_rows(project=project)
        _before_side(
            project, _active_rules(project), _Layout(items, labelers), items, labelers, raw
        )
    except (ApplicationError, DatabaseError, standardise.RuleError, standardise.RuleTimeout):
        logger.warning("rule preview cache not warmed for project %s", project.pk, exc_info=True)


def rule_set_preview(*, user, project_id: int, rules: Any, sample: int = 20) -> dict[str, Any]:
    """What ``rules`` would do to the project's current transcripts; writes nothing.

    Returns the engine's preview (``total``, ``changed``, ``changed_share``, ``distinct_before``,
    ``distinct_after``, ``empty_after``, ``rule_changes``, ``samples``, ``warnings``) plus
    ``active_version``, ``items``, ``before``/``after`` figures and ``changed_items`` (module
    docstring). 400 naming the rule for invalid rules or a regex that runs out of time."""
    project = project_get_for_user(user=user, project_id=project_id, roles=PREVIEWERS)
    _require_transcription(project)
    candidate = _compile(rules)
    items, labelers, raw = transcript_rows(project=project)
    active = _active_rules(project)
    try:
        result = standardise.preview(candidate, raw, sample=sample)
    except standardise.RuleTimeout as error:
        raise _timeout_error(error) from None
    # As the report would read them once the candidate is active: its output, cleaned up.
    cleaned = {text: transcript_cleanup(out) for text, out in result.outputs.items()}
    after_texts = [cleaned[t] for t in raw]

    layout = _Layout(items, labelers)
    before, chosen = _before_side(project, active, layout, items, labelers, raw)
    after_table = layout.table(after_texts)
    after, after_consensus = _figures(after_table)
    # The transcript chosen before, as the candidate rewrites it, against the consensus after.
    rows = np.flatnonzero(chosen >= 0)
    changed_items = sum(
        1 for i in rows.tolist() if after_table[i, chosen[i]] != after_consensus.text[i]
    )
    return {
        **result.as_dict(),
        "active_version": project.rule_set_version,
        "items": layout.n_items,
        "before": before,
        "after": after,
        "changed_items": changed_items,
    }


# ---------- activation ----------


def _raw_rule_set(project: Project) -> RuleSet:
    """An unsaved stand-in for "no rules": version 0, the raw transcripts cleaned up."""
    return RuleSet(
        project=project,
        version=0,
        rules=[],
        fingerprint="",
        note="No rules: the raw transcripts, whitespace collapsed and trimmed.",
        activated_at=timezone.now(),
    )


def rule_set_activate(*, user, project_id: int, version: int) -> RuleSet:
    """Make ``version`` the project's active rule set (managers); 0 returns to the raw text.

    Locks the project row; one transaction: stores the normalised text of every non-withdrawn
    transcript of every round that has none for this version yet (batches of ``BATCH``), sets
    ``Project.rule_set_version`` and ``RuleSet.activated_at``, and asks for a recompute after
    commit. ``Annotation`` rows are only read. A regex timeout is 400 naming the rule and nothing
    is stored. Version 0 returns an unsaved stand-in (``version`` 0, no rules)."""
    project = project_get_for_user(user=user, project_id=project_id, roles=EDITORS)
    _require_transcription(project)
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        if version == 0:
            rule_set = _raw_rule_set(project)
        else:
            found = RuleSet.objects.filter(project=project, version=version).first()
            if found is None:
                raise NotFoundError(f"This project has no rule set version {version}.")
            rule_set = found
            compiled = _compile(rule_set.rules)
            if compiled.fingerprint != rule_set.fingerprint:
                # The engine's semantics changed since this version was saved (ENGINE_VERSION):
                # its stored rows and its new outputs would disagree.
                raise ConflictError(
                    "engine_changed",
                    f"The standardisation engine changed since version {version} was saved; "
                    "save these rules again as a new version and activate that.",
                    field="version",
                )
            _store_normalized(project, rule_set, compiled)
            rule_set.activated_at = timezone.now()
            rule_set.save(update_fields=["activated_at"])
        Project.objects.filter(pk=project.pk).update(rule_set_version=version)
        project_id = project.pk
        if version:
            transaction.on_commit(lambda: _catch_up(project_id, version))
        transaction.on_commit(lambda: report_recompute_enqueue(project_id))
    return rule_set


def _catch_up(project_id: int, version: int) -> None:
    """After an activation commits: store the transcripts committed while it ran.

    A transcript whose transaction committed after the activation read the annotations, but
    whose receiver looked up the active version before the activation committed, found the old
    version and was stored by neither. This pass runs after the activation's commit, so it sees
    every such transcript (one anti-join query; usually it inserts nothing)."""
    try:
        with transaction.atomic():
            project = Project.objects.get(pk=project_id)
            rule_set = RuleSet.objects.filter(project=project, version=version).first()
            if rule_set is None or project.rule_set_version != version:
                return
            _store_normalized(project, rule_set, _compile(rule_set.rules))
    except (ApplicationError, DatabaseError):
        logger.exception("rules: catch-up after activating v%s of project %s", version, project_id)


def _store_normalized(project: Project, rule_set: RuleSet, compiled: standardise.RuleSet) -> int:
    """Insert the missing NormalizedTranscript rows of ``rule_set``; returns how many."""
    stored = NormalizedTranscript.objects.filter(rule_set=rule_set).values("annotation_id")
    rows = list(
        Annotation.objects.filter(project=project, withdrawn=False)
        .exclude(pk__in=Subquery(stored))
        .values_list("pk", KT("value__text"))
        .order_by("pk")
    )
    try:
        texts = compiled.apply_many([transcript_text(text) for _, text in rows])
    except standardise.RuleTimeout as error:
        raise _timeout_error(error, version=rule_set.version) from None
    texts = [transcript_cleanup(text) for text in texts]
    for start in range(0, len(rows), BATCH):
        NormalizedTranscript.objects.bulk_create(
            [
                NormalizedTranscript(annotation_id=pk, rule_set=rule_set, text=text)
                for (pk, _), text in zip(
                    rows[start : start + BATCH], texts[start : start + BATCH], strict=True
                )
            ],
            # A transcript committed meanwhile may have been stored by the receiver.
            ignore_conflicts=True,
        )
    return len(rows)


# ---------- new transcripts ----------


def _task_type_key(project_id: int) -> str:
    return f"consensus:task_type:{project_id}"


def project_transcribes(*, project_id: int) -> bool:
    """Whether the project is a transcription project: a cache read, one query on a miss."""
    key = _task_type_key(project_id)
    task_type = cache.get(key)
    if task_type is None:
        task_type = (
            Project.objects.filter(pk=project_id).values_list("task_type", flat=True).first()
        )
        if task_type is None:
            return False
        cache.set(key, task_type, TASK_TYPE_CACHE_SECONDS)
    return task_type == TaskType.TRANSCRIPTION


#: Compiled rule sets by RuleSet pk (a version's rules never change), for the receiver: a
#: process compiles each active version once. Bounded: cleared when it grows past the limit.
_COMPILED: dict[int, standardise.RuleSet] = {}
_COMPILED_MAX = 256


def _compiled_version(rule_set_id: int) -> standardise.RuleSet | None:
    compiled = _COMPILED.get(rule_set_id)
    if compiled is None:
        rules = RuleSet.objects.filter(pk=rule_set_id).values_list("rules", flat=True).first()
        if rules is None:  # deleted with its project meanwhile
            return None
        compiled = standardise.compile_rules(rules)
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[rule_set_id] = compiled
    return compiled


def transcript_normalize(*, project_id: int, annotation_id: int) -> NormalizedTranscript | None:
    """Store a newly committed transcript's normalised text under the active version.

    One select (the text and the active version's RuleSet id; the compiled rules are cached per
    process) and, when a version is active, one insert (ignoring a row the activation stored).
    Runs after the label committed: a database error or a regex timeout is logged and the
    transcript keeps no row for now — activating the version again fills in missing rows."""
    active = RuleSet.objects.filter(
        project_id=OuterRef("project_id"), version=OuterRef("project__rule_set_version")
    ).values("pk")[:1]
    try:
        row = (
            Annotation.objects.filter(pk=annotation_id, project_id=project_id, withdrawn=False)
            .annotate(active_rule_set=Subquery(active))
            .values_list(KT("value__text"), "active_rule_set")
            .first()
        )
        if row is None or row[1] is None:
            return None
        text, rule_set_id = row
        compiled = _compiled_version(rule_set_id)
        if compiled is None:
            return None
        normalized = transcript_cleanup(compiled.apply(transcript_text(text)))
        created = NormalizedTranscript.objects.bulk_create(
            [
                NormalizedTranscript(
                    annotation_id=annotation_id, rule_set_id=rule_set_id, text=normalized
                )
            ],
            ignore_conflicts=True,
        )
        return created[0]
    except (standardise.RuleTimeout, standardise.RuleError) as error:
        logger.warning(
            "rules: transcript %s not normalised (%s); activate the version again to retry",
            annotation_id,
            error,
        )
    except DatabaseError:
        logger.exception("rules: transcript %s not normalised", annotation_id)
    return None
