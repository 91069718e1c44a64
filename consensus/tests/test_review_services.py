"""Review services: decisions and their history, comments and mentions, guidelines and
acknowledgement, rounds, escalation and notifications."""

import pytest
from django.core import mail

from annotations.models import Annotation, Item, ItemStatus, Role
from annotations.services.assignments import assignment_next
from annotations.services.projects import project_update
from annotations.services.rounds import round_start
from consensus.models import (
    Comment,
    GuidelineVersion,
    ItemConsensus,
    Notification,
    NotificationKind,
    ReviewDecision,
)
from consensus.services.comments import comment_add, comment_edit
from consensus.services.decisions import decision_make
from consensus.services.guidelines import ExampleSpec, guideline_acknowledge, guideline_publish
from consensus.services.notifications import notifications_mark_read
from labelhub.errors import ApplicationError, ConflictError, ForbiddenError, NotFoundError
from tests.factories import ItemFactory, ProjectFactory, submit_labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(project, trio):
    item = ItemFactory(project=project)
    submit_labels(item, dict(zip(trio, ["clean", "clean", "scratch"], strict=True)))
    return item


# Decisions ------------------------------------------------------------------------------------


def test_a_decision_records_who_when_and_why(disputed, sme):
    decision = decision_make(
        item_id=disputed.pk, decided_by=sme, outcome="label", label_key="scratch", reason="deep"
    )
    assert (decision.revision, decision.current, decision.round) == (1, True, 1)
    assert decision.label.key == "scratch"
    assert decision.decided_by == sme
    assert decision.decided_at is not None


def test_a_second_decision_without_naming_the_first_is_a_conflict(disputed, sme, member):
    first = decision_make(
        item_id=disputed.pk, decided_by=sme, outcome="label", label_key="clean", reason="a"
    )
    other = member(Role.REVIEWER, username="sme2")
    with pytest.raises(ConflictError) as error:
        decision_make(
            item_id=disputed.pk, decided_by=other, outcome="label", label_key="dent", reason="b"
        )
    assert error.value.code == "already_decided"
    assert error.value.details[0]["id"] == first.pk
    assert error.value.details[0]["label"] == "clean"
    assert ReviewDecision.objects.filter(item=disputed).count() == 1


def test_a_revision_keeps_the_history(disputed, sme):
    first = decision_make(
        item_id=disputed.pk, decided_by=sme, outcome="label", label_key="clean", reason="a"
    )
    second = decision_make(
        item_id=disputed.pk,
        decided_by=sme,
        outcome="input_insufficient",
        reason="too dark to tell",
        revises=first.pk,
    )
    rows = list(ReviewDecision.objects.filter(item=disputed).order_by("revision"))
    assert [(r.revision, r.current, r.outcome) for r in rows] == [
        (1, False, "label"),
        (2, True, "input_insufficient"),
    ]
    assert second.label is None


@pytest.mark.parametrize(
    ("outcome", "label", "reason", "field"),
    [
        ("label", None, "x", "label"),
        ("label", "rust", "x", "label"),
        ("input_insufficient", "clean", "x", "label"),
        ("label", "clean", "   ", "reason"),
    ],
)
def test_bad_decisions_name_the_field_and_write_nothing(
    disputed, sme, outcome, label, reason, field
):
    with pytest.raises(ApplicationError) as error:
        decision_make(
            item_id=disputed.pk, decided_by=sme, outcome=outcome, label_key=label, reason=reason
        )
    assert error.value.field == field
    assert not ReviewDecision.objects.exists()


def test_a_final_label_becomes_the_items_consensus_on_read(project, disputed, sme):
    from consensus.selectors import item_consensus_list

    decision_make(
        item_id=disputed.pk, decided_by=sme, outcome="label", label_key="scratch", reason="x"
    )
    row = item_consensus_list(project=project, order="item").get(item=disputed)
    assert (row.decision_outcome, row.decision_label) == ("label", "scratch")
    # and the stored consensus stays what the labels say
    assert ItemConsensus.objects.get(item=disputed).label.key == "clean"


# Comments -------------------------------------------------------------------------------------


def test_a_mention_of_a_member_notifies_them_and_emails_them(project, disputed, sme, member):
    mle = member(Role.ENGINEER, username="mle")
    mle.email = "mle@example.com"
    mle.save()
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        comment = comment_add(item=disputed, author=sme, body="@mle is this a scratch? cc @nobody")
    assert list(comment.mentions.values_list("username", flat=True)) == ["mle"]
    note = Notification.objects.get(user=mle)
    assert (note.kind, note.item_id, note.comment_id) == ("mention", disputed.pk, comment.pk)
    assert len(mail.outbox) == 1
    assert "mle@example.com" in mail.outbox[0].to


def test_an_empty_comment_is_refused(disputed, sme):
    with pytest.raises(ApplicationError) as error:
        comment_add(item=disputed, author=sme, body="  \n ")
    assert error.value.field == "body"
    assert not Comment.objects.exists()


def test_an_edit_keeps_the_earlier_body_and_only_the_author_edits(disputed, sme, member):
    comment = comment_add(item=disputed, author=sme, body="first")
    comment_edit(comment_id=comment.pk, editor=sme, body="second")
    comment.refresh_from_db()
    assert comment.body == "second"
    assert comment.edited_at is not None
    assert list(comment.revisions.values_list("body", flat=True)) == ["first"]
    with pytest.raises(ForbiddenError):
        comment_edit(comment_id=comment.pk, editor=member(Role.REVIEWER), body="mine")


# Guidelines -----------------------------------------------------------------------------------


def test_a_new_guideline_blocks_labeling_until_acknowledged(project, trio, manager, items):
    items(2)
    labeler = trio[0]
    version = guideline_publish(project=project, author=manager, body="# Scratches\nDeep only.")
    assert version.version == 1
    project.refresh_from_db()
    with pytest.raises(ConflictError) as error:
        assignment_next(project=project, labeler=labeler)
    assert error.value.code == "guideline_unacknowledged"
    assert error.value.details == [{"guideline_version": 1}]
    assert guideline_acknowledge(project=project, user=labeler, version=1) == 1
    assignment = assignment_next(project=project, labeler=labeler)
    submit_labels(assignment.item, {labeler: "clean"})
    assert Annotation.objects.get(labeler=labeler).guideline_version == 1


def test_acknowledging_an_old_version_never_lowers_the_record(project, trio, manager):
    guideline_publish(project=project, author=manager, body="v1")
    guideline_publish(project=project, author=manager, body="v2")
    guideline_acknowledge(project=project, user=trio[0], version=2)
    assert guideline_acknowledge(project=project, user=trio[0], version=1) == 2
    with pytest.raises(NotFoundError):
        guideline_acknowledge(project=project, user=trio[0], version=3)


def test_a_guideline_links_the_decisions_that_caused_it_and_its_examples(
    project, disputed, sme, manager
):
    decision = decision_make(
        item_id=disputed.pk, decided_by=sme, outcome="instructions_ambiguous", reason="scratch?"
    )
    version = guideline_publish(
        project=project,
        author=sme,
        body="A scratch is deeper than a hair.",
        changelog="Defines scratch depth",
        examples=[ExampleSpec(item=disputed.pk, label="scratch", is_example=False, note="hair")],
    )
    decision.refresh_from_db()
    assert decision.guideline == version
    example = version.examples.get()
    assert (example.item_id, example.label.key, example.is_example) == (
        disputed.pk,
        "scratch",
        False,
    )


def test_a_guideline_with_a_foreign_example_writes_nothing(project, manager):
    foreign = ItemFactory(project=ProjectFactory())
    with pytest.raises(ApplicationError) as error:
        guideline_publish(
            project=project,
            author=manager,
            body="text",
            examples=[ExampleSpec(item=foreign.pk, label="clean")],
        )
    assert error.value.field == "examples[0].item"
    assert not GuidelineVersion.objects.exists()
    project.refresh_from_db()
    assert project.guideline_version == 0


# Rounds ---------------------------------------------------------------------------------------


def test_a_round_moves_items_and_keeps_earlier_labels(project, disputed, trio):
    other = ItemFactory(project=project)
    new_round = round_start(project=project, item_ids=[disputed.pk])
    disputed.refresh_from_db()
    project.refresh_from_db()
    assert new_round.number == 2 == project.current_round == disputed.round
    assert (disputed.labels_done, disputed.status) == (0, ItemStatus.OPEN)
    assert Item.objects.get(pk=other.pk).round == 1
    assert Annotation.objects.filter(item=disputed, round=1, withdrawn=False).count() == 3
    # and the same labelers may label it again in round 2
    submit_labels(disputed, dict(zip(trio, ["scratch"] * 3, strict=True)))
    assert Annotation.objects.filter(item=disputed, round=2).count() == 3
    consensus = ItemConsensus.objects.get(item=disputed)
    assert (consensus.round, consensus.label.key, consensus.majority_share) == (2, "scratch", 1.0)


def test_a_round_on_another_projects_items_writes_nothing(project, disputed):
    foreign = ItemFactory(project=ProjectFactory())
    with pytest.raises(ApplicationError) as error:
        round_start(project=project, item_ids=[disputed.pk, foreign.pk])
    assert error.value.field == "items"
    assert error.value.details == [{"item": foreign.pk}]
    project.refresh_from_db()
    assert project.current_round == 1
    assert project.rounds.count() == 1
    disputed.refresh_from_db()
    assert disputed.round == 1


# Escalation and notifications ----------------------------------------------------------------


def test_escalation_asks_more_labels_until_resolved_or_capped(project, member, sme):
    labelers = [member(Role.LABELER) for _ in range(5)]
    project_update(
        project=project,
        changes={
            "escalation_max_labels": 2,
            "review_rule": "majority_below",
            "review_threshold": 0.7,
        },
    )
    resolved, stubborn = ItemFactory(project=project), ItemFactory(project=project)
    # when a 2–1 split arrives, the item asks for a fourth label
    submit_labels(resolved, dict(zip(labelers, ["clean", "clean", "scratch"], strict=False)))
    resolved.refresh_from_db()
    assert (resolved.extra_labels, resolved.status) == (1, ItemStatus.OPEN)
    # and a fourth agreeing label (3 of 4 = 0.75 ≥ 0.7) settles it without review
    submit_labels(resolved, {labelers[3]: "clean"})
    resolved.refresh_from_db()
    assert (resolved.extra_labels, resolved.status) == (1, ItemStatus.COMPLETE)
    # while an item that stays split gets two extra labels, then goes to the reviewers
    keys = ["clean", "scratch", "dent", "clean", "scratch"]
    submit_labels(stubborn, dict(zip(labelers, keys, strict=True)))
    stubborn.refresh_from_db()
    assert (stubborn.extra_labels, stubborn.status, stubborn.labels_done) == (2, "complete", 5)
    digest = Notification.objects.get(user=sme, kind=NotificationKind.DISAGREEMENTS)
    assert digest.count == 1
    # and the report counts the cost and the saving
    from consensus.services.reports import report_recompute

    escalation = report_recompute(project_id=project.pk, version=10_000).escalation
    assert escalation["items_escalated"] == 2
    assert escalation["extra_labels_given"] == 3
    assert escalation["reviews_saved"] == 1
    assert escalation["still_disputed"] == 1


def test_new_disagreements_coalesce_into_one_unread_digest(project, manager, sme, trio):
    for keys in (["clean", "clean", "dent"], ["dent", "scratch", "dent"]):
        submit_labels(ItemFactory(project=project), dict(zip(trio, keys, strict=True)))
    digest = Notification.objects.get(user=sme)
    assert digest.count == 2
    assert Notification.objects.get(user=manager).count == 2
    assert not Notification.objects.filter(user__in=trio).exists()
    # after reading it, the next disagreement starts a new digest
    assert notifications_mark_read(user_id=sme.pk) == 1
    submit_labels(
        ItemFactory(project=project), dict(zip(trio, ["clean", "dent", "dent"], strict=True))
    )
    assert (
        list(Notification.objects.filter(user=sme).order_by("id").values_list("count", "read_at"))[
            1
        ][0]
        == 1
    )


def test_labelers_cannot_be_mentioned_into_a_discussion_they_may_not_read(disputed, sme, trio):
    comment = comment_add(item=disputed, author=sme, body="@ana why clean?")
    assert not comment.mentions.exists()
    assert not Notification.objects.filter(user=trio[0], kind="mention").exists()


def test_a_new_digest_emails_a_reviewer_once_until_read(project, sme, trio):
    sme.email = "sme@example.com"
    sme.save()
    for keys in (["clean", "clean", "dent"], ["dent", "scratch", "dent"]):
        submit_labels(ItemFactory(project=project), dict(zip(trio, keys, strict=True)))
    assert [m.to for m in mail.outbox] == [["sme@example.com"]]
    notifications_mark_read(user_id=sme.pk)
    submit_labels(
        ItemFactory(project=project), dict(zip(trio, ["clean", "dent", "dent"], strict=True))
    )
    assert len(mail.outbox) == 2
