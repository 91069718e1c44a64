"""The standardisation rules page without a browser: who may open it (reviewers, engineers and
managers; labelers 403, non-members 404), what it hands to its script (the versions newest first
with the active one marked, the active version, the rules API's URLs), the manager-only
controls, the sentence a classification project gets instead, and the dashboard's link."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from annotations.models import LabelClass, Role
from consensus.services.rule_sets import rule_set_activate, rule_set_create
from frontend.tests.pages import LOGIN, page_config
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

CONFIG = "rules-config"
FOLD = [{"kind": "case_fold"}, {"kind": "whitespace"}]
FILLERS = [
    {"kind": "case_fold"},
    {"kind": "fillers", "canonical": "um", "variants": ["umm"], "note": "one spelling"},
    {"kind": "whitespace"},
]


def rules_url(project) -> str:
    return reverse("frontend:rules", kwargs={"project_id": project.pk})


@pytest.fixture
def tproject(db):
    cache.clear()  # the rules service caches each project's task type by id
    project = ProjectFactory(task_type="transcription", name="Voice commands")
    LabelClass.objects.filter(project=project).delete()
    return project


@pytest.fixture
def tmember(tproject):
    def make(role, username=None):
        user = UserFactory(**({"username": username} if username else {}))
        MembershipFactory(project=tproject, user=user, role=role)
        return user

    return make


# ---------- access ----------


def test_the_page_requires_login(client, tproject):
    url = rules_url(tproject)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={url}"


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ENGINEER, Role.MANAGER])
def test_reviewers_engineers_and_managers_open_it(client, tproject, tmember, role):
    client.force_login(tmember(role))

    response = client.get(rules_url(tproject))

    assert response.status_code == 200
    config = page_config(response, CONFIG)
    assert config["role"] == role
    assert config["transcribes"] is True


def test_labelers_are_refused_with_403(client, tproject, tmember):
    client.force_login(tmember(Role.LABELER))

    assert client.get(rules_url(tproject)).status_code == 403


def test_non_members_get_404_as_if_the_project_did_not_exist(client, tproject):
    client.force_login(MembershipFactory(project=ProjectFactory(), role=Role.MANAGER).user)

    assert client.get(rules_url(tproject)).status_code == 404


# ---------- manager-only controls ----------


def test_managers_get_save_and_activate(client, tproject, tmember):
    client.force_login(tmember(Role.MANAGER))

    response = client.get(rules_url(tproject))

    assert page_config(response, CONFIG)["can_manage"] is True
    assert 'id="save-version"' in response.content.decode()


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ENGINEER])
def test_other_roles_edit_and_preview_but_cannot_save(client, tproject, tmember, role):
    client.force_login(tmember(role))

    response = client.get(rules_url(tproject))

    config = page_config(response, CONFIG)
    assert config["can_manage"] is False
    assert config["urls"]["preview"] == f"/api/v1/projects/{tproject.pk}/rules/preview/"
    html = response.content.decode()
    assert 'id="rules"' in html  # the editor and its preview are theirs too
    assert 'id="save-version"' not in html


# ---------- what the page hands to its script ----------


def test_config_carries_the_versions_newest_first_and_the_active_one(client, tproject, tmember):
    manager = tmember(Role.MANAGER, username="mia")
    rule_set_create(user=manager, project_id=tproject.pk, rules=FOLD, note="case only")
    rule_set_create(user=manager, project_id=tproject.pk, rules=FILLERS)
    rule_set_activate(user=manager, project_id=tproject.pk, version=1)
    client.force_login(tmember(Role.REVIEWER))

    config = page_config(client.get(rules_url(tproject)), CONFIG)

    assert config["project"] == {"id": tproject.pk, "name": "Voice commands"}
    assert config["active_version"] == 1
    versions = config["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert [v["active"] for v in versions] == [False, True]
    assert versions[0]["rules"] == FILLERS  # as saved, notes included
    assert versions[1]["note"] == "case only"
    assert versions[1]["created_by"] == "mia"
    assert versions[1]["activated_at"] is not None
    assert versions[0]["fingerprint"] != versions[1]["fingerprint"]
    urls = config["urls"]
    placeholder = urls["id_placeholder"]
    assert urls["rules"] == f"/api/v1/projects/{tproject.pk}/rules/"
    assert urls["activate"] == f"/api/v1/projects/{tproject.pk}/rules/{placeholder}/activate/"
    assert config["max_rules"] == 100


def test_before_any_version_the_raw_transcripts_are_active(client, tproject, tmember):
    client.force_login(tmember(Role.MANAGER))

    response = client.get(rules_url(tproject))

    config = page_config(response, CONFIG)
    assert config["versions"] == []
    assert config["active_version"] == 0
    assert "none (raw transcripts)" in response.content.decode()


# ---------- a classification project ----------


def test_a_classification_project_is_told_rules_are_for_transcription(client, project, member):
    client.force_login(member(Role.MANAGER))

    response = client.get(rules_url(project))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Standardisation rules are for transcription projects." in html
    assert f'<script id="{CONFIG}"' not in html  # no editor, no calls the API would refuse
    assert "rules.js" not in html


def test_a_classification_projects_labelers_still_get_403(client, project, labeler):
    client.force_login(labeler)

    assert client.get(rules_url(project)).status_code == 403


# ---------- the dashboard's link ----------


def test_the_dashboard_links_to_the_page_for_transcription_projects(client, tproject, tmember):
    client.force_login(tmember(Role.REVIEWER))

    response = client.get(reverse("frontend:consistency", kwargs={"project_id": tproject.pk}))

    assert f'href="{rules_url(tproject)}"' in response.content.decode()


def test_the_dashboard_has_no_rules_link_for_classification(client, project, member):
    client.force_login(member(Role.REVIEWER))

    response = client.get(reverse("frontend:consistency", kwargs={"project_id": project.pk}))

    assert 'id="rules-link"' not in response.content.decode()
