"""A real Celery worker and Redis: a burst of labels causes a handful of recomputes, and a
failing write is retried with backoff without ever leaving a half-written report."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from annotations.services.annotations import annotation_submit
from consensus.models import ConsistencyReport, ItemConsensus
from consensus.services.recompute import latest_version, requested_version
from consensus.tasks import report_recompute_enqueue
from tests.celery_worker import REDIS_URL, running_worker, wait_for
from tests.factories import ItemFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not REDIS_URL, reason="set LABELHUB_TEST_REDIS_URL (CI does)"),
]


@pytest.fixture
def worker(tmp_path: Path):
    """A Celery worker process on the test database, sharing Redis (broker and cache); a short
    lock timeout lets the retry test make the worker's write fail fast."""
    log = tmp_path / "worker.log"
    with running_worker(log, database_options="-c lock_timeout=500") as process:
        yield process


def test_a_burst_of_labels_causes_a_handful_of_recomputes(worker, project, member):
    # given 60 items and 3 labelers
    items = ItemFactory.create_batch(60, project=project)
    users = [member() for _ in range(3)]
    # when 180 labels are committed as fast as possible (each asks for a recompute after commit)
    for item in items:
        for user in users:
            annotation_submit(
                labeler=user,
                item_id=item.pk,
                value={"label": "dent"},
                idempotency_key=f"{user.pk}-{item.pk}",
            )
    # then the worker catches up with the newest request
    wait_for(
        lambda: latest_version(project.pk) >= requested_version(project.pk),
        60,
        "the report to catch up",
    )
    reports = ConsistencyReport.objects.filter(project=project)
    assert requested_version(project.pk) == 180
    assert 1 <= reports.count() <= 10, reports.count()
    newest = reports.order_by("-version").first()
    assert newest.n_annotations == 180
    assert ItemConsensus.objects.filter(project=project, n_labels=3).count() == 60


def test_a_failed_write_is_retried_and_never_half_written(worker, project, member):
    # given labels, and the report table locked against writes (the worker's insert times out)
    item = ItemFactory(project=project)
    user = member()
    db = connection.settings_dict
    blocker = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=False
    )
    blocker.execute("LOCK TABLE consensus_consistencyreport IN EXCLUSIVE MODE")
    try:
        annotation_submit(
            labeler=user, item_id=item.pk, value={"label": "dent"}, idempotency_key="k"
        )  # enqueues a recompute after commit
        time.sleep(3)  # the worker tries, times out on the lock, backs off, tries again
        # then nothing was written while the write could not complete
        assert not ConsistencyReport.objects.filter(project=project).exists()
        assert not ItemConsensus.objects.filter(project=project, method="dawid_skene").exists()
    finally:
        blocker.rollback()
        blocker.close()
    # and once the lock is gone a retry stores exactly one whole report
    wait_for(
        lambda: ConsistencyReport.objects.filter(project=project).exists(), 60, "a retry to succeed"
    )
    assert ConsistencyReport.objects.filter(project=project).count() == 1
    assert ConsistencyReport.objects.get(project=project).n_annotations == 1


def test_a_second_request_while_a_task_waits_sends_no_second_task(worker, project):
    # given a request whose task waits out its countdown in the broker
    assert report_recompute_enqueue(project.pk) is True
    # when a second request comes before it runs, it only counts (no second task)
    assert report_recompute_enqueue(project.pk) is False
    # then the one task answers both: a single report, at the newest version
    wait_for(lambda: latest_version(project.pk) >= requested_version(project.pk), 30, "a report")
    assert list(
        ConsistencyReport.objects.filter(project=project).values_list("version", flat=True)
    ) == [requested_version(project.pk)]
