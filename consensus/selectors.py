"""Read queries of the consistency domain."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from annotations.models import Annotation, Project
from consensus.models import ConsistencyReport, ItemConsensus
from consensus.services.recompute import recompute_is_running, requested_version


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
    """The newest complete report of the project's current round (reports are written whole)."""
    return (
        ConsistencyReport.objects.filter(project=project, round=project.current_round)
        .order_by("-version")
        .first()
    )


def report_state(*, project: Project) -> ReportState:
    newest = (
        Annotation.objects.filter(project=project, round=project.current_round, withdrawn=False)
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
    """Items' consensus; ``disagreement`` puts the most disputed (lowest majority share) first."""
    rows = ItemConsensus.objects.filter(
        project=project, round=project.current_round
    ).select_related("item", "label")
    if order in {"disagreement", "confidence"}:
        rows = rows.filter(n_labels__gte=2 if order == "disagreement" else 1)
    return rows.order_by(*ITEM_ORDERS[order])
