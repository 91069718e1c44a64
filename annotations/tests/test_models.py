"""Database constraints of the labeling model: they hold even if a service has a bug."""

import pytest
from django.db import IntegrityError, transaction

from annotations.models import Annotation, LabelClass
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db


def _annotation(item, user, key="k1", **kwargs):
    label = LabelClass.objects.get(project=item.project, key="clean")
    return Annotation.objects.create(
        project=item.project,
        item=item,
        labeler=user,
        round=1,
        value={"label": "clean"},
        label=label,
        idempotency_key=key,
        **kwargs,
    )


def test_one_active_annotation_per_item_labeler_round(project, labeler):
    # given an active annotation
    item = ItemFactory(project=project)
    _annotation(item, labeler, key="a")
    # when the same labeler stores a second active one on the same item and round
    # then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        _annotation(item, labeler, key="b")


def test_withdrawn_annotations_do_not_block_a_new_label(project, labeler):
    # given a withdrawn annotation (undo keeps the row)
    item = ItemFactory(project=project)
    _annotation(item, labeler, key="a", withdrawn=True)
    # when the labeler labels again
    _annotation(item, labeler, key="b")
    # then both rows exist
    assert Annotation.objects.filter(item=item).count() == 2


def test_idempotency_key_is_unique_per_labeler(project, member):
    first, second = member(), member()
    item, other = ItemFactory(project=project), ItemFactory(project=project)
    _annotation(item, first, key="same")
    _annotation(other, second, key="same")  # another labeler may use the same key
    with pytest.raises(IntegrityError), transaction.atomic():
        _annotation(other, first, key="same")


def test_a_project_has_at_most_one_borderline_class(project):
    with pytest.raises(IntegrityError), transaction.atomic():
        LabelClass.objects.create(project=project, key="unsure", name="Unsure", kind="borderline")


def test_external_id_is_unique_within_a_project_only(project):
    ItemFactory(project=project, external_id="x")
    ItemFactory(external_id="x")  # another project
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemFactory(project=project, external_id="x")


def test_overlap_must_be_between_1_and_50(project):
    project.overlap = 0
    with pytest.raises(IntegrityError), transaction.atomic():
        project.save()
