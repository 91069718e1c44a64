"""Consistency API: who sees it, what it says, staleness, recompute requests."""

import pytest
from django.core.cache import cache

from annotations.services.annotations import annotation_submit
from consensus.services.recompute import recompute_mark_requested
from consensus.services.reports import report_recompute
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("labeler", "reviewer", "engineer", "manager")
PATHS = [
    "consistency/",
    "consistency/labelers/",
    "consistency/slices/",
    "consistency/classes/",
    "consistency/items/",
]


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def reported(project, member):
    items = ItemFactory.create_batch(3, project=project)
    users = [member() for _ in range(3)]
    grid = [["dent", "dent", "clean"], ["dent", "scratch", "clean"], ["dent", "clean", "clean"]]
    for user, row in zip(users, grid, strict=True):
        for item, key in zip(items, row, strict=True):
            annotation_submit(
                labeler=user,
                item_id=item.pk,
                value={"label": key},
                idempotency_key=f"{user.pk}-{item.pk}",
            )
    recompute_mark_requested(project_id=project.pk)
    report_recompute(project_id=project.pk, version=1)
    return items


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("role", ROLES)
def test_labelers_never_see_agreement(api, project, member, reported, path, role):
    response = api(member(role)).get(f"/api/v1/projects/{project.pk}/{path}")
    assert response.status_code == (403 if role == "labeler" else 200)


def test_non_members_get_404(api, project, reported):
    assert api(UserFactory()).get(f"/api/v1/projects/{project.pk}/consistency/").status_code == 404


def test_newest_report_and_staleness(api, project, member, reported):
    client = api(member("reviewer"))
    body = client.get(f"/api/v1/projects/{project.pk}/consistency/").json()
    assert body["stale"] is False
    assert body["report"]["n_annotations"] == 9
    assert body["report"]["overall"]["krippendorff_alpha"]["value"] is not None
    # a new request makes the served report stale until it is recomputed
    recompute_mark_requested(project_id=project.pk)
    assert client.get(f"/api/v1/projects/{project.pk}/consistency/").json()["stale"] is True
    labelers = client.get(f"/api/v1/projects/{project.pk}/consistency/labelers/").json()
    assert len(labelers["per_labeler"]) == 3


def test_no_report_yet_is_an_empty_stale_answer(api, project, member):
    body = api(member("manager")).get(f"/api/v1/projects/{project.pk}/consistency/").json()
    assert body["report"] is None
    assert body["stale"] is True


def test_items_by_disagreement(api, project, member, reported):
    rows = (
        api(member("engineer"))
        .get(f"/api/v1/projects/{project.pk}/consistency/items/?order=disagreement")
        .json()["results"]
    )
    # the item labeled dent / scratch / clean (share 1/3) comes first, the unanimous ones last
    assert rows[0]["item"] == reported[1].pk
    assert rows[0]["majority_share"] == pytest.approx(1 / 3, abs=1e-6)
    assert rows[-1]["majority_share"] == 1.0
    bad = api(member("engineer")).get(f"/api/v1/projects/{project.pk}/consistency/items/?order=x")
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "order"


@pytest.mark.parametrize(
    ("role", "status"), [("manager", 202), ("engineer", 202), ("reviewer", 403), ("labeler", 403)]
)
def test_recompute_request_roles(api, project, member, role, status):
    response = api(member(role)).post(f"/api/v1/projects/{project.pk}/consistency/recompute/")
    assert response.status_code == status
    if status == 202:
        assert set(response.json()) == {
            "stale",
            "recomputing",
            "requested_version",
            "computed_at",
            "version",
        }


def test_labels_newer_than_the_report_make_it_stale_even_after_a_cache_flush(
    api, project, member, reported
):
    item = ItemFactory(project=project)
    annotation_submit(
        labeler=member(), item_id=item.pk, value={"label": "dent"}, idempotency_key="late"
    )
    cache.clear()  # the request for a recompute is lost with the cache
    body = api(member("reviewer")).get(f"/api/v1/projects/{project.pk}/consistency/").json()
    assert body["stale"] is True
