"""The API tokens page in a real browser: create a token (the key shown once, with Copy), use the
key against the API from outside the browser, revoke it, and see the key refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from annotations.models import ApiToken
from tests.browser.helpers import expect, log_in
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path("/tmp/shots-tokens")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def call_api(base_url: str, path: str, key: str) -> tuple[int, dict]:
    """GET with only the key (no browser cookies), as a script would."""
    request = urllib.request.Request(
        base_url + path, headers={"Authorization": f"Bearer {key}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (localhost)
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_create_use_and_revoke_a_token(live_server, page):
    UserFactory(username="ada")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server.url, "ada")

    # the header links to the page; with no tokens yet it says so
    page.get_by_role("link", name="API tokens").click()
    expect()(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    expect()(page.locator("#tokens-empty")).to_be_visible()

    # an empty name is refused in the page, before any request
    page.get_by_role("button", name="Create token").click()
    expect()(page.locator("#token-name-error")).to_have_text("Give the token a name.")

    # create: the key is shown once, with a warning and a Copy button
    page.get_by_label("Name").fill("training server")
    page.get_by_role("button", name="Create token").click()
    region = page.get_by_role("region", name="Copy your new token “training server” now")
    expect()(region).to_be_visible()
    expect()(region).to_contain_text("It won’t be shown again")
    key = page.get_by_role("textbox", name="Your new token").input_value()
    assert key.startswith("lh_")
    assert len(key) > 40
    expect()(page.locator("#new-key-example")).to_contain_text(f"Authorization: Bearer {key}")
    region.get_by_role("button", name="Copy").click()
    expect()(page.locator("#new-key-copied")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == key

    # the list shows the name and the key's first characters, never the key
    row = page.locator("#tokens tr", has_text="training server")
    expect()(row).to_contain_text(f"{key[:8]}…")
    expect()(row).to_contain_text("Active")
    expect()(row.locator("td").nth(2)).to_have_text("Never")  # last used
    assert key not in row.inner_text()
    token = ApiToken.objects.get(user__username="ada")
    assert token.digest != key
    shot(page, "tokens-created.png")

    # a second token of the same name is refused, naming the field
    page.get_by_label("Name").fill("training server")
    page.get_by_role("button", name="Create token").click()
    expect()(page.locator("#token-name-error")).to_contain_text("already have a live token")

    # the key works from outside the browser, as ada
    status, body = call_api(live_server.url, "/api/v1/tokens/", key)
    assert status == 200
    assert [t["name"] for t in body["results"]] == ["training server"]

    # hidden on request, and gone after a reload (only the prefix is left)
    page.get_by_role("button", name="I’ve copied it — hide the token").click()
    expect()(region).to_be_hidden()
    assert page.locator("#new-key-value").input_value() == ""
    page.reload()
    expect()(page.locator("#tokens tr", has_text="training server")).to_be_visible()
    assert key not in page.content()
    # the use just made shows as "last used"
    expect()(row.locator("td").nth(2)).to_have_text("just now")

    # revoke asks first; cancelling keeps the token
    page.get_by_role("button", name="Revoke training server").click()
    dialog = page.get_by_role("dialog", name="Revoke “training server”?")
    expect()(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect()(dialog).to_be_hidden()
    token.refresh_from_db()
    assert token.revoked_at is None

    page.get_by_role("button", name="Revoke training server").click()
    dialog.get_by_role("button", name="Revoke token").click()
    expect()(dialog).to_be_hidden()
    expect()(row).to_contain_text("Revoked")
    expect()(row.get_by_role("button", name="Revoke training server")).to_have_count(0)
    expect()(page.locator("#list-status")).to_have_text("Revoked “training server”.")
    shot(page, "tokens-revoked.png")

    # the key is now refused with 401 token_revoked
    status, body = call_api(live_server.url, "/api/v1/tokens/", key)
    assert status == 401
    assert body["error"]["code"] == "token_revoked"
    token.refresh_from_db()
    assert token.revoked_at is not None
