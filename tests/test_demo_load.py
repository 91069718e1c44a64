"""The demo loads through the real services, once, with consistent counters."""

import pytest
from django.db.models import Count, Q

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
    # and every item's counter equals its active annotations
    counted = items.annotate(n=Count("annotations", filter=Q(annotations__withdrawn=False)))
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
