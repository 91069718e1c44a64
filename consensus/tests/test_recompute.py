"""Coalesced recomputes: requests are counted, runs skip when covered, no request is lost."""

import pytest
from django.core.cache import cache

from annotations.services.annotations import annotation_submit
from consensus.models import ConsistencyReport, ItemConsensus
from consensus.services import recompute
from consensus.services.recompute import (
    RunOutcome,
    recompute_is_running,
    recompute_mark_requested,
    recompute_run,
    requested_version,
)
from consensus.services.reports import report_recompute
from consensus.tasks import report_recompute_enqueue
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _store(project_id, version):
    return report_recompute(project_id=project_id, version=version)


def test_a_burst_of_requests_enqueues_one_task(project):
    # given 1,000 requests while no task has started (eager mode would run it; count only)
    enqueue = [recompute_mark_requested(project_id=project.pk) for _ in range(1000)]
    # then only the first asked for a task, and the counter holds all 1,000
    assert enqueue.count(True) == 1
    assert requested_version(project.pk) == 1000  # the first request starts it at 1


def test_a_run_answers_the_newest_request_once(project):
    for _ in range(5):
        recompute_mark_requested(project_id=project.pk)
    assert recompute_run(project_id=project.pk, compute=_store) is RunOutcome.COMPUTED
    assert recompute_run(project_id=project.pk, compute=_store) is RunOutcome.UP_TO_DATE
    assert list(ConsistencyReport.objects.values_list("version", flat=True)) == [
        requested_version(project.pk)
    ]


def test_a_held_lock_makes_a_run_exit(project):
    recompute_mark_requested(project_id=project.pk)
    cache.set(recompute._key(project.pk, "lock"), "someone", timeout=60)
    assert recompute_is_running(project.pk)
    assert recompute_run(project_id=project.pk, compute=_store) is RunOutcome.BUSY
    assert not ConsistencyReport.objects.exists()


def test_requests_during_a_run_are_not_lost(project):
    # given a request arriving while the report is being computed
    recompute_mark_requested(project_id=project.pk)
    calls = []

    def compute(project_id, version):
        calls.append(version)
        if len(calls) == 1:
            recompute_mark_requested(project_id=project_id)
        return _store(project_id, version)

    # when the run finishes its computation, it says more is pending
    assert recompute_run(project_id=project.pk, compute=compute) is RunOutcome.MORE_PENDING
    # and the next run answers the newer request
    assert recompute_run(project_id=project.pk, compute=compute) is RunOutcome.COMPUTED
    assert calls == [1, 2]
    assert ConsistencyReport.objects.order_by("-version").first().version == 2


def test_a_committed_label_refreshes_the_item_and_the_report(
    project, member, django_capture_on_commit_callbacks
):
    # given an item labeled by two labelers who disagree, then a third who sides with one
    item = ItemFactory(project=project)
    users = [member() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for user, key in zip(users, ["dent", "scratch", "dent"], strict=True):
            annotation_submit(
                labeler=user, item_id=item.pk, value={"label": key}, idempotency_key=f"k{user.pk}"
            )
    # then the item's consensus and a fresh report exist (eager Celery)
    consensus = ItemConsensus.objects.get(item=item)
    assert consensus.n_labels == 3
    assert consensus.label.key == "dent"
    report = ConsistencyReport.objects.order_by("-version").first()
    assert report.n_annotations == 3
    assert report.version == requested_version(project.pk)


def test_enqueue_runs_the_task_eagerly_in_the_embedded_default(project):
    assert report_recompute_enqueue(project.pk) is True
    assert ConsistencyReport.objects.filter(project=project).count() == 1


def test_a_cache_flush_does_not_make_reports_stale(project):
    # given a fresh report
    recompute_mark_requested(project_id=project.pk)
    recompute_run(project_id=project.pk, compute=_store)
    # when the cache is flushed (a restart), nothing is requested beyond the newest report
    cache.clear()
    assert requested_version(project.pk) == ConsistencyReport.objects.get().version
    # and the next label asks for exactly one newer report
    assert recompute_mark_requested(project_id=project.pk) is True
    assert requested_version(project.pk) == ConsistencyReport.objects.get().version + 1


def test_a_project_without_classes_gets_an_undefined_report(db):
    from annotations.models import Project

    bare = Project.objects.create(name="bare")
    report = report_recompute(project_id=bare.pk, version=1)
    assert report.overall["krippendorff_alpha"]["value"] is None
