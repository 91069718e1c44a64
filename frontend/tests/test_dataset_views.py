"""The Datasets page without a browser: who may open it (the export API's roles), what it hands
its script, the filter controls it renders from the project, and the links to it."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotations.models import Role, Round
from frontend.dataset_views import URL_ID_B
from frontend.tests.pages import HOME, LOGIN, page_config
from frontend.views import URL_ID
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, submit_labels

pytestmark = pytest.mark.django_db


def datasets_url(project) -> str:
    return reverse("frontend:datasets", kwargs={"project_id": project.pk})


# ---------- access ----------


def test_the_page_requires_login(client, project):
    url = datasets_url(project)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={url}"


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.MANAGER])
def test_engineers_and_managers_open_the_page(client, project, member, role):
    client.force_login(member(role))

    response = client.get(datasets_url(project))

    assert response.status_code == 200
    assert b"<h1>Datasets</h1>" in response.content


@pytest.mark.parametrize("role", [Role.LABELER, Role.REVIEWER])
def test_labelers_and_reviewers_are_refused_with_403(client, project, member, role):
    client.force_login(member(role))

    response = client.get(datasets_url(project))

    assert response.status_code == 403
    assert b"Datasets are for the project&#x27;s engineers and managers." in response.content


def test_non_members_get_404_as_if_the_project_did_not_exist(client, project):
    # given a manager of another project
    other = MembershipFactory(project=ProjectFactory(), role=Role.MANAGER).user
    client.force_login(other)

    assert client.get(datasets_url(project)).status_code == 404


def test_an_unknown_project_is_404(client, project, member):
    client.force_login(member(Role.MANAGER))

    url = reverse("frontend:datasets", kwargs={"project_id": project.pk + 1000})

    assert client.get(url).status_code == 404


# ---------- what the page hands its script ----------


def test_the_config_carries_the_projects_classes_slices_rounds_and_api_urls(
    client, project, member
):
    ItemFactory(project=project, slices={"camera": "B", "floor": 3})
    ItemFactory(project=project, slices={"camera": "A", "lit": True})
    ItemFactory(project=project, slices={"camera": "A", "nested": {"x": 1}})
    ItemFactory(project=project, slices={})
    Round.objects.create(project=project, number=2)
    client.force_login(member(Role.ENGINEER))

    response = client.get(datasets_url(project))

    config = page_config(response, "datasets-config")
    assert config["project"] == {"id": project.pk, "name": project.name}
    assert config["role"] == Role.ENGINEER
    assert config["can_name_labelers"] is False
    assert [c["key"] for c in config["classes"]] == ["clean", "scratch", "dent", "borderline"]
    assert config["borderline_key"] == "borderline"
    assert config["formats"] == ["jsonl", "json", "csv"]
    # values as the export's filter compares them (str()); nested values cannot be filtered on
    assert config["slices"] == [
        {"name": "camera", "values": ["A", "B"]},
        {"name": "floor", "values": ["3"]},
        {"name": "lit", "values": ["True"]},
    ]
    assert config["rounds"] == [1, 2]
    assert "review_decision" in config["diff_reasons"]
    base = f"/api/v1/projects/{project.pk}"
    urls = config["urls"]
    assert urls["export"] == f"{base}/export/"
    assert urls["datasets"] == f"{base}/datasets/"
    assert urls["diff"] == f"{base}/datasets/{URL_ID}/diff/{URL_ID_B}/"
    assert urls["review_item"] == f"/projects/{project.pk}/review/{URL_ID}/"
    assert (urls["id_placeholder"], urls["b_placeholder"]) == (str(URL_ID), str(URL_ID_B))
    assert urls["tokens"] == "/settings/tokens/"


def test_the_form_offers_the_projects_own_choices(client, project, member):
    ItemFactory(project=project, slices={"camera": "A"})
    client.force_login(member(Role.ENGINEER))

    content = client.get(datasets_url(project)).content.decode()

    # borderline maps to every class but itself
    for key, name in [("clean", "Clean"), ("scratch", "Scratch"), ("dent", "Dent")]:
        assert f'<option value="{key}">Map to {name}</option>' in content
    assert "Map to Borderline" not in content
    assert 'name="slice" value="camera:A"' in content
    assert 'name="class" value="dent"' in content
    # one round: no round filter to offer
    assert 'name="round"' not in content
    # engineers get pseudonyms only
    assert '<option value="username">' not in content
    # the Download link works without the script: the unfiltered export
    assert f'href="/api/v1/projects/{project.pk}/export/"' in content
    assert 'href="/settings/tokens/"' in content


def test_managers_may_ask_for_usernames(client, project, member):
    client.force_login(member(Role.MANAGER))

    response = client.get(datasets_url(project))

    assert page_config(response, "datasets-config")["can_name_labelers"] is True
    assert b'<option value="username">Usernames</option>' in response.content


# ---------- links ----------


@pytest.mark.parametrize(
    ("role", "linked"),
    [
        (Role.LABELER, False),
        (Role.REVIEWER, False),
        (Role.ENGINEER, True),
        (Role.MANAGER, True),
    ],
)
def test_home_links_the_page_for_those_who_may_open_it(client, project, member, role, linked):
    client.force_login(member(role))

    response = client.get(HOME)

    assert (f'href="{datasets_url(project)}"' in response.content.decode()) is linked


@pytest.mark.parametrize(
    ("role", "linked"),
    [(Role.REVIEWER, False), (Role.ENGINEER, True), (Role.MANAGER, True)],
)
def test_the_dashboard_links_the_page_for_engineers_and_managers(
    client, project, member, role, linked
):
    client.force_login(member(role))

    response = client.get(reverse("frontend:consistency", kwargs={"project_id": project.pk}))

    assert (f'href="{datasets_url(project)}"' in response.content.decode()) is linked


def test_every_slice_value_offered_selects_its_items_in_the_export(client, project, member, api):
    """The chips' values go into ``slice=name:value`` as they are: the export must find them."""
    trio = [member(Role.LABELER) for _ in range(3)]
    engineer = member(Role.ENGINEER)
    for external_id, slices in [("n", {"floor": 3}), ("t", {"lit": True}), ("s", {"cam": "A"})]:
        item = ItemFactory(project=project, external_id=external_id, slices=slices)
        submit_labels(item, dict.fromkeys(trio, "clean"))
    client.force_login(engineer)
    offered = page_config(client.get(datasets_url(project)), "datasets-config")["slices"]

    found = {}
    for entry in offered:
        for value in entry["values"]:
            response = api(engineer).get(
                f"/api/v1/projects/{project.pk}/export/",
                {"slice": f"{entry['name']}:{value}"},
            )
            assert response.status_code == 200
            lines = b"".join(response.streaming_content).decode().splitlines()
            found[f"{entry['name']}:{value}"] = [json.loads(line)["external_id"] for line in lines]

    assert found == {"cam:A": ["s"], "floor:3": ["n"], "lit:True": ["t"]}
