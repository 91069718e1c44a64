"""The demo loads through the real services, once, with consistent counters."""

import pytest
from django.db.models import Count, F, Q

from annotations.models import Annotation, Item, Membership
from fixtures.demo import DEMO_PROJECT, demo_load

pytestmark = pytest.mark.django_db


def test_demo_loads_once_with_labels_gold_and_slices():
    # when the demo is loaded twice
    project, created = demo_load(n_items=20, seed=1)
    again, created_again = demo_load(n_items=20, seed=1)
    # then it exists once
    assert (created, created_again, again.pk) == (True, False, project.pk)
    assert project.name == DEMO_PROJECT
    items = Item.objects.filter(project=project)
    assert items.count() == 20
    assert items.exclude(gold_label=None).count() == 5
    assert all(item.image and item.metadata["width"] == 256 for item in items)
    assert {item.slices["camera"] for item in items} == {"A", "B"}
    # and every item's counter equals its active annotations in its round
    counted = items.annotate(
        n=Count(
            "annotations",
            filter=Q(annotations__withdrawn=False, annotations__round=F("round")),
        )
    )
    assert all(item.n == item.labels_done for item in counted)
    assert Annotation.objects.filter(project=project).count() > 40
    # and a person can log in to each role
    roles = set(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert {
        ("labeler", "labeler"),
        ("manager", "manager"),
        ("sme", "reviewer"),
        ("mle", "engineer"),
    } <= roles


def test_demo_load_asks_for_one_report_with_every_items_consensus():
    from consensus.models import ConsistencyReport, ItemConsensus

    project, _ = demo_load(n_items=20, seed=2)
    assert ConsistencyReport.objects.filter(project=project).count() == 1
    assert ItemConsensus.objects.filter(project=project).count() == 20


def test_demo_tells_a_review_story():
    from annotations.models import ItemFlag
    from consensus.models import Comment, GuidelineVersion, Notification, ReviewDecision

    # when the demo is loaded
    project, _ = demo_load(n_items=60, seed=0)
    # then guideline v2 answers an "instructions ambiguous" decision, and round 2 relabeled
    assert list(
        GuidelineVersion.objects.filter(project=project).values_list("version", flat=True)
    ) == [1, 2]
    ambiguous = ReviewDecision.objects.get(project=project, outcome="instructions_ambiguous")
    assert ambiguous.guideline.version == 2
    assert Annotation.objects.filter(project=project, round=2, guideline_version=2).exists()
    assert Item.objects.filter(project=project, round=2).exists()
    # and the SME has flags, a discussion and a notification to start from
    assert ItemFlag.objects.filter(project=project).count() >= 5
    assert Comment.objects.filter(project=project).count() == 2
    assert Notification.objects.filter(project=project, user__username="sme").exists()
    # and the demo "labeler" login is asked to read the newest guideline first
    labeler = Membership.objects.get(project=project, user__username="labeler")
    assert labeler.guideline_acknowledged == 0


def test_demo_has_a_model_in_shadow_mode_to_analyse():
    from consensus.models import ModelRun
    from consensus.services.error_analysis import run_analysis

    project, _ = demo_load(n_items=60, seed=0)
    run = ModelRun.objects.get(project=project)
    assert run.shadow
    assert run.predictions.count() == 60
    analysis = run_analysis(run=run)
    assert 0.4 < analysis["overall"]["accuracy"] < 1.0
    assert {r["slice"] for r in analysis["priorities"]} == {"camera", "lighting"}
    assert len(analysis["weeks"]) >= 4
