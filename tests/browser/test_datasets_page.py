"""The Datasets page in a real browser: an engineer sets a filter and sees the export URL follow
it, freezes version 1, an SME's decision changes an item's label, version 2 is frozen, and the
diff 1 → 2 names the item with the reason "review_decision". The download links serve the JSONL
the API hashed."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from annotations.models import Item, LabelClass, Role
from consensus.models import DatasetVersion, ItemConsensus
from consensus.services.datasets import dataset_freeze
from consensus.services.decisions import decision_make
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory, submit_labels

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path("/tmp/shots-datasets")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _frozen_line(version, external_id: str) -> str:
    """One item's record in a frozen version's file."""
    with version.file.open("rb") as handle, gzip.GzipFile(fileobj=handle) as packed:
        for line in packed:
            if json.loads(line)["external_id"] == external_id:
                return line.decode()
    raise AssertionError(f"{external_id} is not in version {version.number}")


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.fixture
def labeled(project, member):
    """Three labelers; two unanimous items and a 2–1 split (majority: clean), on two cameras."""
    trio = [member(Role.LABELER, username=name) for name in ("ana", "ben", "cy")]
    items = {}
    for name, keys, camera in [
        ("plate-a", ["clean"] * 3, "A"),
        ("plate-b", ["scratch"] * 3, "B"),
        ("plate-split", ["clean", "clean", "scratch"], "A"),
    ]:
        items[name] = ItemFactory(project=project, external_id=name, slices={"camera": camera})
        submit_labels(items[name], dict(zip(trio, keys, strict=True)))
    return items


@pytest.mark.django_db(transaction=True)
def test_filter_freeze_decide_freeze_and_diff(page, live_server, project, member, labeled):
    engineer = member(Role.ENGINEER, username="mle")
    sme = member(Role.REVIEWER, username="sme")

    # given the engineer on the Datasets page, reached from the home page
    log_in(page, live_server.url, engineer.username)
    page.get_by_role("link", name=f"Datasets of {project.name}").click()
    expect()(page.get_by_role("heading", name="Datasets", exact=True)).to_be_visible()
    expect()(page.locator("#versions-empty")).to_be_visible()
    url_box = page.get_by_label("Export URL")
    base = f"{live_server.url}/api/v1/projects/{project.pk}/export/"
    expect()(url_box).to_have_value(f"{base}?format=jsonl")

    # a threshold outside [0, 1] is refused on the page: no URL, a message under the field
    page.get_by_label("Minimum agreement").fill("1.5")
    expect()(page.locator("#min_agreement-error")).to_have_text(
        "Minimum agreement must be a number between 0 and 1."
    )
    expect()(url_box).to_have_value("")
    expect()(page.locator("#export-download")).to_have_attribute("aria-disabled", "true")

    # when the engineer sets a minimum agreement and a slice
    page.get_by_label("Minimum agreement").fill("0.6")
    page.locator("label.ds-chip", has=page.locator('input[value="camera:A"]')).click()

    # then the URL, the curl line, the link and the page's own address follow
    expect()(page.locator("#min_agreement-error")).to_be_hidden()
    expect()(url_box).to_have_value(f"{base}?format=jsonl&min_agreement=0.6&slice=camera%3AA")
    curl = page.get_by_label("With a token").input_value()
    assert curl.startswith('curl -H "Authorization: Bearer <token>" -o labelhub-project-')
    assert curl.endswith(f"'{url_box.input_value()}'")
    href = page.locator("#export-download").get_attribute("href")
    assert _query(href) == {"format": ["jsonl"], "min_agreement": ["0.6"], "slice": ["camera:A"]}
    assert _query(page.url) == {"min_agreement": ["0.6"], "slice": ["camera:A"]}
    expect()(page.locator("#freeze-filters")).to_contain_text("agreement ≥ 0.6")
    expect()(page.locator("#freeze-filters")).to_contain_text("camera: A")

    # and the Download link serves those records as JSONL (the session authenticates it)
    response = page.request.get(live_server.url + href)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in response.text().splitlines() if line]
    assert sorted(r["external_id"] for r in records) == ["plate-a", "plate-split"]
    _shot(page, "export-form")

    # a name the API refuses (a control character) is named under the field; nothing is frozen
    page.get_by_label("Name").fill("base\tline")
    page.get_by_role("button", name="Freeze with these filters").click()
    expect()(page.locator("#name-error")).to_have_text("A name cannot hold control characters.")
    assert not DatasetVersion.objects.exists()

    # when the engineer freezes version 1
    page.get_by_label("Name").fill("baseline")
    page.get_by_role("button", name="Freeze with these filters").click()
    rows = page.locator("#versions tr")
    expect()(rows).to_have_count(1)
    expect()(page.locator("#name-error")).to_be_hidden()
    first = DatasetVersion.objects.get()
    assert (first.number, first.name, first.n_items) == (1, "baseline", 2)
    assert first.params["min_agreement"] == 0.6
    assert first.params["slice"] == {"camera": ["A"]}
    expect()(rows.first).to_contain_text("v1")
    expect()(rows.first).to_contain_text("baseline")
    expect()(rows.first).to_contain_text("Clean 2")
    expect()(rows.first.locator(".ds-hash__value")).to_have_text(first.content_hash[:12])
    expect()(page.locator("#freeze-status")).to_contain_text("Version 1 frozen: 2 items")

    # and an SME decides the split item is a dent
    decision_make(
        item_id=labeled["plate-split"].pk,
        decided_by=sme,
        outcome="label",
        label_key="dent",
        reason="Depth visible under raking light.",
    )

    # and the engineer freezes version 2 with the same filters
    page.get_by_label("Name").fill("after review")
    page.get_by_role("button", name="Freeze with these filters").click()
    expect()(rows).to_have_count(2)
    expect()(rows.first).to_contain_text("v2")
    expect()(rows.first).to_contain_text("Dent 1")
    second = DatasetVersion.objects.get(number=2)
    expect()(page.get_by_label("Compare")).to_have_value(str(first.pk))
    expect()(page.get_by_label("with", exact=True)).to_have_value(str(second.pk))
    _shot(page, "versions")

    # when they compare 1 → 2
    page.get_by_role("button", name="Compare", exact=True).click()

    # then the split item is listed, from clean (majority) to dent (reviewed), for a review
    expect()(page.get_by_role("heading", name="Changes from v1 · baseline to v2 · after review"))
    changes = page.locator("#diff-items tr")
    expect()(changes).to_have_count(1)
    change = changes.first
    expect()(change.get_by_role("link", name="plate-split")).to_have_attribute(
        "href", f"/projects/{project.pk}/review/{labeled['plate-split'].pk}/"
    )
    cells = change.locator("td")
    expect()(cells.nth(0)).to_have_text("Changed")
    before = json.loads(_frozen_line(first, "plate-split"))
    assert before["label"] == "clean"
    methods = {"dawid_skene": "Dawid–Skene", "majority": "majority"}
    expect()(cells.nth(1)).to_have_text(f"Clean{methods[before['label_method']]}")
    expect()(cells.nth(3)).to_have_text("Dentreviewed")
    expect()(change.locator(".ds-reason")).to_have_text(["Review decision"])
    expect()(page.locator("#diff-summary")).to_contain_text("Label changed1")
    # and the reason chip filters by reason
    chip = page.locator('#diff-reasons button[data-reason="review_decision"]')
    expect()(chip).to_have_text("Review decision 1")
    chip.click()
    expect()(chip).to_have_attribute("aria-pressed", "true")
    expect()(changes).to_have_count(1)
    _shot(page, "diff")

    # and version 2's Download link serves the frozen JSONL, byte for byte what was hashed
    link = rows.first.get_by_role("link", name="Download version 2")
    download = page.request.get(live_server.url + link.get_attribute("href"))
    assert download.status == 200
    body = download.body()
    assert hashlib.sha256(body).hexdigest() == second.content_hash
    frozen = {r["external_id"]: r for r in map(json.loads, body.decode().splitlines())}
    assert set(frozen) == {"plate-a", "plate-split"}
    assert (frozen["plate-split"]["label"], frozen["plate-split"]["label_method"]) == (
        "dent",
        "reviewed",
    )


@pytest.mark.django_db(transaction=True)
def test_a_shared_link_reopens_its_filters_and_the_keyboard_reaches_them(
    page, live_server, project, member, labeled
):
    manager = member(Role.MANAGER, username="maya")
    log_in(page, live_server.url, manager.username)

    # given a link to the page carrying filters (one of them unknown to the form)
    page.goto(
        f"{live_server.url}/projects/{project.pk}/datasets/"
        "?borderline=drop&class=clean,dent&reviewed_only=true&labelers=username&format=csv"
    )

    # then the form shows them and the export URL carries them
    expect()(page.get_by_label("Borderline items")).to_have_value("drop")
    expect()(page.get_by_label("Format", exact=True)).to_have_value("csv")
    expect()(page.get_by_label("Labelers", exact=True)).to_have_value("username")
    expect()(page.get_by_label("Reviewed only")).to_be_checked()
    query = _query(page.get_by_label("Export URL").input_value())
    assert query == {
        "format": ["csv"],
        "reviewed_only": ["true"],
        "borderline": ["drop"],
        "class": ["clean,dent"],
        "labelers": ["username"],
    }

    # and the class chips are reachable and toggled with the keyboard
    dent = page.locator('input[name="class"][value="dent"]')
    dent.focus()
    page.keyboard.press("Space")
    expect()(dent).not_to_be_checked()
    assert _query(page.get_by_label("Export URL").input_value())["class"] == ["clean"]

    # and "Clear filters" empties the form back to every item in JSONL
    page.get_by_role("button", name="Clear filters").click()
    expect()(page.get_by_label("Export URL")).to_have_value(
        f"{live_server.url}/api/v1/projects/{project.pk}/export/?format=jsonl"
    )


@pytest.mark.django_db(transaction=True)
def test_a_long_diff_pages_and_filters_by_reason(page, live_server, project, member):
    engineer = member(Role.ENGINEER, username="mle")
    # given 60 items with a stored consensus (40 clean, 20 scratch), and two versions: one of
    # the clean items only, one of all of them (20 items added by the parameters)
    classes = {c.key: c for c in LabelClass.objects.filter(project=project)}
    items = Item.objects.bulk_create(
        Item(project=project, external_id=f"clip-{n:02d}", text=f"clip {n}") for n in range(60)
    )
    ItemConsensus.objects.bulk_create(
        ItemConsensus(
            item=item,
            project=project,
            round=1,
            label=classes["clean" if n < 40 else "scratch"],
            method="majority",
        )
        for n, item in enumerate(items)
    )
    a = dataset_freeze(user=engineer, project_id=project.pk, params={"reviewed_only": True})
    b = dataset_freeze(user=engineer, project_id=project.pk, name="all")
    assert (a.n_items, b.n_items) == (0, 60)

    # when the engineer compares them
    log_in(page, live_server.url, engineer.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/datasets/")
    expect()(page.locator("#versions tr")).to_have_count(2)
    page.get_by_role("button", name="Compare", exact=True).click()

    # then the first page holds 50 of the 60 added items, and Next shows the rest
    changes = page.locator("#diff-items tr")
    expect()(changes).to_have_count(50)
    expect()(page.locator("#diff-range")).to_have_text("1–50 of 60")
    expect()(page.locator("#diff-hint")).to_contain_text("different filters")
    expect()(page.get_by_role("button", name="Previous")).to_be_disabled()
    page.get_by_role("button", name="Next").click()
    expect()(changes).to_have_count(10)
    expect()(page.locator("#diff-range")).to_have_text("51–60 of 60")
    expect()(changes.first.locator("th")).to_have_text("clip-50")
    expect()(page.get_by_role("button", name="Next")).to_be_disabled()

    # and choosing a reason starts again from the first page ("Added": all 60 of them)
    page.locator('#diff-reasons button[data-reason="added"]').click()
    expect()(page.locator("#diff-range")).to_have_text("1–50 of 60")
    expect()(page.locator('#diff-reasons button[data-reason="added"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    # and a version's filters go back into the export form with one click
    expect()(page.locator("#versions tr").last).to_contain_text("reviewed only")
    page.get_by_role("button", name="Use the filters of version 1 in the export form").click()
    expect()(page.get_by_label("Reviewed only")).to_be_checked()
    assert _query(page.get_by_label("Export URL").input_value()) == {
        "format": ["jsonl"],
        "reviewed_only": ["true"],
    }
    expect()(page.locator("#export-status")).to_have_text(
        "Filters of version 1 loaded into the export form."
    )
