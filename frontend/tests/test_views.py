"""Page views without a browser: who sees what, and what the labeling page hands to label.js."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotations.models import Role
from frontend.tests.pages import page_config as config_of
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

HOME = reverse("frontend:home")
LOGIN = reverse("frontend:login")


def label_url(project) -> str:
    return reverse("frontend:label", kwargs={"project_id": project.pk})


def page_config(response) -> dict:
    return config_of(response, "label-config")


@pytest.mark.django_db
def test_home_requires_login(client):
    # when an anonymous visitor opens the home page
    response = client.get(HOME)

    # then they are sent to the login form, coming back afterwards
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={HOME}"


def test_label_page_requires_login(client, project):
    response = client.get(label_url(project))

    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


def test_home_lists_only_my_projects_with_role_and_progress(client, project, labeler, items, api):
    # given a labeler with one label in a project of 4 items, and a project they are not in
    other = ProjectFactory(name="Somebody else's project")
    items(4)
    assignment = api(labeler).post(f"/api/v1/projects/{project.pk}/next/").json()
    api(labeler).post(
        "/api/v1/annotations/",
        {"item": assignment["item"]["id"], "value": {"label": "clean"}, "idempotency_key": "k1"},
        format="json",
    )
    client.force_login(labeler)

    # when they open the home page
    response = client.get(HOME)

    # then they see their project, role, progress and a way in, and nothing of the other one
    page = response.content.decode()
    assert response.status_code == 200
    assert project.name in page
    assert other.name not in page
    assert "Labeler" in page
    assert re.search(r"My labels</dt>\s*<dd>1</dd>", page)
    assert re.search(r"Items open</dt>\s*<dd>4 <span class=\"muted\">/ 4</span>", page)
    assert f'href="{label_url(project)}"' in page
    assert "Start labeling" in page


def test_home_offers_no_labeling_to_other_roles(client, project, manager):
    client.force_login(manager)

    page = client.get(HOME).content.decode()

    assert project.name in page
    assert "Manager" in page
    assert label_url(project) not in page


def test_home_without_projects_says_so(client, db):
    client.force_login(UserFactory())

    page = client.get(HOME).content.decode()

    assert "No projects yet" in page


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REVIEWER, Role.ENGINEER])
def test_label_page_is_403_for_members_who_are_not_labelers(client, project, member, role):
    client.force_login(member(role))

    response = client.get(label_url(project))

    assert response.status_code == 403
    assert "Only the project&#x27;s labelers" in response.content.decode()


def test_label_page_is_404_for_non_members(client, project, db):
    # given a labeler of another project
    outsider = MembershipFactory(role=Role.LABELER).user
    client.force_login(outsider)

    # then this project does not exist for them, and neither does a made-up one
    assert client.get(label_url(project)).status_code == 404
    assert client.get(reverse("frontend:label", kwargs={"project_id": 999_999})).status_code == 404


def test_label_page_hands_classes_instructions_and_progress_to_the_script(
    client, project, labeler, items
):
    # given instructions that contain markup
    project.instructions = "Look closely.\n<script>alert('x')</script> & <b>bold</b>"
    project.save(update_fields=["instructions"])
    items(2)
    client.force_login(labeler)

    # when the labeler opens the labeling page
    response = client.get(label_url(project))

    # then the configuration carries the classes in order and the instructions verbatim
    assert response.status_code == 200
    config = page_config(response)
    assert [(c["key"], c["hotkey"], c["kind"]) for c in config["classes"]] == [
        ("clean", "1", "normal"),
        ("scratch", "2", "normal"),
        ("dent", "3", "normal"),
        ("borderline", "b", "borderline"),
    ]
    assert config["instructions"] == project.instructions
    assert config["progress"] == {"my_labels": 0, "items_total": 2, "items_open": 2}
    assert config["urls"]["next"] == f"/api/v1/projects/{project.pk}/next/"
    # and no markup from the instructions reaches the HTML unescaped
    assert "<script>alert" not in response.content.decode()
    assert "<b>bold</b>" not in response.content.decode()


def test_login_form_logs_in_and_goes_home(client, db):
    UserFactory(username="ada")

    response = client.post(LOGIN, {"username": "ada", "password": "pw-labelhub-1"})

    assert response.status_code == 302
    assert response["Location"] == HOME
    assert client.get(HOME).status_code == 200


def test_login_form_rejects_a_wrong_password(client, db):
    UserFactory(username="ada")

    response = client.post(LOGIN, {"username": "ada", "password": "nope"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_logout_is_a_post_and_ends_the_session(client, labeler):
    client.force_login(labeler)

    response = client.post(reverse("frontend:logout"))

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert client.get(HOME).status_code == 302
