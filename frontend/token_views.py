"""The personal API tokens page (``/settings/tokens/``): list, create (the key shown once),
revoke. A thin shell like the other pages: it hands ``static/frontend/tokens.js`` the API's URLs
in a ``json_script`` tag; the list and every change go through ``/api/v1/tokens/`` so the page and
the API follow the same rules (``annotations/services/tokens.py``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotations.services.tokens import MAX_LIVE_TOKENS, NAME_MAX_LENGTH
from frontend.views import URL_ID


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    config = {
        "max_live": MAX_LIVE_TOKENS,
        "name_max_length": NAME_MAX_LENGTH,
        "urls": {
            "tokens_api": reverse("api:tokens"),
            "token_api": reverse("api:token-detail", kwargs={"token_id": URL_ID}),
            "id_placeholder": str(URL_ID),
            # For the "use it like this" example under a new key.
            "example_api": request.build_absolute_uri(reverse("api:project-list")),
        },
    }
    return render(request, "frontend/tokens.html", {"config": config})
