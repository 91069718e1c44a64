"""The classes page without a browser: who may open it, what it hands to its script (classes
with their merge state, the merge history, the aliases, the report's label counts and borderline
summary, the API URLs) and the link to it from the consistency dashboard."""

from __future__ import annotations

import pytest
from django.test import TestCase
from django.urls import reverse

from annotations.models import LabelClass, Role
from annotations.services.aliases import class_alias_create
from consensus.services.taxonomy import class_merge_apply
from frontend.tests.pages import LOGIN, page_config
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, submit_labels

CONFIG = "classes-config"


def classes_url(project) -> str:
    return reverse("frontend:classes", kwargs={"project_id": project.pk})


# ---------- access ----------


def test_the_page_requires_login(client, project):
    url = classes_url(project)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={url}"


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ENGINEER, Role.MANAGER])
def test_reviewers_engineers_and_managers_open_it(client, project, member, role):
    client.force_login(member(role))

    response = client.get(classes_url(project))

    assert response.status_code == 200
    assert page_config(response, CONFIG)["role"] == role


def test_labelers_are_refused_with_403(client, project, labeler):
    client.force_login(labeler)

    assert client.get(classes_url(project)).status_code == 403


def test_non_members_get_404_as_if_the_project_did_not_exist(client, project):
    other = MembershipFactory(project=ProjectFactory(), role=Role.MANAGER).user
    client.force_login(other)

    assert client.get(classes_url(project)).status_code == 404


# ---------- manager-only controls ----------


def test_managers_get_the_controls(client, project, member):
    client.force_login(member(Role.MANAGER))

    response = client.get(classes_url(project))

    assert page_config(response, CONFIG)["can_manage"] is True
    html = response.content.decode()
    assert 'id="apply-merge"' in html
    assert 'id="alias-form"' in html


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ENGINEER])
def test_other_roles_preview_but_get_no_controls(client, project, member, role):
    client.force_login(member(role))

    response = client.get(classes_url(project))

    config = page_config(response, CONFIG)
    assert config["can_manage"] is False
    assert config["urls"]["preview"] == f"/api/v1/projects/{project.pk}/merges/preview/"
    html = response.content.decode()
    assert 'id="merge-form"' in html  # the preview is theirs too
    assert 'id="apply-merge"' not in html
    assert 'id="alias-form"' not in html


# ---------- what the page hands to its script ----------


@pytest.fixture
def merged_project(project, member):
    """deep + shallow labelled on three items, a report, then deep + shallow merged into
    scratch by a manager, and one alias."""
    manager = member(Role.MANAGER, username="maya")
    labelers = [member(Role.LABELER) for _ in range(3)]
    LabelClass.objects.create(project=project, key="deep", name="Deep scratch", order=10)
    LabelClass.objects.create(project=project, key="shallow", name="Shallow scratch", order=11)
    for keys in (("deep", "shallow", "deep"), ("clean", "clean", "clean"), ("shallow",) * 3):
        submit_labels(ItemFactory(project=project), dict(zip(labelers, keys, strict=True)))
    # the merge's recompute runs on commit (eagerly, as Celery does without a broker)
    with TestCase.captureOnCommitCallbacks(execute=True):
        merge = class_merge_apply(
            user=manager, project_id=project.pk, sources=["deep", "shallow"], target="scratch"
        )
    class_alias_create(project=project, alias="Scratch ", class_key="scratch", created_by=manager)
    return manager, merge


def test_config_carries_classes_merges_aliases_and_the_report(client, project, merged_project):
    manager, merge = merged_project
    client.force_login(manager)

    config = page_config(client.get(classes_url(project)), CONFIG)

    assert config["project"] == {"id": project.pk, "name": project.name}
    assert config["taxonomy_version"] == 1
    classes = {c["key"]: c for c in config["classes"]}
    assert set(classes) == {"clean", "scratch", "dent", "borderline", "deep", "shallow"}
    assert classes["deep"]["merged_into"] == "scratch"
    assert classes["shallow"]["merged_into"] == "scratch"
    assert classes["scratch"]["merged_into"] is None
    assert classes["borderline"]["kind"] == "borderline"
    assert [m["id"] for m in config["merges"]] == [merge.pk]
    assert config["merges"][0]["sources"] == ["deep", "shallow"]
    assert config["merges"][0]["target"] == "scratch"
    assert config["merges"][0]["created_by"] == "maya"
    assert config["merges"][0]["taxonomy_version"] == 1
    assert [(a["alias"], a["label_class"]) for a in config["aliases"]] == [("Scratch ", "scratch")]
    report = config["report"]
    assert report["taxonomy_version"] == 1
    labels = {row["class"]: row["labels"] for row in report["per_class"]}
    # the six deep/shallow labels count as scratch under the merge
    assert labels["scratch"] == 6
    assert labels["clean"] == 3
    assert "deep" not in labels
    assert report["borderline"] is not None
    assert report["borderline"]["class"] == "borderline"
    urls = config["urls"]
    placeholder = urls["id_placeholder"]
    assert urls["merges"] == f"/api/v1/projects/{project.pk}/merges/"
    assert urls["merge"] == f"/api/v1/projects/{project.pk}/merges/{placeholder}/"
    assert urls["aliases"] == f"/api/v1/projects/{project.pk}/aliases/"
    assert urls["class"] == f"/api/v1/projects/{project.pk}/classes/{placeholder}/"
    assert urls["report"] == f"/api/v1/projects/{project.pk}/consistency/"


def test_without_a_report_the_config_says_so(client, project, member):
    client.force_login(member(Role.REVIEWER))

    config = page_config(client.get(classes_url(project)), CONFIG)

    assert config["report"] is None
    assert config["merges"] == []
    assert config["aliases"] == []


def test_the_consistency_dashboard_links_to_the_page(client, project, member):
    client.force_login(member(Role.REVIEWER))

    response = client.get(reverse("frontend:consistency", kwargs={"project_id": project.pk}))

    assert f'href="{classes_url(project)}"' in response.content.decode()


# ---------- splitting a class ----------


def test_managers_get_the_split_panel_with_items_per_class(client, project, member):
    """The split's counts are items (what a round reopens), not the report's label counts:
    two items whose consensus is scratch, one clean; dent and borderline label none."""
    manager = member(Role.MANAGER)
    labelers = [member(Role.LABELER) for _ in range(3)]
    for keys in (("scratch",) * 3, ("scratch", "scratch", "dent"), ("clean",) * 3):
        submit_labels(ItemFactory(project=project), dict(zip(labelers, keys, strict=True)))
    client.force_login(manager)

    response = client.get(classes_url(project))

    config = page_config(response, CONFIG)
    assert config["labeled_items"] == {"clean": 1, "scratch": 2, "dent": 0, "borderline": 0}
    assert config["current_round"] == 1
    assert config["urls"]["rounds"] == f"/api/v1/projects/{project.pk}/rounds/"
    assert 'id="split-form"' in response.content.decode()


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ENGINEER])
def test_other_roles_get_no_split_panel(client, project, member, role):
    client.force_login(member(role))

    response = client.get(classes_url(project))

    assert page_config(response, CONFIG)["labeled_items"] == {}
    assert 'id="split-form"' not in response.content.decode()
