"""The SME's pages: the disagreement queue and the review of one item.

Both are thin shells: the server checks access through the one funnel
(``project_get_for_user``: non-members 404, labelers 403), renders the frame and hands the
scripts (``static/frontend/review_queue.js`` and ``review_item.js``) the project's classes, the
filter choices and the API URLs in a ``json_script`` tag. Everything that changes while the SME
works — the queue, the labels, the thread, the decisions — comes from the review API, so its
rules live in one place (the consensus services).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.models import Project, Role, TaskType
from annotations.selectors import SEES_LABELS, item_list, label_class_list, membership_list
from consensus.selectors import item_consensus_list
from frontend.views import URL_ID, page_project

#: Who may decide (the decision API allows the same roles) and who starts rounds.
DECIDERS = (Role.REVIEWER, Role.MANAGER)
MANAGERS = (Role.MANAGER,)
#: Distinct slice combinations read for the filter's choices; slices are a handful of
#: columns (camera, lighting), so this is far more than a real project has.
MAX_SLICE_COMBINATIONS = 1000


def _review_project(request: HttpRequest, project_id: int) -> Project:
    """The access funnel mapped to page errors: non-members 404, labelers 403 (review is not
    blind, and labeling is)."""
    return page_project(
        request,
        project_id,
        roles=SEES_LABELS,
        refused="Disagreement review is for reviewers, engineers and managers of the project.",
    )


def _classes(project: Project) -> list[dict[str, Any]]:
    return list(label_class_list(project=project).values("key", "name", "kind"))


def _slice_choices(project: Project) -> list[dict[str, Any]]:
    """``[{"name": "camera", "values": ["A", "B"]}]`` from the items' slices, sorted."""
    combinations = (
        item_list(project=project)
        .order_by()
        .values_list("slices", flat=True)
        .distinct()[:MAX_SLICE_COMBINATIONS]
    )
    values: dict[str, set[str]] = {}
    for slices in combinations:
        for name, value in (slices or {}).items():
            values.setdefault(str(name), set()).add(str(value))
    return [{"name": name, "values": sorted(values[name])} for name in sorted(values)]


def _shared_urls(project: Project) -> dict[str, str]:
    project_kwargs = {"project_id": project.pk}
    return {
        "queue_api": reverse("consensus-api:disagreements", kwargs=project_kwargs),
        "queue_page": reverse("frontend:review-queue", kwargs=project_kwargs),
        "item_page": reverse(
            "frontend:review-item", kwargs={"project_id": project.pk, "item_id": URL_ID}
        ),
        "dashboard": reverse("frontend:consistency", kwargs=project_kwargs),
        "login": reverse("frontend:login"),
        "id_placeholder": str(URL_ID),
    }


@login_required
def review_queue(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _review_project(request, project_id)
    labelers = (
        membership_list(project=project)
        .filter(role=Role.LABELER)
        .values_list("user__username", flat=True)
    )
    config = {
        "project": {"id": project.pk, "name": project.name, "current_round": project.current_round},
        "role": project.my_role,
        "can_start_round": project.my_role in MANAGERS,
        "classes": _classes(project),
        "slices": _slice_choices(project),
        "labelers": sorted(labelers),
        "rounds": list(range(project.current_round, 0, -1)),
        "urls": {
            **_shared_urls(project),
            "pairs_api": reverse(
                "consensus-api:disagreement-pairs", kwargs={"project_id": project.pk}
            ),
            "rounds_api": reverse("consensus-api:rounds", kwargs={"project_id": project.pk}),
        },
    }
    context = {"project": project, "config": config}
    return render(request, "frontend/review_queue.html", context)


def _consensus(project: Project, item_id: int) -> dict[str, Any] | None:
    """The item's computed consensus (before any review decision), if it has one. For a
    transcription item, ``text`` is the medoid transcript (the one with the least total word
    edit distance to the others, see ``consensus.services.item_consensus``), ``majority_share``
    the share of labelers who gave it (after clean-up) and ``word_error_rate`` the pooled
    pairwise WER among the item's transcripts, Σ2E/Σ(|a|+|b|)."""
    row = item_consensus_list(project=project, order="item").filter(item_id=item_id).first()
    if row is None:
        return None
    return {
        "label": row.label.key if row.label_id else None,
        "method": row.method,
        "method_name": row.get_method_display(),
        "confidence": row.confidence,
        "majority_share": row.majority_share,
        "n_labels": row.n_labels,
        "tied": row.tied,
        "round": row.round,
        "text": row.text,
        "word_error_rate": row.word_error_rate,
    }


@login_required
def review_item(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    project = _review_project(request, project_id)
    item = item_list(project=project).filter(pk=item_id).first()
    if item is None:
        raise Http404("No such item in this project.")
    # Who can be @mentioned usefully: those who can open this page (labelers cannot).
    members = (
        membership_list(project=project)
        .filter(role__in=SEES_LABELS)
        .values_list("user__username", flat=True)
    )
    config = {
        "project": {"id": project.pk, "name": project.name, "current_round": project.current_round},
        "item": {"id": item.pk, "external_id": item.external_id},
        "me": request.user.get_username(),
        "role": project.my_role,
        "can_decide": project.my_role in DECIDERS,
        "task_type": project.task_type,
        "classes": _classes(project),
        # Transcription: the standard tokens offered as insert buttons, and whether an empty
        # final transcript is an answer (silence), as the decision service checks.
        "transcript_tokens": list(project.transcript_tokens or []),
        "allow_empty_transcripts": project.allow_empty_transcripts,
        "members": sorted(members),
        "consensus": _consensus(project, item.pk),
        "urls": {
            **_shared_urls(project),
            "review": reverse("consensus-api:item-review", kwargs={"item_id": item.pk}),
            "comments": reverse("consensus-api:item-comments", kwargs={"item_id": item.pk}),
            "comment_edit": reverse("consensus-api:comment-edit", kwargs={"comment_id": URL_ID}),
            "decision": reverse("consensus-api:item-decision", kwargs={"item_id": item.pk}),
        },
    }
    transcription = project.task_type == TaskType.TRANSCRIPTION
    context = {"project": project, "item": item, "config": config, "transcription": transcription}
    return render(request, "frontend/review_item.html", context)
