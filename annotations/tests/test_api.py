"""The public API contract: flows, permissions per role, blind labeling, one error shape."""

import pytest

from annotations.models import Annotation, Item, LabelClass, Membership
from annotations.services.tokens import api_token_authenticate
from tests.factories import ItemFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("labeler", "reviewer", "engineer", "manager")


def test_token_login_then_create_project_and_add_members(api):
    user = UserFactory(username="mia")
    response = api().post(
        "/api/v1/auth/token/", {"username": "mia", "password": "pw-labelhub-1"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    created = client.post(
        "/api/v1/projects/",
        {
            "name": "Phones",
            "task_type": "classification",
            "overlap": 3,
            "classes": [
                {"key": "scratch", "name": "Scratch", "kind": "normal"},
                {"key": "borderline", "kind": "borderline"},
                {"key": "clean"},
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    project = created.json()
    assert project["my_role"] == "manager"
    assert [(c["key"], c["hotkey"]) for c in project["classes"]] == [
        ("scratch", "1"),
        ("borderline", "b"),
        ("clean", "2"),
    ]
    UserFactory(username="lee")
    added = client.post(
        f"/api/v1/projects/{project['id']}/members/",
        {"username": "lee", "role": "labeler"},
        format="json",
    )
    assert added.status_code == 201
    assert Membership.objects.filter(user__username="mia", role="manager").exists()
    assert api_token_authenticate(key=token).user_id == user.pk


def test_wrong_password_gives_the_error_shape(api):
    UserFactory(username="mia")
    response = api().post(
        "/api/v1/auth/token/", {"username": "mia", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"classes": [{"key": "a"}]}, "name"),
        ({"name": "P", "classes": []}, "classes"),
        ({"name": "P", "classes": [{"key": "a"}, {"key": "a"}]}, "classes[1].key"),
        (
            {
                "name": "P",
                "classes": [{"key": "a", "kind": "borderline"}, {"key": "b", "kind": "borderline"}],
            },
            "classes",
        ),
        ({"name": "P", "overlap": 0, "classes": [{"key": "a"}]}, "overlap"),
        ({"name": "P", "task_type": "boxes", "classes": [{"key": "a"}]}, "task_type"),
        ({"name": "P", "classes": [{"key": "not a slug!"}]}, "classes[0].key"),
    ],
)
def test_bad_project_input_names_the_field(api, body, field):
    response = api(UserFactory()).post("/api/v1/projects/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_labeling_loop_through_the_api(api, project, labeler, items):
    (item,) = items(1)
    client = api(labeler)
    nxt = client.post(f"/api/v1/projects/{project.pk}/next/")
    assert nxt.status_code == 200
    assert set(nxt.json()["item"]) == {"id", "external_id", "kind", "text", "image", "audio"}
    body = {
        "item": item.pk,
        "value": {"label": "dent"},
        "idempotency_key": "abc",
        "time_spent_ms": 900,
    }
    first = client.post("/api/v1/annotations/", body, format="json")
    assert first.status_code == 201
    again = client.post("/api/v1/annotations/", body, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert client.post(f"/api/v1/projects/{project.pk}/next/").status_code == 204
    progress = client.get(f"/api/v1/projects/{project.pk}/progress/").json()
    assert progress == {"my_labels": 1, "items_total": 1, "items_open": 1}
    undo = client.post(f"/api/v1/annotations/{first.json()['id']}/withdraw/")
    assert undo.status_code == 200
    assert undo.json()["withdrawn"] is True
    assert client.post(f"/api/v1/projects/{project.pk}/next/").json()["item"]["id"] == item.pk
    assert client.post(f"/api/v1/items/{item.pk}/skip/").json()["status"] == "skipped"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": {"label": "dent"}, "idempotency_key": "k"}, "item"),
        ({"item": 1, "value": "dent", "idempotency_key": "k"}, "value"),
        ({"item": 1, "value": {"label": "dent", "x": 1}, "idempotency_key": "k"}, "value.label"),
        ({"item": 1, "value": {}, "idempotency_key": "k"}, "value.label"),
        ({"item": 1, "value": {"label": "dent"}}, "idempotency_key"),
        (
            {"item": 1, "value": {"label": "dent"}, "idempotency_key": "k", "time_spent_ms": -5},
            "time_spent_ms",
        ),
        ({"item": "abc", "value": {"label": "dent"}, "idempotency_key": "k"}, "item"),
        ({"item": 2**63, "value": {"label": "dent"}, "idempotency_key": "k"}, "item"),
    ],
)
def test_bad_submissions_name_the_field(api, labeler, body, field):
    response = api(labeler).post("/api/v1/annotations/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not Annotation.objects.exists()


def test_submitting_to_a_missing_item_is_404(api, labeler):
    response = api(labeler).post(
        "/api/v1/annotations/",
        {"item": 987654, "value": {"label": "dent"}, "idempotency_key": "k"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_malformed_json_is_a_400_not_a_500(api, labeler):
    response = api(labeler).post("/api/v1/annotations/", "{broken", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


# --- permissions: each role on each endpoint -----------------------------------------------

ENDPOINTS = [
    # (method, path template, allowed roles)
    ("get", "/api/v1/projects/{p}/", set(ROLES)),
    ("get", "/api/v1/projects/{p}/classes/", set(ROLES)),
    ("get", "/api/v1/projects/{p}/members/", {"manager"}),
    ("get", "/api/v1/projects/{p}/items/", {"manager", "engineer"}),
    ("get", "/api/v1/projects/{p}/annotations/", set(ROLES)),
    ("get", "/api/v1/projects/{p}/progress/", set(ROLES)),
    ("post", "/api/v1/projects/{p}/next/", {"labeler"}),
    ("patch", "/api/v1/projects/{p}/", {"manager"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
@pytest.mark.parametrize("role", ROLES)
def test_role_permissions(api, member, project, method, path, allowed, role):
    response = getattr(api(member(role)), method)(path.format(p=project.pk), {}, format="json")
    if role in allowed:
        assert response.status_code in {200, 204}, response.content
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
def test_non_members_get_404_and_anonymous_401(api, project, method, path, allowed):
    url = path.format(p=project.pk)
    assert getattr(api(UserFactory()), method)(url, {}, format="json").status_code == 404
    assert getattr(api(), method)(url, {}, format="json").status_code == 401


def test_project_list_shows_only_my_projects(api, project, labeler):
    ProjectFactory(name="Someone else's")
    names = [p["name"] for p in api(labeler).get("/api/v1/projects/").json()["results"]]
    assert names == [project.name]


def test_labelers_are_blind(api, project, member):
    # given an item with a gold label and labels by two labelers
    gold = LabelClass.objects.get(project=project, key="dent")
    item = ItemFactory(project=project, gold_label=gold, slices={"camera": "A"})
    me, other = member(), member()
    for user, key in ((other, "scratch"), (me, "clean")):
        api(user).post(
            "/api/v1/annotations/",
            {"item": item.pk, "value": {"label": key}, "idempotency_key": f"k{user.pk}"},
            format="json",
        )
    client = api(me)
    # then a labeler sees only their own annotations
    rows = client.get(f"/api/v1/projects/{project.pk}/annotations/").json()["results"]
    assert [r["label"] for r in rows] == ["clean"]
    # and no item list with gold
    assert client.get(f"/api/v1/projects/{project.pk}/items/").status_code == 403
    # and the item they are offered carries neither gold nor slices
    item2 = ItemFactory(project=project, gold_label=gold)
    offered = client.post(f"/api/v1/projects/{project.pk}/next/").json()
    assert offered["item"]["id"] == item2.pk
    assert "gold" not in offered["item"]
    assert "slices" not in offered["item"]
    # while a reviewer sees both labels
    reviewer_rows = (
        api(member("reviewer")).get(f"/api/v1/projects/{project.pk}/annotations/").json()["results"]
    )
    assert sorted(r["label"] for r in reviewer_rows) == ["clean", "scratch"]


def test_labeler_cannot_touch_another_projects_items(api, labeler):
    foreign = ItemFactory()  # not in the labeler's project
    client = api(labeler)
    assert client.post(f"/api/v1/items/{foreign.pk}/skip/").status_code == 404
    assert client.get(f"/api/v1/items/{foreign.pk}/image/").status_code == 404
    response = client.post(
        "/api/v1/annotations/",
        {"item": foreign.pk, "value": {"label": "dent"}, "idempotency_key": "x"},
        format="json",
    )
    assert response.status_code == 404


def test_item_list_filters_and_paginates(api, project, manager):
    for i in range(7):
        ItemFactory(project=project, slices={"camera": "A" if i % 2 else "B"})
    client = api(manager)
    url = f"/api/v1/projects/{project.pk}/items/"
    page = client.get(url, {"page_size": 3}).json()
    assert len(page["results"]) == 3
    assert page["next"]
    assert len(client.get(page["next"]).json()["results"]) == 3
    camera_a = client.get(url, {"slice": "camera:A"}).json()["results"]
    assert len(camera_a) == 3
    assert client.get(url, {"status": "complete"}).json()["results"] == []
    bad = client.get(url, {"status": "nope"})
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "status"
    assert client.get(url, {"slice": "nocolon"}).status_code == 400


def test_item_list_query_count_does_not_grow_with_items(
    api, project, manager, django_assert_max_num_queries
):
    ItemFactory.create_batch(
        40, project=project, gold_label=LabelClass.objects.filter(project=project).first()
    )
    with django_assert_max_num_queries(4):
        response = api(manager).get(f"/api/v1/projects/{project.pk}/items/")
    assert len(response.json()["results"]) == 40


def test_overlap_change_reopens_items(api, project, manager, member):
    project.overlap = 1
    project.save()
    item = ItemFactory(project=project)
    api(member()).post(
        "/api/v1/annotations/",
        {"item": item.pk, "value": {"label": "dent"}, "idempotency_key": "k"},
        format="json",
    )
    item.refresh_from_db()
    assert item.status == "complete"
    response = api(manager).patch(f"/api/v1/projects/{project.pk}/", {"overlap": 2}, format="json")
    assert response.status_code == 200
    assert response.json()["overlap"] == 2
    assert Item.objects.get(pk=item.pk).status == "open"


def test_last_manager_cannot_be_demoted(api, project, manager):
    response = api(manager).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"username": manager.username, "role": "labeler"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "last_manager",
        "field": "role",
        "message": "A project must keep at least one manager.",
    }


def test_adding_an_unknown_user_is_404(api, project, manager):
    response = api(manager).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"username": "ghost", "role": "labeler"},
        format="json",
    )
    assert response.status_code == 404


def test_managers_add_classes(api, project, manager):
    url = f"/api/v1/projects/{project.pk}/classes/"
    created = api(manager).post(url, {"key": "pit_mark", "name": "Pit mark"}, format="json")
    assert created.status_code == 201
    assert created.json()["hotkey"] == "4"
    duplicate = api(manager).post(url, {"key": "pit_mark"}, format="json")
    assert duplicate.status_code == 409
    second_borderline = api(manager).post(
        url, {"key": "unsure", "kind": "borderline"}, format="json"
    )
    assert second_borderline.status_code == 409


def test_openapi_schema_builds(api, manager):
    response = api(manager).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/annotations/" in response.content
    assert b"/api/v1/projects/{project_id}/disagreements/" in response.content


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    from django.core.management import call_command

    # then the schema validates against OpenAPI 3 and the generator warns about nothing
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_the_schema_says_an_items_gold_and_a_classs_merge_may_be_null(api, project, manager, items):
    # Found by the schemathesis fuzz (tests/test_api_fuzz.py): an item without gold and a class
    # never merged answer null, which the schema did not allow.
    from drf_spectacular.generators import SchemaGenerator

    items(1)
    rows = api(manager).get(f"/api/v1/projects/{project.pk}/items/").json()["results"]
    assert rows[0]["gold"] is None
    classes = api(manager).get(f"/api/v1/projects/{project.pk}/classes/").json()
    assert classes[0]["merged_into"] is None
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    assert schemas["Item"]["properties"]["gold"]["nullable"] is True
    assert schemas["LabelClass"]["properties"]["merged_into"]["nullable"] is True


def test_skip_and_undo_keys_cannot_be_class_hotkeys(api, project, manager):
    response = api(manager).post(
        f"/api/v1/projects/{project.pk}/classes/", {"key": "smudge", "hotkey": "s"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "reserved_hotkey"
    created = api(UserFactory()).post(
        "/api/v1/projects/", {"name": "P", "classes": [{"key": "a", "hotkey": "Z"}]}, format="json"
    )
    assert created.json()["error"]["field"] == "classes[0].hotkey"


def test_managers_rename_and_rekey_classes_but_not_change_keys(api, project, member):
    dent = LabelClass.objects.get(project=project, key="dent")
    url = f"/api/v1/projects/{project.pk}/classes/{dent.pk}/"
    response = api(member("manager")).patch(
        url, {"name": "Dent (deep)", "hotkey": "D", "key": "other"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["key"], response.json()["name"], response.json()["hotkey"]) == (
        "dent",
        "Dent (deep)",
        "d",
    )
    taken = api(member("manager")).patch(url, {"hotkey": "1"}, format="json")
    assert taken.status_code == 409
    assert api(member("labeler")).patch(url, {"name": "x"}, format="json").status_code == 403
    other_project_class = ProjectFactory().classes.first()
    missing = f"/api/v1/projects/{project.pk}/classes/{other_project_class.pk}/"
    assert api(member("manager")).patch(missing, {"name": "x"}, format="json").status_code == 404
