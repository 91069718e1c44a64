"""Frozen dataset versions: freezing, the download and its hash, immutability, and the diff with
its reasons."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from django.core.management import call_command

from annotations.models import Role
from annotations.services.rounds import round_start
from consensus.models import DatasetVersion
from consensus.services.datasets import dataset_freeze
from consensus.services.decisions import decision_make
from tests.factories import ItemFactory, ProjectFactory, UserFactory, submit_labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def labeled(project, trio):
    """Four unanimous items and one 2–1 split (majority: clean)."""
    items = {}
    for name, keys in [
        ("a", ["clean"] * 3),
        ("b", ["scratch"] * 3),
        ("c", ["dent"] * 3),
        ("d", ["clean"] * 3),
        ("split", ["clean", "clean", "scratch"]),
    ]:
        items[name] = ItemFactory(project=project, external_id=name)
        submit_labels(items[name], dict(zip(trio, keys, strict=True)))
    return items


def _freeze(client, project, **body):
    response = client.post(f"/api/v1/projects/{project.pk}/datasets/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _download(client, project, version) -> bytes:
    response = client.get(f"/api/v1/projects/{project.pk}/datasets/{version['id']}/download/")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_a_version_freezes_the_export_with_its_hash_counts_and_summary(
    project, labeled, engineer, api
):
    client = api(engineer)
    exported = b"".join(client.get(f"/api/v1/projects/{project.pk}/export/").streaming_content)

    version = _freeze(client, project, name="baseline", params={"min_agreement": 0})

    assert version["number"] == 1
    assert version["name"] == "baseline"
    assert version["n_items"] == 5
    assert sum(version["class_counts"].values()) == 5
    assert version["params"]["min_agreement"] == 0.0
    assert version["summary"]["report_version"] is not None
    assert "alpha" in json.dumps(version["summary"]["overall"])
    body = _download(client, project, version)
    assert body == exported
    assert hashlib.sha256(body).hexdigest() == version["content_hash"]
    stored = DatasetVersion.objects.get(pk=version["id"])
    assert gzip.decompress(stored.file.read()) == body
    listed = client.get(f"/api/v1/projects/{project.pk}/datasets/").json()["results"]
    assert [v["id"] for v in listed] == [version["id"]]


def test_versions_are_numbered_and_never_edited(project, labeled, engineer, api):
    client = api(engineer)
    first = _freeze(client, project)
    second = _freeze(client, project, params={"class": ["clean"]})
    assert (first["number"], second["number"]) == (1, 2)
    assert second["n_items"] == second["class_counts"]["clean"]
    url = f"/api/v1/projects/{project.pk}/datasets/{first['id']}/"
    assert client.get(url).json()["content_hash"] == first["content_hash"]
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(url, {"name": "x"}, format="json").status_code == 405
    assert client.get(url).json() == first


def test_equal_data_freezes_to_an_equal_hash(project, labeled, engineer, api):
    client = api(engineer)
    assert _freeze(client, project)["content_hash"] == _freeze(client, project)["content_hash"]


def test_bad_freeze_input_writes_nothing(project, labeled, engineer, api):
    client = api(engineer)
    url = f"/api/v1/projects/{project.pk}/datasets/"
    for body, field in [
        ({"params": {"format": "csv"}}, "format"),
        ({"params": {"min_agreement": 2}}, "min_agreement"),
        ({"params": {"labelers": "username"}}, "labelers"),
        ({"params": {"nonsense": 1}}, "nonsense"),
        ({"params": "all"}, "params"),
        ({"name": "a\nb"}, "name"),
    ]:
        response = client.post(url, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["field"] == field
    assert not DatasetVersion.objects.exists()


def test_datasets_of_another_project_are_not_found(project, labeled, engineer, api):
    other = ProjectFactory()
    boss = UserFactory()
    other.memberships.create(user=boss, role=Role.MANAGER)
    theirs = dataset_freeze(user=boss, project_id=other.pk)
    mine = _freeze(api(engineer), project)
    client = api(engineer)
    base = f"/api/v1/projects/{project.pk}/datasets"
    assert client.get(f"{base}/{theirs.pk}/").status_code == 404
    assert client.get(f"{base}/{theirs.pk}/download/").status_code == 404
    assert client.get(f"{base}/{mine['id']}/diff/{theirs.pk}/").status_code == 404
    assert api(boss).get(f"{base}/{mine['id']}/").status_code == 404


def test_only_engineers_and_managers_freeze_and_read(project, labeled, trio, sme, manager, api):
    url = f"/api/v1/projects/{project.pk}/datasets/"
    assert api(trio[0]).post(url, {}, format="json").status_code == 403
    assert api(sme).get(url).status_code == 403
    assert api(manager).post(url, {}, format="json").status_code == 201


def _diff(client, project, a, b, query: str = "") -> dict:
    url = f"/api/v1/projects/{project.pk}/datasets/{a['id']}/diff/{b['id']}/?{query}"
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_diff_names_a_review_decision(project, labeled, engineer, sme, api):
    client = api(engineer)
    before = _freeze(client, project)
    decision_make(
        item_id=labeled["split"].pk,
        decided_by=sme,
        outcome="label",
        label_key="dent",
        reason="Depth visible under raking light.",
    )
    after = _freeze(client, project)

    diff = _diff(client, project, before, after)

    (change,) = diff["items"]
    assert change["external_id"] == "split"
    assert (change["after"], change["after_method"]) == ("dent", "reviewed")
    assert change["reasons"] == ["review_decision"]
    assert diff["summary"]["changed"] == 1
    assert diff["summary"]["by_reason"] == {"review_decision": 1}


def test_the_diff_names_new_labels_and_removed_items(
    project, labeled, trio, manager, engineer, api
):
    client = api(engineer)
    before = _freeze(client, project)
    round_start(project=project, started_by=manager, item_ids=[labeled["a"].pk, labeled["b"].pk])
    submit_labels(labeled["a"], dict(zip(trio, ["dent"] * 3, strict=True)))
    fresh = ItemFactory(project=project, external_id="fresh")
    submit_labels(fresh, dict(zip(trio, ["scratch"] * 3, strict=True)))
    after = _freeze(client, project)

    diff = _diff(client, project, before, after)

    by_item = {c["external_id"]: c for c in diff["items"]}
    assert set(by_item) == {"a", "b", "fresh"}
    assert (by_item["a"]["before"], by_item["a"]["after"]) == ("clean", "dent")
    assert by_item["fresh"]["reasons"] == ["added", "new_labels"]
    assert by_item["a"]["reasons"] == ["new_labels"]
    # b moved to round 2 and has no labels there yet: it left the dataset.
    assert (by_item["b"]["change"], by_item["b"]["after"]) == ("removed", None)
    assert diff["summary"] == {
        "changed": 1,
        "added": 1,
        "removed": 1,
        "by_reason": {"new_labels": 2, "added": 1, "removed": 1},
    }
    only_new = _diff(client, project, before, after, "reason=new_labels")
    assert [c["external_id"] for c in only_new["items"]] == ["a", "fresh"]


def test_the_diff_names_different_parameters_and_added_items(project, labeled, trio, engineer, api):
    client = api(engineer)
    narrow = _freeze(client, project, params={"class": ["clean", "scratch"]})
    late = ItemFactory(project=project, external_id="late")
    submit_labels(late, dict(zip(trio, ["scratch"] * 3, strict=True)))
    wide = _freeze(client, project, params={"borderline": "drop"})

    diff = _diff(client, project, narrow, wide)

    by_item = {c["external_id"]: c for c in diff["items"]}
    assert by_item["c"]["reasons"] == ["added", "export_parameters"]
    # With different parameters, the diff cannot tell a new item from a newly included one.
    assert by_item["late"]["reasons"] == ["added", "export_parameters"]
    assert set(by_item) == {"c", "late"}


def test_diff_paging_and_bad_input(project, labeled, engineer, api):
    client = api(engineer)
    a = _freeze(client, project)
    b = _freeze(client, project, params={"class": ["clean"]})
    diff = _diff(client, project, a, b, "limit=1&offset=1")
    assert diff["count"] == 2
    assert len(diff["items"]) == 1
    base = f"/api/v1/projects/{project.pk}/datasets/{a['id']}/diff"
    assert client.get(f"{base}/{a['id']}/").json()["error"]["field"] == "b"
    assert client.get(f"{base}/{b['id']}/?limit=0").json()["error"]["field"] == "limit"
    assert client.get(f"{base}/{b['id']}/?reason=luck").json()["error"]["field"] == "reason"


def test_manage_py_export_freezes_a_version(project, labeled, manager, capsys):
    call_command("export", project.pk, "--freeze", "--name", "cli", "-p", "class=clean")
    version = DatasetVersion.objects.get()
    assert (version.name, version.n_items, version.created_by) == ("cli", 3, manager)
    assert "Froze version 1" in capsys.readouterr().err


def test_freezing_announces_the_version_to_webhooks(project, labeled, manager, engineer, api):
    from consensus.models import WebhookDelivery
    from consensus.services.webhooks import webhook_create

    webhook_create(
        project=project,
        created_by=manager,
        url="http://127.0.0.1:9/hook",
        events=["dataset.frozen"],
    )
    version = _freeze(api(engineer), project, name="v-hook")
    (delivery,) = WebhookDelivery.objects.filter(event="dataset.frozen")
    sent = json.loads(delivery.body)["data"]
    assert sent == {
        "dataset": version["id"],
        "number": 1,
        "name": "v-hook",
        "content_hash": version["content_hash"],
        "n_items": 5,
    }
