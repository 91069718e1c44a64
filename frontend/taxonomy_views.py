"""The "Classes" page: a project's classes, merging some of them with a what-if preview, the
merge history with undo, the aliases, and how the borderline class is used (DOMAIN.md §1:
merge classes that are hard to tell apart and whose distinction may not matter; a class for
uncertainty), and splitting a class: new labels are needed, so a split adds the new classes and
starts a round on the items labeled the old one (``POST .../rounds/ {"labeled": key}``).

A thin shell like the other pages: the server checks access through the one funnel
(``project_get_for_user`` with ``SEES_LABELS``: non-members 404, labelers 403 — the preview
shows agreement over the humans' labels, which labelers never see), renders the frame and hands
``static/frontend/classes.js`` the classes, merges, aliases, the parts of the newest report the
page shows and the API's URLs in a ``json_script`` tag. Every change goes through the taxonomy
and alias APIs (``consensus/api/taxonomy_views.py``, ``annotations/api/alias_views.py``), which
enforce the same roles, so ``can_manage`` only decides which controls are drawn.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.api.alias_views import ClassAliasSerializer
from annotations.api.serializers import LabelClassSerializer
from annotations.models import LabelClassAlias, Project, Role
from annotations.selectors import SEES_LABELS, label_class_list
from consensus.api.taxonomy_views import ClassMergeSerializer
from consensus.selectors import item_ids_labeled, report_state
from consensus.services.taxonomy import class_merge_list
from frontend.views import URL_ID, page_project

#: Who merges, undoes, deletes classes and edits aliases (the APIs allow only them too).
MANAGERS = (Role.MANAGER,)


def _report_part(project: Project) -> dict[str, Any] | None:
    """What the page reads from the newest report: label counts per class, the borderline
    summary, and which taxonomy version the report was computed under (so the page can say
    when a merge's recompute has landed). None before the first report."""
    state = report_state(project=project)
    report = state.report
    if report is None:
        return None
    overall = report.overall or {}
    return {
        "version": report.version,
        "taxonomy_version": report.taxonomy_version,
        "stale": state.stale,
        "recomputing": state.recomputing,
        "per_class": report.per_class or [],
        "borderline": overall.get("borderline"),
    }


def _labeled_items(project: Project) -> dict[str, int]:
    """How many items each active class labels now, as the split's round would count them
    (``item_ids_labeled``: the current round's consensus, merged sources counted as their
    target, overridden by a current SME label decision). The report's per-class figure counts
    labels, not items, so it cannot say how many items a round would reopen. Two small queries
    per class; a project has a handful of classes."""
    return {
        label_class.key: len(item_ids_labeled(project=project, class_key=label_class.key))
        for label_class in label_class_list(project=project)
    }


@login_required
def classes(request: HttpRequest, project_id: int) -> HttpResponse:
    project = page_project(
        request,
        project_id,
        roles=SEES_LABELS,
        refused="The classes page is for reviewers, engineers and managers of the project.",
    )
    can_manage = project.my_role in MANAGERS
    project_kwargs = {"project_id": project.pk}
    aliases = (
        LabelClassAlias.objects.filter(project=project)
        .select_related("label_class")
        .order_by("normalized")
    )
    config = {
        "project": {"id": project.pk, "name": project.name},
        "role": project.my_role,
        "can_manage": can_manage,
        "taxonomy_version": project.taxonomy_version,
        "classes": LabelClassSerializer(
            label_class_list(project=project, include_merged=True), many=True
        ).data,
        "merges": ClassMergeSerializer(class_merge_list(project=project), many=True).data,
        "aliases": ClassAliasSerializer(aliases, many=True).data,
        "report": _report_part(project),
        "current_round": project.current_round,
        "labeled_items": _labeled_items(project) if can_manage else {},
        "urls": {
            "classes": reverse("api:project-classes", kwargs=project_kwargs),
            "class": reverse(
                "api:project-class-detail", kwargs={**project_kwargs, "class_id": URL_ID}
            ),
            "preview": reverse("consensus-api:merge-preview", kwargs=project_kwargs),
            "merges": reverse("consensus-api:merges", kwargs=project_kwargs),
            "merge": reverse(
                "consensus-api:merge-undo", kwargs={**project_kwargs, "merge_id": URL_ID}
            ),
            "aliases": reverse("api:aliases", kwargs=project_kwargs),
            "alias": reverse("api:alias-delete", kwargs={**project_kwargs, "alias_id": URL_ID}),
            "report": reverse("consensus-api:consistency", kwargs=project_kwargs),
            "rounds": reverse("consensus-api:rounds", kwargs=project_kwargs),
            "id_placeholder": str(URL_ID),
        },
    }
    context = {"project": project, "config": config, "can_manage": can_manage}
    return render(request, "frontend/classes.html", context)
