"""A real Celery worker and Redis send webhook deliveries: the event is recorded in the request's
transaction, the task goes through the broker after commit, and a failed attempt is retried by
the worker (with the backoff base at 0 s so the test does not wait)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from consensus.models import DeliveryStatus, WebhookDelivery
from consensus.services.webhooks import webhook_create, webhook_event_emit
from tests.celery_worker import REDIS_URL, running_worker, wait_for
from tests.webhook_receiver import Receiver

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not REDIS_URL, reason="set LABELHUB_TEST_REDIS_URL (CI does)"),
]


@pytest.fixture
def worker(tmp_path: Path):
    """A Celery worker process on the test database, with Redis as broker and cache, and no
    waiting between webhook retries."""
    log = tmp_path / "worker.log"
    with running_worker(log, env={"LABELHUB_WEBHOOK_BACKOFF_SECONDS": "0"}):
        yield log


def test_the_worker_sends_a_signed_delivery_and_retries_a_failed_attempt(worker, project, manager):
    with Receiver(statuses=(503, 200)) as receiver:
        # given a hook on a local receiver that fails once, then answers
        hook = webhook_create(
            project=project, created_by=manager, url=receiver.url, events=["dataset.frozen"]
        )
        # when the event is emitted (autocommit: the task goes to the broker at once)
        webhook_event_emit(project_id=project.pk, event="dataset.frozen", payload={"dataset": 1})
        delivery = WebhookDelivery.objects.get(webhook=hook)
        # then the worker, not this process, sends it, and retries after the 503
        wait_for(
            lambda: WebhookDelivery.objects.get(pk=delivery.pk).status != DeliveryStatus.PENDING,
            60,
            "the worker to deliver",
        )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.SUCCEEDED,
        2,
        200,
    )
    worker_log = worker.read_text()
    assert f"webhook delivery {delivery.pk}: HTTP 503" in worker_log  # the worker's retry
    assert f"webhook delivery {delivery.pk}: succeeded" in worker_log
    assert [r.headers["X-LabelHub-Delivery"] for r in receiver.received] == [str(delivery.pk)] * 2
    body = receiver.received[-1].body
    assert body == delivery.body.encode()
    expected = "sha256=" + hmac.new(hook.secret.encode(), body, hashlib.sha256).hexdigest()
    assert receiver.received[-1].headers["X-LabelHub-Signature"] == expected
