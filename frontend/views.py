"""Pages. Thin template views over the annotations selectors; the labeling page itself talks to
the REST API from ``static/frontend/label.js``, so its rules live in one place (the services)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.models import Project, Role
from annotations.selectors import (
    LabelerProgress,
    label_class_list,
    labeler_progress,
    project_get_for_user,
    project_list_for_user,
)
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


def _labeling_project(request: HttpRequest, project_id: int) -> Project:
    """The one access funnel, mapped to page errors: non-members 404, other roles 403."""
    try:
        return project_get_for_user(user=request.user, project_id=project_id, roles=(Role.LABELER,))
    except NotFoundError as error:
        raise Http404(error.message) from error
    except ForbiddenError as error:
        raise PermissionDenied("Only the project's labelers can open the labeling page.") from error


#: Stands for an id in URL templates handed to label.js; no real row reaches it soon.
_ID = 2_147_483_647


def _page_config(project: Project, progress: LabelerProgress) -> dict[str, Any]:
    """Everything label.js needs, handed over in a ``json_script`` tag (escaped for HTML)."""
    classes = label_class_list(project=project).values("key", "name", "kind", "hotkey", "order")
    return {
        "project": {"id": project.pk, "name": project.name},
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
            "withdraw": reverse("api:annotation-withdraw", kwargs={"annotation_id": _ID}),
            "skip": reverse("api:item-skip", kwargs={"item_id": _ID}),
            "id_placeholder": str(_ID),
            "home": reverse("frontend:home"),
            "login": reverse("frontend:login"),
        },
    }


@login_required
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _labeling_project(request, project_id)
    progress = labeler_progress(project=project, user=request.user)
    context = {"project": project, "config": _page_config(project, progress)}
    return render(request, "frontend/label.html", context)
