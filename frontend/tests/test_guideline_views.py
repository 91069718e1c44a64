"""The guidelines page without a browser: who may open it, who gets the publish form, what a
version shows to whom; plus the dashboard's "Rounds and guidelines" wording (``frontend.charts``,
no database)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotations.models import Role
from consensus.models import DecisionOutcome, ReviewDecision
from consensus.services.guidelines import ExampleSpec, guideline_publish
from consensus.services.reports import report_recompute
from frontend import charts
from frontend.guideline_views import open_ambiguity_decisions
from frontend.tests.pages import page_config as config_of
from tests.factories import ItemFactory, ProjectFactory, UserFactory

LOGIN = reverse("frontend:login")


def guidelines_url(project) -> str:
    return reverse("frontend:guidelines", kwargs={"project_id": project.pk})


def page_config(response) -> dict:
    return config_of(response, "guidelines-config")


def ambiguous(project, item, user, reason="Is a hairline scratch a scratch?", guideline=None):
    return ReviewDecision.objects.create(
        project=project,
        item=item,
        round=1,
        revision=1,
        outcome=DecisionOutcome.INSTRUCTIONS_AMBIGUOUS,
        reason=reason,
        decided_by=user,
        decided_at="2025-01-02T10:00:00Z",
        guideline=guideline,
    )


# ---------- access ----------


def test_guidelines_page_requires_login(client, project):
    response = client.get(guidelines_url(project))

    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


@pytest.mark.parametrize("role", [Role.LABELER, Role.REVIEWER, Role.ENGINEER, Role.MANAGER])
def test_every_member_reads_the_guidelines(client, project, member, role):
    # given a published version and a member of any role
    author = member(Role.MANAGER)
    guideline_publish(project=project, author=author, body="# Scratches\nLonger than **2 mm**.")
    client.force_login(member(role))

    # when they open the page
    response = client.get(guidelines_url(project))

    # then they see the version's text (escaped, as plain text for markdown.js to render)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="version-1"' in page
    assert "Longer than **2 mm**." in page


def test_non_members_get_404(client, project):
    # given a user of another project only
    other = ProjectFactory()
    outsider = UserFactory()
    other.memberships.create(user=outsider, role=Role.MANAGER)
    client.force_login(outsider)

    response = client.get(guidelines_url(project))

    assert response.status_code == 404


def test_labeler_sees_no_publish_form_and_no_decisions(client, project, member):
    # given a version that answers an "instructions ambiguous" decision
    manager = member(Role.MANAGER)
    item = ItemFactory(project=project, external_id="hairline-7")
    decision = ambiguous(project, item, manager, reason="ana said scratch, ben said clean")
    guideline_publish(
        project=project, author=manager, body="Hairlines are clean.", decision_ids=[decision.pk]
    )
    client.force_login(member(Role.LABELER))

    # when a labeler opens the page
    page = client.get(guidelines_url(project)).content.decode()

    # then there is no form, no decision (its reason may quote others' labels), and a way
    # back to labeling, plus the request to acknowledge the new version
    assert 'id="publish-form"' not in page
    assert "ana said scratch" not in page
    assert "Answers 1 review decision" not in page
    assert reverse("frontend:label", kwargs={"project_id": project.pk}) in page
    assert 'id="ack-page"' in page
    assert page_config(client.get(guidelines_url(project)))["can_publish"] is False


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.MANAGER])
def test_reviewers_and_managers_get_the_form_prefilled(client, project, member, role):
    # given version 1 with one example, and an open decision
    manager = member(Role.MANAGER)
    example = ItemFactory(project=project, external_id="ex-1")
    guideline_publish(
        project=project,
        author=manager,
        body="Scratches are **long**.",
        examples=[ExampleSpec(item=example.pk, label="scratch", is_example=False, note="a dent")],
    )
    ambiguous(project, ItemFactory(project=project, external_id="open-3"), manager)
    client.force_login(member(role))

    # when they open the page
    response = client.get(guidelines_url(project))
    page = response.content.decode()

    # then the form publishes version 2, starts from the current text and examples, and lists
    # the open decision to link
    assert 'id="publish-form"' in page
    assert "Publish version 2" in page
    assert re.search(
        r'<textarea id="guideline-body"[^>]*>Scratches are \*\*long\*\*\.</textarea>', page
    )
    config = page_config(response)
    assert config["can_publish"] is True
    assert config["examples"] == [
        {"item": example.pk, "label": "scratch", "is_example": False, "note": "a dent"}
    ]
    assert "open-3" in page
    assert "Is a hairline scratch a scratch?" in page


def test_engineer_reads_but_does_not_publish(client, project, member):
    client.force_login(member(Role.ENGINEER))

    page = client.get(guidelines_url(project)).content.decode()

    assert 'id="publish-form"' not in page
    assert "No guideline yet" in page


def test_first_version_starts_from_the_project_instructions(client, project, member):
    project.instructions = "Label the **main** defect."
    project.save(update_fields=["instructions"])
    client.force_login(member(Role.MANAGER))

    page = client.get(guidelines_url(project)).content.decode()

    assert "Publish version 1" in page
    assert re.search(r'<textarea id="guideline-body"[^>]*>Label the \*\*main\*\* defect\.', page)


def test_guideline_text_is_escaped(client, project, member):
    manager = member(Role.MANAGER)
    guideline_publish(project=project, author=manager, body="<script>alert(1)</script> ok")
    client.force_login(member(Role.LABELER))

    page = client.get(guidelines_url(project)).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ok" in page


def test_open_decisions_are_current_ambiguous_and_unanswered(project, member):
    # given decisions of every kind
    sme = member(Role.REVIEWER)
    items = ItemFactory.create_batch(4, project=project)
    wanted = ambiguous(project, items[0], sme)
    answered = ambiguous(project, items[1], sme)
    version = guideline_publish(project=project, author=sme, body="v1", decision_ids=[answered.pk])
    assert version.version == 1
    ReviewDecision.objects.create(
        project=project,
        item=items[2],
        round=1,
        revision=1,
        outcome=DecisionOutcome.INPUT_INSUFFICIENT,
        reason="blurred",
        decided_by=sme,
        decided_at="2025-01-02T10:00:00Z",
    )
    revised = ambiguous(project, items[3], sme)
    revised.current = False
    revised.save(update_fields=["current"])
    elsewhere = ProjectFactory()
    ambiguous(elsewhere, ItemFactory(project=elsewhere), sme)

    # then only the current, unanswered "instructions ambiguous" one of this project is open
    assert list(open_ambiguity_decisions(project=project)) == [wanted]


# ---------- the dashboard's rounds section (no database) ----------


def test_round_verdict_says_a_significant_rise_in_plain_words():
    verdict = charts.round_verdict(
        {
            "round": 2,
            "compared_with_rounds": [1],
            "items": 120,
            "before": 0.41,
            "after": 0.78,
            "difference": 0.37,
            "low": 0.29,
            "high": 0.44,
            "significant": True,
            "direction": "raised",
            "reason": None,
        }
    )
    assert verdict.kind == "raised"
    assert verdict.text == (
        "Round 2 raised alpha from 0.41 to 0.78 on 120 relabeled items "
        "(95% CI of the change +0.29 to +0.44): significant."
    )


def test_round_verdict_advises_stopping_when_nothing_changed():
    verdict = charts.round_verdict(
        {
            "round": 3,
            "compared_with_rounds": [1, 2],
            "items": 1,
            "before": 0.61,
            "after": 0.63,
            "difference": 0.02,
            "low": -0.05,
            "high": 0.09,
            "significant": False,
            "direction": "no significant change",
        }
    )
    assert verdict.kind == "flat"
    assert "on 1 relabeled item, compared with their labels in rounds 1 and 2" in verdict.text
    assert "(95% CI of the change \u22120.05 to +0.09)" in verdict.text
    assert verdict.text.endswith(
        "no significant change — agreement is hard to raise further; consider stopping."
    )


def test_round_verdict_gives_the_reason_when_undefined_or_no_round():
    undefined = charts.round_verdict(
        {
            "round": 2,
            "items": 1,
            "before": None,
            "after": None,
            "difference": None,
            "significant": False,
            "direction": "undefined",
            "reason": "fewer than two items labeled at least twice in both rounds",
        }
    )
    assert undefined.kind == "undefined"
    assert undefined.text == (
        "Round 2: the change in alpha is undefined — "
        "fewer than two items labeled at least twice in both rounds."
    )
    none = charts.round_verdict({"round": None, "reason": "no later round with labels yet"})
    assert none.kind == "none"
    assert "no later round with labels yet" in none.text
    assert charts.round_verdict({}) is None


def test_escalation_summary_counts_cost_and_savings():
    summary = charts.escalation_summary(
        {
            "enabled": True,
            "max_extra_labels": 2,
            "items_escalated": 20,
            "extra_labels_asked": 34,
            "extra_labels_given": 30,
            "reviews_saved": 12,
            "still_disputed": 1,
            "disputed_items": 5,
        }
    )
    assert summary.text == "Escalation asked 34 extra labels on 20 items and saved 12 SME reviews."
    assert "1 escalated item still disputed" in summary.facts
    assert "at most 2 extra labels per item" in summary.facts
    off = charts.escalation_summary({"enabled": False, "items_escalated": 0})
    assert off.enabled is False
    assert off.text.startswith("Escalation is off")


def test_group_rows_name_rounds_and_guideline_versions():
    row = {
        "items": 10,
        "items_compared": 8,
        "labels": 24,
        "krippendorff_alpha": {"value": 0.5, "low": 0.3, "high": 0.7, "reason": None},
        "percent_agreement": 0.75,
    }
    rounds = charts.group_rows([{"round": 2, **row}, {"round": 1, **row}], "round")
    assert [r.name for r in rounds] == ["Round 1", "Round 2"]
    assert rounds[0].alpha.text == "0.500"
    assert rounds[0].interval == "0.300 – 0.700"
    versions = charts.group_rows([{"guideline": 0, **row}, {"guideline": 1, **row}], "guideline")
    assert [r.name for r in versions] == ["No guideline", "Guideline v1"]


def test_dashboard_links_the_guidelines_and_says_when_there_is_no_round_to_compare(
    client, project, member
):
    # given a report of a project with one round and no guideline
    report_recompute(project_id=project.pk, version=1)
    client.force_login(member(Role.REVIEWER))

    # when a reviewer opens the dashboard
    page = client.get(
        reverse("frontend:consistency", kwargs={"project_id": project.pk})
    ).content.decode()

    # then the rounds section says there is nothing to compare yet, and links the guidelines
    assert "Rounds and guidelines" in page
    assert "Nothing to compare: no later round with labels yet." in page
    assert page.count(f'href="{guidelines_url(project)}"') == 2
    assert "Write the first guideline" in page
