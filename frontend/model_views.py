"""The ML engineer's pages: a project's model runs (and, for engineers and managers, a form that
creates a run and uploads its predictions), and one run's error analysis against the humans.

Both are thin shells. The server checks access through the one funnel (``project_get_for_user``
with ``SEES_LABELS``: non-members 404, labelers 403), renders the frame and hands the scripts
(``static/frontend/models.js`` and ``model_run.js``) what they need in a ``json_script`` tag. The
figures themselves come from the error-analysis API (``consensus/api/model_views.py``), so the
page and ``/api/v1/`` can never disagree and the CSV downloads are the same tables.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.models import Project, Role
from annotations.selectors import SEES_LABELS, item_list, label_class_list
from consensus.api.model_views import TABLES, ModelRunSerializer
from consensus.selectors import model_run_list
from consensus.services.error_analysis import MIN_SLICE_ITEMS, REFERENCES
from frontend.views import URL_ID, page_project

#: Who creates runs and imports predictions (the API allows the same roles).
MODELERS = (Role.ENGINEER, Role.MANAGER)
#: Bounds of ``?min_slice_items=`` (the analysis API refuses anything outside them).
MIN_SLICE_ITEMS_RANGE = (1, 100_000)
#: Distinct slice combinations read to name the slice dimensions; a handful in a real project.
MAX_SLICE_COMBINATIONS = 1000


def _model_project(request: HttpRequest, project_id: int) -> Project:
    """The access funnel mapped to page errors: non-members 404, labelers 403 (they label
    blind, and the analysis shows the humans' labels)."""
    return page_project(
        request,
        project_id,
        roles=SEES_LABELS,
        refused="Model analysis is for reviewers, engineers and managers of the project.",
    )


def _slice_names(project: Project) -> list[str]:
    """The slice dimensions the items carry (``camera``, ``background``), sorted."""
    combinations = (
        item_list(project=project)
        .order_by()
        .values_list("slices", flat=True)
        .distinct()[:MAX_SLICE_COMBINATIONS]
    )
    return sorted({str(name) for slices in combinations for name in (slices or {})})


def _analysis_query(request: HttpRequest) -> tuple[str, int]:
    """``?reference=`` and ``?min_slice_items=`` from the URL; anything the API would refuse
    falls back to the default, so an edited link still opens the page."""
    reference = request.GET.get("reference", REFERENCES[0])
    if reference not in REFERENCES:
        reference = REFERENCES[0]
    low, high = MIN_SLICE_ITEMS_RANGE
    try:
        min_items = int(request.GET.get("min_slice_items", MIN_SLICE_ITEMS))
    except ValueError:
        min_items = MIN_SLICE_ITEMS
    if not low <= min_items <= high:
        min_items = MIN_SLICE_ITEMS
    return reference, min_items


@login_required
def models(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _model_project(request, project_id)
    runs = ModelRunSerializer(model_run_list(project=project), many=True).data
    can_import = project.my_role in MODELERS
    config = {
        "project": {"id": project.pk, "name": project.name},
        "can_import": can_import,
        "runs": runs,
        "urls": {
            "runs_api": reverse("consensus-api:runs", kwargs={"project_id": project.pk}),
            "predictions_api": reverse("consensus-api:run-predictions", kwargs={"run_id": URL_ID}),
            "run_page": reverse(
                "frontend:model-run", kwargs={"project_id": project.pk, "run_id": URL_ID}
            ),
            "id_placeholder": str(URL_ID),
        },
    }
    classes = list(label_class_list(project=project).values_list("key", flat=True))
    context = {"project": project, "runs": runs, "config": config, "class_keys": classes}
    return render(request, "frontend/models.html", context)


@login_required
def model_run(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project = _model_project(request, project_id)
    run = model_run_list(project=project).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such model run in this project.")
    reference, min_items = _analysis_query(request)
    run_kwargs = {"run_id": run.pk}
    config: dict[str, Any] = {
        "project": {"id": project.pk, "name": project.name},
        "run": ModelRunSerializer(run).data,
        "reference": reference,
        "min_slice_items": min_items,
        "default_min_slice_items": MIN_SLICE_ITEMS,
        "classes": list(label_class_list(project=project).values("key", "name", "kind")),
        "slice_names": _slice_names(project),
        "urls": {
            "analysis": reverse("consensus-api:run-analysis", kwargs=run_kwargs),
            "csv": {
                table: reverse(
                    "consensus-api:run-analysis-csv", kwargs={**run_kwargs, "table": table}
                )
                for table in TABLES
            },
            "project_api": reverse("api:project-detail", kwargs={"project_id": project.pk}),
        },
    }
    context = {
        "project": project,
        "run": run,
        "config": config,
        "reference": reference,
        "min_slice_items": min_items,
        "query": urlencode({"reference": reference, "min_slice_items": min_items}),
        "references": REFERENCES,
    }
    return render(request, "frontend/model_run.html", context)
