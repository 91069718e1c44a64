"""The transcription labeling page in a real browser: a labeler plays a spoken clip with the
keyboard, seeks (HTTP Range), slows it down, inserts a standard token with its shortcut, types,
submits with Ctrl+Enter, and the next clip loads; the exact text is stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotations.models import Annotation, Role, TaskType
from annotations.services.imports import items_import_path
from annotations.services.projects import project_create
from tests.browser.helpers import expect, log_in
from tests.browser.test_labeling_page import open_labeling, wait_for_item
from tests.factories import MembershipFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

CLIPS = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
SCREENSHOT = Path("/tmp/labelhub-transcription-page.png")  # noqa: S108 (a test artefact)


@pytest.fixture
def transcription(tmp_path):
    """A transcription project with two real spoken clips (fixtures/audio) and a labeler."""
    manager = UserFactory(username="mara")
    project = project_create(
        creator=manager,
        name="Voice requests",
        task_type=TaskType.TRANSCRIPTION,
        overlap=1,
        instructions="Type what you hear. [unintelligible] for words you cannot make out.",
        transcript_tokens=["[unintelligible]", "[noise]"],
    )
    folder = tmp_path / "clips"
    folder.mkdir()
    for stem in ("clip-01", "clip-02"):
        shutil.copyfile(CLIPS / f"{stem}.wav", folder / f"{stem}.wav")
    assert items_import_path(project=project, path=folder) == 2
    labeler = MembershipFactory(
        project=project, role=Role.LABELER, user=UserFactory(username="tess")
    ).user
    return project, labeler


def audio(page, expression: str):
    return page.evaluate(f"(() => {{ const a = document.getElementById('item-audio'); "
                         f"return {expression}; }})()")  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_labeler_transcribes_a_clip_with_the_keyboard(live_server, page, transcription):
    project, labeler = transcription
    audio_answers: list[tuple[int, str | None]] = []

    def record(response):
        if "/audio/" in response.url:
            audio_answers.append((response.status, response.request.headers.get("range")))

    page.on("response", record)
    # given the labeler on the labeling page of the transcription project
    log_in(page, live_server.url, "tess")
    first = open_labeling(page, project)
    box = page.get_by_role("textbox", name="Transcript")
    expect()(page.locator("#stage-audio")).to_be_visible()
    expect()(box).to_be_focused()  # typing is the main work: the box has the focus
    # and the shortcuts are shown on the page
    expect()(page.locator(".transcript__keys")).to_contain_text("Alt+K")
    expect()(page.get_by_role("button", name="Alt+1 [unintelligible]")).to_be_visible()
    assert audio(page, "a.duration") == pytest.approx(2.3, abs=0.1)  # clip-01's length

    # when Esc leaves the box and Space is pressed, the clip plays and time advances
    page.keyboard.press("Escape")
    expect()(box).not_to_be_focused()
    page.keyboard.press("Space")
    page.wait_for_function("document.getElementById('item-audio').currentTime > 0.8")
    assert audio(page, "a.paused") is False
    expect()(page.locator("#audio-play-label")).to_have_text("Pause")
    # Alt+← jumps back 2 s (and does not navigate the browser back)
    before = audio(page, "a.currentTime")
    page.keyboard.press("Alt+ArrowLeft")
    assert audio(page, "a.currentTime") < before - 0.5
    assert page.url.endswith(f"/projects/{project.pk}/label/")
    # Alt+S slows down, and again back to normal
    page.keyboard.press("Alt+s")
    assert audio(page, "a.playbackRate") == 0.75
    expect()(page.locator("#audio-slow-label")).to_have_text("Normal 1×")
    page.keyboard.press("Alt+s")
    assert audio(page, "a.playbackRate") == 1
    # the player fetched the clip with a Range request, answered 206 (so it can seek)
    assert any(status == 206 and rng for status, rng in audio_answers), audio_answers

    # when Enter goes back into the box, the labeler types, inserts a token with Alt+1, and
    # Ctrl+Space pauses without typing a space
    page.keyboard.press("Enter")
    expect()(box).to_be_focused()
    page.keyboard.type("Um, nearest")
    page.keyboard.press("Alt+1")
    page.keyboard.press("Control+Space")
    page.wait_for_function("document.getElementById('item-audio').paused")
    page.keyboard.type("station")
    expect()(box).to_have_value("Um, nearest [unintelligible] station")
    # Alt+R replays from the start
    page.keyboard.press("Alt+r")
    page.wait_for_function("!document.getElementById('item-audio').paused")
    assert audio(page, "a.currentTime") < 1.0
    page.screenshot(path=str(SCREENSHOT))

    # when Ctrl+Enter submits, the next clip loads with an empty box
    page.keyboard.press("Control+Enter")
    second = wait_for_item(page, previous=first)
    assert second != first
    expect()(box).to_have_value("")
    expect()(box).to_be_focused()
    assert audio(page, "a.paused") is True
    assert audio(page, "a.currentSrc").endswith(f"/api/v1/items/{second}/audio/")
    # then the annotation holds exactly the text typed
    stored = Annotation.objects.get(labeler=labeler, item_id=first)
    assert stored.value == {"text": "Um, nearest [unintelligible] station"}
    assert stored.label_id is None

    # and an empty transcript is refused on the page (the project does not allow them)
    page.keyboard.press("Control+Enter")
    expect()(page.locator("#transcript-hint")).to_contain_text("The transcript is empty")
    assert not Annotation.objects.filter(item_id=second).exists()
    # Z (outside the box) undoes: the first clip comes back with its transcript
    page.keyboard.press("Escape")
    page.keyboard.press("z")
    assert wait_for_item(page, expected=first) == first
    expect()(box).to_have_value("Um, nearest [unintelligible] station")
    assert Annotation.objects.get(labeler=labeler, item_id=first).withdrawn


@pytest.mark.django_db(transaction=True)
def test_token_buttons_insert_at_the_cursor_and_keep_the_focus(live_server, page, transcription):
    project, labeler = transcription
    log_in(page, live_server.url, "tess")
    first = open_labeling(page, project)
    box = page.get_by_role("textbox", name="Transcript")
    box.fill("nearest gas station")
    # the cursor after "nearest": a click on [noise] puts it there, spaced
    box.evaluate("b => b.setSelectionRange(7, 7)")
    page.get_by_role("button", name="Alt+2 [noise]").click()
    expect()(box).to_have_value("nearest [noise] gas station")
    expect()(box).to_be_focused()
    page.get_by_role("button", name="Submit").click()
    wait_for_item(page, previous=first)
    stored = Annotation.objects.get(labeler=labeler, item_id=first)
    assert stored.value == {"text": "nearest [noise] gas station"}
