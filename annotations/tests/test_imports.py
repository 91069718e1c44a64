"""Item imports: every format, every kind of bad input, all or nothing."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from annotations.models import Item

pytestmark = pytest.mark.django_db


def png(color=(200, 200, 200), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def post_import(api, manager, project):
    client = api(manager)
    url = f"/api/v1/projects/{project.pk}/items/import/"

    def send(body=None, *, file=None, name="items.json"):
        if file is not None:
            upload = SimpleUploadedFile(name, file)
            return client.post(url, {"file": upload}, format="multipart")
        return client.post(url, body, format="json")

    return send


def test_json_body_creates_items_with_slices_and_gold(post_import, project):
    response = post_import(
        [
            {"external_id": "a", "data": "A sentence", "slices": {"lang": "en"}, "gold": "dent"},
            {"external_id": "b", "data": "https://example.org/b.png"},
            {"external_id": "c", "data": {"text": "Object form"}},
        ]
    )
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 3}
    a, b, c = Item.objects.filter(project=project).order_by("external_id")
    assert (a.text, a.slices, a.gold_label.key, a.kind) == (
        "A sentence",
        {"lang": "en"},
        "dent",
        "text",
    )
    assert (b.image_url, b.kind) == ("https://example.org/b.png", "image")
    assert c.text == "Object form"


def test_jsonl_and_csv_files(post_import, project):
    jsonl = b'{"external_id": "j1", "data": "one"}\n\n{"external_id": "j2", "data": "two"}\n'
    assert post_import(file=jsonl, name="x.jsonl").json() == {"created": 2}
    csv = "external_id,data,gold,camera,lighting\nc1,hello,scratch,A,dim\nc2,world,,B,\n"
    assert post_import(file=csv.encode(), name="x.csv").json() == {"created": 2}
    c1, c2 = Item.objects.filter(external_id__in=["c1", "c2"]).order_by("external_id")
    assert c1.slices == {"camera": "A", "lighting": "dim"}
    assert c1.gold_label.key == "scratch"
    assert c2.slices == {"camera": "B"}
    assert c2.gold_label is None


@pytest.mark.parametrize(
    ("body", "row", "field"),
    [
        ([{"external_id": "ok", "data": "x"}, {"data": "no id"}], 2, "external_id"),
        ([{"external_id": "a", "data": "x"}, {"external_id": "a", "data": "y"}], 2, "external_id"),
        ([{"external_id": "a", "data": "x", "gold": "nope"}], 1, "gold"),
        ([{"external_id": "a"}], 1, "data"),
        ([{"external_id": "a", "text": "x", "image_url": "https://e.org/x.png"}], 1, "data"),
        ([{"external_id": "a", "data": "x", "slices": ["A"]}], 1, "slices"),
        ([{"external_id": "a", "data": "x", "slices": {"cam": {"deep": 1}}}], 1, "slices"),
        ([{"external_id": "a", "data": "x", "colour": "red"}], 1, "colour"),
        ([{"external_id": "a", "image_url": "ftp://e.org/x.png"}], 1, "image_url"),
        ([{"external_id": "a", "data": 5}], 1, "data"),
        ([{"external_id": "x" * 300, "data": "x"}], 1, "external_id"),
        (["just a string"], 1, None),
        ([{"external_id": "a", "image": "x.png"}], 1, "image"),
    ],
)
def test_bad_rows_answer_400_naming_the_row_and_write_nothing(
    post_import, project, body, row, field
):
    response = post_import(body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_import"
    assert error["row"] == row
    assert error.get("field") == field
    assert f"Row {row}" in error["message"]
    assert not Item.objects.filter(project=project).exists()


def test_existing_external_id_is_a_bad_row(post_import, project):
    post_import([{"external_id": "a", "data": "x"}])
    response = post_import([{"external_id": "b", "data": "x"}, {"external_id": "a", "data": "y"}])
    assert response.status_code == 400
    assert response.json()["error"]["row"] == 2
    assert list(Item.objects.values_list("external_id", flat=True)) == ["a"]


def test_all_problems_are_listed_in_details(post_import):
    response = post_import([{"data": "x"}, {"external_id": "b"}, {"external_id": "c", "data": "x"}])
    details = response.json()["error"]["details"]
    assert [d["row"] for d in details] == [1, 2]


@pytest.mark.parametrize(
    ("payload", "name", "message"),
    [
        (b"{not json", "x.json", "invalid JSON"),
        (b"[]", "x.json", "no items"),
        (b'{"items": 3}', "x.json", "expected a list"),
        (b"\xff\xfe\x00garbage", "x.csv", "not UTF-8"),
        (b"id,data\n1,x\n", "x.csv", "external_id column"),
        (b"external_id,data\na,x,extra\n", "x.csv", "more cells"),
        (b'{"external_id": "a", "data": "x"}\n{broken\n', "x.jsonl", "invalid JSON"),
        (b"whatever", "x.txt", ".json, .jsonl, .csv or .zip"),
        (b"not a zip", "x.zip", "not a valid zip"),
    ],
)
def test_bad_files_answer_400_with_a_clear_message(post_import, project, payload, name, message):
    response = post_import(file=payload, name=name)
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]["message"]
    assert not Item.objects.filter(project=project).exists()


def test_zip_of_images_makes_items_with_metrics_and_thumbnails(
    post_import, project, api, manager, labeler
):
    archive = zip_of(
        {
            "cam_a/one.png": png((255, 255, 255)),
            "two.jpg": png((0, 0, 0)),
            "__MACOSX/._one.png": b"junk",
            "notes.txt": b"ignored",
        }
    )
    response = post_import(file=archive, name="photos.zip")
    assert response.status_code == 201, response.json()
    one = Item.objects.get(external_id="cam_a/one")
    two = Item.objects.get(external_id="two")
    assert one.metadata == {"width": 64, "height": 48, "brightness": 255.0}
    assert two.metadata["brightness"] == 0.0
    assert one.image
    assert one.thumbnail
    # the image is served to members only
    url = f"/api/v1/items/{one.pk}/image/"
    assert api(labeler).get(url).status_code == 200
    assert api(labeler).get(url + "?size=thumb")["Content-Type"] in {"image/jpeg"}
    from tests.factories import UserFactory

    assert api(UserFactory()).get(url).status_code == 404


def test_zip_with_manifest_uses_its_rows(post_import, project):
    manifest = json.dumps(
        [
            {
                "external_id": "p1",
                "image": "imgs/p1.png",
                "slices": {"camera": "A"},
                "gold": "clean",
            },
            {"external_id": "p2", "image": "imgs/p2.png"},
        ]
    ).encode()
    archive = zip_of({"items.json": manifest, "imgs/p1.png": png(), "imgs/p2.png": png()})
    assert post_import(file=archive, name="a.zip").json() == {"created": 2}
    assert Item.objects.get(external_id="p1").slices == {"camera": "A"}


def test_corrupt_image_rejects_the_whole_archive(post_import, project):
    good = png()
    archive = zip_of({"a.png": good, "b.png": good[: len(good) // 2], "c.png": b"not an image"})
    response = post_import(file=archive, name="a.zip")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["row"] == 2
    assert "b.png" in error["message"]
    assert [d["row"] for d in error["details"]] == [2, 3]
    assert not Item.objects.exists()


def test_manifest_naming_a_missing_file_is_a_bad_row(post_import):
    manifest = b'[{"external_id": "p1", "image": "missing.png"}]'
    response = post_import(file=zip_of({"items.json": manifest}), name="a.zip")
    assert response.status_code == 400
    assert "missing.png" in response.json()["error"]["message"]


def test_empty_archive_is_rejected(post_import):
    response = post_import(file=zip_of({"readme.txt": b"hi"}), name="a.zip")
    assert response.status_code == 400
    assert "no images" in response.json()["error"]["message"]


def test_import_command_reads_a_folder_and_fails_on_bad_rows(project, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "x.png").write_bytes(png())
    (folder / "y.png").write_bytes(png((10, 10, 10)))
    out = io.StringIO()
    call_command("import_items", project.pk, str(folder), stdout=out)
    assert "Imported 2 items" in out.getvalue()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"external_id": "z", "data": "ok"}\n{"external_id": "x", "data": "dup"}\n')
    with pytest.raises(CommandError, match="Row 2"):
        call_command("import_items", project.pk, str(bad))
    assert Item.objects.count() == 2


def test_import_command_unknown_project_or_path(project, tmp_path):
    with pytest.raises(CommandError, match="No project"):
        call_command("import_items", 999999, str(tmp_path))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_items", project.pk, str(tmp_path / "nope.json"))


def test_only_managers_import(api, member, project):
    url = f"/api/v1/projects/{project.pk}/items/import/"
    body = [{"external_id": "a", "data": "x"}]
    for role in ("labeler", "reviewer", "engineer"):
        assert api(member(role)).post(url, body, format="json").status_code == 403
    assert not Item.objects.exists()
