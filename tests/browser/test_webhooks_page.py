"""The webhooks page in a real browser: a manager registers a hook pointing at a local HTTP
server, a label is submitted, the delivery shows in the log, and a replay sends the same bytes
again. Celery runs eagerly (no broker), so each send happens right after its commit."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest

from annotations.models import Role
from annotations.services.annotations import annotation_submit
from consensus.models import DeliveryStatus, Webhook, WebhookDelivery
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory
from tests.webhook_receiver import Receiver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path("/tmp/shots-webhooks")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_register_trigger_see_the_delivery_and_replay_it(page, live_server, project, member):
    manager = member(Role.MANAGER, username="maya")
    labeler = member(Role.LABELER, username="lee")
    item = ItemFactory(project=project)
    with Receiver() as receiver:
        # given the manager on the webhooks page, reached from the home page
        log_in(page, live_server.url, manager.username)
        page.get_by_role("link", name=f"Webhooks of {project.name}").click()
        expect()(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        expect()(page.locator("#hooks-empty")).to_be_visible()

        # a URL that is not http(s) is refused by the API, named under the field
        page.get_by_label("Payload URL").fill("ftp://127.0.0.1/hook")
        page.get_by_label("Annotation submitted").check()
        page.get_by_role("button", name="Register webhook").click()
        expect()(page.locator("#hook-url-error")).to_contain_text("http:// or https://")
        assert not Webhook.objects.exists()

        # when the manager registers the local receiver for new labels
        page.get_by_label("Payload URL").fill(receiver.url)
        page.get_by_role("button", name="Register webhook").click()
        hook_item = page.locator(".wh-hook")
        expect()(hook_item).to_have_count(1)
        expect()(hook_item.locator(".wh-hook__url")).to_have_text(receiver.url)
        hook = Webhook.objects.get()
        assert hook.events == ["annotation.submitted"]
        # the secret is hidden until revealed
        secret = hook_item.locator(".wh-secret__value")
        expect()(secret).not_to_contain_text(hook.secret)
        hook_item.get_by_role("button", name="Reveal").click()
        expect()(secret).to_have_text(hook.secret)

        # and a labeler submits a label (the event)
        annotation_submit(
            labeler=labeler, item_id=item.pk, value={"label": "dent"}, idempotency_key="k1"
        )
        assert len(receiver.received) == 1
        first = receiver.received[0]
        expected = (
            "sha256=" + hmac.new(hook.secret.encode(), first.body, hashlib.sha256).hexdigest()
        )
        assert first.headers["X-LabelHub-Signature"] == expected

        # then the log shows the delivery: event, succeeded, HTTP 200, one attempt
        page.get_by_role("button", name="Refresh").click()
        rows = page.locator("#log tr")
        expect()(rows).to_have_count(1)
        delivery = WebhookDelivery.objects.get()
        row = rows.first
        expect()(row).to_contain_text(f"#{delivery.pk}")
        expect()(row).to_contain_text("annotation.submitted")
        expect()(row.locator(".wh-badge")).to_have_text("Succeeded")
        cells = row.locator("td")
        expect()(cells.nth(3)).to_have_text("200")
        expect()(cells.nth(4)).to_have_text(re.compile(r"^\d+$"))
        expect()(cells.nth(5)).to_have_text("1")

        # when the manager replays it
        row.get_by_role("button", name=f"Replay delivery {delivery.pk}").click()
        expect()(rows).to_have_count(2)
        replay = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
        expect()(page.locator("#log-status")).to_have_text(
            f"Delivery #{delivery.pk} replayed as #{replay.pk}."
        )
        expect()(rows.first).to_contain_text(f"replay of #{delivery.pk}")
        expect()(rows.first.locator(".wh-badge")).to_have_text("Succeeded")
        _shot(page, "webhooks")

    # then the receiver got the same bytes and signature under a new delivery id
    assert len(receiver.received) == 2
    second = receiver.received[1]
    assert second.body == first.body
    assert second.headers["X-LabelHub-Signature"] == first.headers["X-LabelHub-Signature"]
    assert second.headers["X-LabelHub-Delivery"] == str(replay.pk)
    assert replay.replay_of_id == delivery.pk
    assert replay.status == DeliveryStatus.SUCCEEDED

    # and pausing the hook is saved
    page.get_by_label(f"Active: {receiver.url}").uncheck()
    expect()(page.locator("#hooks-status")).to_contain_text("paused")
    hook.refresh_from_db()
    assert hook.active is False


@pytest.mark.django_db(transaction=True)
def test_other_roles_are_refused_the_page(page, live_server, project, member):
    reviewer = member(Role.REVIEWER, username="rita")
    log_in(page, live_server.url, reviewer.username)
    # the home page offers no webhooks link, and the page answers 403
    expect()(page.get_by_role("link", name=re.compile("^Webhooks"))).to_have_count(0)
    response = page.goto(f"{live_server.url}/projects/{project.pk}/webhooks/")
    assert response.status == 403
