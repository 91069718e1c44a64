"""Class aliases: legacy spellings map to one class wherever a label arrives as text, and the
raw text a labeler sent is kept."""

from __future__ import annotations

import pytest

from annotations.models import Annotation, Item, LabelClassAlias, Role
from annotations.services.aliases import alias_normalize, class_alias_create
from annotations.services.imports import items_import_records
from tests.factories import ItemFactory, UserFactory, submit_labels

pytestmark = pytest.mark.django_db


def _alias(api, user, project, alias, key):
    return api(user).post(
        f"/api/v1/projects/{project.pk}/aliases/", {"alias": alias, "class": key}, format="json"
    )


@pytest.mark.parametrize(
    ("text", "normalized"),
    [("Scratch", "scratch"), ("  scratch ", "scratch"), ("Deep\t Scratch", "deep scratch")],
)
def test_normalisation(text, normalized):
    assert alias_normalize(text) == normalized


def test_a_manager_adds_aliases_and_everyone_reads_them(project, manager, labeler, api):
    for spelling in ("Scratch", "scr"):
        response = _alias(api, manager, project, spelling, "scratch")
        assert response.status_code == 201, response.content
    listed = api(labeler).get(f"/api/v1/projects/{project.pk}/aliases/").json()
    assert [(a["alias"], a["label_class"]) for a in listed] == [
        ("scr", "scratch"),
        ("Scratch", "scratch"),
    ]
    assert _alias(api, labeler, project, "x", "scratch").status_code == 403
    assert _alias(api, UserFactory(), project, "x", "scratch").status_code == 404


@pytest.mark.parametrize(
    ("alias", "key", "status", "code", "field"),
    [
        ("", "scratch", 400, "invalid", "alias"),
        ("   ", "scratch", 400, "invalid", "alias"),
        ("scr", "nope", 400, "unknown_class", "class"),
        ("Dent", "scratch", 409, "alias_is_class", "alias"),
        ("x" * 121, "scratch", 400, "invalid", "alias"),
    ],
)
def test_bad_aliases_are_refused(project, manager, api, alias, key, status, code, field):
    response = _alias(api, manager, project, alias, key)
    assert response.status_code == status
    assert response.json()["error"]["field"] == field
    if status != 400 or code != "invalid" or alias.strip():
        assert response.json()["error"]["code"] == code
    assert not LabelClassAlias.objects.exists()


def test_one_spelling_names_one_class(project, manager, api):
    assert _alias(api, manager, project, "scr", "scratch").status_code == 201
    clash = _alias(api, manager, project, " SCR ", "dent")
    assert (clash.status_code, clash.json()["error"]["code"]) == (409, "alias_taken")


def test_a_label_sent_as_an_alias_counts_as_the_class_and_keeps_its_text(project, member):
    class_alias_create(project=project, alias="Scratch ", class_key="scratch")
    labeler = member(Role.LABELER)
    item = ItemFactory(project=project)
    submit_labels(item, {labeler: " scratch"})
    annotation = Annotation.objects.get(item=item)
    assert annotation.label.key == "scratch"
    assert annotation.value == {"label": " scratch"}


def test_an_unknown_spelling_is_still_refused(project, member, api):
    labeler = member(Role.LABELER)
    item = ItemFactory(project=project)
    with pytest.raises(Exception, match="not a class"):
        submit_labels(item, {labeler: "scrtch"})


def test_gold_labels_of_an_import_resolve_aliases(project):
    class_alias_create(project=project, alias="DNT", class_key="dent")
    items_import_records(
        project=project, records=[{"external_id": "g1", "text": "x", "gold": "dnt"}]
    )
    assert Item.objects.get(external_id="g1").gold_label.key == "dent"


def test_an_alias_can_be_removed(project, manager, api):
    alias = _alias(api, manager, project, "scr", "scratch").json()
    url = f"/api/v1/projects/{project.pk}/aliases/{alias['id']}/"
    assert api(manager).delete(url).status_code == 204
    assert api(manager).delete(url).status_code == 404


def test_resending_an_aliased_label_is_an_idempotent_replay(project, member, api):
    class_alias_create(project=project, alias="scr", class_key="scratch")
    labeler = member(Role.LABELER)
    item = ItemFactory(project=project)
    client = api(labeler)
    assert client.post(f"/api/v1/projects/{project.pk}/next/").status_code == 200
    body = {"item": item.pk, "value": {"label": "SCR"}, "idempotency_key": "k-1"}
    first = client.post("/api/v1/annotations/", body, format="json")
    again = client.post("/api/v1/annotations/", body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
