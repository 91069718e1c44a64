"""Webhooks: signed deliveries to a local HTTP server, retries and backoff, the delivery log and
replays, the events wired into labeling, review and reports, the cost on the labeling path, and
the API's permissions and bad input. Every receiver is on 127.0.0.1 (tests/webhook_receiver.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from annotations.models import Annotation, Role
from consensus import tasks
from consensus.models import DeliveryStatus, ReviewDecision, Webhook, WebhookDelivery
from consensus.services import webhooks as webhook_services
from consensus.services.decisions import decision_make
from consensus.services.reports import report_recompute
from consensus.services.webhooks import (
    webhook_create,
    webhook_event_emit,
    webhook_update,
    webhooks_subscribed,
)
from consensus.tasks import webhook_backoff_seconds
from labelhub.errors import ApplicationError
from tests.factories import ItemFactory, ProjectFactory, UserFactory, submit_labels
from tests.webhook_receiver import Receiver, closed_port_url

pytestmark = pytest.mark.django_db

ALL_EVENTS = [
    "annotation.submitted",
    "item.disputed",
    "item.resolved",
    "report.computed",
    "dataset.frozen",
]


@pytest.fixture(autouse=True)
def _fresh_subscriptions():
    """The subscription cache outlives a test's rolled-back rows (SQLite reuses their ids)."""
    cache.clear()
    yield
    cache.clear()


def _hmac(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _emit(capture, project, event="dataset.frozen", payload=None):
    with capture(execute=True):
        webhook_event_emit(project_id=project.pk, event=event, payload=payload or {"dataset": 7})


# Signing and sending ----------------------------------------------------------------------------


def test_private_addresses_are_refused_unless_allowed(
    project, manager, settings, django_capture_on_commit_callbacks
):
    # given the production default: no calls into the server's own network
    settings.LABELHUB_WEBHOOK_ALLOW_PRIVATE = False
    settings.LABELHUB_WEBHOOK_MAX_ATTEMPTS = 1
    with Receiver() as receiver:
        hook = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["dataset.frozen"]
        )
        # when an event is sent to a receiver on 127.0.0.1
        _emit(django_capture_on_commit_callbacks, project)
    # then nothing reached it and the log says why
    assert receiver.received == []
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.status == DeliveryStatus.FAILED
    assert "private or local address" in delivery.error
    assert "127.0.0.1" in delivery.error


def test_a_delivery_is_a_signed_post_of_the_stored_body(
    project, manager, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        # given a hook for dataset.frozen on a local server
        hook = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["dataset.frozen"]
        )
        # when the event happens
        _emit(django_capture_on_commit_callbacks, project, payload={"dataset": 7, "items": 3})
    # then the server got one POST whose signature is the HMAC of the raw bytes under the secret
    [request] = receiver.received
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert request.body == delivery.body.encode()
    assert request.headers["X-LabelHub-Signature"] == _hmac(hook.secret, request.body)
    assert request.headers["X-LabelHub-Event"] == "dataset.frozen"
    assert request.headers["X-LabelHub-Delivery"] == str(delivery.pk)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("LabelHub-Webhooks/")
    # and the body is compact JSON with sorted keys carrying the event and its data
    body = json.loads(request.body)
    assert request.body.decode() == json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert body["event"] == "dataset.frozen"
    assert body["project"] == project.pk
    assert body["data"] == {"dataset": 7, "items": 3}
    assert "occurred_at" in body
    assert hook.secret not in request.body.decode()
    # and the log says it succeeded at the first attempt, with the answer's status and time
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.response_status, delivery.error) == (1, 200, "")
    assert delivery.response_ms is not None
    assert delivery.delivered_at is not None


def test_a_hook_only_gets_the_events_it_chose_and_inactive_hooks_get_none(
    project, manager, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        chosen = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["item.resolved"]
        )
        paused = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["dataset.frozen"]
        )
        webhook_update(hook=paused, active=False)
        other = ProjectFactory()
        webhook_create(
            project=other,
            created_by=UserFactory(),
            url=receiver.url,
            events=["dataset.frozen"],
        )
        # when dataset.frozen happens in the first project
        _emit(django_capture_on_commit_callbacks, project)
    # then nobody was called: the subscriber wants another event, the other hook is paused
    assert receiver.received == []
    assert not WebhookDelivery.objects.filter(webhook__in=[chosen, paused]).exists()
    assert not webhooks_subscribed(project_id=project.pk, event="dataset.frozen")
    assert webhooks_subscribed(project_id=project.pk, event="item.resolved")


def test_a_rotated_secret_signs_the_next_delivery(
    project, manager, api, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        hook = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["dataset.frozen"]
        )
        old = hook.secret
        response = api(manager).post(f"/api/v1/webhooks/{hook.pk}/rotate-secret/")
        assert response.status_code == 200
        new = response.json()["secret"]
        assert new != old
        assert re.fullmatch(r"[0-9a-f]{64}", new)
        _emit(django_capture_on_commit_callbacks, project)
    [request] = receiver.received
    assert request.headers["X-LabelHub-Signature"] == _hmac(new, request.body)
    assert request.headers["X-LabelHub-Signature"] != _hmac(old, request.body)


# Retries ----------------------------------------------------------------------------------------


def test_a_receiver_failing_twice_then_answering_gets_it_at_the_third_attempt(
    project, manager, django_capture_on_commit_callbacks
):
    with Receiver(statuses=(500, 502, 204)) as receiver:
        hook = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["dataset.frozen"]
        )
        _emit(django_capture_on_commit_callbacks, project)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.SUCCEEDED,
        3,
        204,
    )
    assert delivery.error == ""
    # and every attempt carried the same bytes and the same delivery id
    assert len(receiver.received) == 3
    assert len({r.body for r in receiver.received}) == 1
    assert {r.headers["X-LabelHub-Delivery"] for r in receiver.received} == {str(delivery.pk)}


@override_settings(LABELHUB_WEBHOOK_MAX_ATTEMPTS=4)
def test_an_always_failing_receiver_is_logged_failed_after_the_last_attempt(
    project, manager, django_capture_on_commit_callbacks
):
    with Receiver(statuses=(503,)) as receiver:
        hook = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["dataset.frozen"]
        )
        _emit(django_capture_on_commit_callbacks, project)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert len(receiver.received) == 4
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.FAILED,
        4,
        503,
    )
    assert delivery.error.startswith("HTTP 503")
    assert "receiver says no" in delivery.error
    assert delivery.delivered_at is None


def test_a_closed_port_fails_with_an_error_and_labeling_goes_on(
    project, manager, api, member, django_capture_on_commit_callbacks
):
    # given a hook on a port where nothing listens, subscribed to new labels
    hook = webhook_create(
        project=project,
        created_by=manager,
        url=closed_port_url(),
        events=["annotation.submitted"],
    )
    labeler = member(Role.LABELER)
    item = ItemFactory(project=project)
    # when a labeler submits through the API (the request commits; the send runs after it)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(labeler).post(
            "/api/v1/annotations/",
            {"item": item.pk, "value": {"label": "dent"}, "idempotency_key": "k1"},
            format="json",
        )
    # then the label is stored and answered as usual
    assert response.status_code == 201, response.content
    annotation = Annotation.objects.get(item=item, labeler=labeler)
    # and the delivery is logged failed with the connection error and no HTTP status
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 5
    assert delivery.response_status is None
    assert delivery.error.startswith("Connection failed")
    data = json.loads(delivery.body)["data"]
    assert data == {
        "annotation": annotation.pk,
        "item": item.pk,
        "external_id": item.external_id,
        "labeler": labeler.pk,
        "round": 1,
    }


def test_the_backoff_doubles_with_jitter(settings):
    settings.LABELHUB_WEBHOOK_BACKOFF_SECONDS = 10
    for retry, base in enumerate([10, 20, 40, 80]):
        delays = [webhook_backoff_seconds(retry) for _ in range(50)]
        assert all(base <= d <= base * 1.25 for d in delays)
        assert len(set(delays)) > 1  # jittered
    settings.LABELHUB_WEBHOOK_BACKOFF_SECONDS = 0
    assert webhook_backoff_seconds(3) == 0


# The labeling path --------------------------------------------------------------------------------


def _submit(api, labeler, item, key, capture):
    # The test's transaction never commits: run the after-commit work (signal, webhooks) here.
    with CaptureQueriesContext(connection) as queries, capture(execute=True):
        response = api(labeler).post(
            "/api/v1/annotations/",
            {"item": item.pk, "value": {"label": "dent"}, "idempotency_key": key},
            format="json",
        )
    assert response.status_code == 201, response.content
    return [q["sql"] for q in queries.captured_queries]


def test_labeling_in_a_project_without_hooks_reads_no_webhook_rows_once_cached(
    project, member, api, monkeypatch, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    labeler = member(Role.LABELER)
    first, second, third = ItemFactory.create_batch(3, project=project)
    webhook_table = re.compile(r'"consensus_webhook"')
    # the first label in a while asks the database once (and caches the answer)
    cold = _submit(api, labeler, first, "k1", capture)
    assert sum(bool(webhook_table.search(sql)) for sql in cold) == 1
    # the next label costs no webhook query at all
    warm = _submit(api, labeler, second, "k2", capture)
    assert not any(webhook_table.search(sql) for sql in warm)
    assert not any("consensus_webhookdelivery" in sql for sql in warm)
    # and exactly as many queries as a submit with webhooks switched off entirely
    monkeypatch.setattr(webhook_services, "webhooks_subscribed", lambda **kwargs: False)
    without = _submit(api, labeler, third, "k3", capture)
    assert len(warm) == len(without)


def test_a_new_hook_is_seen_at_once_by_the_next_label(
    project, manager, member, api, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    labeler = member(Role.LABELER)
    first, second = ItemFactory.create_batch(2, project=project)
    _submit(api, labeler, first, "k1", capture)  # caches "no hooks"
    with Receiver() as receiver:
        webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["annotation.submitted"]
        )
        _submit(api, labeler, second, "k2", capture)
    [request] = receiver.received
    assert json.loads(request.body)["data"]["item"] == second.pk


# Events wired into the domain ------------------------------------------------------------------


@pytest.fixture
def trio(member):
    return [member(Role.LABELER) for _ in range(3)]


def _bodies(hook, event):
    return [
        json.loads(body)
        for body in WebhookDelivery.objects.filter(webhook=hook, event=event)
        .order_by("id")
        .values_list("body", flat=True)
    ]


def test_disputes_decisions_and_reports_are_announced(project, manager, trio, member):
    with Receiver() as receiver:
        hook = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=ALL_EVENTS
        )
        # when three labelers disagree on an item (it goes to the review queue)
        item = ItemFactory(project=project)
        submit_labels(item, dict(zip(trio, ["clean", "clean", "scratch"], strict=True)))
        # and a reviewer decides it
        sme = member(Role.REVIEWER)
        decision = decision_make(
            item_id=item.pk, decided_by=sme, outcome="label", label_key="clean", reason="Glare."
        )
        # and a report is computed
        report = report_recompute(project_id=project.pk, version=9_999)
    # then each is a delivery with its facts (a decision sends after its commit)
    submitted = _bodies(hook, "annotation.submitted")
    assert [b["data"]["labeler"] for b in submitted] == [u.pk for u in trio]
    [disputed] = _bodies(hook, "item.disputed")
    assert disputed["data"]["item"] == item.pk
    assert disputed["data"]["external_id"] == item.external_id
    assert disputed["data"]["n_labels"] == 3
    assert disputed["data"]["majority_share"] == pytest.approx(2 / 3, abs=1e-6)
    [resolved] = _bodies(hook, "item.resolved")
    assert resolved["data"] == {
        "item": item.pk,
        "external_id": item.external_id,
        "round": 1,
        "decision": decision.pk,
        "revision": 1,
        "outcome": "label",
        "label": "clean",
        "decided_by": sme.pk,
    }
    computed = [b for b in _bodies(hook, "report.computed") if b["data"]["version"] == 9_999]
    assert computed[0]["data"]["report"] == report.pk
    assert computed[0]["data"]["n_annotations"] == 3
    assert "krippendorff_alpha" in computed[0]["data"]
    # and nothing secret travels: no hook secret, no reason text, no usernames
    everything = " ".join(WebhookDelivery.objects.values_list("body", flat=True))
    assert hook.secret not in everything
    assert "Glare." not in everything
    assert all(u.username not in everything for u in [*trio, sme])


def test_a_decision_that_is_refused_sends_nothing(project, manager, trio, member):
    hook = webhook_create(
        project=project, created_by=manager, url="http://127.0.0.1:9/", events=["item.resolved"]
    )
    item = ItemFactory(project=project)
    submit_labels(item, dict(zip(trio, ["clean", "clean", "scratch"], strict=True)))
    with pytest.raises(ApplicationError):
        decision_make(
            item_id=item.pk,
            decided_by=member(Role.REVIEWER),
            outcome="label",
            label_key="no-such-class",
            reason="r",
        )
    assert not ReviewDecision.objects.exists()
    assert not WebhookDelivery.objects.filter(webhook=hook).exists()


# The API ---------------------------------------------------------------------------------------


@pytest.fixture
def roles(member):
    return {role: member(role) for role in Role.values}


def test_a_manager_registers_lists_edits_and_deletes_a_hook(project, roles, api):
    client = api(roles[Role.MANAGER])
    url = f"/api/v1/projects/{project.pk}/webhooks/"
    created = client.post(
        url,
        {"url": "https://example.test/hooks", "events": ["report.computed", "item.disputed"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    hook = created.json()
    # events come back in the canonical order, with a generated 64-hex secret
    assert hook["events"] == ["item.disputed", "report.computed"]
    assert re.fullmatch(r"[0-9a-f]{64}", hook["secret"])
    assert hook["active"] is True
    assert hook["created_by"] == roles[Role.MANAGER].username
    listed = client.get(url).json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert listed[0]["secret"] == hook["secret"]
    patched = client.patch(
        f"/api/v1/webhooks/{hook['id']}/",
        {"active": False, "events": ["item.resolved"]},
        format="json",
    )
    assert patched.status_code == 200
    assert (patched.json()["active"], patched.json()["events"]) == (False, ["item.resolved"])
    assert client.delete(f"/api/v1/webhooks/{hook['id']}/").status_code == 204
    assert not Webhook.objects.exists()


def test_only_managers_reach_webhooks_and_outsiders_get_404(project, roles, api):
    hook = webhook_create(
        project=project,
        created_by=roles[Role.MANAGER],
        url="http://127.0.0.1:9/",
        events=["dataset.frozen"],
    )
    delivery = WebhookDelivery.objects.create(webhook=hook, event="dataset.frozen", body="{}")
    calls = [
        ("get", f"/api/v1/projects/{project.pk}/webhooks/", None),
        (
            "post",
            f"/api/v1/projects/{project.pk}/webhooks/",
            {"url": "http://127.0.0.1:9/", "events": ["item.disputed"]},
        ),
        ("patch", f"/api/v1/webhooks/{hook.pk}/", {"active": False}),
        ("post", f"/api/v1/webhooks/{hook.pk}/rotate-secret/", None),
        ("get", f"/api/v1/webhooks/{hook.pk}/deliveries/", None),
        ("post", f"/api/v1/deliveries/{delivery.pk}/replay/", None),
        ("delete", f"/api/v1/webhooks/{hook.pk}/", None),
    ]
    outsider = UserFactory()
    for method, url, data in calls:
        for role in (Role.LABELER, Role.REVIEWER, Role.ENGINEER):
            response = getattr(api(roles[role]), method)(url, data, format="json")
            assert response.status_code == 403, (role, method, url, response.content)
            assert "secret" not in response.content.decode()
        response = getattr(api(outsider), method)(url, data, format="json")
        assert response.status_code == 404, (method, url)
        assert getattr(api(), method)(url, data, format="json").status_code in (401, 403)
    # nothing changed
    hook.refresh_from_db()
    assert hook.active is True
    assert Webhook.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"events": ["item.disputed"]}, "url"),
        ({"url": "", "events": ["item.disputed"]}, "url"),
        ({"url": "ftp://example.test/x", "events": ["item.disputed"]}, "url"),
        ({"url": "http://", "events": ["item.disputed"]}, "url"),
        ({"url": "example.test/hooks", "events": ["item.disputed"]}, "url"),
        ({"url": "http://exa mple.test/", "events": ["item.disputed"]}, "url"),
        ({"url": "http://example.test:99999/", "events": ["item.disputed"]}, "url"),
        ({"url": "http://example.test/" + "a" * 2000, "events": ["item.disputed"]}, "url"),
        ({"url": "http://example.test/"}, "events"),
        ({"url": "http://example.test/", "events": []}, "events"),
        ({"url": "http://example.test/", "events": "item.disputed"}, "events"),
        ({"url": "http://example.test/", "events": ["item.exploded"]}, "events[0]"),
        ({"url": "http://example.test/", "events": ["item.disputed", None]}, "events[1]"),
        ({"url": "http://example.test/", "events": ["item.disputed"], "active": "x"}, "active"),
    ],
)
def test_bad_hooks_are_400_naming_the_field_and_write_nothing(project, manager, api, data, field):
    response = api(manager).post(f"/api/v1/projects/{project.pk}/webhooks/", data, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not Webhook.objects.exists()


def test_a_bad_edit_is_400_and_changes_nothing(project, manager, api):
    hook = webhook_create(
        project=project, created_by=manager, url="http://127.0.0.1:9/", events=["item.disputed"]
    )
    client = api(manager)
    for data, field in (
        ({"url": "javascript:alert(1)", "events": ["item.resolved"]}, "url"),
        ({"events": [], "url": "http://127.0.0.1:10/"}, "events"),
    ):
        response = client.patch(f"/api/v1/webhooks/{hook.pk}/", data, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field
    hook.refresh_from_db()
    assert (hook.url, hook.events) == ("http://127.0.0.1:9/", ["item.disputed"])


def test_the_service_refuses_what_the_api_refuses(project, manager):
    with pytest.raises(ApplicationError) as error:
        webhook_create(
            project=project, created_by=manager, url="gopher://x", events=["item.disputed"]
        )
    assert error.value.field == "url"
    with pytest.raises(ApplicationError) as error:
        webhook_create(project=project, created_by=manager, url="http://x/", events=["nope"])
    assert error.value.field == "events"
    with pytest.raises(ValueError, match="unknown webhook event"):
        webhook_event_emit(project_id=project.pk, event="nope", payload={})


def test_the_delivery_log_pages_newest_first(project, manager, api):
    hook = webhook_create(
        project=project, created_by=manager, url="http://127.0.0.1:9/", events=["dataset.frozen"]
    )
    ids = [
        WebhookDelivery.objects.create(webhook=hook, event="dataset.frozen", body=f'{{"n":{n}}}').pk
        for n in range(5)
    ]
    client = api(manager)
    page = client.get(f"/api/v1/webhooks/{hook.pk}/deliveries/?page_size=2").json()
    seen = [d["id"] for d in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [d["id"] for d in page["results"]]
    assert seen == ids[::-1]
    first = client.get(f"/api/v1/webhooks/{hook.pk}/deliveries/?page_size=1").json()["results"][0]
    assert set(first) >= {"event", "status", "attempts", "response_status", "response_ms", "body"}


def test_a_replay_sends_the_same_bytes_as_a_new_delivery(
    project, manager, api, django_capture_on_commit_callbacks
):
    with Receiver(statuses=(500, 500, 500, 500, 500, 200)) as receiver:
        hook = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["dataset.frozen"]
        )
        _emit(django_capture_on_commit_callbacks, project)
        original = WebhookDelivery.objects.get(webhook=hook)
        assert original.status == DeliveryStatus.FAILED
        # when the manager replays the failed delivery
        with django_capture_on_commit_callbacks(execute=True):
            response = api(manager).post(f"/api/v1/deliveries/{original.pk}/replay/")
    assert response.status_code == 201, response.content
    replay = response.json()
    # then a new delivery was sent with the same body, signature, and a new delivery id
    assert replay["replay_of"] == original.pk
    assert replay["id"] != original.pk
    assert WebhookDelivery.objects.get(pk=replay["id"]).status == DeliveryStatus.SUCCEEDED
    first, last = receiver.received[0], receiver.received[-1]
    assert last.body == first.body
    assert last.headers["X-LabelHub-Signature"] == first.headers["X-LabelHub-Signature"]
    assert last.headers["X-LabelHub-Delivery"] == str(replay["id"])
    assert first.headers["X-LabelHub-Delivery"] == str(original.pk)
    original.refresh_from_db()
    assert original.status == DeliveryStatus.FAILED  # the log keeps the original as it was


def test_a_replay_on_an_inactive_hook_is_409(project, manager, api):
    hook = webhook_create(
        project=project, created_by=manager, url="http://127.0.0.1:9/", events=["dataset.frozen"]
    )
    delivery = WebhookDelivery.objects.create(webhook=hook, event="dataset.frozen", body="{}")
    webhook_update(hook=hook, active=False)
    response = api(manager).post(f"/api/v1/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "webhook_inactive"
    assert WebhookDelivery.objects.count() == 1


def test_a_delivery_that_cannot_be_recorded_does_not_fail_the_label(
    project, manager, member, api, monkeypatch, django_capture_on_commit_callbacks
):
    webhook_create(
        project=project,
        created_by=manager,
        url="http://127.0.0.1:9/",
        events=["annotation.submitted"],
    )

    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(webhook_services, "webhook_event_emit", broken)
    labeler = member(Role.LABELER)
    item = ItemFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(labeler).post(
            "/api/v1/annotations/",
            {"item": item.pk, "value": {"label": "dent"}, "idempotency_key": "k1"},
            format="json",
        )
    assert response.status_code == 201
    assert Annotation.objects.filter(item=item).count() == 1
    assert not WebhookDelivery.objects.exists()


def test_the_page_is_for_managers(project, roles, client):
    hook = webhook_create(
        project=project,
        created_by=roles[Role.MANAGER],
        url="http://127.0.0.1:9/",
        events=["item.resolved"],
    )
    url = f"/projects/{project.pk}/webhooks/"
    client.force_login(roles[Role.MANAGER])
    page = client.get(url)
    assert page.status_code == 200
    assert hook.secret in page.content.decode()  # in the page's config, for reveal and copy
    for role in (Role.LABELER, Role.REVIEWER, Role.ENGINEER):
        client.force_login(roles[role])
        response = client.get(url)
        assert response.status_code == 403
        assert hook.secret not in response.content.decode()
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404


def test_a_broker_that_is_down_leaves_the_delivery_pending_and_the_action_unharmed(
    project, manager, monkeypatch, django_capture_on_commit_callbacks
):
    hook = webhook_create(
        project=project, created_by=manager, url="http://127.0.0.1:9/", events=["dataset.frozen"]
    )

    def down(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    monkeypatch.setattr(tasks.webhook_deliver_task, "apply_async", down)
    _emit(django_capture_on_commit_callbacks, project)  # raises nothing
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
