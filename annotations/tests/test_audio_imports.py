"""Audio items: import by magic bytes (never by file name), the size limit, all or nothing, and
the streaming endpoint (who may fetch a clip, and HTTP Range so players can seek)."""

import io
import json
import wave
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from annotations.importers import describe_start, sniff_audio
from annotations.models import Item, Role
from annotations.services.assignments import assignment_next
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db

FIXTURE_CLIP = Path(__file__).resolve().parents[2] / "fixtures" / "audio" / "clip-01.wav"


def wav(seconds: float = 0.1, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(range(256)) * int(seconds * rate * 2 / 256))
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


# The first bytes of each format (enough for the sniffer; players are not asked to decode them).
AUDIO_STARTS = {
    "a.wav": wav(),
    "b.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 32,
    "c.mp3": b"\xff\xfb\x90\x64" + b"\x00" * 32,  # MPEG-1 Layer III frame, no ID3 tag
    "d.ogg": b"OggS\x00\x02\x00\x00" + b"\x00" * 32,
    "e.oga": b"OggS\x00\x02\x00\x00" + b"\x01" * 32,
    "f.flac": b"fLaC\x00\x00\x00\x22" + b"\x00" * 32,
    "g.m4a": b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00" + b"\x00" * 20,
    "h.webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81" + b"\x00" * 32,
}


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def post_import(api, manager, project, settings, tmp_path):
    # A media folder of this test's own, so "nothing was stored" can be checked.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client = api(manager)
    url = f"/api/v1/projects/{project.pk}/items/import/"

    def send(body=None, *, file=None, name="clips.zip"):
        if file is not None:
            return client.post(url, {"file": SimpleUploadedFile(name, file)}, format="multipart")
        return client.post(url, body, format="json")

    return send


def stored_audio_files() -> list[str]:
    if not default_storage.exists("audio"):
        return []
    found = []
    for folder in default_storage.listdir("audio")[0]:
        found += default_storage.listdir(f"audio/{folder}")[1]
    return found


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (AUDIO_STARTS["a.wav"], "wav"),
        (AUDIO_STARTS["b.mp3"], "mp3"),
        (AUDIO_STARTS["c.mp3"], "mp3"),
        (b"\xff\xf1\x50\x80", "mp3"),  # AAC in ADTS: the same frame sync, layer 00
        (AUDIO_STARTS["d.ogg"], "ogg"),
        (AUDIO_STARTS["f.flac"], "flac"),
        (AUDIO_STARTS["g.m4a"], "m4a"),
        (b"\x00\x00\x00\x18ftypmp42", "m4a"),
        (AUDIO_STARTS["h.webm"], "webm"),
        (png(), None),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),  # JPEG: FF but no MPEG frame sync
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None),
        (b"\x00\x00\x00\x18ftypheic", None),
        (b"hello, world", None),
        (b"", None),
    ],
)
def test_sniff_audio_by_magic_bytes(head, kind):
    assert sniff_audio(head[:16]) == kind


def test_describe_start_names_what_a_non_audio_file_looks_like():
    assert describe_start(png()[:16]) == "it starts like a PNG image"
    assert describe_start(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == (
        "it is a RIFF file of type 'WEBP', not WAVE"
    )
    assert describe_start(b"just some text") == "it starts like text"
    assert describe_start(b"") == "it is empty"
    assert describe_start(b"\x00\x01\xfe\xff") == "its first bytes are 00 01 fe ff"


def test_zip_of_every_audio_format_makes_audio_items(post_import, project):
    # given a zip with one clip of each format, an image beside them, and junk
    files = {**AUDIO_STARTS, "photo.png": png(), "__MACOSX/._a.wav": b"junk", "notes.txt": b"x"}
    # when it is imported
    response = post_import(file=zip_of(files))
    # then each clip is an audio item stored under its own extension, the image an image item
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 9}
    clips = Item.objects.filter(project=project).exclude(audio="").order_by("external_id")
    assert [c.external_id for c in clips] == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert [c.metadata["audio_format"] for c in clips] == [
        "wav", "mp3", "mp3", "ogg", "ogg", "flac", "m4a", "webm"
    ]  # fmt: skip
    for clip in clips:
        suffix = Path(clip.audio.name).suffix
        name = {"a": "a.wav", "b": "b.mp3", "c": "c.mp3", "d": "d.ogg", "e": "e.oga"}.get(
            clip.external_id
        )
        if name:
            assert suffix == Path(name).suffix
            assert clip.audio.read() == AUDIO_STARTS[name]
        assert clip.metadata["audio_bytes"] == clip.audio.size
    assert Item.objects.get(external_id="photo").image


def test_a_png_named_wav_is_refused_naming_the_row_and_file_and_nothing_is_written(
    post_import, project
):
    # given a zip whose second clip (in name order) is a PNG renamed .wav
    archive = zip_of({"a.wav": wav(), "b.wav": png(), "c.flac": AUDIO_STARTS["f.flac"]})
    # when it is imported
    response = post_import(file=archive)
    # then 400 names the row and says what the file really is
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_import"
    assert error["row"] == 2
    assert error["field"] == "audio"
    assert error["message"] == "Row 2: b.wav is not an audio file (it starts like a PNG image)."
    # and nothing is written: no items, no stored clip
    assert not Item.objects.filter(project=project).exists()
    assert stored_audio_files() == []


def test_manifest_rows_name_their_clips_and_a_bad_clip_fails_the_whole_import(post_import, project):
    manifest = [
        {"external_id": "q1", "audio": "clips/q1.wav", "slices": {"noise": "none"}},
        {"external_id": "q2", "audio": "clips/q2.ogg"},
        {"external_id": "q3", "audio": "clips/missing.wav"},
    ]
    files = {
        "items.json": json.dumps(manifest).encode(),
        "clips/q1.wav": wav(),
        "clips/q2.ogg": b"<html>not audio</html>",
    }
    response = post_import(file=zip_of(files))
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert [(d["row"], d["field"]) for d in details] == [(2, "audio"), (3, "audio")]
    assert details[0]["message"] == "clips/q2.ogg is not an audio file (it starts like text)."
    assert "missing.wav" in details[1]["message"]
    assert not Item.objects.exists()
    assert stored_audio_files() == []
    # when the bad rows are fixed, the same manifest imports
    manifest[1]["audio"] = "clips/q1.wav"
    manifest[2]["audio"] = "clips/q1.wav"
    response = post_import(file=zip_of({**files, "items.json": json.dumps(manifest).encode()}))
    assert response.status_code == 201, response.json()
    assert Item.objects.get(external_id="q1").slices == {"noise": "none"}


def test_clip_over_the_size_limit_is_refused(post_import, project, settings):
    # given a limit of 2,000 bytes per clip
    settings.LABELHUB_MAX_AUDIO_BYTES = 2_000
    small, large = wav(0.05), wav(0.5)
    assert len(small) < 2_000 < len(large)
    # when a zip holds one clip under and one over it
    response = post_import(file=zip_of({"long.wav": large, "short.wav": small}))
    # then the large one is the bad row, with its size and the limit
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["row"] == 1
    assert error["message"] == (
        f"Row 1: long.wav is too large: {len(large):,} bytes, over the 2,000-byte limit per clip."
    )
    assert not Item.objects.exists()


def test_records_with_audio_urls(post_import, project):
    response = post_import(
        [
            {"external_id": "u1", "audio_url": "https://cdn.example.org/u1.mp3"},
            {"external_id": "u2", "data": "https://cdn.example.org/u2.WAV?sig=abc"},
            {"external_id": "u3", "data": "https://cdn.example.org/u3.png"},
        ]
    )
    assert response.status_code == 201, response.json()
    u1, u2, u3 = Item.objects.order_by("external_id")
    assert u1.audio_url == "https://cdn.example.org/u1.mp3"
    assert u2.audio_url == "https://cdn.example.org/u2.WAV?sig=abc"
    assert (u3.audio_url, u3.image_url) == ("", "https://cdn.example.org/u3.png")


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"audio_url": "ftp://x.org/a.wav"}, "audio_url", "audio_url must start with http"),
        ({"audio": "a.wav"}, "audio", "audio files need a zip or folder upload"),
        ({"audio_url": "https://x.org/a.wav", "text": "hi"}, "data", "more than one of"),
        ({"audio": 3}, "audio", "audio must be a string"),
    ],
)
def test_bad_audio_records_name_the_row(post_import, project, record, field, message):
    response = post_import([{"external_id": "ok", "data": "fine"}, {"external_id": "x", **record}])
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["row"], error["field"]) == (2, field)
    assert message in error["message"]
    assert not Item.objects.exists()


def test_import_command_reads_a_folder_of_clips(project, tmp_path):
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "one.wav").write_bytes(FIXTURE_CLIP.read_bytes())
    (tmp_path / "two.mp3").write_bytes(AUDIO_STARTS["b.mp3"])
    out = io.StringIO()
    call_command("import_items", project.pk, str(tmp_path), stdout=out)
    assert "Imported 2 items" in out.getvalue()
    one = Item.objects.get(external_id="calls/one")
    assert one.audio.read() == FIXTURE_CLIP.read_bytes()


# ---------- GET /api/v1/items/{id}/audio/ ----------


@pytest.fixture
def clip(post_import, project):
    data = FIXTURE_CLIP.read_bytes()
    assert post_import(file=zip_of({"clip.wav": data})).status_code == 201
    return Item.objects.get(external_id="clip"), data


def test_members_who_see_items_get_the_whole_clip(api, member, clip):
    item, data = clip
    for role in (Role.MANAGER, Role.REVIEWER, Role.ENGINEER):
        response = api(member(role)).get(f"/api/v1/items/{item.pk}/audio/")
        assert response.status_code == 200
        assert response["Content-Type"] == "audio/wav"
        assert response["Accept-Ranges"] == "bytes"
        assert int(response["Content-Length"]) == len(data)
        assert b"".join(response.streaming_content) == data


def test_a_labeler_gets_only_clips_assigned_to_them(api, labeler, project, clip):
    item, data = clip
    url = f"/api/v1/items/{item.pk}/audio/"
    # before the item is assigned to them: as if it did not exist
    response = api(labeler).get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # once they hold it: the clip
    assert assignment_next(project=project, labeler=labeler).item_id == item.pk
    response = api(labeler).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data


def test_outsiders_and_items_without_audio_get_404(api, manager, project, clip):
    item, _ = clip
    assert api(UserFactory()).get(f"/api/v1/items/{item.pk}/audio/").status_code == 404
    assert api(None).get(f"/api/v1/items/{item.pk}/audio/").status_code in {401, 403}
    text_item = ItemFactory(project=project)
    response = api(manager).get(f"/api/v1/items/{text_item.pk}/audio/")
    assert response.status_code == 404
    assert "no stored audio" in response.json()["error"]["message"]
    assert api(manager).get("/api/v1/items/999999/audio/").status_code == 404


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-", 0, None), ("bytes=100-199", 100, 199), ("bytes=-50", -50, None)],
)
def test_range_requests_answer_206_with_exactly_those_bytes(
    api, manager, clip, header, first, last
):
    item, data = clip
    response = api(manager).get(f"/api/v1/items/{item.pk}/audio/", HTTP_RANGE=header)
    assert response.status_code == 206
    expected = data[first : None if last is None else last + 1]
    start = first if first >= 0 else len(data) + first
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
    assert int(response["Content-Length"]) == len(expected)
    assert b"".join(response.streaming_content) == expected


def test_range_past_the_end_is_416_and_odd_ranges_get_the_whole_file(api, manager, clip):
    item, data = clip
    client = api(manager)
    url = f"/api/v1/items/{item.pk}/audio/"
    response = client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert response.status_code == 416
    assert response.json()["error"]["code"] == "range_not_satisfiable"
    # several ranges, or a unit we do not know: the whole file (RFC 9110 lets a server ignore it)
    for header in ("bytes=0-1,5-6", "items=0-1"):
        response = client.get(url, HTTP_RANGE=header)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == data
    # an end past the file is cut to the file
    response = client.get(url, HTTP_RANGE=f"bytes=10-{len(data) * 2}")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-{len(data) - 1}/{len(data)}"
