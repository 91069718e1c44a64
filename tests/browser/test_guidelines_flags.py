"""Guidelines, flags and rounds in a real browser: a manager publishes a guideline; a labeler is
stopped by the new version, acknowledges it and labels on (a label given meanwhile is kept); a
labeler flags an item and stays on it; a reviewer reads on the dashboard whether round 2 raised
agreement. Screenshots go to /tmp/shots/ for a look by eye."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse

from annotations.models import Annotation, ItemFlag, Membership, Project, Role
from annotations.services.annotations import annotation_submit
from annotations.services.rounds import round_start
from consensus.models import DecisionOutcome, GuidelineVersion, ReviewDecision
from consensus.services.guidelines import ExampleSpec, guideline_acknowledge, guideline_publish
from consensus.services.reports import report_recompute
from tests.browser.helpers import expect, log_in
from tests.browser.test_labeling_page import wait_for_item
from tests.factories import ItemFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path("/tmp/shots")


def shot(page, name: str, *, locator=None, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    target = locator if locator is not None else page
    if locator is None:
        page.screenshot(path=str(SHOTS / name), full_page=full_page)
    else:
        target.screenshot(path=str(SHOTS / name))


def url(live_server, name: str, project) -> str:
    return live_server.url + reverse(f"frontend:{name}", kwargs={"project_id": project.pk})


GUIDELINE = """# Scratches
A **scratch** is a thin line in the coating, *longer than 2 mm*.

- Shorter lines are `clean`
- Several scratches: still one label

## Dents
Press marks are dents. <img src=x onerror="document.title='pwned'">"""


def publish_v1(project, author, example) -> GuidelineVersion:
    return guideline_publish(
        project=project,
        author=author,
        body=GUIDELINE,
        changelog="First version: **scratch** vs clean at 2 mm.",
        examples=[ExampleSpec(item=example.pk, label="scratch", note="3 mm line")],
    )


# ---------- (1) publishing ----------


@pytest.mark.django_db(transaction=True)
def test_manager_publishes_the_first_guideline(live_server, page, project, member):
    # given a manager, an item to use as an example, and an open "instructions ambiguous"
    # decision from the review queue
    manager = member(Role.MANAGER, username="boss")
    example = ItemFactory(project=project, external_id="scratch-3mm")
    disputed = ItemFactory(project=project, external_id="hairline-9")
    decision = ReviewDecision.objects.create(
        project=project,
        item=disputed,
        round=1,
        revision=1,
        outcome=DecisionOutcome.INSTRUCTIONS_AMBIGUOUS,
        reason="Nobody knows whether a hairline counts.",
        decided_by=manager,
        decided_at="2025-01-02T10:00:00Z",
    )

    # when they open the guidelines page and write version 1 with one counter-example
    log_in(page, live_server.url, "boss")
    page.goto(url(live_server, "guidelines", project))
    expect()(page.get_by_text("Publish version 1", exact=True).first).to_be_visible()
    page.get_by_label("Guideline text").fill(GUIDELINE)
    preview = page.locator("#guideline-preview")
    expect()(preview.locator("strong").first).to_have_text("scratch")
    assert preview.locator("img").count() == 0
    page.get_by_label("What changed").fill("First version.")
    page.get_by_role("button", name="Add an example").click()
    row = page.locator("#example-rows tr").last
    row.get_by_label("Item id").fill(str(example.pk))
    row.get_by_label("Is or is not").select_option("false")
    row.get_by_label("Class").select_option("dent")
    row.get_by_label("Note").fill("a line, not a press mark")
    decision_box = page.get_by_role("checkbox", name="hairline-9")
    expect()(decision_box).to_be_checked()
    shot(page, "guidelines-form.png", full_page=True)
    page.get_by_role("button", name="Publish version 1").click()

    # then the page shows version 1, current, rendered, with its example and decision
    expect()(page.get_by_role("status")).to_contain_text("Version 1 is published")
    version = page.locator("#version-1")
    expect()(version).to_be_visible()
    expect()(version.locator(".guideline__body h3").first).to_have_text("Scratches")
    expect()(version.locator(".guideline__body strong").first).to_have_text("scratch")
    assert version.locator(".guideline__body img").count() == 0
    expect()(version.locator(".example")).to_contain_text("scratch-3mm")
    expect()(version.locator(".example")).to_contain_text("is not")
    expect()(version.locator(".guideline__decisions")).to_contain_text("hairline-9")
    assert page.title() != "pwned"
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    shot(page, "guidelines-page.png", full_page=True)

    # and the database holds version 1, with its example and the linked decision
    stored = GuidelineVersion.objects.get(project=project)
    assert stored.version == 1
    assert stored.body == GUIDELINE
    assert stored.changelog == "First version."
    assert stored.created_by == manager
    assert [(e.item_id, e.label.key, e.is_example, e.note) for e in stored.examples.all()] == [
        (example.pk, "dent", False, "a line, not a press mark")
    ]
    project.refresh_from_db()
    assert project.guideline_version == 1
    decision.refresh_from_db()
    assert decision.guideline == stored


@pytest.mark.django_db(transaction=True)
def test_publish_errors_name_the_bad_example(live_server, page, project, member):
    # given a manager and an item of another project
    member(Role.MANAGER, username="boss")
    foreign = ItemFactory()
    log_in(page, live_server.url, "boss")
    page.goto(url(live_server, "guidelines", project))

    # when they publish with that item as an example
    page.get_by_label("Guideline text").fill("Some text")
    page.get_by_role("button", name="Add an example").click()
    page.locator("#example-rows tr").last.get_by_label("Item id").fill(str(foreign.pk))
    page.get_by_role("button", name="Publish version 1").click()

    # then the service's refusal is shown on the row, and nothing is published
    expect()(page.locator("#publish-error")).to_contain_text(
        f"Example 1: Item {foreign.pk} is not an item of this project."
    )
    expect()(page.locator("#example-rows [name=item]")).to_have_attribute("aria-invalid", "true")
    assert not GuidelineVersion.objects.exists()


# ---------- (2) acknowledging on the labeling page ----------


def open_labeling_link(page, project) -> None:
    page.get_by_role("link", name=f"Start labeling in {project.name}").click()


@pytest.mark.django_db(transaction=True)
def test_labeler_acknowledges_the_new_guideline_then_labels(live_server, page, project, member):
    # given guideline v1, not yet acknowledged by the labeler
    manager = member(Role.MANAGER, username="boss")
    user = member(Role.LABELER, username="lena")
    example = ItemFactory(project=project, external_id="scratch-3mm")
    ItemFactory.create_batch(2, project=project)
    publish_v1(project, manager, example)

    # when they open the labeling page
    log_in(page, live_server.url, "lena")
    open_labeling_link(page, project)

    # then a modal shows version 1: its changelog, its rendered text and example
    dialog = page.get_by_role("dialog", name="Guideline v1: read it before you label again")
    expect()(dialog).to_be_visible()
    expect()(dialog.locator(".guideline__changelog strong")).to_have_text("scratch")
    expect()(dialog.locator(".guideline__body h3").first).to_have_text("Scratches")
    expect()(dialog.locator(".guideline__body li")).to_have_count(2)
    expect()(dialog.locator(".example")).to_contain_text("scratch-3mm")
    assert dialog.locator("img:not(.example__thumb)").count() == 0
    assert page.title() != "pwned"
    shot(page, "label-ack-modal.png")
    assert Membership.objects.get(user=user, project=project).guideline_acknowledged == 0

    # and when they confirm, labeling starts
    dialog.get_by_role("button", name="I have read it").click()
    expect()(dialog).to_be_hidden()
    shown = wait_for_item(page)
    assert Membership.objects.get(user=user, project=project).guideline_acknowledged == 1
    expect()(page.locator("#guideline-open")).to_contain_text("Guidelines v1")
    assert page.evaluate(
        "document.documentElement.scrollHeight <= innerHeight"
        " && document.documentElement.scrollWidth <= innerWidth"
    )
    shot(page, "label-page.png")

    # and a label is stored under guideline version 1
    page.keyboard.press("2")
    wait_for_item(page, previous=shown)
    annotation = Annotation.objects.get(labeler=user, item_id=shown)
    assert annotation.label.key == "scratch"
    assert annotation.guideline_version == 1

    # and G shows the guideline again, at any time
    page.keyboard.press("g")
    reading = page.get_by_role("dialog", name="Guideline v1")
    expect()(reading.locator(".guideline__body h3").first).to_have_text("Scratches")
    page.keyboard.press("Escape")
    expect()(reading).to_be_hidden()


@pytest.mark.django_db(transaction=True)
def test_a_label_refused_by_a_new_version_is_saved_after_acknowledging(
    live_server, page, project, member
):
    # given a labeler at work under v1
    manager = member(Role.MANAGER, username="boss")
    user = member(Role.LABELER, username="lena")
    example = ItemFactory(project=project, external_id="scratch-3mm")
    ItemFactory.create_batch(2, project=project)
    publish_v1(project, manager, example)
    guideline_acknowledge(project=project, user=user, version=1)
    log_in(page, live_server.url, "lena")
    open_labeling_link(page, project)
    shown = wait_for_item(page)

    # when version 2 is published while they look at an item, and they label it
    guideline_publish(
        project=project, author=manager, body=GUIDELINE, changelog="Hairlines are **clean**."
    )
    page.keyboard.press("3")

    # then the label is refused and kept: the modal shows v2's change and says so
    dialog = page.get_by_role("dialog", name="Guideline v2: read it before you label again")
    expect()(dialog).to_be_visible()
    expect()(dialog.locator(".guideline__changelog")).to_contain_text("Hairlines are clean.")
    expect()(dialog.locator("#ack-pending")).to_contain_text("Your label “Dent”")
    assert not Annotation.objects.filter(labeler=user).exists()

    # and Esc does not get around it: the banner leads back to the guideline ...
    page.keyboard.press("Escape")
    alert = page.get_by_role("alert")
    expect()(alert).to_contain_text("Read guideline v2")
    alert.get_by_role("button", name="Read the guideline").click()
    expect()(dialog).to_be_visible()
    # ... and so does another key press, which keeps the first label pending
    page.keyboard.press("Escape")
    expect()(alert).to_be_visible()
    page.keyboard.press("1")
    expect()(dialog).to_be_visible()
    expect()(dialog.locator("#ack-pending")).to_contain_text("Your label “Dent”")
    assert not Annotation.objects.filter(labeler=user).exists()

    # and after "I have read it" the same label is saved (under v2), and the next item comes
    dialog.get_by_role("button", name="I have read it").click()
    wait_for_item(page, previous=shown)
    rows = Annotation.objects.filter(labeler=user)
    assert [(r.item_id, r.label.key, r.guideline_version) for r in rows] == [(shown, "dent", 2)]
    assert Membership.objects.get(user=user, project=project).guideline_acknowledged == 2

    # and the sidebar leads to every version: v2 open on top, v1 folded, no form for labelers
    page.get_by_role("link", name="All versions").click()
    expect()(page.locator("#version-2 details")).to_have_attribute("open", "")
    expect()(page.locator("#version-2 .guideline__changelog strong")).to_have_text("clean")
    expect()(page.locator("#version-1 .guideline__body")).to_be_hidden()
    expect()(page.locator("#publish-form")).to_have_count(0)
    expect()(page.locator("#ack-banner")).to_have_count(0)
    shot(page, "guidelines-labeler.png", full_page=True)


# ---------- (3) flags ----------


@pytest.mark.django_db(transaction=True)
def test_labeler_flags_the_item_and_stays_on_it(live_server, page, project, member):
    # given a labeler on an item (no guideline yet)
    user = member(Role.LABELER, username="fred")
    ItemFactory.create_batch(2, project=project)
    log_in(page, live_server.url, "fred")
    open_labeling_link(page, project)
    shown = wait_for_item(page)
    expect()(page.locator("#guideline-none")).to_be_visible()

    # when they press F, choose "Input unclear", write a note and send it
    page.keyboard.press("f")
    dialog = page.get_by_role("dialog", name="Flag")
    expect()(dialog).to_be_visible()
    dialog.get_by_label("Input unclear").check()
    dialog.get_by_label("Note").fill("The photo is blurred on the left.")
    page.locator("#flag-title").click()  # focus off the note: keys still must not label
    page.keyboard.press("1")
    shot(page, "label-flag-dialog.png")
    dialog.get_by_role("button", name="Flag item").click()

    # then the page confirms, and the same item is still there to label
    expect()(page.locator("#status")).to_contain_text("Flagged")
    expect()(page.locator("#flag")).to_contain_text("Flagged")
    assert wait_for_item(page, expected=shown) == shown
    flag = ItemFlag.objects.get(item_id=shown)
    assert (flag.labeler, flag.kind, flag.round) == (user, "input_unclear", 1)
    assert flag.note == "The photo is blurred on the left."
    assert not Annotation.objects.filter(labeler=user).exists()

    # and labeling the item afterwards works as usual
    page.keyboard.press("2")
    wait_for_item(page, previous=shown)
    assert Annotation.objects.get(labeler=user).item_id == shown


# ---------- (4) rounds on the dashboard ----------

CLASSES = ["clean", "scratch", "dent"]


def submit(user, item, key: str, prefix: str) -> None:
    annotation_submit(
        labeler=user,
        item_id=item.pk,
        value={"label": key},
        idempotency_key=f"{prefix}-{user.pk}-{item.pk}",
        time_spent_ms=1500,
        announce=False,
    )


@pytest.fixture
def two_rounds(project, member, monkeypatch):
    """Round 1: three labelers who often disagree; guideline v1; round 2 on every item, where
    they agree. Then one report, computed directly."""
    cache.clear()
    monkeypatch.setattr("consensus.tasks._send", lambda project_id: None)
    manager = member(Role.MANAGER, username="boss")
    labelers = [member(Role.LABELER, username=f"lab{n}") for n in range(3)]
    items = ItemFactory.create_batch(24, project=project)
    for i, item in enumerate(items):
        truth = CLASSES[i % 3]
        given = [
            truth,
            truth if i % 2 == 0 else CLASSES[(i + 1) % 3],
            truth if i % 3 == 0 else CLASSES[(i + 2) % 3],
        ]
        for user, key in zip(labelers, given, strict=True):
            submit(user, item, key, "r1")
    guideline_publish(project=project, author=manager, body="Scratches are longer than 2 mm.")
    for user in labelers:
        guideline_acknowledge(project=project, user=user, version=1)
    round_start(project=project, item_ids=[item.pk for item in items], started_by=manager)
    for i, item in enumerate(items):
        for user in labelers:
            submit(user, item, CLASSES[i % 3], "r2")
    monkeypatch.undo()
    cache.clear()
    report = report_recompute(project_id=project.pk, version=1)
    yield report
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_dashboard_shows_agreement_per_round_and_the_verdict(
    live_server, page, project, member, two_rounds
):
    # given a report over two rounds, and a reviewer
    report = two_rounds
    assert Project.objects.get(pk=project.pk).current_round == 2
    change = report.round_change
    assert (change["round"], change["significant"], change["direction"]) == (2, True, "raised")
    member(Role.REVIEWER, username="sme")

    # when they open the dashboard
    log_in(page, live_server.url, "sme")
    page.goto(url(live_server, "consistency", project))

    # then the section shows a row per round and per guideline version ...
    section = page.locator("#rounds")
    expect()(section.get_by_role("heading", name="Rounds and guidelines")).to_be_visible()
    rounds = section.locator("#rounds-table tbody tr")
    expect()(rounds).to_have_count(2)
    by_round = {row["round"]: row for row in report.per_round}
    alpha_1 = by_round[1]["krippendorff_alpha"]["value"]
    expect()(rounds.nth(0)).to_contain_text("Round 1")
    expect()(rounds.nth(0)).to_contain_text(f"{alpha_1:.3f}")
    expect()(rounds.nth(1)).to_contain_text("Round 2")
    expect()(rounds.nth(1)).to_contain_text("72")  # labels in round 2
    versions = section.locator("#guidelines-table tbody tr")
    expect()(versions).to_have_count(2)
    expect()(versions.nth(0)).to_contain_text("No guideline")
    expect()(versions.nth(1)).to_contain_text("Guideline v1")

    # ... and the verdict in words, with the escalation figures
    verdict = section.locator("#round-verdict")
    before, after = f"{change['before']:.2f}", f"{change['after']:.2f}"
    expect()(verdict).to_contain_text(
        f"Round 2 raised alpha from {before} to {after} on 24 relabeled items"
    )
    expect()(verdict).to_contain_text("): significant.")
    expect()(section.locator("#escalation-summary")).to_contain_text("Escalation is off")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    section.scroll_into_view_if_needed()
    shot(page, "dashboard-rounds.png", locator=section)
    shot(page, "dashboard-full.png", full_page=True)

    # and the link leads to the guidelines page
    section.get_by_role("link", name="Guideline v1 and its history →").click()
    expect()(page.locator("#version-1")).to_be_visible()


# ---------- the markdown renderer ----------

MARKDOWN_CASES = [
    ("# Title", "<h3>Title</h3>"),
    ("###### Deep", "<h6>Deep</h6>"),
    (
        "**bold** and *it* and __b2__ and _i2_",
        ("<p><strong>bold</strong> and <em>it</em> and <strong>b2</strong> and <em>i2</em></p>"),
    ),
    ("snake_case_name stays", "<p>snake_case_name stays</p>"),
    ("`**not bold** <b>`", "<p><code>**not bold** &lt;b&gt;</code></p>"),
    (
        "- a\n- b\n\n1. one\n2. two",
        "<ul><li>a</li><li>b</li></ul>\n<ol><li>one</li><li>two</li></ol>",
    ),
    ("3. three\n4. four", '<ol start="3"><li>three</li><li>four</li></ol>'),
    ("- item\n  continued", "<ul><li>item<br>continued</li></ul>"),
    ("line one\nline two\n\nnext", "<p>line one<br>line two</p>\n<p>next</p>"),
    (
        "<img src=x onerror=\"alert(1)\"> & 'q'",
        "<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;q&#39;</p>",
    ),
    (
        "**<script>alert(1)</script>**",
        "<p><strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong></p>",
    ),
    ("[link](javascript:alert(1))", "<p>[link](javascript:alert(1))</p>"),
    ("", ""),
]


@pytest.mark.django_db(transaction=True)
def test_markdown_renderer_escapes_first_then_formats(live_server, page):
    # given the module, loaded the way the pages load it
    page.goto(f"{live_server.url}/login/")
    rendered = page.evaluate(
        """async (cases) => {
          const { renderMarkdown } = await import("/static/frontend/markdown.js");
          return cases.map(([text]) => renderMarkdown(text));
        }""",
        MARKDOWN_CASES,
    )

    # then every case gives exactly the expected HTML: tags from the rules only
    assert rendered == [html for _, html in MARKDOWN_CASES]
