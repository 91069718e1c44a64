"""Read queries of the consistency domain."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, QuerySet, Subquery

from annotations.models import Annotation, LabelClass, Project
from annotations.selectors import project_get_for_user
from consensus.models import (
    Comment,
    ConsistencyReport,
    DecisionOutcome,
    GuidelineVersion,
    ItemConsensus,
    ModelRun,
    Notification,
    ReviewDecision,
)
from consensus.services.recompute import recompute_is_running, requested_version
from labelhub.errors import ApplicationError, NotFoundError


@dataclass(frozen=True)
class ReportState:
    """The newest report of a project (or None) and whether a newer one is due or running.

    Stale when a newer report was requested, or when a label newer than the report's high-water
    mark exists (which also catches requests lost with a flushed cache).
    """

    report: ConsistencyReport | None
    requested_version: int
    recomputing: bool
    newest_annotation_id: int

    @property
    def stale(self) -> bool:
        return (
            self.report is None
            or self.report.version < self.requested_version
            or self.report.high_water_mark < self.newest_annotation_id
        )


def report_latest(*, project: Project) -> ConsistencyReport | None:
    """The newest complete report of the project (reports are written whole)."""
    return ConsistencyReport.objects.filter(project=project).order_by("-version").first()


def report_state(*, project: Project) -> ReportState:
    newest = (
        Annotation.objects.filter(project=project, withdrawn=False)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return ReportState(
        report=report_latest(project=project),
        requested_version=requested_version(project.pk),
        recomputing=recompute_is_running(project.pk),
        newest_annotation_id=newest or 0,
    )


ITEM_ORDERS = {
    "disagreement": ("majority_share", "item_id"),
    "confidence": ("confidence", "item_id"),
    "item": ("item_id",),
}


def item_consensus_list(*, project: Project, order: str = "disagreement") -> QuerySet:
    """Items' consensus in their current round; ``disagreement`` puts the most disputed (lowest
    majority share) first. ``decision_label`` / ``decision_outcome`` carry a current review
    decision of that round, which overrides the computed label (method ``reviewed``)."""
    decision = ReviewDecision.objects.filter(
        item=OuterRef("item_id"), round=OuterRef("round"), current=True
    )
    rows = (
        ItemConsensus.objects.filter(project=project)
        .select_related("item", "label")
        .annotate(
            decision_outcome=Subquery(decision.values("outcome")[:1]),
            decision_label=Subquery(decision.values("label__key")[:1]),
        )
    )
    if order in {"disagreement", "confidence"}:
        rows = rows.filter(n_labels__gte=2 if order == "disagreement" else 1)
    return rows.order_by(*ITEM_ORDERS[order])


def decision_history(*, item_id: int) -> QuerySet[ReviewDecision]:
    """Every decision on the item, newest first."""
    return (
        ReviewDecision.objects.filter(item_id=item_id)
        .select_related("label", "decided_by", "guideline")
        .order_by("-revision")
    )


def comment_list(*, item_id: int) -> QuerySet[Comment]:
    return (
        Comment.objects.filter(item_id=item_id)
        .select_related("author")
        .prefetch_related("mentions", "revisions")
        .order_by("id")
    )


def guideline_list(*, project: Project) -> QuerySet[GuidelineVersion]:
    """Published versions, newest first, with their examples and linked decisions."""
    return (
        GuidelineVersion.objects.filter(project=project)
        .select_related("created_by")
        .prefetch_related("examples__label", "examples__item", "decisions")
        .order_by("-version")
    )


def labeler_reliability(*, project: Project) -> dict[int, dict]:
    """Per labeler id, their figures from the newest report (agreement with others, gold
    accuracy, Dawid–Skene accuracy); empty before the first report."""
    rows = (
        ConsistencyReport.objects.filter(project=project)
        .order_by("-version")
        .values_list("per_labeler", flat=True)
        .first()
    )
    keys = ("agreement_with_others", "gold_accuracy", "dawid_skene_accuracy", "labels")
    return {r["labeler_id"]: {k: r.get(k) for k in keys} for r in rows or []}


def item_labels(*, item_id: int) -> list[dict]:
    """Every active label of the item in every round, newest round first (reviewers only)."""
    rows = (
        Annotation.objects.filter(item_id=item_id, withdrawn=False)
        .order_by("-round", "id")
        .values_list(
            "id",
            "round",
            "labeler_id",
            "labeler__username",
            "label__key",
            "created_at",
            "guideline_version",
            "time_spent_ms",
            "value",
        )
    )
    names = ("id", "round", "labeler_id", "labeler", "label", "created_at", "guideline_version")
    result = []
    for r in rows:
        entry = {**dict(zip(names, r, strict=False)), "time_spent_ms": r[7]}
        text = r[8].get("text") if isinstance(r[8], dict) else None
        if isinstance(text, str):  # a transcript: shown where a class key would be
            entry["text"] = text
            entry["label"] = text
        result.append(entry)
    return result


def notification_list(*, user_id: int, unread_only: bool = False) -> QuerySet[Notification]:
    rows = Notification.objects.filter(user_id=user_id).select_related(
        "project", "item", "comment__author"
    )
    if unread_only:
        rows = rows.filter(read_at=None)
    return rows.order_by("-id")


def notification_unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at=None).count()


def input_issue_list(*, project: Project) -> QuerySet[ReviewDecision]:
    """Items whose current decision says the input lacks information: for the data owner."""
    return (
        ReviewDecision.objects.filter(
            project=project, current=True, outcome=DecisionOutcome.INPUT_INSUFFICIENT
        )
        .select_related("item", "decided_by")
        .order_by("-decided_at")
    )


def model_run_get_for_user(*, user, run_id: int, roles=None, with_count: bool = False) -> ModelRun:
    """A model run reached by id, through its project's access rules (404 for non-members,
    403 for a role not in ``roles``); ``run.project`` carries ``my_role``. ``with_count`` adds
    ``n_predictions`` (a count over the run's predictions: 0.1 s at a million, so only when
    shown)."""
    project_id = ModelRun.objects.filter(pk=run_id).values_list("project_id", flat=True).first()
    if project_id is None:
        raise NotFoundError("Model run not found.")
    try:
        project = project_get_for_user(user=user, project_id=project_id, roles=roles)
    except NotFoundError:
        raise NotFoundError("Model run not found.") from None
    runs = ModelRun.objects.all()
    if with_count:
        runs = runs.annotate(n_predictions=Count("predictions"))
    run = runs.get(pk=run_id)
    run.project = project
    return run


def model_run_list(*, project: Project) -> QuerySet[ModelRun]:
    return (
        ModelRun.objects.filter(project=project)
        .select_related("created_by")
        .annotate(n_predictions=Count("predictions"))
        .order_by("-created_at", "-id")
    )


def item_ids_labeled(*, project: Project, class_key: str) -> list[int]:
    """Items whose label in their current round is ``class_key``: the stored consensus (labels of
    classes merged into it count as it), unless a current SME label decision says otherwise.
    400 naming ``labeled`` for a class the project lacks."""
    target = LabelClass.objects.filter(project=project, key=class_key).first()
    if target is None:
        raise ApplicationError(
            "unknown_class", f"This project has no class {class_key!r}.", field="labeled"
        )
    counts_as = {target.pk, *target.merged_sources.values_list("pk", flat=True)}
    labeled = set(
        ItemConsensus.objects.filter(
            project=project, round=F("item__round"), label_id__in=counts_as
        ).values_list("item_id", flat=True)
    )
    decided = ReviewDecision.objects.filter(
        project=project, current=True, outcome=DecisionOutcome.LABEL, round=F("item__round")
    ).values_list("item_id", "label_id")
    for item_id, label_id in decided:
        if label_id in counts_as:
            labeled.add(item_id)
        else:
            labeled.discard(item_id)
    return sorted(labeled)
