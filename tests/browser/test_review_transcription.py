"""Reviewing a disputed transcription item in a real browser: the SME reads the three labelers'
transcripts with a word diff against the consensus transcript, its share and the item's WER,
copies one transcript into the final transcript ("Use this"), edits a word, inserts a standard
token, gives a reason and decides; the exact text is stored and shown in the history.

The page is screenshotted to ``SCREENSHOT`` for looking at it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations.models import Role, TaskType
from annotations.services.annotations import annotation_submit
from consensus.models import DecisionOutcome, ItemConsensus, ReviewDecision
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SCREENSHOT = Path("/tmp/labelhub-review-transcription.png")  # noqa: S108 (a test artefact)

#: Word edits between them: (0,1) 2, (0,2) 2, (1,2) 4, so the first is the medoid (4 edits in
#: all against 6 and 6), no two agree (share 1/3), and the pooled pairwise WER is
#: Σ2E/Σ(|a|+|b|) = 2·(2+2+4) / ((6+7)+(6+5)+(7+5)) = 16/36 ≈ 44%.
TRANSCRIPTS = {
    "lab0": "turn left at the next light",
    "lab1": "turn left at the next lights please",
    "lab2": "turn right at next light",
}
#: What each row shows, in order: its words and the consensus's words it leaves out (struck).
SHOWN = {
    "lab0": "turn left at the next light",
    "lab1": "turn left at the next light lights please",
    "lab2": "turn left right at the next light",
}


@pytest.fixture
def disputed():
    """A transcription project (Round 1, standard tokens), an item with text and no audio, three
    labelers' transcripts of it (their commits refresh the item's consensus), and an SME."""
    project = ProjectFactory(
        name="Voice requests",
        task_type=TaskType.TRANSCRIPTION,
        transcript_tokens=["[unintelligible]", "[noise]"],
    )
    item = ItemFactory(
        project=project, external_id="call-07", text="Driver asks the assistant for directions."
    )
    for username, text in TRANSCRIPTS.items():
        labeler = UserFactory(username=username)
        MembershipFactory(project=project, user=labeler, role=Role.LABELER)
        annotation_submit(
            labeler=labeler,
            item_id=item.pk,
            value={"text": text},
            idempotency_key=f"{username}-{item.pk}",
        )
    sme = UserFactory(username="sme")
    MembershipFactory(project=project, user=sme, role=Role.REVIEWER)
    return project, item, sme


@pytest.mark.django_db(transaction=True)
def test_sme_uses_a_transcript_edits_it_and_decides(live_server, page, disputed):
    project, item, sme = disputed
    consensus = ItemConsensus.objects.get(item=item)
    assert consensus.text == TRANSCRIPTS["lab0"]  # the premise of the diffs below

    # given the SME on the item's review page
    log_in(page, live_server.url, "sme")
    page.goto(f"{live_server.url}/projects/{project.pk}/review/{item.pk}/")
    expect()(page.locator("#review")).to_have_attribute("aria-busy", "false")
    expect()(page.get_by_role("heading", name="call-07", level=1)).to_be_visible()
    expect()(page.locator("#stage")).to_contain_text("Driver asks the assistant")

    # then each labeler's transcript is shown as text, diffed word by word with the consensus
    rows = page.locator("#labels .rt-row")
    expect()(rows).to_have_count(3)
    for username, shown in SHOWN.items():
        row_text = page.locator(f'#labels .rt-row[data-labeler="{username}"] .rt-text')
        expect()(row_text).to_have_text(shown)
    same = page.locator('#labels .rt-row[data-labeler="lab0"]')
    expect()(same.locator("ins, del")).to_have_count(0)
    expect()(same).to_contain_text("same as consensus")
    lab1 = page.locator('#labels .rt-row[data-labeler="lab1"]')
    assert lab1.locator("del").all_text_contents() == ["light"]
    assert lab1.locator("ins").all_text_contents() == ["lights", "please"]
    lab2 = page.locator('#labels .rt-row[data-labeler="lab2"]')
    assert lab2.locator("del").all_text_contents() == ["left", "the"]
    assert lab2.locator("ins").all_text_contents() == ["right"]
    assert page.locator("#labels .ri-class").count() == 0  # no class pills
    # and the consensus transcript with its share and the item's word error rate
    expect()(page.locator("#consensus-text")).to_have_text("turn left at the next light")
    expect()(page.locator("#consensus-share")).to_have_text("33% of 3 transcripts match it")
    expect()(page.locator("#consensus-wer")).to_have_text("Word error rate between labelers 44%")
    # and the final transcript starts as the consensus, with the tokens as buttons
    box = page.get_by_label("Final transcript", exact=True)
    expect()(box).to_have_value("turn left at the next light")
    expect()(page.get_by_role("button", name="Insert [noise]")).to_be_visible()

    # when they use lab1's transcript, edit a word, append a token and give a reason
    page.get_by_role("button", name="Use lab1's transcript").click()
    expect()(box).to_have_value(TRANSCRIPTS["lab1"])
    expect()(box).to_be_focused()
    box.fill(box.input_value().replace("lights", "light"))
    box.press("End")
    page.get_by_role("button", name="Insert [noise]").click()
    final = "turn left at the next light please [noise]"
    expect()(box).to_have_value(final)
    page.get_by_label("Reason", exact=False).fill("One light only; the caller says please.")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.get_by_role("button", name="Record decision").click()

    # then the decision is confirmed, stored with that exact text, and shown in the history
    expect()(page.locator("#decision-done")).to_contain_text(f"Decided: “{final}”")
    decision = ReviewDecision.objects.get(item=item)
    assert decision.outcome == DecisionOutcome.LABEL
    assert decision.text == final
    assert decision.label is None
    assert decision.reason == "One light only; the caller says please."
    assert decision.decided_by == sme
    history = page.locator("#history .ri-decision")
    expect()(history).to_have_count(1)
    expect()(history.locator(".ri-decision__text")).to_have_text(final)
    expect()(history).to_contain_text("Final transcript")
    expect()(page.locator("#decided-text")).to_have_text(final)
    page.screenshot(path=str(SCREENSHOT.with_name("labelhub-review-transcription-decided.png")),
                    full_page=True)  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_an_emptied_transcript_is_refused_before_sending(live_server, page, disputed):
    project, item, _ = disputed
    log_in(page, live_server.url, "sme")
    page.goto(f"{live_server.url}/projects/{project.pk}/review/{item.pk}/")
    expect()(page.locator("#review")).to_have_attribute("aria-busy", "false")

    # when the SME clears the final transcript (the project takes no empty transcript)
    page.get_by_label("Final transcript", exact=True).fill("   ")
    page.get_by_label("Reason", exact=False).fill("Nothing said.")
    page.get_by_role("button", name="Record decision").click()

    # then the form says so, marks the box, and nothing is stored
    expect()(page.locator("#decision-error")).to_contain_text("Write the final transcript")
    expect()(page.get_by_label("Final transcript", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    assert not ReviewDecision.objects.filter(item=item).exists()

    # and "Input lacks information" still decides without any transcript
    page.get_by_label("Input lacks information").check()
    expect()(page.get_by_label("Final transcript", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Record decision").click()
    expect()(page.locator("#decision-done")).to_contain_text("input lacks information")
    decision = ReviewDecision.objects.get(item=item)
    assert decision.outcome == DecisionOutcome.INPUT_INSUFFICIENT
    assert decision.text == ""


@pytest.mark.django_db(transaction=True)
def test_a_clip_plays_and_a_concurrent_decision_is_revised_on_purpose(live_server, page, disputed):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from consensus.services.decisions import decision_make

    project, item, _ = disputed
    clip = Path(__file__).resolve().parents[2] / "fixtures" / "audio" / "clip-01.wav"
    item.audio = SimpleUploadedFile("clip-01.wav", clip.read_bytes(), content_type="audio/wav")
    item.save()
    other = UserFactory(username="sme2")
    MembershipFactory(project=project, user=other, role=Role.REVIEWER)

    # given the SME on the review page of an item with a clip: the player loads it
    log_in(page, live_server.url, "sme")
    page.goto(f"{live_server.url}/projects/{project.pk}/review/{item.pk}/")
    expect()(page.locator("#review")).to_have_attribute("aria-busy", "false")
    player = page.locator("#item-audio")
    expect()(player).to_be_visible()
    page.wait_for_function("document.getElementById('item-audio').readyState >= 1")
    duration = page.evaluate("document.getElementById('item-audio').duration")
    assert duration == pytest.approx(2.3, abs=0.1)  # clip-01's length

    # and another SME decides a transcript meanwhile
    decision_make(
        item_id=item.pk,
        decided_by=other,
        outcome=DecisionOutcome.LABEL,
        text="turn right at the next light",
        reason="I hear right.",
    )

    # when the SME decides lab2's transcript without knowing
    page.get_by_role("button", name="Use lab2's transcript").click()
    page.get_by_label("Reason", exact=False).fill("lab2 heard it right.")
    page.get_by_role("button", name="Record decision").click()

    # then their decision is shown as it stands (409), and nothing of ours is stored
    conflict = page.locator("#decision-conflict")
    expect()(conflict).to_contain_text("sme2 decided “turn right at the next light”")
    assert ReviewDecision.objects.filter(item=item).count() == 1

    # when they revise it on purpose, both decisions are kept and ours is current
    page.get_by_role("button", name="Revise it to “turn right at next light”").click()
    expect()(page.locator("#decision-done")).to_contain_text("(revision 2)")
    texts = list(ReviewDecision.objects.filter(item=item).order_by("revision").values_list(
        "text", "current"))  # fmt: skip
    assert texts == [("turn right at the next light", False), ("turn right at next light", True)]
    history = page.locator("#history .ri-decision .ri-decision__text")
    expect()(history).to_have_text(["turn right at next light", "turn right at the next light"])
    # and the player was not reloaded by the decision
    assert page.evaluate("document.getElementById('item-audio').duration") == duration
