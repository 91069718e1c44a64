"""NUL characters never reach PostgreSQL: JSON bodies and imported records are refused with a
400 naming where the character is (the API fuzz test found a 500 here)."""

from __future__ import annotations

import pytest

from labelhub.validation import nul_path
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("a\x00b", "body"),
        ({"name": "ok", "text": "x\x00"}, "text"),
        ([{"a": 1}, {"slices": {"cam": "A\x00"}}], "[1].slices.cam"),
        ({"bad\x00key": 1}, "body (a key)"),
        ({"ok": ["fine", 3, None, True]}, None),
    ],
)
def test_nul_path_names_the_first_nul(value, path):
    assert nul_path(value) == path


def test_a_json_body_with_a_nul_is_a_400_naming_the_field(project, manager, api):
    response = api(manager).post(
        f"/api/v1/projects/{project.pk}/items/import/",
        [{"external_id": "a\x00b", "text": "x"}],
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "[0].external_id"


def test_an_imported_file_with_a_nul_names_the_row(project, manager, api):
    import io

    upload = io.BytesIO(b'[{"external_id": "ok", "text": "x"}, {"external_id": "b\\u0000"}]')
    upload.name = "items.json"
    response = api(manager).post(
        f"/api/v1/projects/{project.pk}/items/import/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()["error"]
    assert (body["row"], body["field"]) == (2, "external_id")
    raw = io.BytesIO(b"external_id,text\nx,\x00\n")
    raw.name = "items.csv"
    binary = api(manager).post(
        f"/api/v1/projects/{project.pk}/items/import/", {"file": raw}, format="multipart"
    )
    assert binary.status_code == 400
    assert "NUL" in binary.json()["error"]["message"]


def test_other_bodies_are_checked_too(api):
    response = api(UserFactory()).post(
        "/api/v1/projects/", {"name": "x\x00", "classes": [{"key": "a"}]}, format="json"
    )
    assert (response.status_code, response.json()["error"]["field"]) == (400, "name")
