"""The labeling page in a real browser: log in, label with the keyboard, undo, and stay safe when
the server is slow or the network drops an answer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Annotation, Item, ItemStatus, Role
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SUBMIT_URL = "**/api/v1/annotations/"


# ---------- helpers ----------


def png_bytes(width: int = 640, height: int = 420) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (168, 172, 178))
    draw = ImageDraw.Draw(image)
    draw.ellipse((180, 90, 460, 330), fill=(120, 124, 132))
    draw.line((230, 150, 420, 280), fill=(40, 40, 44), width=5)  # the "scratch"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_item(project, external_id: str = "photo-1"):
    upload = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
    return ItemFactory(project=project, external_id=external_id, text="", image=upload)


def open_labeling(page, project) -> int:
    page.get_by_role("link", name=f"Start labeling in {project.name}").click()
    return wait_for_item(page)


_READY = """([previous, expected]) => {
  const stage = document.getElementById("stage");
  if (stage.dataset.state !== "ready" || stage.getAttribute("aria-busy") !== "false") return false;
  if (expected !== null) return stage.dataset.itemId === expected;
  return stage.dataset.itemId !== previous;
}"""


def wait_for_item(page, *, previous: int | None = None, expected: int | None = None) -> int:
    """Wait until an item is on screen and the page takes input again; return the item's id."""
    as_text = [
        None if previous is None else str(previous),
        None if expected is None else str(expected),
    ]
    page.wait_for_function(_READY, arg=as_text)
    return int(page.locator("#stage").get_attribute("data-item-id"))


def labels_of(user) -> dict[int, str]:
    rows = Annotation.objects.filter(labeler=user, withdrawn=False).select_related("label")
    return {row.item_id: row.label.key for row in rows}


# ---------- tests ----------


@pytest.mark.django_db(transaction=True)
def test_labeler_logs_in_and_labels_three_items_with_hotkeys(live_server, page, project, member):
    # given a labeler and three items, the first an image
    user = member(Role.LABELER, username="lena")
    photo = image_item(project)
    ItemFactory.create_batch(2, project=project)

    # when they log in, open the project from the home page ...
    log_in(page, live_server.url, "lena")
    shown = open_labeling(page, project)

    # ... then the image is shown through the API, and the page fits 1280×800 without scrolling
    assert shown == photo.pk
    image = page.locator("#item-image")
    expect()(image).to_be_visible()
    page.wait_for_function("document.getElementById('item-image').naturalWidth > 0")
    assert page.evaluate(
        "document.documentElement.scrollHeight <= innerHeight"
        " && document.documentElement.scrollWidth <= innerWidth"
    )
    expect()(page.locator("#progress")).to_have_text("0 labeled · 3 items need labels")

    # ... and label the three items with 1, 2 and B
    expected: dict[int, str] = {}
    for key, class_key in [("1", "clean"), ("2", "scratch"), ("b", "borderline")]:
        page.keyboard.press(key)
        expected[shown] = class_key
        if len(expected) < 3:
            shown = wait_for_item(page, previous=shown)

    # then the page says it is done, and the counter follows
    done = page.get_by_role("heading", name="All done — nothing left for you in this project")
    expect()(done).to_be_visible()
    expect()(page.locator("#progress")).to_have_text("3 labeled · 3 items need labels")

    # and exactly those three labels are stored for this user, with the time spent on each
    assert labels_of(user) == expected
    rows = Annotation.objects.filter(labeler=user)
    assert rows.count() == 3
    assert all(row.time_spent_ms is not None for row in rows)


@pytest.mark.django_db(transaction=True)
def test_undo_withdraws_the_last_label_and_shows_the_item_again(live_server, page, project, member):
    # given a labeler who has labeled one item and moved on to the next
    user = member(Role.LABELER, username="uma")
    ItemFactory.create_batch(3, project=project)
    log_in(page, live_server.url, "uma")
    first = open_labeling(page, project)
    page.keyboard.press("1")
    wait_for_item(page, previous=first)

    # when they press Z
    page.keyboard.press("z")

    # then the same item is back on screen, and the label is withdrawn but kept
    wait_for_item(page, expected=first)
    expect()(page.locator("#status")).to_contain_text("Undone")
    row = Annotation.objects.get(labeler=user, item_id=first)
    assert row.withdrawn is True
    assert row.withdrawn_at is not None
    expect()(page.locator("#progress")).to_have_text("0 labeled · 3 items need labels")

    # and labeling it again stores a new, active label beside the withdrawn one
    page.keyboard.press("2")
    wait_for_item(page, previous=first)
    assert labels_of(user) == {first: "scratch"}
    assert Annotation.objects.filter(labeler=user, item_id=first).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_double_key_press_sends_one_annotation(live_server, page, project, member):
    # given a slow server: the submit request is held until the test lets it through
    user = member(Role.LABELER, username="dora")
    ItemFactory.create_batch(3, project=project)
    log_in(page, live_server.url, "dora")
    held = []
    # Routed before the page opens: a route added just before a key press can miss the request.
    page.route(SUBMIT_URL, lambda route: held.append(route))
    first = open_labeling(page, project)

    # when the labeler presses 1 twice fast, and clicks the button as well
    page.keyboard.press("1")
    page.keyboard.press("1")
    page.locator('.class-btn[data-key="clean"]').click(force=True)
    page.wait_for_timeout(300)

    # then one request is in flight and the controls say they are busy
    assert len(held) == 1
    expect()(page.locator(".workspace")).to_have_attribute("aria-busy", "true")
    expect()(page.locator('.class-btn[data-key="clean"]')).to_have_attribute(
        "aria-disabled", "true"
    )

    # and when the server answers, one annotation exists for that item
    held[0].continue_()
    wait_for_item(page, previous=first)
    assert Annotation.objects.filter(labeler=user, item_id=first).count() == 1
    assert Annotation.objects.filter(labeler=user).count() == 1


@pytest.mark.parametrize("retry_by", ["retry button", "pressing the key again"])
@pytest.mark.django_db(transaction=True)
def test_retry_after_a_lost_answer_does_not_store_twice(
    live_server, page, project, member, retry_by
):
    # given a network that loses the answer to the first submit (the server did store it)
    user = member(Role.LABELER, username="rita")
    ItemFactory.create_batch(2, project=project)
    log_in(page, live_server.url, "rita")
    bodies = []

    def lose_first_answer(route):
        bodies.append(route.request.post_data_json)
        if len(bodies) == 1:
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(SUBMIT_URL, lose_first_answer)
    first = open_labeling(page, project)

    # when the labeler labels the item, sees the error and tries again
    page.keyboard.press("2")
    alert = page.get_by_role("alert")
    expect()(alert).to_contain_text("Network error")
    assert labels_of(user) == {first: "scratch"}
    if retry_by == "retry button":
        alert.get_by_role("button", name="Retry").click()
    else:
        page.keyboard.press("2")

    # then the page moves on, the second attempt reused the key, and the label is stored once
    wait_for_item(page, previous=first)
    expect()(alert).to_be_hidden()
    assert len(bodies) == 2
    assert bodies[0]["idempotency_key"] == bodies[1]["idempotency_key"]
    assert Annotation.objects.filter(labeler=user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_instructions_are_plain_text_and_help_toggles(live_server, page, project, member):
    # given instructions with markup in them
    project.instructions = (
        "Scratches longer than 2 mm count.\n<b>bold</b> <img src=x onerror=alert(1)>"
    )
    project.save(update_fields=["instructions"])
    member(Role.LABELER, username="ida")
    ItemFactory(project=project)
    log_in(page, live_server.url, "ida")
    open_labeling(page, project)

    # then the markup is shown as text, on its own line, and never becomes elements
    panel = page.locator("#instructions")
    expect()(panel).to_contain_text("<b>bold</b> <img src=x onerror=alert(1)>")
    assert panel.locator("b, img").count() == 0
    assert (
        page.evaluate("getComputedStyle(document.getElementById('instructions')).whiteSpace")
        == "pre-line"
    )

    # and ? opens and closes the shortcut help
    page.keyboard.press("?")
    expect()(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("?")
    expect()(page.get_by_role("dialog")).to_be_hidden()


@pytest.mark.django_db(transaction=True)
def test_a_refused_label_offers_the_next_item(live_server, page, project, member):
    # given a labeler whose item was completed by others while they looked at it
    user = member(Role.LABELER, username="nora")
    ItemFactory.create_batch(2, project=project)
    log_in(page, live_server.url, "nora")
    page.route(
        SUBMIT_URL,
        lambda route: route.fulfill(
            status=409,
            json={"error": {"code": "no_open_slot", "message": "This item has all its labels."}},
        ),
    )
    first = open_labeling(page, project)
    Item.objects.filter(pk=first).update(status=ItemStatus.COMPLETE)

    # when the labeler labels it (and the server refuses: the item no longer needs a label)
    page.keyboard.press("1")

    # then the banner says why and offers to move on, which shows another item
    alert = page.get_by_role("alert")
    expect()(alert).to_contain_text("This item has all its labels.")
    alert.get_by_role("button", name="Next item").click()
    wait_for_item(page, previous=first)
    expect()(alert).to_be_hidden()
    assert not Annotation.objects.filter(labeler=user).exists()
