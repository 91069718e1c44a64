"""Pages. Thin template views over the annotations and consensus selectors; the labeling page
talks to the REST API from ``static/frontend/label.js``, so its rules live in one place (the
services). The consistency dashboard is drawn on the server from the newest report
(``frontend.charts`` turns its JSON into numbers, colours and SVG geometry)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Left
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.models import Project, Role, TaskType
from annotations.selectors import (
    SEES_LABELS,
    LabelerProgress,
    item_list,
    label_class_list,
    labeler_progress,
    project_get_for_user,
    project_list_for_user,
)
from consensus.selectors import report_state
from frontend import charts
from labelhub.errors import ForbiddenError, NotFoundError


class LoginView(auth_views.LoginView):
    template_name = "frontend/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default): a GET link could log people out from another site."""


@dataclass(frozen=True)
class ProjectCard:
    """One row of "My projects": the project, the user's role and progress in it."""

    project: Project
    progress: LabelerProgress

    @property
    def can_label(self) -> bool:
        return self.project.my_role == Role.LABELER

    @property
    def can_review(self) -> bool:
        """Sees agreement figures (the consistency dashboard); labelers never do."""
        return self.project.my_role in SEES_LABELS

    @property
    def role_label(self) -> str:
        return Role(self.project.my_role).label

    @property
    def percent_complete(self) -> int:
        total = self.progress.items_total
        done = total - self.progress.items_open
        return round(100 * done / total) if total else 0


@login_required
def home(request: HttpRequest) -> HttpResponse:
    # Two small counts per project: a person is a member of a handful of projects, not hundreds.
    cards = [
        ProjectCard(project=project, progress=labeler_progress(project=project, user=request.user))
        for project in project_list_for_user(user=request.user)
    ]
    return render(request, "frontend/home.html", {"cards": cards})


def page_project(
    request: HttpRequest,
    project_id: int,
    *,
    roles: Iterable[str] | None = None,
    refused: str = "",
) -> Project:
    """The one access funnel (``project_get_for_user``) mapped to page errors: non-members 404,
    members whose role is not in ``roles`` 403 with ``refused`` as the reason."""
    try:
        return project_get_for_user(user=request.user, project_id=project_id, roles=roles)
    except NotFoundError as error:
        raise Http404(error.message) from error
    except ForbiddenError as error:
        raise PermissionDenied(refused) from error


def _labeling_project(request: HttpRequest, project_id: int) -> Project:
    """Labelers only: other roles 403."""
    return page_project(
        request,
        project_id,
        roles=(Role.LABELER,),
        refused="Only the project's labelers can open the labeling page.",
    )


#: Stands for an id in URL templates handed to the scripts; no real row reaches it soon.
URL_ID = 2_147_483_647


def _page_config(project: Project, progress: LabelerProgress) -> dict[str, Any]:
    """Everything label.js needs, handed over in a ``json_script`` tag (escaped for HTML)."""
    classes = label_class_list(project=project).values("key", "name", "kind", "hotkey", "order")
    return {
        "project": {"id": project.pk, "name": project.name},
        "task_type": project.task_type,
        "transcript_tokens": list(project.transcript_tokens or []),
        "allow_empty_transcripts": project.allow_empty_transcripts,
        "classes": list(classes),
        "instructions": project.instructions,
        "progress": {
            "my_labels": progress.my_labels,
            "items_total": progress.items_total,
            "items_open": progress.items_open,
        },
        "urls": {
            "next": reverse("api:project-next", kwargs={"project_id": project.pk}),
            "progress": reverse("api:project-progress", kwargs={"project_id": project.pk}),
            "submit": reverse("api:annotation-submit"),
            # Templates for ids known only in the browser; label.js puts the id in.
            "withdraw": reverse("api:annotation-withdraw", kwargs={"annotation_id": URL_ID}),
            "skip": reverse("api:item-skip", kwargs={"item_id": URL_ID}),
            "id_placeholder": str(URL_ID),
            "home": reverse("frontend:home"),
            "login": reverse("frontend:login"),
        },
    }


@login_required
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _labeling_project(request, project_id)
    progress = labeler_progress(project=project, user=request.user)
    context = {
        "project": project,
        "config": _page_config(project, progress),
        # The transcript box, player and their keys (transcribe.js) instead of class buttons.
        "is_transcription": project.task_type == TaskType.TRANSCRIPTION,
    }
    return render(request, "frontend/label.html", context)


#: Who may ask for a fresh report (the recompute API allows the same roles).
RECOMPUTES = (Role.MANAGER, Role.ENGINEER)


def _reviewing_project(request: HttpRequest, project_id: int) -> Project:
    """The access funnel for agreement figures: non-members 404, labelers 403."""
    return page_project(
        request,
        project_id,
        roles=SEES_LABELS,
        refused="Agreement figures are for reviewers, engineers and managers of the project.",
    )


def _top_items(project: Project, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The disputed items' external ids, whether a thumbnail is stored, and a text excerpt."""
    rows = (
        item_list(project=project)
        .filter(pk__in=item_ids)
        .values("pk", "external_id", "thumbnail", excerpt=Left("text", 140))
    )
    return {row["pk"]: row for row in rows}


@login_required
def consistency(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _reviewing_project(request, project_id)
    state = report_state(project=project)
    report = state.report
    dashboard = None
    if report is not None:
        names = dict(label_class_list(project=project).values_list("key", "name"))
        items = _top_items(project, charts.top_item_ids(report))
        dashboard = charts.dashboard(report, class_names=names, items=items)
    kwargs = {"project_id": project.pk}
    config = {
        "stale": state.stale,
        "recomputing": state.recomputing,
        "version": report.version if report else None,
        "urls": {
            "state": reverse("consensus-api:consistency", kwargs=kwargs),
            "recompute": reverse("consensus-api:consistency-recompute", kwargs=kwargs),
        },
    }
    context = {
        "project": project,
        "state": state,
        "report": report,
        "dash": dashboard,
        "can_recompute": project.my_role in RECOMPUTES,
        "round": report.round if report else project.current_round,
        "alpha_good": charts.ALPHA_GOOD,
        "alpha_tentative": charts.ALPHA_TENTATIVE,
        "config": config,
    }
    return render(request, "frontend/consistency.html", context)
