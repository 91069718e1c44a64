"""Many labelers at once on PostgreSQL: never more labelers per item than the overlap, never the
same item twice to one labeler, never two live leases on a one-slot item."""

import threading
from collections import Counter

import pytest
from django.db import connection

from annotations.models import Annotation, Assignment, AssignmentStatus, Item
from annotations.services.annotations import annotation_submit
from annotations.services.assignments import assignment_next
from tests.factories import ItemFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_threads(workers, target):
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker):
        try:
            barrier.wait()
            target(worker)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_concurrent_labelers_fill_every_item_exactly_to_overlap(project, member):
    # given 40 items with overlap 3 and 12 labelers starting at the same instant
    project.overlap = 3
    project.save()
    ItemFactory.create_batch(40, project=project)
    labelers = [member() for _ in range(12)]

    def label_until_done(user):
        while (assignment := assignment_next(project=project, labeler=user)) is not None:
            annotation_submit(
                labeler=user,
                item_id=assignment.item_id,
                value={"label": "clean"},
                idempotency_key=f"{user.pk}-{assignment.item_id}",
            )

    # when they all label until nothing is left
    _run_threads(labelers, label_until_done)

    # then every item has exactly 3 labels from 3 distinct labelers
    per_item = Counter(Annotation.objects.filter(withdrawn=False).values_list("item", flat=True))
    assert len(per_item) == 40
    assert set(per_item.values()) == {3}
    pairs = Annotation.objects.values_list("item", "labeler")
    assert len(set(pairs)) == len(pairs)
    assert set(Item.objects.values_list("status", "labels_done")) == {("complete", 3)}


def test_simultaneous_requests_never_share_a_single_slot(project, member):
    # given 10 one-slot items and 16 labelers asking at once
    project.overlap = 1
    project.save()
    ItemFactory.create_batch(10, project=project)
    labelers = [member() for _ in range(16)]
    got: list[int | None] = []
    lock = threading.Lock()

    def ask(user):
        assignment = assignment_next(project=project, labeler=user)
        with lock:
            got.append(assignment.item_id if assignment else None)

    _run_threads(labelers, ask)

    # then 10 labelers got distinct items and 6 got nothing
    handed = [item for item in got if item is not None]
    assert len(handed) == 10
    assert len(set(handed)) == 10
    assert Assignment.objects.filter(status=AssignmentStatus.LEASED).count() == 10


def test_same_idempotency_key_at_once_stores_one_annotation(project, member):
    (item,) = ItemFactory.create_batch(1, project=project)
    user = member()
    ids: list[int] = []

    def submit(_):
        result = annotation_submit(
            labeler=user, item_id=item.pk, value={"label": "dent"}, idempotency_key="double-press"
        )
        ids.append(result.annotation.pk)

    _run_threads(range(6), submit)
    assert len(set(ids)) == 1
    assert Annotation.objects.filter(item=item).count() == 1
