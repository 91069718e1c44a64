"""The standardisation rules page in a real browser (DOMAIN.md §1, "standardise labels"): three
labelers wrote the same voice commands in different ways; a manager builds a convention rule by
rule, sees the preview's change count and agreement before → after equal to the preview API's
answer for the same rules, sees a bad regex named on that rule's pattern field, saves version 1
and activates it (raw transcripts untouched). A late preview answer for older rules is dropped.
Celery runs eagerly (no broker), so activation's recompute happens right after its commit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client, TestCase

from annotations.models import Annotation, Membership, Project, Role, Round, TaskType
from annotations.services.annotations import annotation_submit
from consensus.models import RuleSet
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path("/tmp/shots-rules")  # noqa: S108 (a test artefact)

#: Per item, what labelers ana, ben and cy typed.
TRANSCRIPTS = [
    ["Umm, nearest gas station.", "um nearest gas station", "Um, nearest gas station"],
    ["Turn left at the next light.", "turn left at the next light", "Turn left at the next light"],
    ["Call mom", "call mom.", "Call Mom!"],
    ["go north now", "Go north", "go north."],
    ["Play some jazz", "play some jazz", "Play some  jazz"],
]

#: The rules the manager builds in the editor, as the page sends them (empty optional fields are
#: left out: the punctuation rule keeps nothing).
RULES = [
    {"kind": "case_fold"},
    {"kind": "punctuation"},
    {"kind": "fillers", "canonical": "um", "variants": ["umm"]},
    {"kind": "whitespace"},
]


@pytest.fixture
def speech(db):
    cache.clear()  # the rules service caches each project's task type by id
    project = Project.objects.create(
        name="Voice commands", task_type=TaskType.TRANSCRIPTION, overlap=3
    )
    Round.objects.create(project=project, number=1)
    manager = UserFactory(username="mia")
    Membership.objects.create(project=project, user=manager, role=Role.MANAGER)
    labelers = []
    for name in ("ana", "ben", "cy"):
        user = UserFactory(username=name)
        Membership.objects.create(project=project, user=user, role=Role.LABELER)
        labelers.append(user)
    for texts in TRANSCRIPTS:
        item = ItemFactory(project=project)
        for user, text in zip(labelers, texts, strict=True):
            with TestCase.captureOnCommitCallbacks(execute=True):
                annotation_submit(
                    labeler=user,
                    item_id=item.pk,
                    value={"text": text},
                    idempotency_key=f"{user.pk}-{item.pk}",
                )
    return project, manager


def _api_preview(user, project, rules) -> dict:
    client = Client()
    client.force_login(user)
    response = client.post(
        f"/api/v1/projects/{project.pk}/rules/preview/",
        {"rules": rules},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _rule(page, index: int):
    return page.locator(f'#rules li[data-index="{index}"]')


def _add(page, kind: str) -> None:
    page.get_by_label("Add a rule").select_option(kind)
    page.get_by_role("button", name="Add", exact=True).click()


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


@pytest.mark.django_db(transaction=True)
def test_manager_previews_saves_and_activates_rules(page, live_server, speech):
    project, manager = speech
    expected = _api_preview(manager, project, RULES)
    # the scenario: the convention raises exact agreement and α, lowers WER
    assert expected["after"]["exact_agreement"] > expected["before"]["exact_agreement"]
    assert expected["after"]["alpha"] > expected["before"]["alpha"]
    assert expected["after"]["word_error_rate"] < expected["before"]["word_error_rate"]
    raw_before = sorted(Annotation.objects.values_list("value", flat=True), key=str)

    # given the manager on the rules page, reached from the consistency dashboard
    log_in(page, live_server.url, manager.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/consistency/")
    page.locator("#rules-link").click()
    expect()(page.get_by_role("heading", level=1, name="Standardisation rules")).to_be_visible()
    expect()(page.locator("#active-version")).to_have_text("none (raw transcripts)")
    # no rules yet: the preview already answers (nothing changes)
    expect()(page.locator("#preview-sentence")).to_contain_text("0 of 15 transcripts change")

    # when the manager builds the convention rule by rule
    _add(page, "case_fold")
    _add(page, "punctuation")
    _add(page, "fillers")
    fillers = _rule(page, 2)
    fillers.get_by_label("Canonical spelling").fill("um")
    fillers.get_by_label("Variants").fill("umm")
    _add(page, "whitespace")
    expect()(page.locator("#rules > li")).to_have_count(4)

    # then the preview says what the API says for the same rules
    sentence = page.locator("#preview-sentence")
    expect()(sentence).to_contain_text(
        f"{expected['changed']} of {expected['total']} transcripts change "
        f"({_percent(expected['changed_share'])})"
    )
    for key, text in (
        ("exact_agreement", _percent),
        ("word_error_rate", _percent),
        ("character_error_rate", _percent),
        ("alpha", lambda v: f"{v:.3f}"),
    ):
        row = page.locator(f'#preview-agreement tr[data-figure="{key}"]')
        expect()(row.locator("td").nth(0)).to_have_text(text(expected["before"][key]))
        expect()(row.locator("td").nth(1)).to_have_text(text(expected["after"][key]))
    better = re.compile("rl-delta--better")
    for key in ("exact_agreement", "word_error_rate", "alpha"):
        cell = page.locator(f'#preview-agreement tr[data-figure="{key}"] td').nth(2)
        expect()(cell).to_have_class(better)  # WER falls, and falling is better
    expect()(page.locator("#preview-changed-items")).to_contain_text(
        f"{expected['changed_items']} item"
    )
    # the samples show the word diff and the rules that changed each transcript
    first = expected["samples"][0]
    sample = page.locator("#preview-samples > li").first
    expect()(sample.locator(".rl-diff--before")).to_contain_text(first["before"].split()[0])
    deleted = [part["before"] for part in first["diff"] if part["op"] in ("replace", "delete")]
    expect()(sample.locator(".rl-diff--before del").first).to_have_text(deleted[0])
    expect()(sample.locator(".rl-sample__meta")).to_contain_text("1. Fold case")
    assert page.locator("#preview-samples > li").count() == len(expected["samples"])
    _shot(page, "preview")

    # when a regex rule that does not compile is added
    _add(page, "regex")
    regex = _rule(page, 4)
    regex.get_by_label("Pattern", exact=True).fill("(unclosed")
    # then the API's error is shown on that rule's pattern field, and nothing is previewed
    error = regex.locator('.rl-field[data-field="pattern"] .field__error')
    expect()(error).to_contain_text("does not compile")
    expect()(regex.get_by_label("Pattern", exact=True)).to_have_attribute("aria-invalid", "true")
    expect()(page.locator("#preview-result")).to_be_hidden()
    _shot(page, "bad-regex")
    # and removing it brings the preview back
    page.get_by_role("button", name="Remove rule 5").click()
    expect()(sentence).to_contain_text(f"{expected['changed']} of {expected['total']}")

    # when the manager saves the rules as version 1
    page.get_by_label(re.compile("^Note for this version")).fill("fold um/umm, drop punctuation")
    page.get_by_role("button", name="Save as version 1").click()
    v1 = page.locator('#versions tr[data-version="1"]')
    expect()(v1).to_contain_text("fold um/umm, drop punctuation")
    expect()(page.locator("#save-status")).to_contain_text("Saved as version 1")
    expect()(page.get_by_role("button", name="Save as version 2")).to_be_visible()
    saved = RuleSet.objects.get(project=project, version=1)
    assert saved.rules == RULES
    assert saved.note == "fold um/umm, drop punctuation"

    # and activates it, confirming that raw transcripts are kept
    messages = []

    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    v1.get_by_role("button", name="Activate version 1").click()
    expect()(v1.locator(".rl-badge--active")).to_have_text("Active")
    expect()(page.locator("#active-version")).to_have_text("v1")
    assert "Raw transcripts are kept" in messages[0]
    project.refresh_from_db()
    assert project.rule_set_version == 1
    assert sorted(Annotation.objects.values_list("value", flat=True), key=str) == raw_before
    # the raw transcripts' row is no longer the active one
    raw = page.locator('#versions tr[data-version="0"]')
    expect()(raw.locator(".rl-badge--active")).to_have_count(0)
    # "before" is now version 1: the same rules change nothing in agreement
    flat = page.locator('#preview-agreement tr[data-figure="alpha"] td').nth(2)
    expect()(flat).to_have_class(re.compile("rl-delta--flat"))
    _shot(page, "activated")


@pytest.mark.django_db(transaction=True)
def test_only_the_newest_rules_preview_renders(page, live_server, speech):
    """A slow answer for older rules arrives after the newer rules' answer: it is dropped."""
    project, manager = speech
    held = []

    def hold_the_case_fold_only_preview(route):
        body = (route.request.post_data or "").replace(" ", "")
        if body == '{"rules":[{"kind":"case_fold"}]}':
            held.append(route)
        else:
            route.continue_()

    log_in(page, live_server.url, manager.username)
    page.route("**/rules/preview/", hold_the_case_fold_only_preview)
    page.goto(f"{live_server.url}/projects/{project.pk}/rules/")
    expect()(page.locator("#preview-sentence")).to_contain_text("0 of 15")

    # given a preview for [case_fold] on its way
    _add(page, "case_fold")
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the preview for case_fold alone was asked for"

    # when a punctuation rule follows and its answer renders
    _add(page, "punctuation")
    both = _api_preview(manager, project, [{"kind": "case_fold"}, {"kind": "punctuation"}])
    sentence = page.locator("#preview-sentence")
    expect()(sentence).to_contain_text(f"{both['changed']} of 15")

    # then the late answer for case_fold alone changes nothing
    alone = _api_preview(manager, project, [{"kind": "case_fold"}])
    assert alone["changed"] != both["changed"]
    with page.expect_response(lambda response: "rules/preview" in response.url) as late:
        held[0].continue_()
    assert late.value.status == 200
    page.wait_for_timeout(300)
    expect()(sentence).to_contain_text(f"{both['changed']} of 15")
