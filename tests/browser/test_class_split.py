"""Splitting a class in a real browser (DOMAIN.md §1): "scratch" turns out to be two defects.
A split needs new labels, so the manager adds "hairline" and "gouge" and starts round 2 on
exactly the items labeled scratch now; a key the API would refuse is named next to its field
first, and nothing is written for it. Celery runs eagerly (no broker)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotations.models import Item, LabelClass, Role, Round
from consensus.selectors import item_ids_labeled
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory, submit_labels

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path("/tmp/shots-classes")  # noqa: S108 (a test artefact)

# Each item's three labels: consensus scratch on three items (one of them 2 to 1), clean on
# two, dent on one, and one item without a majority.
LABELS = [
    ("scratch", "scratch", "scratch"),
    ("scratch", "scratch", "dent"),
    ("scratch", "scratch", "scratch"),
    ("clean", "clean", "clean"),
    ("clean", "clean", "scratch"),
    ("dent", "dent", "dent"),
]


@pytest.mark.django_db(transaction=True)
def test_manager_splits_scratch_into_hairline_and_gouge(page, live_server, project, member):
    manager = member(Role.MANAGER, username="maya")
    labelers = [member(Role.LABELER) for _ in range(3)]
    items = []
    for keys in LABELS:
        item = ItemFactory(project=project)
        submit_labels(item, dict(zip(labelers, keys, strict=True)))
        items.append(item)
    scratched = item_ids_labeled(project=project, class_key="scratch")
    assert scratched == sorted(i.pk for i in items[:3])

    # given the manager on the classes page, with scratch chosen to split
    log_in(page, live_server.url, manager.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/classes/")
    panel = page.locator("#split-panel")
    expect()(panel.get_by_role("heading", name="Split a class")).to_be_visible()
    panel.get_by_label("Split the class").select_option("scratch")
    expect()(page.locator("#split-source-hint")).to_have_text(
        "3 items are labeled Scratch now: round 2 starts on all of them."
    )

    # a key the API would refuse, and a key the project has, are named next to their fields
    page.get_by_label("New class 1: key").fill("Hair Line")
    page.get_by_label("New class 1: name").fill("Hairline scratch")
    page.get_by_label("New class 2: key").fill("dent")
    page.get_by_label("New class 2: name").fill("Gouge")
    panel.get_by_role("button", name="Split and start the round").click()
    expect()(page.locator("#split-key-0-error")).to_contain_text("lowercase letters")
    expect()(page.locator("#split-key-1-error")).to_contain_text("already has a class dent")
    assert not LabelClass.objects.filter(project=project, key__in=["hairline", "gouge"]).exists()
    assert not Round.objects.filter(project=project, number=2).exists()

    # when the keys are fixed and the manager confirms
    page.get_by_label("New class 1: key").fill("hairline")
    page.get_by_label("New class 2: key").fill("gouge")
    messages = []

    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    panel.get_by_role("button", name="Split and start the round").click()

    # then the page says which round started on how many items
    note = page.locator("#split-note")
    expect()(note).to_have_text(
        "Round 2 started on 3 items labeled Scratch; "
        "labelers will see the new classes Hairline scratch and Gouge."
    )
    assert "round 2 starts on the 3 items labeled Scratch" in messages[0]
    expect()(page.locator('#classes tr[data-class-key="hairline"]')).to_contain_text(
        "Hairline scratch"
    )
    expect()(page.locator('#classes tr[data-class-key="gouge"]')).to_contain_text("Gouge")
    expect()(page.locator("#split-source-hint")).to_contain_text(
        re.compile("No item is labeled Scratch")
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "split.png"), full_page=True)

    # and the database holds the classes and a round on exactly the items labeled scratch
    assert dict(
        LabelClass.objects.filter(project=project, key__in=["hairline", "gouge"]).values_list(
            "key", "name"
        )
    ) == {"hairline": "Hairline scratch", "gouge": "Gouge"}
    project.refresh_from_db()
    assert project.current_round == 2
    assert Round.objects.filter(project=project, number=2).exists()
    in_round_2 = sorted(Item.objects.filter(project=project, round=2).values_list("pk", flat=True))
    assert in_round_2 == scratched
    assert LabelClass.objects.filter(project=project, key="scratch").exists()  # it stays
