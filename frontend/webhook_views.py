"""The webhooks page (managers): register a URL for events, reveal and copy its secret, switch
it on and off, read the delivery log and replay a delivery.

A thin shell like the model pages: the server checks access through the one funnel (non-members
404, other roles 403: a hook's secret signs what its receiver trusts), renders the frame and hands
``static/frontend/webhooks.js`` the hooks and the API's URLs in a ``json_script`` tag. Every
change goes through the webhooks API (``consensus/api/webhook_views.py``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from consensus.api.webhook_views import WebhookSerializer
from consensus.models import WebhookEvent
from consensus.services.webhooks import MANAGERS, webhook_list
from frontend.views import URL_ID, page_project


@login_required
def webhooks(request: HttpRequest, project_id: int) -> HttpResponse:
    project = page_project(
        request,
        project_id,
        roles=MANAGERS,
        refused="Webhooks are for the project's managers.",
    )
    hooks = WebhookSerializer(
        webhook_list(project=project).select_related("created_by"), many=True
    ).data
    by_id = {"webhook_id": URL_ID}
    config = {
        "project": {"id": project.pk, "name": project.name},
        "events": [{"value": value, "label": label} for value, label in WebhookEvent.choices],
        "hooks": hooks,
        "urls": {
            "hooks": reverse("consensus-api:webhooks", kwargs={"project_id": project.pk}),
            "hook": reverse("consensus-api:webhook-detail", kwargs=by_id),
            "rotate": reverse("consensus-api:webhook-rotate-secret", kwargs=by_id),
            "deliveries": reverse("consensus-api:webhook-deliveries", kwargs=by_id),
            "replay": reverse("consensus-api:delivery-replay", kwargs={"delivery_id": URL_ID}),
            "id_placeholder": str(URL_ID),
        },
    }
    context = {"project": project, "config": config, "events": config["events"]}
    return render(request, "frontend/webhooks.html", context)
