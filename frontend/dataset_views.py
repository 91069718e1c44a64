"""The ML engineer's Datasets page: build an export URL from the filters (and download it), freeze
the filtered export as a numbered version, list the versions, and diff two of them.

A thin shell like the model pages: the server checks access through the one funnel (engineers and
managers, as the export API: non-members 404, labelers and reviewers 403), renders the frame and
hands ``static/frontend/datasets.js`` what the filter controls offer (the project's classes, the
slice names and values its items carry, its rounds) and the API's URLs in a ``json_script`` tag.
Every figure comes from the export API (``consensus/api/export_views.py``), so the page, a
``curl`` of the URL it shows and ``manage.py export`` read the same records.

The controls offer only values the API accepts for this project (class keys, slice values that
exist, round numbers that exist), so the only free-form inputs are the two thresholds and the
date, which the script checks before building a URL.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.models import ClassKind, Project, Role
from annotations.selectors import item_list, label_class_list
from consensus.api.export_views import DiffQuerySerializer
from consensus.export_params import BORDERLINE_POLICIES, FORMATS
from consensus.services.exports import EXPORTERS
from frontend import charts
from frontend.views import URL_ID, page_project

#: Distinct slice combinations read to list the slice values; a handful in a real project.
MAX_SLICE_COMBINATIONS = 1000
#: Values offered per slice name: more than this and a chip list stops being readable (the API
#: still takes any value in a URL written by hand).
MAX_SLICE_VALUES = 60
#: The second id placeholder of the diff URL (``URL_ID`` is the first): two distinct numbers, so
#: the script can put version A and version B in without confusing them.
URL_ID_B = URL_ID - 1


def _slice_values(project: Project) -> list[dict[str, object]]:
    """``[{"name": "camera", "values": ["A", "B"]}, …]``, names and values sorted.

    Values are written as text with ``str()``, as the export's filter compares them
    (``slice=floor:3`` finds 3); nested values (objects, lists) cannot be filtered on."""
    combinations = (
        item_list(project=project)
        .order_by()
        .values_list("slices", flat=True)
        .distinct()[:MAX_SLICE_COMBINATIONS]
    )
    values: dict[str, set[str]] = {}
    for slices in combinations:
        if not isinstance(slices, dict):
            continue
        for name, value in slices.items():
            if value is None or isinstance(value, dict | list):
                continue
            # str() exactly as the export's slice filter compares (so JSON true is "True").
            values.setdefault(str(name), set()).add(str(value))
    return [
        {"name": name, "values": sorted(found)[:MAX_SLICE_VALUES]}
        for name, found in sorted(values.items())
    ]


def _diff_reasons() -> list[str]:
    """The reasons the diff API names (and filters by), in its own order."""
    return list(DiffQuerySerializer().fields["reason"].choices)


@login_required
def datasets(request: HttpRequest, project_id: int) -> HttpResponse:
    project = page_project(
        request,
        project_id,
        roles=EXPORTERS,
        refused="Datasets are for the project's engineers and managers.",
    )
    classes = list(label_class_list(project=project).values("key", "name", "kind"))
    borderline = next((c["key"] for c in classes if c["kind"] == ClassKind.BORDERLINE), None)
    by_project = {"project_id": project.pk}
    by_version = {**by_project, "dataset_id": URL_ID}
    config = {
        "project": {"id": project.pk, "name": project.name},
        "role": project.my_role,
        # Real usernames in an export are for managers (the API refuses engineers).
        "can_name_labelers": project.my_role == Role.MANAGER,
        "classes": classes,
        "borderline_key": borderline,
        "borderline_policies": list(BORDERLINE_POLICIES),
        "formats": list(FORMATS),
        "slices": _slice_values(project),
        "rounds": list(project.rounds.order_by("number").values_list("number", flat=True)),
        "diff_reasons": _diff_reasons(),
        "alpha_good": charts.ALPHA_GOOD,
        "alpha_tentative": charts.ALPHA_TENTATIVE,
        "urls": {
            "export": reverse("consensus-api:export", kwargs=by_project),
            "datasets": reverse("consensus-api:datasets", kwargs=by_project),
            "download": reverse("consensus-api:dataset-download", kwargs=by_version),
            "diff": reverse(
                "consensus-api:dataset-diff",
                kwargs={**by_project, "a_id": URL_ID, "b_id": URL_ID_B},
            ),
            "review_item": reverse(
                "frontend:review-item", kwargs={"project_id": project.pk, "item_id": URL_ID}
            ),
            "tokens": reverse("frontend:tokens"),
            "id_placeholder": str(URL_ID),
            "b_placeholder": str(URL_ID_B),
        },
    }
    context = {"project": project, "config": config}
    return render(request, "frontend/datasets.html", context)
