"""Class merges: preview, apply, undo — taxonomy versions over immutable raw labels.

A merge (``deep_scratch`` + ``shallow_scratch`` → ``scratch``) never touches an annotation. It
is a ``ClassMerge`` row; ``LabelClass.merged_into`` is derived from the active merges (replayed in
order and flattened, so it always names the final target) and every read maps labels through it:
the report, item consensus, the queue, the export, the error analysis. Each merge or undo writes
the next ``TaxonomyVersion`` (a snapshot of the mapping) and asks for a recompute, so the report
is always computed under the current version and says which (``taxonomy_version``).

Rules (400/409 naming the field): at least one source; the target is not among the sources
(``merge_into_itself``); every class belongs to the project (``unknown_class``: another
project's class is unknown here); a source is not merged already (``already_merged``); the target
is not merged into another class (``target_merged``: merge into that one instead). Together they
rule out cycles: a target is always a class that counts as itself. A target key that does not
exist yet is created (the merge's undo leaves it, then unused, in place only if labels were given
to it meanwhile).

What-if preview (:func:`class_merge_preview`)
    Reads the project's labels once (as the report does), computes the report's overall, per-class
    and per-slice coefficients and each item's consensus before, remaps the class codes in memory
    and computes them again. ``changed_items`` counts items whose consensus after differs from
    their consensus before mapped through the merge (an item that was ``deep_scratch`` and is
    now ``scratch`` has not changed; one that was ``clean`` on a 1–1–1 split and is now
    ``scratch`` has). Nothing is written.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotations.models import Annotation, ClassKind, Item, LabelClass, Project, Role
from annotations.selectors import SEES_LABELS, project_get_for_user
from annotations.services.projects import ClassSpec, label_class_create
from consensus.data import ProjectLabels, project_labels_load
from consensus.models import (
    ClassMerge,
    GuidelineExample,
    ItemConsensus,
    Prediction,
    ReviewDecision,
    TaxonomyVersion,
)
from consensus.selectors import report_state
from consensus.services.reports import Coefficients, report_coefficients
from consensus.tasks import report_recompute_enqueue
from labelhub.errors import ApplicationError, ConflictError, NotFoundError

MERGERS = (Role.MANAGER,)
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclasses.dataclass(frozen=True)
class MergePlan:
    project: Project
    sources: list[LabelClass]
    target: LabelClass | None  # None: a new class with key ``target_key``
    target_key: str
    target_name: str


def _keys(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApplicationError("invalid", f"{field} must be a list of class keys.", field=field)
    return [v.strip() for v in value]


def merge_plan(*, project: Project, sources: Any, target: Any, target_name: str = "") -> MergePlan:
    """Validate a merge request against the project's classes (see the module's rules)."""
    source_keys = _keys(sources, "sources")
    if not source_keys:
        raise ApplicationError("invalid", "Name at least one class to merge.", field="sources")
    if len(set(source_keys)) != len(source_keys):
        raise ApplicationError("invalid", "A class is named twice in sources.", field="sources")
    if not isinstance(target, str) or not target.strip():
        raise ApplicationError("invalid", "target must be a class key.", field="target")
    target_key = target.strip()
    if target_key in source_keys:
        raise ApplicationError(
            "merge_into_itself", f"{target_key!r} cannot be merged into itself.", field="target"
        )
    classes = {c.key: c for c in LabelClass.objects.filter(project=project)}
    unknown = [k for k in source_keys if k not in classes]
    if unknown:
        raise ApplicationError(
            "unknown_class",
            f"This project has no class {unknown[0]!r}.",
            field="sources",
        )
    chosen = [classes[k] for k in source_keys]
    merged = [c for c in chosen if c.merged_into_id is not None]
    if merged:
        into = next(c.key for c in classes.values() if c.pk == merged[0].merged_into_id)
        raise ConflictError(
            "already_merged",
            f"{merged[0].key!r} is merged into {into!r} already; undo that merge first.",
            field="sources",
        )
    existing = classes.get(target_key)
    if existing is not None and existing.merged_into_id is not None:
        into = next(c.key for c in classes.values() if c.pk == existing.merged_into_id)
        raise ApplicationError(
            "target_merged",
            f"{target_key!r} is merged into {into!r}: merge into {into!r} instead.",
            field="target",
        )
    if existing is None and not _KEY.match(target_key):
        raise ApplicationError(
            "invalid",
            "A new target class key takes lowercase letters, digits, - and _ (64 at most).",
            field="target",
        )
    if existing is not None and existing.kind == ClassKind.BORDERLINE:
        raise ApplicationError(
            "invalid", "Merge into a class, not into the borderline class.", field="target"
        )
    return MergePlan(
        project=project,
        sources=chosen,
        target=existing,
        target_key=target_key,
        target_name=(target_name or "").strip()[:120],
    )


# ---------- the what-if preview ----------


def _remapped(labels: ProjectLabels, plan: MergePlan) -> tuple[ProjectLabels, np.ndarray]:
    """``labels`` with the sources' codes counted as the target's; and the old → new code map."""
    keys = labels.class_keys
    gone = {keys.index(c.key) for c in plan.sources}
    kept = [code for code in range(len(keys)) if code not in gone]
    new_keys = [keys[code] for code in kept]
    new_ids = [int(labels.class_ids[code]) for code in kept]
    kinds = labels.class_kinds or ["normal"] * len(keys)
    new_kinds = [kinds[code] for code in kept]
    if plan.target is None:  # a new class, placed last
        new_keys.append(plan.target_key)
        new_ids.append(-1)
        new_kinds.append(ClassKind.NORMAL)
    target_code = new_keys.index(plan.target_key)
    remap = np.empty(len(keys), dtype=np.float64)
    for new_code, old_code in enumerate(kept):
        remap[old_code] = new_code
    for code in gone:
        remap[code] = target_code

    def apply(codes: np.ndarray) -> np.ndarray:
        out = np.full(codes.shape, np.nan)
        has = ~np.isnan(codes)
        out[has] = remap[codes[has].astype(np.int64)]
        return out

    history = labels.history
    if history is not None:
        history = dataclasses.replace(
            history,
            label=remap[history.label].astype(np.int64) if history.label.size else history.label,
        )
    after = dataclasses.replace(
        labels,
        class_keys=new_keys,
        class_ids=np.array(new_ids, dtype=np.int64),
        class_kinds=new_kinds,
        matrix=apply(labels.matrix),
        gold=apply(labels.gold),
        history=history,
    )
    return after, remap


def _figures(core: Coefficients) -> dict[str, Any]:
    return {"overall": core.overall, "per_class": core.per_class, "per_slice": core.per_slice}


def _before(project: Project, labels: ProjectLabels) -> tuple[dict[str, Any], np.ndarray]:
    """The figures and consensus codes before the merge. When the newest report is fresh (no
    label, withdrawal, round or merge since), they are the ones it stored — the same function of
    the same labels, so equal to recomputing them — which halves the preview's time; else they
    are computed here."""
    state = report_state(project=project)
    report = state.report
    if (
        report is None
        or state.stale
        or report.taxonomy_version != project.taxonomy_version
        or report.high_water_mark != labels.high_water_mark
    ):
        core = report_coefficients(labels)
        return _figures(core), core.consensus
    rows = list(
        ItemConsensus.objects.filter(project=project).values_list("item_id", "label_id", "round")
    )
    consensus = np.full(labels.item_ids.size, np.nan)
    if rows:
        ids = np.array([i for i, _, _ in rows], dtype=np.int64)
        label = np.array([-1 if c is None else c for _, c, _ in rows], dtype=np.int64)
        rounds = np.array([r for _, _, r in rows], dtype=np.int64)
        at = np.searchsorted(labels.item_ids, ids)
        ok = (at < labels.item_ids.size) & (label >= 0)
        ok[ok] &= labels.item_ids[at[ok]] == ids[ok]
        ok[ok] &= rounds[ok] == labels.item_round[at[ok]]
        consensus[at[ok]] = _class_codes(labels, label[ok])
    figures = {
        "overall": report.overall,
        "per_class": report.per_class,
        "per_slice": report.per_slice,
    }
    return figures, consensus


def _class_codes(labels: ProjectLabels, class_ids: np.ndarray) -> np.ndarray:
    """Codes of live class ids in ``labels`` (stored consensus names live classes only)."""
    order = np.argsort(labels.class_ids)
    at = np.searchsorted(labels.class_ids[order], class_ids)
    at = np.clip(at, 0, max(labels.class_ids.size - 1, 0))
    found = labels.class_ids[order][at] == class_ids
    return np.where(found, order[at], np.nan)


def class_merge_preview(*, user, project_id: int, sources: Any, target: Any) -> dict[str, Any]:
    """Agreement before → after the merge and how many items' consensus would change; writes
    nothing. Reviewers, engineers and managers may ask."""
    project = project_get_for_user(user=user, project_id=project_id, roles=SEES_LABELS)
    plan = merge_plan(project=project, sources=sources, target=target)
    labels = project_labels_load(project=project)
    before_figures, before_consensus = _before(project, labels)
    merged, remap = _remapped(labels, plan)
    after = report_coefficients(merged)
    mapped = np.full(before_consensus.shape, np.nan)
    has = np.isfinite(before_consensus)
    mapped[has] = remap[before_consensus[has].astype(np.int64)]
    both = np.isfinite(mapped) & np.isfinite(after.consensus)
    changed = int(np.count_nonzero(both & (mapped != after.consensus)))
    source_codes = [labels.class_keys.index(c.key) for c in plan.sources]
    affected = int(np.count_nonzero(np.isin(labels.matrix, source_codes)))
    return {
        "sources": [c.key for c in plan.sources],
        "target": plan.target_key,
        "creates_target": plan.target is None,
        "taxonomy_version": project.taxonomy_version,
        "labels_remapped": affected,
        "items": int(labels.item_ids.size),
        "changed_items": changed,
        "before": before_figures,
        "after": _figures(after),
    }


# ---------- applying and undoing ----------


def _rebuild_merged_into(project: Project) -> dict[str, str]:
    """Derive every class's ``merged_into`` from the active merges, replayed in creation order
    and flattened to final targets; returns the mapping (source key → target key)."""
    classes = {c.pk: c for c in LabelClass.objects.filter(project=project)}
    into: dict[int, int] = {}
    merges = ClassMerge.objects.filter(project=project, undone_at__isnull=True).order_by("id")
    for merge in merges.prefetch_related("sources"):
        for source in merge.sources.all():
            into[source.pk] = merge.target_id
    resolved: dict[int, int] = {}
    for class_id in into:
        seen, final = {class_id}, into[class_id]
        while final in into and final not in seen:
            seen.add(final)
            final = into[final]
        resolved[class_id] = final
    changed = []
    for class_id, label_class in classes.items():
        wanted = resolved.get(class_id)
        if label_class.merged_into_id != wanted:
            label_class.merged_into_id = wanted
            changed.append(label_class)
    LabelClass.objects.bulk_update(changed, ["merged_into"])
    return {classes[s].key: classes[t].key for s, t in sorted(resolved.items())}


def _taxonomy_begin(project: Project, user, change: str) -> TaxonomyVersion:
    """Number the next version (the project row is locked); its mapping is filled by
    :func:`_taxonomy_finish` once the merge rows say what it is."""
    number = (
        TaxonomyVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0
    ) + 1
    return TaxonomyVersion.objects.create(
        project=project, number=number, mapping={}, change=change[:200], created_by=user
    )


def _taxonomy_finish(project: Project, taxonomy: TaxonomyVersion) -> None:
    taxonomy.mapping = _rebuild_merged_into(project)
    taxonomy.save(update_fields=["mapping"])
    Project.objects.filter(pk=project.pk).update(taxonomy_version=taxonomy.number)
    project.taxonomy_version = taxonomy.number


def class_merge_apply(
    *, user, project_id: int, sources: Any, target: Any, target_name: str = ""
) -> ClassMerge:
    """Merge ``sources`` into ``target`` (managers): a new taxonomy version, then a recompute.

    Locks the project row, so merges and undos of one project are numbered one after another."""
    project = project_get_for_user(user=user, project_id=project_id, roles=MERGERS)
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        plan = merge_plan(project=project, sources=sources, target=target, target_name=target_name)
        target_class = plan.target or label_class_create(
            project=project,
            spec=ClassSpec(key=plan.target_key, name=plan.target_name, hotkey=""),
        )
        names = ", ".join(c.key for c in plan.sources)
        taxonomy = _taxonomy_begin(project, user, f"merge: {names} → {target_class.key}")
        merge = ClassMerge.objects.create(
            project=project,
            target=target_class,
            target_key=target_class.key,
            created_target=plan.target is None,
            taxonomy=taxonomy,
            created_by=user,
        )
        merge.sources.set(plan.sources)
        _taxonomy_finish(project, taxonomy)
        transaction.on_commit(lambda: report_recompute_enqueue(project.pk))
    return merge


def _in_use(label_class: LabelClass) -> bool:
    """Whether anything names the class: a label, a gold label, a decision, a prediction, a
    guideline example, an alias, or an active merge (as target or as a merged source's target)."""
    return (
        Annotation.objects.filter(label=label_class).exists()
        or Item.objects.filter(gold_label=label_class).exists()
        or ReviewDecision.objects.filter(label=label_class).exists()
        or Prediction.objects.filter(label=label_class).exists()
        or GuidelineExample.objects.filter(label=label_class).exists()
        or label_class.aliases.exists()
        or ClassMerge.objects.filter(target=label_class, undone_at__isnull=True).exists()
    )


def class_merge_undo(*, user, project_id: int, merge_id: int) -> ClassMerge:
    """Undo a merge (managers): its sources count as themselves again, in a new taxonomy version.
    A target the merge created is deleted again when nothing names it (no label was given to it
    meanwhile); else it stays a class of its own."""
    project = project_get_for_user(user=user, project_id=project_id, roles=MERGERS)
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        merge = ClassMerge.objects.filter(project=project, pk=merge_id).first()
        if merge is None:
            raise NotFoundError("Merge not found.")
        if merge.undone_at is not None:
            raise ConflictError("already_undone", "This merge was undone already.")
        taxonomy = _taxonomy_begin(project, user, f"undo merge {merge.pk}")
        merge.undone_at = timezone.now()
        merge.undone_by = user
        merge.undo_taxonomy = taxonomy
        merge.save(update_fields=["undone_at", "undone_by", "undo_taxonomy"])
        _taxonomy_finish(project, taxonomy)
        target = merge.target
        if merge.created_target and target is not None and not _in_use(target):
            target.delete()  # the merge keeps its name in target_key
        transaction.on_commit(lambda: report_recompute_enqueue(project.pk))
    return merge


def class_merge_list(*, project: Project) -> Sequence[ClassMerge]:
    return (
        ClassMerge.objects.filter(project=project)
        .select_related("target", "taxonomy", "undo_taxonomy", "created_by", "undone_by")
        .prefetch_related("sources")
        .order_by("-id")
    )
