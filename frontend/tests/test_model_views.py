"""The model pages without a browser: who may open the runs list and a run's analysis, what they
hand to their scripts, and the links to them from home and the consistency dashboard."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.models import Role
from consensus.models import ModelRun
from frontend.tests.pages import HOME, LOGIN, page_config
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory


def models_url(project) -> str:
    return reverse("frontend:models", kwargs={"project_id": project.pk})


def run_url(project, run) -> str:
    return reverse("frontend:model-run", kwargs={"project_id": project.pk, "run_id": run.pk})


@pytest.fixture
def run(project):
    return ModelRun.objects.create(project=project, name="resnet", version="2", shadow=True)


# ---------- access ----------


def test_model_pages_require_login(client, project, run):
    for url in (models_url(project), run_url(project, run)):
        response = client.get(url)

        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={url}"


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ENGINEER, Role.MANAGER])
def test_reviewers_engineers_and_managers_open_both_pages(client, project, member, run, role):
    client.force_login(member(role))

    assert client.get(models_url(project)).status_code == 200
    assert client.get(run_url(project, run)).status_code == 200


def test_labelers_are_refused_with_403(client, project, labeler, run):
    client.force_login(labeler)

    for url in (models_url(project), run_url(project, run)):
        assert client.get(url).status_code == 403


def test_non_members_get_404_as_if_the_project_did_not_exist(client, project, run):
    # given a manager of another project
    other = MembershipFactory(project=ProjectFactory(), role=Role.MANAGER).user
    client.force_login(other)

    for url in (models_url(project), run_url(project, run)):
        assert client.get(url).status_code == 404


def test_a_run_of_another_project_is_404(client, project, member):
    # given an engineer of both projects, and a run of the second
    engineer = member(Role.ENGINEER)
    second = ProjectFactory()
    MembershipFactory(project=second, user=engineer, role=Role.ENGINEER)
    foreign = ModelRun.objects.create(project=second, name="x", version="1")
    client.force_login(engineer)

    # when they ask for it under the first project's URL
    url = reverse("frontend:model-run", kwargs={"project_id": project.pk, "run_id": foreign.pk})

    # then it is not found there
    assert client.get(url).status_code == 404


# ---------- what the pages hand to their scripts ----------


def test_the_runs_page_lists_the_runs_and_offers_the_form_to_engineers(client, project, member):
    engineer = member(Role.ENGINEER, username="mle")
    ModelRun.objects.create(project=project, name="resnet", version="1", created_by=engineer)
    client.force_login(engineer)

    response = client.get(models_url(project))

    config = page_config(response, "models-config")
    assert config["can_import"] is True
    assert [
        (r["name"], r["version"], r["predictions"], r["created_by"]) for r in config["runs"]
    ] == [("resnet", "1", 0, "mle")]
    assert config["urls"]["runs_api"] == f"/api/v1/projects/{project.pk}/runs/"
    placeholder = config["urls"]["id_placeholder"]
    assert config["urls"]["predictions_api"] == f"/api/v1/runs/{placeholder}/predictions/"
    assert b'id="import-form"' in response.content


def test_reviewers_get_no_upload_form(client, project, member, run):
    client.force_login(member(Role.REVIEWER))

    response = client.get(models_url(project))

    assert page_config(response, "models-config")["can_import"] is False
    assert b'id="import-form"' not in response.content


def test_the_analysis_page_keeps_the_reference_and_the_smallest_slice(client, project, member, run):
    ItemFactory(project=project, slices={"gender": "f", "region": "EU"})
    client.force_login(member(Role.ENGINEER))

    response = client.get(run_url(project, run) + "?reference=gold&min_slice_items=12")

    config = page_config(response, "model-run-config")
    assert (config["reference"], config["min_slice_items"]) == ("gold", 12)
    assert config["run"]["shadow"] is True
    assert config["slice_names"] == ["gender", "region"]
    assert config["urls"]["analysis"] == f"/api/v1/runs/{run.pk}/analysis/"
    assert config["urls"]["csv"]["priorities"] == f"/api/v1/runs/{run.pk}/analysis/priorities.csv"
    content = response.content.decode()
    # the CSV links work without the script, with the same query
    assert (
        f'href="/api/v1/runs/{run.pk}/analysis/classes.csv?reference=gold&amp;min_slice_items=12"'
        in content
    )
    assert 'value="gold" checked' in content
    assert 'id="weeks-panel"' in content  # a shadow run shows agreement by week


@pytest.mark.parametrize(
    "query", ["?reference=silver", "?min_slice_items=0", "?min_slice_items=abc", ""]
)
def test_a_bad_query_falls_back_to_the_defaults(client, project, member, run, query):
    client.force_login(member(Role.REVIEWER))

    response = client.get(run_url(project, run) + query)

    assert response.status_code == 200
    config = page_config(response, "model-run-config")
    assert (config["reference"], config["min_slice_items"]) == ("consensus", 30)


def test_an_offline_run_has_no_weeks_panel(client, project, member):
    offline = ModelRun.objects.create(project=project, name="bert", version="1")
    client.force_login(member(Role.REVIEWER))

    response = client.get(run_url(project, offline))

    assert b'id="weeks-panel"' not in response.content


# ---------- links ----------


@pytest.mark.parametrize(
    ("role", "linked"),
    [
        (Role.LABELER, False),
        (Role.REVIEWER, True),
        (Role.ENGINEER, True),
        (Role.MANAGER, True),
    ],
)
def test_home_links_the_model_analysis_for_those_who_may_open_it(
    client, project, member, role, linked
):
    client.force_login(member(role))

    response = client.get(HOME)

    assert (f'href="{models_url(project)}"' in response.content.decode()) is linked


def test_the_dashboard_links_the_model_analysis(client, project, member):
    client.force_login(member(Role.REVIEWER))

    response = client.get(reverse("frontend:consistency", kwargs={"project_id": project.pk}))

    assert f'href="{models_url(project)}"' in response.content.decode()
