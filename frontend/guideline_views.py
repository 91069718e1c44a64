"""The guidelines page: a project's labeling guideline, every version newest first, and for
reviewers and managers a form to publish the next version.

Every member may read it (labelers acknowledge versions here too); non-members get 404. The form
posts to the REST API from ``static/frontend/guidelines.js`` (``GuidelineListApi`` →
``guideline_publish``), so publishing has one set of rules. Labelers see the guideline text and its
examples, but not the review decisions a version answers: a decision's reason is an SME's note
about a disputed item and may quote other labelers' labels (labeling is blind).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.models import Membership, Project, Role
from annotations.selectors import SEES_LABELS, label_class_list
from consensus.models import DecisionOutcome, ReviewDecision
from consensus.selectors import guideline_list
from frontend.views import page_project

#: Who publishes guideline versions (the API allows the same roles: ``review_views.DECIDERS``).
PUBLISHERS = (Role.REVIEWER, Role.MANAGER)

#: The most open decisions listed in the form (newest first); the form links only those it
#: lists and ticks, so older ones stay open for a later version.
OPEN_DECISIONS_SHOWN = 200

#: Stands for a version number in the acknowledge URL handed to guidelines.js.
_VERSION = 2_147_483_647


def open_ambiguity_decisions(*, project: Project) -> QuerySet[ReviewDecision]:
    """Current "instructions ambiguous" decisions no guideline version answers yet, newest
    first: the ones the next version may be linked to (``guideline_publish(decision_ids=...)``).

    A read query over the consensus models, kept beside its only caller; it belongs in
    ``consensus/selectors.py`` once another caller needs it.
    """
    return (
        ReviewDecision.objects.filter(
            project=project,
            outcome=DecisionOutcome.INSTRUCTIONS_AMBIGUOUS,
            current=True,
            guideline__isnull=True,
        )
        .select_related("item", "decided_by")
        .order_by("-decided_at", "-id")
    )


def acknowledged_version(*, project: Project, user: Any) -> int:
    """The newest guideline version ``user`` has acknowledged in ``project`` (0: none)."""
    version = (
        Membership.objects.filter(project=project, user=user)
        .values_list("guideline_acknowledged", flat=True)
        .first()
    )
    return version or 0


def _member_project(request: HttpRequest, project_id: int) -> Project:
    """Any member may read the guidelines; everyone else gets 404 (existence does not leak)."""
    return page_project(request, project_id)


def _example_rows(version: Any) -> list[dict[str, Any]]:
    """The form's example rows, prefilled from the current version (they carry over unless
    removed): item id, class key, is / is not, note."""
    if version is None:
        return []
    return [
        {"item": e.item_id, "label": e.label.key, "is_example": e.is_example, "note": e.note}
        for e in version.examples.all()
    ]


@login_required
def guidelines(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _member_project(request, project_id)
    role = project.my_role
    sees_decisions = role in SEES_LABELS
    versions_query = guideline_list(project=project)
    if sees_decisions:
        # Linked decisions show their item's external id.
        versions_query = versions_query.prefetch_related("decisions__item")
    versions = list(versions_query)
    current = versions[0] if versions else None
    can_publish = role in PUBLISHERS
    is_labeler = role == Role.LABELER
    # Only labelers must acknowledge (it gates labeling); the page offers it to them.
    needs_acknowledging = (
        is_labeler
        and current is not None
        and acknowledged_version(project=project, user=request.user) < current.version
    )
    open_decisions = []
    if can_publish:
        open_decisions = list(open_ambiguity_decisions(project=project)[:OPEN_DECISIONS_SHOWN])
    kwargs = {"project_id": project.pk}
    config = {
        "can_publish": can_publish,
        "current_version": project.guideline_version,
        "classes": list(label_class_list(project=project).values("key", "name")),
        "examples": _example_rows(current),
        "urls": {
            "guidelines": reverse("consensus-api:guidelines", kwargs=kwargs),
            "acknowledge": reverse(
                "consensus-api:guideline-acknowledge",
                kwargs={"project_id": project.pk, "version": _VERSION},
            ),
            "version_placeholder": str(_VERSION),
            "page": reverse("frontend:guidelines", kwargs=kwargs),
        },
    }
    context = {
        "project": project,
        "versions": versions,
        "current": current,
        "can_publish": can_publish,
        "sees_decisions": sees_decisions,
        "is_labeler": is_labeler,
        "needs_acknowledging": needs_acknowledging,
        "open_decisions": open_decisions,
        # The text a new version starts from: the current guideline, else the project's
        # free-text instructions (what labelers read before any guideline existed).
        "draft_body": current.body if current else project.instructions,
        "next_version": project.guideline_version + 1,
        "published": request.GET.get("published", ""),
        "config": config,
    }
    return render(request, "frontend/guidelines.html", context)
