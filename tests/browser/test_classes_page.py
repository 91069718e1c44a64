"""The classes page in a real browser (DOMAIN.md §1, "merge classes"): labelers confuse deep
and shallow scratches; a manager previews merging them into scratch, sees agreement rise by
exactly what the preview API says, applies the merge, sees it in the history and the classes
marked as merged, undoes it and adds an alias. A reviewer sees the same preview but cannot
apply it. Celery runs eagerly (no broker), so each recompute happens right after its commit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from annotations.models import LabelClass, LabelClassAlias, Role
from consensus.models import ClassMerge
from consensus.tasks import report_recompute_enqueue
from tests.browser.conftest import VIEWPORT
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory, submit_labels

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path("/tmp/shots-classes")

# Each item's three labels; deep and shallow are the classes the labelers cannot tell apart.
LABELS = [
    *[("deep", "shallow", "deep")] * 4,
    *[("shallow", "deep", "shallow")] * 2,
    *[("deep", "deep", "deep")] * 2,
    *[("clean", "clean", "clean")] * 5,
    *[("dent", "dent", "dent")] * 3,
    ("clean", "clean", "dent"),
    ("clean", "borderline", "clean"),
]


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _build(project, member):
    manager = member(Role.MANAGER, username="maya")
    reviewer = member(Role.REVIEWER, username="rita")
    labelers = [member(Role.LABELER) for _ in range(3)]
    LabelClass.objects.create(project=project, key="deep", name="Deep scratch", order=10)
    LabelClass.objects.create(project=project, key="shallow", name="Shallow scratch", order=11)
    for i, keys in enumerate(LABELS):
        item = ItemFactory(project=project, slices={"camera": "A" if i % 2 else "B"})
        submit_labels(item, dict(zip(labelers, keys, strict=True)), announce=False)
    report_recompute_enqueue(project.pk)  # eager: the report exists before the page opens
    return manager, reviewer


def _api_preview(user, project, body) -> dict:
    client = Client()
    client.force_login(user)
    response = client.post(
        f"/api/v1/projects/{project.pk}/merges/preview/", body, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _tick_and_type(page, target: str) -> None:
    page.get_by_label(re.compile(r"^Deep scratch")).check()
    page.get_by_label(re.compile(r"^Shallow scratch")).check()
    page.get_by_label(re.compile(r"^Into the class")).fill(target)


@pytest.mark.django_db(transaction=True)
def test_preview_apply_undo_and_alias(page, browser, live_server, project, member):
    manager, reviewer = _build(project, member)
    expected = _api_preview(manager, project, {"sources": ["deep", "shallow"], "target": "scratch"})
    before = expected["before"]["overall"]["krippendorff_alpha"]
    after = expected["after"]["overall"]["krippendorff_alpha"]
    assert after["value"] > before["value"]  # the scenario: merging raises agreement

    # given the manager on the classes page, reached from the consistency dashboard
    log_in(page, live_server.url, manager.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/consistency/")
    page.locator("#classes-link").click()
    expect()(page.get_by_role("heading", level=1, name="Classes")).to_be_visible()
    deep_row = page.locator('#classes tr[data-class-key="deep"]')
    expect()(deep_row).to_contain_text("Deep scratch")
    # deep was given 4×2 + 2×1 + 2×3 = 16 times (the report's per-class count)
    expect()(deep_row.locator("td").nth(4)).to_have_text("16")
    expect()(page.locator('#classes tr[data-class-key="borderline"]')).to_contain_text("Borderline")
    expect()(page.locator("#borderline-panel")).to_be_visible()

    # a class with labels cannot be deleted: the API's 409 is shown
    page.once("dialog", lambda dialog: dialog.accept())
    deep_row.get_by_role("button", name="Delete class deep").click()
    expect()(page.locator("#classes-status")).to_contain_text("merge it")
    assert LabelClass.objects.filter(project=project, key="deep").exists()

    # a target key the API refuses is named next to the target field
    _tick_and_type(page, "Bad Key!")
    expect()(page.locator("#target-error")).to_contain_text("lowercase letters")
    expect()(page.locator("#preview-result")).to_be_hidden()

    # a key no class has yet is a new class: the manager may name it, and the preview says so
    page.get_by_label(re.compile(r"^Into the class")).fill("surface")
    expect()(page.locator("#target-hint")).to_have_text("A new class: the merge creates it.")
    page.get_by_label("Name of the new class").fill("Surface defect")
    expect()(page.locator("#preview-sentence")).to_contain_text(
        "into Surface defect (a new class) raises α"
    )

    # when the target is scratch, the preview says what the API says for the same body
    page.get_by_label(re.compile(r"^Into the class")).fill("scratch")
    sentence = page.locator("#preview-sentence")
    expect()(sentence).to_contain_text(
        f"Merging Deep scratch and Shallow scratch into Scratch raises α from "
        f"{before['value']:.2f} to {after['value']:.2f} "
        f"(95% CI {after['low']:.2f}–{after['high']:.2f})"
    )
    changed = expected["changed_items"]
    expect()(sentence).to_contain_text(f"{changed} item{'' if changed == 1 else 's'} change")
    counted = next(r for r in expected["after"]["per_class"] if r["class"] == "scratch")
    expect()(sentence).to_contain_text(f"{counted['labels']} labels counted as Scratch")
    assert counted["labels"] == 24  # every deep and shallow label: 8 items × 3
    alpha_row = page.locator('#preview-overall tr[data-coefficient="krippendorff_alpha"]')
    expect()(alpha_row.locator("td").nth(0)).to_have_text(f"{before['value']:.3f}")
    expect()(alpha_row.locator("td").nth(1)).to_have_text(f"{after['value']:.3f}")
    expect()(alpha_row.locator("td").nth(2)).to_have_class(re.compile("tx-delta--up"))
    expect()(page.locator("#preview-slices tbody tr")).to_have_count(2)
    _shot(page, "preview")

    # and the manager applies it, confirming that raw labels are kept
    messages = []

    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Apply merge").click()
    history = page.locator("#history tr")
    expect()(history).to_have_count(1)
    assert "Raw labels are kept" in messages[0]
    assert "can be undone" in messages[0]
    merge = ClassMerge.objects.get(project=project)
    assert [c.key for c in merge.sources.order_by("key")] == ["deep", "shallow"]
    assert merge.target_key == "scratch"

    # then the history shows it with its version and author, and the classes say so
    row = history.first
    expect()(row).to_contain_text("deep, shallow → scratch")
    expect()(row).to_contain_text("v1")
    expect()(row).to_contain_text("maya")
    expect()(row.get_by_role("button", name=f"Undo merge {merge.pk}")).to_be_visible()
    expect()(deep_row).to_contain_text("merged into scratch")
    expect()(page.locator('#classes tr[data-class-key="shallow"]')).to_contain_text(
        "merged into scratch"
    )
    expect()(page.locator("#merge-note")).to_contain_text(
        "Merged Deep scratch and Shallow scratch into Scratch (taxonomy version 1). "
        "The consistency report is up to date (taxonomy version 1)."
    )
    # the recomputed report counts the merged labels as scratch
    scratch_row = page.locator('#classes tr[data-class-key="scratch"]')
    expect()(scratch_row.locator("td").nth(4)).to_have_text("24")
    _shot(page, "history")

    # when the manager undoes it
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Undo merge {merge.pk}").click()
    expect()(row).to_contain_text("Undone in v2 by maya")
    expect()(page.locator("#history-status")).to_contain_text(
        f"Merge #{merge.pk} undone (taxonomy version 2). The consistency report is up to date"
    )
    expect()(deep_row).not_to_contain_text("merged into")
    merge.refresh_from_db()
    assert merge.undone_at is not None

    # and adds an alias
    page.get_by_label("Alias", exact=True).fill("Scratch ")
    page.locator("#alias-class").select_option("scratch")
    page.get_by_role("button", name="Add alias").click()
    expect()(page.locator("#aliases tr")).to_have_count(1)
    expect()(page.locator("#aliases tr").first).to_contain_text("scratch")
    alias = LabelClassAlias.objects.get(project=project)
    assert (alias.alias, alias.label_class.key) == ("Scratch ", "scratch")
    # the same spelling again is refused next to the alias field
    page.get_by_label("Alias", exact=True).fill("scratch")
    page.get_by_role("button", name="Add alias").click()
    expect()(page.locator("#alias-error")).to_be_visible()
    assert LabelClassAlias.objects.filter(project=project).count() == 1

    # a reviewer sees the same preview but has no Apply button, Undo or Delete
    context = browser.new_context(viewport=VIEWPORT)
    try:
        other = context.new_page()
        log_in(other, live_server.url, reviewer.username)
        other.goto(f"{live_server.url}/projects/{project.pk}/classes/")
        _tick_and_type(other, "scratch")
        expect()(other.locator("#preview-sentence")).to_contain_text(
            f"raises α from {before['value']:.2f} to {after['value']:.2f}"
        )
        expect()(other.get_by_role("button", name="Apply merge")).to_have_count(0)
        expect()(other.get_by_role("button", name=re.compile("^Undo"))).to_have_count(0)
        expect()(other.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
        expect()(other.locator("#alias-form")).to_have_count(0)
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_only_the_latest_selections_preview_renders(page, live_server, project, member):
    """A slow answer for an older selection arrives after the newer one's: it is dropped."""
    _, reviewer = _build(project, member)
    held = []

    def hold_the_dent_preview(route):
        if '"target": "dent"' in (route.request.post_data or "").replace('":"', '": "'):
            held.append(route)  # answered later, after the newer selection's preview
        else:
            route.continue_()

    log_in(page, live_server.url, reviewer.username)
    page.route("**/merges/preview/", hold_the_dent_preview)
    page.goto(f"{live_server.url}/projects/{project.pk}/classes/")

    # given a preview for "dent" on its way (the spinner shows while it is)
    _tick_and_type(page, "dent")
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the preview for dent was asked for"
    expect()(page.locator("#preview-loading")).to_be_visible()

    # when the selection changes to scratch and its answer renders
    page.get_by_label(re.compile(r"^Into the class")).fill("scratch")
    sentence = page.locator("#preview-sentence")
    expect()(sentence).to_contain_text("into Scratch raises α")

    # then the late answer for dent arrives and changes nothing
    with page.expect_response(lambda response: "merges/preview" in response.url) as late:
        held[0].continue_()
    assert late.value.status == 200
    page.wait_for_timeout(300)
    expect()(sentence).to_contain_text("into Scratch raises α")
    expect()(sentence).not_to_contain_text("into Dent")
