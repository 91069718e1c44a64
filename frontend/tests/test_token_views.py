"""The API tokens page without a browser: login, what it hands its script, the header link."""

from __future__ import annotations

import pytest
from django.urls import reverse

from frontend.tests.pages import HOME, LOGIN, page_config
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKENS_PAGE = reverse("frontend:tokens")


def test_the_page_requires_login(client):
    response = client.get(TOKENS_PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={TOKENS_PAGE}"


def test_the_page_hands_its_script_the_token_api(client):
    client.force_login(UserFactory())
    response = client.get(TOKENS_PAGE)
    assert response.status_code == 200
    config = page_config(response, "tokens-config")
    urls = config["urls"]
    assert urls["tokens_api"] == "/api/v1/tokens/"
    assert urls["token_api"].replace(urls["id_placeholder"], "7") == "/api/v1/tokens/7/"
    assert urls["example_api"].endswith("/api/v1/projects/")
    assert config["max_live"] == 50
    # the header link to the page is marked as the current page here
    assert 'href="/settings/tokens/" aria-current="page"' in response.content.decode()


def test_every_page_header_links_to_the_tokens_page(client):
    client.force_login(UserFactory())
    body = client.get(HOME).content.decode()
    assert f'href="{TOKENS_PAGE}"' in body
    assert "API tokens" in body
