"""Gold mixing: gold items served at a rate and during onboarding, scored, pausing labelers."""

import random

import pytest
from django.core import mail

from annotations.models import LabelClass, Membership
from annotations.services.annotations import annotation_submit, annotation_withdraw
from annotations.services.assignments import assignment_next
from labelhub.errors import ForbiddenError
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold_project(project):
    """6 gold items (gold: dent) and 20 ordinary ones, overlap 2."""
    dent = LabelClass.objects.get(project=project, key="dent")
    gold = ItemFactory.create_batch(6, project=project, gold_label=dent)
    plain = ItemFactory.create_batch(20, project=project)
    project.overlap = 2
    project.save()
    return project, {i.pk for i in gold}, {i.pk for i in plain}


def _label(user, item_id, key, idem):
    return annotation_submit(
        labeler=user, item_id=item_id, value={"label": key}, idempotency_key=idem
    )


def _work(project, user, n, key="dent", rng=None):
    served = []
    for i in range(n):
        assignment = assignment_next(project=project, labeler=user, rng=rng)
        if assignment is None:
            break
        served.append(assignment.item_id)
        _label(user, assignment.item_id, key, f"{user.pk}-{i}")
    return served


def test_mixing_off_treats_gold_items_as_ordinary(gold_project, member):
    project, gold, _ = gold_project
    # overlap 2: two labelers exhaust every item, gold ones included, exactly twice
    served = [_work(project, member(), 100) for _ in range(3)]
    assert len(served[0]) == 26
    assert len(served[1]) == 26
    assert served[2] == []


def test_onboarding_serves_gold_first(gold_project, member):
    project, gold, _ = gold_project
    project.gold_onboarding = 4
    project.save()
    served = _work(project, member(), 4)
    assert set(served) <= gold


def test_gold_rate_mixes_gold_in_and_every_labeler_gets_every_gold_item(gold_project, member):
    project, gold, plain = gold_project
    project.gold_rate = 0.25
    project.save()
    rng = random.Random(7)
    first = _work(project, member(), 100, rng=rng)
    second = _work(project, member(), 100, rng=rng)
    third = _work(project, member(), 100, rng=rng)
    # gold items have no overlap cap: all three labelers answer all six
    for served in (first, second, third):
        assert gold <= set(served)
    # ordinary items keep the overlap of 2
    assert len(set(first) & plain) + len(set(second) & plain) + len(set(third) & plain) == 40
    # and the gold items come mixed in, not all at the start
    assert any(i in plain for i in first[:6])
    assert any(i in gold for i in first[:12])


def test_low_gold_accuracy_pauses_the_labeler_and_mails_managers(
    gold_project, member, django_capture_on_commit_callbacks
):
    project, gold, _ = gold_project
    project.gold_min_accuracy = 0.6
    project.gold_min_answers = 4
    project.gold_onboarding = 6
    project.save()
    boss = member("manager")
    boss.email = "boss@example.org"
    boss.save()
    careless = member()
    # when a labeler answers gold wrongly four times
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ForbiddenError) as exc:
        _work(project, careless, 6, key="clean")
    # then they are paused after the fourth answer, and managers hear of it
    assert exc.value.code == "labeler_paused"
    membership = Membership.objects.get(user=careless)
    assert (membership.gold_answered, membership.gold_correct) == (4, 0)
    assert membership.paused_at is not None
    assert "gold accuracy 0%" in membership.paused_reason
    assert [m.to for m in mail.outbox] == [["boss@example.org"]]
    assert "paused" in mail.outbox[0].subject


def test_paused_labelers_get_no_items_and_cannot_submit(gold_project, member, api):
    project, _, plain = gold_project
    labeler = member()
    Membership.objects.filter(user=labeler).update(paused_at="2026-01-01T00:00:00Z")
    client = api(labeler)
    response = client.post(f"/api/v1/projects/{project.pk}/next/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "labeler_paused"
    submit = client.post(
        "/api/v1/annotations/",
        {"item": min(plain), "value": {"label": "dent"}, "idempotency_key": "x"},
        format="json",
    )
    assert submit.status_code == 403


def test_manager_lifts_a_pause_and_the_record_restarts(gold_project, member, api):
    project, _, _ = gold_project
    labeler = member(username="pat")
    Membership.objects.filter(user=labeler).update(
        paused_at="2026-01-01T00:00:00Z", gold_answered=9, gold_correct=1
    )
    url = f"/api/v1/projects/{project.pk}/members/unpause/"
    assert api(member("reviewer")).post(url, {"username": "pat"}, format="json").status_code == 403
    response = api(member("manager")).post(url, {"username": "pat"}, format="json")
    assert response.status_code == 200
    assert response.json()["paused_at"] is None
    assert response.json()["gold_answered"] == 0
    again = api(member("manager")).post(url, {"username": "pat"}, format="json")
    assert again.status_code == 409


def test_undo_of_a_gold_answer_uncounts_it(gold_project, member):
    project, gold, _ = gold_project
    labeler = member()
    annotation = _label(labeler, min(gold), "dent", "a").annotation
    annotation_withdraw(labeler=labeler, annotation_id=annotation.pk)
    _label(labeler, min(gold), "clean", "b")
    membership = Membership.objects.get(user=labeler)
    assert (membership.gold_answered, membership.gold_correct) == (1, 0)


def test_labelers_do_not_see_gold_settings(gold_project, member, api):
    project, _, _ = gold_project
    mine = api(member()).get(f"/api/v1/projects/{project.pk}/").json()
    assert "gold_rate" not in mine
    managed = api(member("manager")).patch(
        f"/api/v1/projects/{project.pk}/",
        {"gold_rate": 0.1, "gold_min_accuracy": None},
        format="json",
    )
    assert managed.json()["gold_rate"] == 0.1
    bad = api(member("manager")).patch(
        f"/api/v1/projects/{project.pk}/", {"gold_rate": 2}, format="json"
    )
    assert bad.json()["error"]["field"] == "gold_rate"
