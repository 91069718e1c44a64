"""Helpers shared by the page tests."""

from __future__ import annotations

import json
import re

from django.urls import reverse

HOME = reverse("frontend:home")
LOGIN = reverse("frontend:login")


def page_config(response, name: str) -> dict:
    """The JSON a page hands its script in a ``json_script`` tag named ``name``."""
    match = re.search(
        rf'<script id="{name}" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.DOTALL,
    )
    assert match, f"the page carries its configuration in a json_script tag ({name})"
    return json.loads(match.group(1))
