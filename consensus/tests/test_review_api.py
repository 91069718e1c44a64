"""The review API contract: paths, shapes, permissions per role, and bad input."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from annotations.models import Annotation, Item, Role
from consensus.models import Comment, GuidelineVersion, ReviewDecision
from tests.factories import (
    ItemFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    submit_labels,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(project, trio):
    item = ItemFactory(project=project, slices={"camera": "A"})
    submit_labels(item, dict(zip(trio, ["clean", "clean", "scratch"], strict=True)))
    return item


@pytest.fixture
def roles(member):
    return {role: member(role) for role in (Role.REVIEWER, Role.ENGINEER, Role.MANAGER)}


def _url(path: str) -> str:
    return f"/api/v1/{path}"


def test_the_queue_lists_ranked_items_with_labels_and_pairs(project, disputed, roles, api):
    client = api(roles[Role.REVIEWER])
    body = client.get(_url(f"projects/{project.pk}/disagreements/")).json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row["item"]["id"] == disputed.pk
    assert row["pair"] == ["clean", "scratch"]
    assert sorted((x["labeler"], x["label"]) for x in row["labels"]) == [
        ("ana", "clean"),
        ("ben", "clean"),
        ("cy", "scratch"),
    ]
    assert row["priority"] > 0
    pairs = client.get(_url(f"projects/{project.pk}/disagreements/pairs/")).json()
    assert pairs["pairs"] == [{"pair": ["clean", "scratch"], "items": 1, "share": 1.0}]
    filtered = client.get(
        _url(f"projects/{project.pk}/disagreements/?pair=clean,dent&slice=camera:A")
    )
    assert filtered.json()["count"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pair=clean", "pair"),
        ("pair=clean,rust", "pair"),
        ("round=0", "round"),
        ("limit=0", "limit"),
    ],
)
def test_bad_queue_filters_are_400_naming_them(project, roles, api, query, field):
    response = api(roles[Role.MANAGER]).get(_url(f"projects/{project.pk}/disagreements/?{query}"))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_labelers_are_refused_every_review_endpoint(project, disputed, trio, api):
    client = api(trio[0])
    for method, path, data in [
        ("get", f"projects/{project.pk}/disagreements/", None),
        ("get", f"projects/{project.pk}/disagreements/pairs/", None),
        ("get", f"items/{disputed.pk}/review/", None),
        ("get", f"items/{disputed.pk}/comments/", None),
        ("post", f"items/{disputed.pk}/comments/", {"body": "hi"}),
        ("get", f"items/{disputed.pk}/decision/", None),
        ("post", f"items/{disputed.pk}/decision/", {"outcome": "label", "label": "clean"}),
        ("post", f"projects/{project.pk}/guidelines/", {"body": "x"}),
        ("post", f"projects/{project.pk}/rounds/", {"items": [disputed.pk]}),
        ("get", f"projects/{project.pk}/input-issues/", None),
    ]:
        response = getattr(client, method)(_url(path), data, format="json")
        assert response.status_code == 403, (method, path, response.content)
    assert not Comment.objects.exists()
    assert not ReviewDecision.objects.exists()


def test_outsiders_get_404_and_engineers_discuss_but_do_not_decide(disputed, roles, api):
    outsider = api(MembershipFactory(project=ProjectFactory(), role=Role.REVIEWER).user)
    assert outsider.get(_url(f"items/{disputed.pk}/review/")).status_code == 404
    assert (
        outsider.post(
            _url(f"items/{disputed.pk}/decision/"),
            {"outcome": "label", "label": "clean", "reason": "x"},
            format="json",
        ).status_code
        == 404
    )
    engineer = api(roles[Role.ENGINEER])
    assert (
        engineer.post(
            _url(f"items/{disputed.pk}/comments/"), {"body": "why?"}, format="json"
        ).status_code
        == 201
    )
    decision = {"outcome": "label", "label": "clean", "reason": "x"}
    assert (
        engineer.post(_url(f"items/{disputed.pk}/decision/"), decision, format="json").status_code
        == 403
    )


def test_decide_then_conflict_then_revise_then_history(disputed, roles, member, api):
    sme, sme2 = api(roles[Role.REVIEWER]), api(member(Role.REVIEWER, username="sme2"))
    url = _url(f"items/{disputed.pk}/decision/")
    first = sme.post(
        url, {"outcome": "label", "label": "borderline", "reason": "faint"}, format="json"
    )
    assert first.status_code == 201
    assert first.json()["label"] == "borderline"
    conflict = sme2.post(url, {"outcome": "label", "label": "dent", "reason": "no"}, format="json")
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["code"] == "already_decided"
    assert error["details"][0]["id"] == first.json()["id"]
    revised = sme2.post(
        url,
        {
            "outcome": "instructions_ambiguous",
            "reason": "define faint",
            "revises": first.json()["id"],
        },
        format="json",
    )
    assert revised.status_code == 201
    history = sme.get(url).json()
    assert [(d["revision"], d["current"], d["outcome"]) for d in history] == [
        (2, True, "instructions_ambiguous"),
        (1, False, "label"),
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"outcome": "label", "label": "rust", "reason": "x"}, "label"),
        ({"outcome": "label", "reason": "x"}, "label"),
        ({"outcome": "maybe", "reason": "x"}, "outcome"),
        ({"outcome": "label", "label": "clean", "reason": ""}, "reason"),
    ],
)
def test_bad_decisions_are_400_and_write_nothing(disputed, roles, api, data, field):
    response = api(roles[Role.REVIEWER]).post(
        _url(f"items/{disputed.pk}/decision/"), data, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not ReviewDecision.objects.exists()


def test_an_empty_comment_is_400(disputed, roles, api):
    response = api(roles[Role.REVIEWER]).post(
        _url(f"items/{disputed.pk}/comments/"), {"body": "   "}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "body"


def test_the_review_view_shows_labelers_reliability_and_same_pair_items(
    project, disputed, trio, roles, api
):
    from consensus.services.reports import report_recompute

    twin = ItemFactory(project=project)
    submit_labels(twin, dict(zip(trio, ["scratch", "clean", "scratch"], strict=True)))
    report_recompute(project_id=project.pk, version=99)
    body = api(roles[Role.REVIEWER]).get(_url(f"items/{disputed.pk}/review/")).json()
    assert {row["labeler"] for row in body["labels"]} == {"ana", "ben", "cy"}
    assert all(row["reliability"] is not None for row in body["labels"])
    assert body["counts"] == {"clean": 2, "scratch": 1}
    assert [i["id"] for i in body["same_pair"]] == [twin.pk]
    assert body["can_decide"] is True


def test_flags_by_labelers_only_on_items_they_hold(project, disputed, trio, roles, api):
    url = _url(f"items/{disputed.pk}/flags/")
    created = api(trio[0]).post(url, {"kind": "unsure", "note": "faint line"}, format="json")
    assert created.status_code == 201
    assert created.json() == {
        "item": disputed.pk,
        "round": 1,
        "kind": "unsure",
        "note": "faint line",
    }
    assert api(roles[Role.REVIEWER]).post(url, {"kind": "unsure"}, format="json").status_code == 403
    stranger = MembershipFactory(project=project, role=Role.LABELER).user
    assert api(stranger).post(url, {"kind": "unsure"}, format="json").status_code == 404
    bad = api(trio[0]).post(url, {"kind": "boring"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "kind"
    # and a labeler never reads the flags back through the review endpoints
    assert api(trio[1]).get(_url(f"projects/{project.pk}/disagreements/")).status_code == 403


def test_guidelines_publish_acknowledge_and_block(project, trio, roles, api, items):
    items(1)
    manager = api(roles[Role.MANAGER])
    published = manager.post(
        _url(f"projects/{project.pk}/guidelines/"),
        {"body": "# v1\nBe careful.", "changelog": "first"},
        format="json",
    )
    assert published.status_code == 201
    assert published.json()["version"] == 1
    labeler = api(trio[0])
    blocked = labeler.post(_url(f"projects/{project.pk}/next/"))
    assert blocked.status_code == 409
    assert blocked.json()["error"]["code"] == "guideline_unacknowledged"
    listing = labeler.get(_url(f"projects/{project.pk}/guidelines/")).json()
    assert (listing["current_version"], listing["acknowledged"]) == (1, 0)
    assert listing["versions"][0]["body"] == "# v1\nBe careful."
    ack = labeler.post(_url(f"projects/{project.pk}/guidelines/1/acknowledge/"))
    assert ack.json() == {"acknowledged": 1, "current_version": 1}
    assert labeler.post(_url(f"projects/{project.pk}/next/")).status_code == 200
    assert labeler.post(_url(f"projects/{project.pk}/guidelines/7/acknowledge/")).status_code == 404


def test_rounds_by_ids_or_by_queue_filter(project, disputed, trio, roles, api):
    other = ItemFactory(project=project)
    submit_labels(other, dict(zip(trio, ["dent", "dent", "dent"], strict=True)))
    manager = api(roles[Role.MANAGER])
    by_filter = manager.post(
        _url(f"projects/{project.pk}/rounds/"),
        {"filter": {"pair": "clean,scratch"}},
        format="json",
    )
    assert by_filter.status_code == 201
    assert by_filter.json()["number"] == 2
    assert by_filter.json()["items"] == 1
    assert project.rounds.get(number=2).started_by == roles[Role.MANAGER]
    assert Item.objects.get(pk=disputed.pk).round == 2
    assert Item.objects.get(pk=other.pk).round == 1
    listing = manager.get(_url(f"projects/{project.pk}/rounds/")).json()
    assert [r["number"] for r in listing["rounds"]] == [1, 2]
    assert (
        api(roles[Role.REVIEWER])
        .post(_url(f"projects/{project.pk}/rounds/"), {"items": [other.pk]}, format="json")
        .status_code
        == 403
    )


def test_a_round_on_another_projects_items_is_400_and_creates_nothing(
    project, disputed, roles, api
):
    foreign = ItemFactory(project=ProjectFactory())
    response = api(roles[Role.MANAGER]).post(
        _url(f"projects/{project.pk}/rounds/"), {"items": [disputed.pk, foreign.pk]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "items"
    project.refresh_from_db()
    assert project.current_round == 1
    assert Annotation.objects.filter(round=2).count() == 0


@pytest.mark.parametrize("data", [{}, {"items": []}, {"items": [1], "filter": {}}, {"items": "x"}])
def test_a_round_needs_items_or_a_filter(project, roles, api, data):
    response = api(roles[Role.MANAGER]).post(
        _url(f"projects/{project.pk}/rounds/"), data, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"].startswith("items")


def test_notifications_count_and_mark_read(project, roles, disputed, api):
    client = api(roles[Role.REVIEWER])
    body = client.get(_url("notifications/")).json()
    assert body["unread"] == 1
    assert body["results"][0]["kind"] == "disagreements"
    assert body["results"][0]["count"] == 1
    assert client.post(_url("notifications/read/"), {}, format="json").json() == {
        "marked": 1,
        "unread": 0,
    }


def test_an_input_lacking_information_is_listed_for_the_data_owner(project, disputed, roles, api):
    api(roles[Role.REVIEWER]).post(
        _url(f"items/{disputed.pk}/decision/"),
        {"outcome": "input_insufficient", "reason": "out of focus"},
        format="json",
    )
    rows = api(roles[Role.ENGINEER]).get(_url(f"projects/{project.pk}/input-issues/")).json()
    assert [(r["item"]["id"], r["reason"]) for r in rows] == [(disputed.pk, "out of focus")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reviewers_deciding_at_once_one_wins_and_the_other_gets_409(project, trio):
    # given a disputed item and two reviewers
    item = ItemFactory(project=project)
    submit_labels(item, dict(zip(trio, ["clean", "clean", "dent"], strict=True)))
    reviewers = [
        MembershipFactory(project=project, role=Role.REVIEWER, user=UserFactory()).user
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    results = []

    def decide(user, label):
        client = APIClient()
        client.force_authenticate(user)
        barrier.wait()
        response = client.post(
            _url(f"items/{item.pk}/decision/"),
            {"outcome": "label", "label": label, "reason": "mine"},
            format="json",
        )
        results.append(response.status_code)
        connection.close()

    threads = [
        threading.Thread(target=decide, args=(user, label))
        for user, label in zip(reviewers, ["clean", "dent"], strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then exactly one decision stands and nothing was overwritten
    assert sorted(results) == [201, 409]
    assert ReviewDecision.objects.filter(item=item).count() == 1


def test_the_review_pair_breaks_ties_by_class_order_like_the_queue(project, trio, roles, api):
    # given a three-way split whose labels arrived dent, scratch, clean
    item = ItemFactory(project=project)
    submit_labels(item, dict(zip(trio, ["dent", "scratch", "clean"], strict=True)))
    client = api(roles[Role.REVIEWER])
    queue = client.get(_url(f"projects/{project.pk}/disagreements/")).json()["results"]
    review = client.get(_url(f"items/{item.pk}/review/")).json()
    # then both name the pair of the first two classes in class order
    assert queue[0]["pair"] == review["pair"] == ["clean", "scratch"]


def test_labelers_read_guidelines_without_the_decisions_behind_them(
    project, disputed, trio, roles, api
):
    sme = api(roles[Role.REVIEWER])
    sme.post(
        _url(f"items/{disputed.pk}/decision/"),
        {"outcome": "instructions_ambiguous", "reason": "ana and ben said clean, cy scratch"},
        format="json",
    )
    published = sme.post(
        _url(f"projects/{project.pk}/guidelines/"), {"body": "text", "changelog": ""}, format="json"
    )
    assert published.status_code == 201
    assert len(published.json()["decisions"]) == 1
    version = api(trio[0]).get(_url(f"projects/{project.pk}/guidelines/")).json()["versions"][0]
    assert "decisions" not in version
    assert version["body"] == "text"


# --- found by the schemathesis fuzz (tests/test_api_fuzz.py) ---------------------------------


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("projects/{p}/rounds/", {"items": [2**63]}, "items[0]"),
        ("notifications/read/", {"ids": [1, 2**63]}, "ids[1]"),
        ("projects/{p}/guidelines/", {"body": "Be precise.", "decisions": [2**63]}, "decisions[0]"),
        (
            "projects/{p}/guidelines/",
            {"body": "Be precise.", "examples": [{"item": 2**64, "label": "clean"}]},
            "examples[0].item",
        ),
    ],
)
def test_ids_beyond_64_bits_are_400_naming_the_field_not_500(
    project, disputed, roles, api, path, data, field
):
    # An id past 2^63-1 in an IN list overflowed SQLite (OverflowError, a 500) and is "bigint
    # out of range" on PostgreSQL; no row can have it, so it is bad input.
    response = api(roles[Role.MANAGER]).post(_url(path.format(p=project.pk)), data, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    project.refresh_from_db()
    assert project.current_round == 1
    assert not GuidelineVersion.objects.filter(project=project).exists()


def test_the_schema_says_what_decisions_and_input_issues_answer(project, disputed, roles, api):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    # a decision without a class (input insufficient) answers "label": null ...
    decided = api(roles[Role.REVIEWER]).post(
        _url(f"items/{disputed.pk}/decision/"),
        {"outcome": "input_insufficient", "reason": "out of focus"},
        format="json",
    )
    assert decided.json()["label"] is None
    assert schema["components"]["schemas"]["Decision"]["properties"]["label"]["nullable"] is True
    # ... and the input issues are a list, not an object
    rows = api(roles[Role.ENGINEER]).get(_url(f"projects/{project.pk}/input-issues/")).json()
    assert isinstance(rows, list)
    answer = schema["paths"]["/api/v1/projects/{project_id}/input-issues/"]["get"]["responses"]
    assert answer["200"]["content"]["application/json"]["schema"]["type"] == "array"
