"""annotation_submit / annotation_withdraw: rules, idempotency, immutability."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import Annotation, Assignment, Round
from annotations.services.annotations import annotation_submit, annotation_withdraw
from annotations.services.assignments import assignment_next, lease_duration
from annotations.signals import annotation_committed
from labelhub.errors import ApplicationError, ConflictError, ForbiddenError, NotFoundError
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def submit(user, item, key="clean", idem="k1", **kwargs):
    return annotation_submit(
        labeler=user, item_id=item.pk, value={"label": key}, idempotency_key=idem, **kwargs
    )


def test_submit_stores_the_label_and_fills_a_slot(project, labeler, items):
    (item,) = items(1)
    result = submit(labeler, item, "scratch", time_spent_ms=1234)
    item.refresh_from_db()
    assert result.created
    assert (result.annotation.label.key, result.annotation.value) == (
        "scratch",
        {"label": "scratch"},
    )
    assert result.annotation.time_spent_ms == 1234
    assert item.labels_done == 1
    assert Assignment.objects.get(item=item, labeler=labeler).status == "submitted"


def test_same_idempotency_key_returns_the_first_result(project, labeler, items):
    (item,) = items(1)
    first = submit(labeler, item, idem="same")
    again = submit(labeler, item, idem="same")
    item.refresh_from_db()
    assert not again.created
    assert again.annotation.pk == first.annotation.pk
    assert Annotation.objects.count() == 1
    assert item.labels_done == 1


def test_reused_idempotency_key_with_another_payload_is_a_conflict(project, labeler, items):
    first, second = items(2)
    submit(labeler, first, idem="same")
    with pytest.raises(ConflictError) as exc:
        submit(labeler, second, idem="same")
    assert exc.value.field == "idempotency_key"


def test_unknown_class_is_rejected_naming_the_field(project, labeler, items):
    (item,) = items(1)
    with pytest.raises(ApplicationError) as exc:
        submit(labeler, item, "not-a-class")
    assert exc.value.field == "value.label"
    assert Annotation.objects.count() == 0


def test_class_of_another_project_is_rejected(project, labeler, items):
    from annotations.models import LabelClass
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    LabelClass.objects.create(project=other, key="only_there", name="x")
    (item,) = items(1)
    with pytest.raises(ApplicationError):
        submit(labeler, item, "only_there")


def test_labeling_twice_needs_an_undo(project, labeler, items):
    (item,) = items(1)
    submit(labeler, item, idem="a")
    with pytest.raises(ConflictError):
        submit(labeler, item, idem="b")


def test_non_members_get_not_found_and_other_roles_forbidden(project, member, items):
    (item,) = items(1)
    with pytest.raises(NotFoundError):
        submit(UserFactory(), item)
    for role in ("manager", "reviewer", "engineer"):
        with pytest.raises(ForbiddenError):
            submit(member(role), item, idem=role)


def test_closed_round_refuses_labels(project, labeler, items):
    (item,) = items(1)
    Round.objects.filter(project=project, number=1).update(is_open=False)
    with pytest.raises(ConflictError) as exc:
        submit(labeler, item)
    assert exc.value.code == "round_closed"


def test_submit_without_lease_needs_a_free_slot(project, member, items):
    project.overlap = 1
    project.save()
    (item,) = items(1)
    holder = member()
    assignment_next(project=project, labeler=holder)
    with pytest.raises(ConflictError) as exc:
        submit(member(), item)
    assert exc.value.code == "no_open_slot"
    # the lease holder may submit
    assert submit(holder, item, idem="h").created


def test_expired_lease_holder_may_submit_while_a_slot_is_open(project, member, items):
    (item,) = items(1)
    holder = member()
    start = timezone.now()
    assignment_next(project=project, labeler=holder, now=start)
    late = start + lease_duration() + timedelta(minutes=1)
    assert submit(holder, item, now=late).created


def test_withdraw_keeps_the_row_and_gives_the_item_back(project, labeler, items):
    (item, _) = items(2)
    annotation = submit(labeler, item).annotation
    withdrawn = annotation_withdraw(labeler=labeler, annotation_id=annotation.pk)
    item.refresh_from_db()
    assert withdrawn.withdrawn
    assert withdrawn.withdrawn_at is not None
    assert Annotation.objects.filter(pk=annotation.pk).exists()
    assert (item.labels_done, item.status) == (0, "open")
    assert assignment_next(project=project, labeler=labeler).item_id == item.pk
    # and a new label after the undo is accepted
    assert submit(labeler, item, "dent", idem="after-undo").created


def test_withdraw_twice_is_harmless_and_others_cannot_withdraw(project, member, items):
    (item,) = items(1)
    owner, other = member(), member()
    annotation = submit(owner, item).annotation
    annotation_withdraw(labeler=owner, annotation_id=annotation.pk)
    assert annotation_withdraw(labeler=owner, annotation_id=annotation.pk).withdrawn
    with pytest.raises(NotFoundError):
        annotation_withdraw(labeler=other, annotation_id=annotation.pk)


def test_raw_value_is_never_changed_by_withdraw(project, labeler, items):
    (item,) = items(1)
    annotation = submit(labeler, item, "scratch").annotation
    annotation_withdraw(labeler=labeler, annotation_id=annotation.pk)
    stored = Annotation.objects.get(pk=annotation.pk)
    assert (stored.value, stored.label.key, stored.created_at) == (
        {"label": "scratch"},
        "scratch",
        annotation.created_at,
    )


def test_signal_is_sent_after_commit(project, labeler, items, django_capture_on_commit_callbacks):
    (item,) = items(1)
    received = []

    def receiver(**kwargs):
        received.append((kwargs["item_id"], kwargs["withdrawn"]))

    annotation_committed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            annotation = submit(labeler, item).annotation
        with django_capture_on_commit_callbacks(execute=True):
            annotation_withdraw(labeler=labeler, annotation_id=annotation.pk)
    finally:
        annotation_committed.disconnect(receiver)
    assert received == [(item.pk, False), (item.pk, True)]


def test_item_completes_at_overlap(project, member):
    project.overlap = 2
    project.save()
    item = ItemFactory(project=project)
    submit(member(), item, idem="a")
    submit(member(), item, idem="b")
    item.refresh_from_db()
    assert item.status == "complete"


def test_undone_item_comes_back_before_older_leases(project, labeler, items):
    # given a leased item, then another item labeled (its assignment is newer), then undone
    first, second = items(2)
    assert assignment_next(project=project, labeler=labeler).item_id == first.pk
    annotation = submit(labeler, second).annotation
    annotation_withdraw(labeler=labeler, annotation_id=annotation.pk)
    # then the undone item is shown next, before the older lease
    assert assignment_next(project=project, labeler=labeler).item_id == second.pk
