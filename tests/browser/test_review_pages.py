"""Disagreement review in a real browser: a reviewer goes from the confusion pairs to one item,
reads who labeled what, discusses it, and decides; a second decision meets the first (409) and
revises it on purpose; labelers are kept out; the bell counts what is new.

Set ``LABELHUB_SHOTS=/some/dir`` to save screenshots of the pages as the tests see them.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Item, Role
from annotations.services.annotations import annotation_submit
from annotations.services.flags import item_flag
from consensus.models import (
    Comment,
    CommentRevision,
    DecisionOutcome,
    Notification,
    NotificationKind,
    ReviewDecision,
)
from consensus.services.comments import comment_add
from consensus.services.decisions import decision_make
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

#: Three labelers' labels per item: two confusion pairs (scratch vs dent three times, clean vs
#: scratch twice) and one unanimous item that a labeler flags.
LABELS = {
    "weld-01": ["scratch", "scratch", "dent"],
    "weld-02": ["dent", "scratch", "dent"],
    "weld-03": ["scratch", "dent", "scratch"],
    "panel-01": ["clean", "clean", "scratch"],
    "panel-02": ["scratch", "clean", "clean"],
    "panel-03": ["clean", "clean", "clean"],
}
IMAGES = {"weld-01", "weld-02"}


def png_bytes(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 420), (150 + seed * 8, 156, 164))
    draw = ImageDraw.Draw(image)
    draw.ellipse((170, 80, 470, 340), fill=(112, 118, 128))
    draw.line((220 + seed * 10, 150, 430, 290 - seed * 20), fill=(36, 36, 40), width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_item(project, external_id: str, seed: int) -> Item:
    camera = "A" if external_id.startswith("weld") else "B"
    if external_id in IMAGES:
        upload = SimpleUploadedFile(f"{external_id}.png", png_bytes(seed), content_type="image/png")
        return ItemFactory(
            project=project,
            external_id=external_id,
            text="",
            image=upload,
            slices={"camera": camera},
        )
    text = f"Panel {external_id}: a faint line near the left edge, about 3 mm long."
    return ItemFactory(
        project=project, external_id=external_id, text=text, slices={"camera": camera}
    )


@pytest.fixture
def review(project, member):
    """The project's members and its labeled items. Each commit asks for a recompute, which runs
    eagerly (no broker), so the newest report (the labelers' reliability) covers them all."""
    cache.clear()
    labelers = [member(Role.LABELER, username=f"lab{n}") for n in range(3)]
    people = SimpleNamespace(
        labelers=labelers,
        sme=member(Role.REVIEWER, username="sme"),
        sme2=member(Role.REVIEWER, username="sme2"),
        boss=member(Role.MANAGER, username="boss"),
    )
    items = {}
    for seed, (external_id, keys) in enumerate(LABELS.items()):
        item = make_item(project, external_id, seed)
        for user, key in zip(labelers, keys, strict=True):
            annotation_submit(
                labeler=user,
                item_id=item.pk,
                value={"label": key},
                idempotency_key=f"{user.pk}-{item.pk}",
                time_spent_ms=2400 + 300 * seed,
            )
        items[external_id] = item
    item_flag(
        labeler=labelers[1],
        item_id=items["panel-03"].pk,
        kind="input_unclear",
        note="Glare hides the left edge",
    )
    yield SimpleNamespace(project=project, items=items, **vars(people))
    cache.clear()


def shot(page, name: str) -> None:
    """A screenshot when LABELHUB_SHOTS names a directory (for looking at the pages)."""
    folder = os.environ.get("LABELHUB_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def queue_url(base: str, project) -> str:
    return f"{base}/projects/{project.pk}/review/"


def item_url(base: str, project, item) -> str:
    return f"{base}/projects/{project.pk}/review/{item.pk}/"


def queue_refs(page) -> list[str]:
    """The external ids listed in the queue, once it has loaded."""
    expect()(page.locator(".rq-list")).to_have_attribute("aria-busy", "false")
    return page.locator("#queue .rq-row__ref").all_text_contents()


def wait_for_review(page) -> None:
    expect()(page.locator("#review")).to_have_attribute("aria-busy", "false")


# ---------- tests ----------


@pytest.mark.django_db(transaction=True)
def test_reviewer_filters_by_a_pair_reads_labels_comments_and_decides(live_server, page, review):
    project, items = review.project, review.items

    # given a reviewer, who opens the review queue from their project card
    log_in(page, live_server.url, "sme")
    page.get_by_role("link", name=f"Review queue of {project.name}").click()

    # then the confusion pairs summarise the queue: scratch vs dent first, clean vs scratch next
    pairs = page.locator("#pairs .rq-pair")
    expect()(pairs).to_have_count(2)
    expect()(pairs.nth(0)).to_contain_text("Scratch vs Dent — 3 items")
    expect()(pairs.nth(1)).to_contain_text("Clean vs Scratch — 2 items")
    assert sorted(queue_refs(page)) == sorted(LABELS)  # five disputed items and a flagged one
    flagged = page.locator(f'.rq-row[data-item-id="{items["panel-03"].pk}"] .rq-flag')
    expect()(flagged).to_have_attribute("title", re.compile("Glare hides the left edge"))
    shot(page, "queue")

    # when they choose the clean vs scratch pair
    pairs.nth(1).click()

    # then only its two items are listed, the chip is pressed, and the URL keeps the filter
    expect()(page.locator("#queue .rq-row")).to_have_count(2)
    assert sorted(queue_refs(page)) == ["panel-01", "panel-02"]
    expect()(pairs.nth(1)).to_have_attribute("aria-pressed", "true")
    assert "pair=clean%2Cscratch" in page.url
    page.reload()
    expect()(page.locator("#queue .rq-row")).to_have_count(2)
    expect()(page.locator("#f-pair")).to_have_value("clean,scratch")
    shot(page, "queue-filtered")

    # when they open the first item
    first = page.locator("#queue .rq-row").first
    first_ref = first.locator(".rq-row__ref").inner_text()
    first.get_by_role("link").click()
    wait_for_review(page)
    item = items[first_ref]

    # then every label is listed with its labeler, and their reliability from the report
    expect()(page.get_by_role("heading", name=first_ref, level=1)).to_be_visible()
    for user, key in zip(review.labelers, LABELS[first_ref], strict=True):
        row = page.locator(f'#labels tr[data-labeler="{user.username}"]')
        expect()(row).to_contain_text(user.username)
        expect()(row.locator(".ri-class")).to_have_attribute("data-label", key)
        expect()(row.locator("td").nth(1)).to_have_text(re.compile(r"^\d+%$"))  # agreement
        expect()(row.locator("td").nth(2)).to_have_text("—")  # no gold items in this project
    expect()(page.locator("#labels .ri-round__tag")).to_have_text("current")
    expect()(page.locator("#consensus")).to_contain_text("Clean")

    # when they comment, mentioning the manager with some markdown
    page.get_by_label("Add a comment").fill(
        "Looks **clean** to me: the line wipes off.\n@boss can we add this as an example? <b>x</b>"
    )
    page.get_by_role("button", name="Comment", exact=True).click()

    # then the comment is shown rendered (and escaped), stored, and the manager is notified
    comment = page.locator("#comments .ri-comment").first
    expect()(comment.locator(".ri-comment__body strong")).to_have_text("clean")
    expect()(comment.locator(".mention")).to_have_text("@boss")
    expect()(comment).to_contain_text("<b>x</b>")
    assert comment.locator(".ri-comment__body b").count() == 0
    stored = Comment.objects.get(item=item)
    assert stored.author == review.sme
    assert list(stored.mentions.values_list("username", flat=True)) == ["boss"]
    assert Notification.objects.filter(
        user=review.boss, kind=NotificationKind.MENTION, item=item, comment=stored
    ).exists()

    # when they decide "final label: clean" with a reason
    page.get_by_label("Final label").check()
    page.get_by_label("Final class").select_option("clean")
    page.get_by_label(re.compile("^Reason")).fill("The line wipes off: a smudge, not a scratch.")
    shot(page, "item-before-decision")
    page.get_by_role("button", name="Record decision").click()

    # then the decision is confirmed on the page and stored with who, what and why
    expect()(page.locator("#decision-done")).to_contain_text("Decided: ‘Clean’")
    expect()(page.locator("#history .ri-decision")).to_have_count(1)
    decision = ReviewDecision.objects.get(item=item)
    assert decision.outcome == DecisionOutcome.LABEL
    assert decision.label.key == "clean"
    assert decision.reason == "The line wipes off: a smudge, not a scratch."
    assert decision.decided_by == review.sme
    assert decision.current is True
    shot(page, "item-decided")

    # and "Next item in queue" opens the other item of the same pair, keeping the filter
    page.get_by_role("button", name="Next item in queue →").click()
    other = "panel-02" if first_ref == "panel-01" else "panel-01"
    expect()(page.get_by_role("heading", name=other, level=1)).to_be_visible()
    assert f"/review/{items[other].pk}/" in page.url
    assert "pair=clean%2Cscratch" in page.url


@pytest.mark.django_db(transaction=True)
def test_a_second_decision_shows_the_first_and_revise_it_keeps_both(live_server, page, review):
    project, item = review.project, review.items["weld-01"]

    # given a reviewer with the review page of an undecided item open
    log_in(page, live_server.url, "sme")
    page.goto(item_url(live_server.url, project, item))
    wait_for_review(page)
    expect()(page.locator("#item-image")).to_be_visible()
    expect()(page.locator("#same-pair .ri-same__item")).to_have_count(2)

    # and another reviewer who decides it meanwhile
    decision_make(
        item_id=item.pk,
        decided_by=review.sme2,
        outcome=DecisionOutcome.LABEL,
        label_key="dent",
        reason="A dent: the surface is pushed in.",
    )

    # when the first reviewer decides too, without knowing
    page.get_by_label("Final class").select_option("scratch")
    page.get_by_label(re.compile("^Reason")).fill("A scratch: the paint is cut, not deformed.")
    page.get_by_role("button", name="Record decision").click()

    # then the page shows the decision that stands, and nothing was overwritten
    conflict = page.locator("#decision-conflict")
    expect()(conflict).to_be_visible()
    expect()(conflict).to_contain_text(
        "sme2 decided ‘Dent’ just now: “A dent: the surface is pushed in.”"
    )
    expect()(page.locator("#history .ri-decision--current")).to_contain_text("sme2")
    assert ReviewDecision.objects.filter(item=item).count() == 1
    shot(page, "item-conflict")

    # when they revise it on purpose
    conflict.get_by_role("button", name=re.compile("^Revise it")).click()

    # then both revisions are kept, theirs current
    expect()(page.locator("#decision-done")).to_contain_text("Decided: ‘Scratch’ (revision 2)")
    expect()(page.locator("#history .ri-decision")).to_have_count(2)
    expect()(page.locator("#history .ri-decision--current")).to_contain_text("Scratch")
    rows = list(ReviewDecision.objects.filter(item=item).order_by("revision"))
    assert [(r.revision, r.decided_by.username, r.label.key, r.current) for r in rows] == [
        (1, "sme2", "dent", False),
        (2, "sme", "scratch", True),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_labeler_cannot_open_the_queue(live_server, page, review):
    # given a labeler of the project
    log_in(page, live_server.url, "lab0")

    # then their project card offers no review queue, and the page itself is refused
    expect()(page.get_by_role("link", name=re.compile("^Review queue"))).to_have_count(0)
    response = page.goto(queue_url(live_server.url, review.project))
    assert response.status == 403
    expect()(page.get_by_role("heading", name="You can't open this page")).to_be_visible()
    response = page.goto(item_url(live_server.url, review.project, review.items["weld-01"]))
    assert response.status == 403


@pytest.mark.django_db(transaction=True)
def test_the_bell_counts_unread_notifications_and_marks_them_read(live_server, page, review):
    project, item = review.project, review.items["weld-02"]

    # given a reviewer with the new-disagreements digest and a mention by the manager
    comment_add(item=item, author=review.boss, body="@sme is this a dent or a scratch?")
    digest = Notification.objects.get(user=review.sme, kind=NotificationKind.DISAGREEMENTS)
    assert digest.count == 5

    # when they log in
    log_in(page, live_server.url, "sme")

    # then the bell shows two unread, and its dropdown says what they are and links to them
    bell = page.locator("#bell-button")
    expect()(page.locator("#bell-count")).to_have_text("2")
    expect()(bell).to_have_attribute("aria-label", "Notifications, 2 unread")
    bell.click()
    panel = page.get_by_role("region", name="Notifications")
    expect()(panel).to_be_visible()
    mention = panel.get_by_role("link", name=re.compile("boss mentioned you"))
    expect()(mention).to_have_attribute("href", f"/projects/{project.pk}/review/{item.pk}/")
    news = panel.get_by_role("link", name=re.compile(f"5 new disagreements in {project.name}"))
    expect()(news).to_have_attribute("href", f"/projects/{project.pk}/review/")
    shot(page, "bell")

    # and Escape closes it, returning focus to the bell
    page.keyboard.press("Escape")
    expect()(panel).to_be_hidden()
    expect()(bell).to_be_focused()

    # when they open the mention, it is marked read and the item's review page opens
    bell.click()
    mention.click()
    wait_for_review(page)
    expect()(page.locator("#comments .mention")).to_have_text("@sme")
    expect()(page.locator("#bell-count")).to_have_text("1")

    # when they mark all read, the badge goes, and so do the unread rows
    page.locator("#bell-button").click()
    page.get_by_role("button", name="Mark all read").click()
    expect()(page.locator("#bell-count")).to_be_hidden()
    assert not Notification.objects.filter(user=review.sme, read_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_a_manager_starts_a_new_round_on_the_filtered_items(live_server, page, review):
    project, items = review.project, review.items

    # given a manager looking at the scratch vs dent items
    log_in(page, live_server.url, "boss")
    page.goto(f"{queue_url(live_server.url, project)}?pair=scratch,dent")
    assert len(queue_refs(page)) == 3
    start = page.get_by_role("button", name="Start a new round on these 3 items")
    expect()(start).to_be_enabled()

    # when they start a round, cancelling first and then confirming
    shot(page, "queue-manager")
    start.click()
    dialog = page.get_by_role("dialog", name="Start a new round?")
    expect()(dialog).to_contain_text("Move 3 items matching the current filters to round 2")
    shot(page, "round-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect()(dialog).to_be_hidden()
    assert Item.objects.filter(project=project, round=2).count() == 0
    start.click()
    dialog.get_by_role("button", name="Start the round").click()

    # then the page says what happened, the items left the queue, and they are in round 2
    expect()(page.locator("#queue-status")).to_contain_text("Round 2 started on 3 items")
    expect()(page.locator("#queue-empty")).to_be_visible()
    moved = {i.external_id for i in Item.objects.filter(project=project, round=2)}
    assert moved == {"weld-01", "weld-02", "weld-03"}
    project.refresh_from_db()
    assert project.current_round == 2
    assert items["panel-01"].round == 1

    # and a moved item's review page shows its labels as an earlier round's
    page.goto(item_url(live_server.url, project, items["weld-01"]))
    wait_for_review(page)
    earlier = page.locator('#labels .ri-round[data-round="1"]')
    expect()(earlier).to_have_class(re.compile("ri-round--earlier"))
    expect()(earlier.locator(".ri-round__tag")).to_have_text("earlier round")
    expect()(earlier.locator("tbody tr")).to_have_count(3)


@pytest.mark.django_db(transaction=True)
def test_the_filter_bar_narrows_the_queue_and_the_url_keeps_it(live_server, page, review):
    # given a reviewer on the queue
    log_in(page, live_server.url, "sme")
    page.goto(queue_url(live_server.url, review.project))
    assert len(queue_refs(page)) == 6

    # when they ask for flagged items only, the flagged one is left, its note on hover
    page.get_by_label("Flagged only").check()
    expect()(page.locator("#queue .rq-row")).to_have_count(1)
    assert queue_refs(page) == ["panel-03"]
    assert "flagged=true" in page.url

    # when they go back, the filter goes too (the URL is the state)
    page.go_back()
    expect()(page.locator("#queue .rq-row")).to_have_count(6)
    expect()(page.get_by_label("Flagged only")).not_to_be_checked()

    # when they choose a slice and a class, the URL reflects both
    page.get_by_label("Slice").select_option("camera:A")
    expect()(page.locator("#queue .rq-row")).to_have_count(3)
    page.get_by_label("Class").select_option("clean")
    expect()(page.locator("#queue-empty")).to_be_visible()
    assert "slice=camera%3AA" in page.url
    assert "class=clean" in page.url

    # and "Clear filters" shows the whole queue again
    page.get_by_role("button", name="Clear filters").click()
    expect()(page.locator("#queue .rq-row")).to_have_count(6)


@pytest.mark.django_db(transaction=True)
def test_the_author_edits_a_comment_and_the_history_shows_on_click(live_server, page, review):
    project, item = review.project, review.items["weld-03"]

    # given a comment by the reviewer, and one by the manager
    mine = comment_add(item=item, author=review.sme, body="Probably a *scratch*.")
    comment_add(item=item, author=review.boss, body="Use `scratch` if the paint is cut.")
    log_in(page, live_server.url, "sme")
    page.goto(item_url(live_server.url, project, item))
    wait_for_review(page)

    # then only their own comment offers "Edit"
    comments = page.locator("#comments .ri-comment")
    expect()(comments).to_have_count(2)
    expect()(comments.nth(0).locator("em")).to_have_text("scratch")
    expect()(comments.nth(1).locator("code")).to_have_text("scratch")
    expect()(comments.nth(1).get_by_role("button", name="Edit my comment")).to_have_count(0)

    # when they edit it
    comments.nth(0).get_by_role("button", name="Edit my comment").click()
    comments.nth(0).get_by_label("Edit the comment").fill("A **scratch**: the paint is cut.")
    comments.nth(0).get_by_role("button", name="Save").click()

    # then it shows the new text, marked "edited", with the earlier text one click away
    mine_row = page.locator(f'.ri-comment[data-comment-id="{mine.pk}"]')
    expect()(mine_row.locator(".ri-comment__body strong").first).to_have_text("scratch")
    edited = mine_row.get_by_role("button", name="edited")
    expect()(edited).to_have_attribute("aria-expanded", "false")
    edited.click()
    history = mine_row.get_by_role("list", name="Earlier versions")
    expect()(history).to_contain_text("Probably a scratch.")
    expect()(edited).to_have_attribute("aria-expanded", "true")
    shot(page, "item-comment-history")
    mine.refresh_from_db()
    assert mine.body == "A **scratch**: the paint is cut."
    assert mine.edited_at is not None
    assert list(CommentRevision.objects.filter(comment=mine).values_list("body", flat=True)) == [
        "Probably a *scratch*."
    ]
