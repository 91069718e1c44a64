"""The "Standardisation rules" page of a transcription project (DOMAIN.md §1, "standardise
labels"): edit an ordered rule list, see live what it would do to the current transcripts and to
agreement, save it as a new version and activate a version.

A thin shell like the other pages: the server checks access through the one funnel
(``project_get_for_user`` with ``SEES_LABELS``: non-members 404, labelers 403 — the preview
shows the humans' transcripts and agreement, which labelers never see), renders the frame and
hands ``static/frontend/rules.js`` the saved versions, which one is active and the rules API's
URLs in a ``json_script`` tag. Every preview, save and activation goes through the rules API
(``consensus/api/rule_views.py``), which enforces the same roles, so ``can_manage`` only decides
which controls are drawn. A classification project gets the frame with a sentence saying rules
are for transcription projects (the API would refuse every call with ``not_transcription``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.models import TaskType
from annotations.selectors import SEES_LABELS
from consensus.api.rule_views import RuleSetSerializer
from consensus.services.rule_sets import EDITORS, rule_set_list
from consensus.standardise import MAX_RULES
from frontend.views import URL_ID, page_project


@login_required
def rules(request: HttpRequest, project_id: int) -> HttpResponse:
    project = page_project(
        request,
        project_id,
        roles=SEES_LABELS,
        refused="Standardisation rules are for reviewers, engineers and managers of the project.",
    )
    transcribes = project.task_type == TaskType.TRANSCRIPTION
    can_manage = transcribes and project.my_role in EDITORS
    versions = []
    if transcribes:
        versions = RuleSetSerializer(
            rule_set_list(project=project),
            many=True,
            context={"active_version": project.rule_set_version},
        ).data
    project_kwargs = {"project_id": project.pk}
    config = {
        "project": {"id": project.pk, "name": project.name},
        "transcribes": transcribes,
        "role": project.my_role,
        "can_manage": can_manage,
        "active_version": project.rule_set_version,
        "versions": versions,
        "max_rules": MAX_RULES,
        "urls": {
            "rules": reverse("consensus-api:rules", kwargs=project_kwargs),
            "preview": reverse("consensus-api:rules-preview", kwargs=project_kwargs),
            "activate": reverse(
                "consensus-api:rules-activate", kwargs={**project_kwargs, "version": URL_ID}
            ),
            "id_placeholder": str(URL_ID),
        },
    }
    context = {
        "project": project,
        "config": config,
        "transcribes": transcribes,
        "can_manage": can_manage,
    }
    return render(request, "frontend/rules.html", context)
