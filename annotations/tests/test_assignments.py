"""The assignment engine: what ``assignment_next`` hands out, leases and skips."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotations.models import Assignment, AssignmentStatus, Item
from annotations.services.annotations import annotation_submit
from annotations.services.assignments import assignment_next, assignment_skip, lease_duration
from labelhub.errors import ConflictError, ForbiddenError, NotFoundError

pytestmark = pytest.mark.django_db


def _label(user, item, key="clean"):
    return annotation_submit(
        labeler=user,
        item_id=item.pk,
        value={"label": key},
        idempotency_key=f"{user.pk}-{item.pk}-{key}",
    )


def test_next_prefers_the_item_closest_to_completion(project, member, items):
    # given three items: the first with one label, the third with two
    first, _, fullest = items(3)
    _label(member(), first)
    for user in (member(), member()):
        _label(user, fullest)
    # when a new labeler asks for work
    assignment = assignment_next(project=project, labeler=member())
    # then they get the item that one more label completes
    assert assignment.item_id == fullest.pk


def test_next_never_offers_an_item_twice_to_the_same_labeler(project, labeler, items):
    items(2)
    seen = set()
    for _ in range(2):
        assignment = assignment_next(project=project, labeler=labeler)
        _label(labeler, assignment.item)
        seen.add(assignment.item_id)
    assert len(seen) == 2
    assert assignment_next(project=project, labeler=labeler) is None


def test_next_returns_the_live_lease_again(project, labeler, items):
    items(3)
    first = assignment_next(project=project, labeler=labeler)
    again = assignment_next(project=project, labeler=labeler)
    assert again.item_id == first.item_id
    assert Assignment.objects.filter(labeler=labeler).count() == 1


def test_leases_hold_slots_until_they_expire(project, member, items):
    # given an item with overlap 3 leased by three labelers
    project.overlap = 3
    project.save()
    (item,) = items(1)
    now = timezone.now()
    for _ in range(3):
        assert assignment_next(project=project, labeler=member(), now=now).item_id == item.pk
    # when a fourth labeler asks before the leases expire, there is nothing
    fourth = member()
    assert assignment_next(project=project, labeler=fourth, now=now) is None
    # then after expiry the slot is free again
    later = now + lease_duration() + timedelta(seconds=1)
    assert assignment_next(project=project, labeler=fourth, now=later).item_id == item.pk


def test_full_items_become_complete_and_leave_the_pool(project, member, items):
    project.overlap = 2
    project.save()
    (item,) = items(1)
    for user in (member(), member()):
        assert assignment_next(project=project, labeler=user).item_id == item.pk
        _label(user, item)
    item.refresh_from_db()
    assert (item.status, item.labels_done) == ("complete", 2)
    assert assignment_next(project=project, labeler=member()) is None


def test_skip_frees_the_slot_and_is_not_offered_again(project, member, items):
    project.overlap = 1
    project.save()
    (item,) = items(1)
    skipper, other = member(), member()
    assignment_next(project=project, labeler=skipper)
    assignment_skip(item_id=item.pk, labeler=skipper)
    assert assignment_next(project=project, labeler=skipper) is None
    assert assignment_next(project=project, labeler=other).item_id == item.pk


def test_skip_after_labeling_is_refused(project, labeler, items):
    (item,) = items(1)
    _label(labeler, item)
    with pytest.raises(ConflictError):
        assignment_skip(item_id=item.pk, labeler=labeler)


def test_skip_needs_a_labeler_of_the_project(project, member, items):
    (item,) = items(1)
    with pytest.raises(ForbiddenError):
        assignment_skip(item_id=item.pk, labeler=member("manager"))
    from tests.factories import UserFactory

    with pytest.raises(NotFoundError):
        assignment_skip(item_id=item.pk, labeler=UserFactory())


def test_items_of_other_projects_are_never_offered(project, labeler):
    from tests.factories import ItemFactory

    ItemFactory()  # another project
    assert assignment_next(project=project, labeler=labeler) is None


def test_next_item_runs_a_bounded_number_of_queries(project, labeler, items):
    # given many items; the engine reads one candidate from an index, not the table
    items(30)
    with CaptureQueriesContext(connection) as queries:
        assignment_next(project=project, labeler=labeler)
    assert len(queries) <= 8
    assert Item.objects.filter(assignments__status=AssignmentStatus.LEASED).count() == 1


def test_a_labeler_ahead_of_the_others_skips_the_front_window_quickly(
    project, member, items, monkeypatch
):
    # given a small front window, and more labeled-by-me items than it holds
    from annotations.services import assignments

    monkeypatch.setattr(assignments, "_FRONT_WINDOW", 3)
    project.overlap = 3
    project.save()
    batch = items(8)
    me = member()
    for item in batch[:5]:
        _label(me, item)
    # when I ask for work, the fresh items are found past the window
    assignment = assignment_next(project=project, labeler=me)
    assert assignment.item_id == batch[5].pk
    # and once no fresh item is left, the full search still finds work
    for item in batch[5:]:
        _label(me, item)
    other = member()
    for item in batch[:4]:
        _label(other, item)
    assert assignment_next(project=project, labeler=me) is None
    assert assignment_next(project=project, labeler=member()).item_id == batch[0].pk
