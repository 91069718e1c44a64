"""One item's consensus, refreshed in the request: majority, ties, undo, query count."""

import pytest

from annotations.services.annotations import annotation_submit, annotation_withdraw
from consensus.models import ItemConsensus
from consensus.services.item_consensus import item_consensus_refresh
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db


def _label(user, item, key):
    return annotation_submit(
        labeler=user,
        item_id=item.pk,
        value={"label": key},
        idempotency_key=f"{user.pk}-{item.pk}-{key}",
    ).annotation


def test_majority_ties_and_undo(project, member, django_assert_max_num_queries):
    item = ItemFactory(project=project)
    first, second = member(), member()
    kept = _label(first, item, "dent")
    undone = _label(second, item, "scratch")
    # a 1–1 split is a tie: no label, share one half
    with django_assert_max_num_queries(2):
        consensus = item_consensus_refresh(item_id=item.pk)
    assert consensus.tied is True
    assert consensus.label_id is None
    assert consensus.majority_share == 0.5
    # after an undo the remaining label is the consensus
    annotation_withdraw(labeler=second, annotation_id=undone.pk)
    item_consensus_refresh(item_id=item.pk)
    stored = ItemConsensus.objects.get(item=item)
    assert (stored.label.key, stored.n_labels, stored.entropy) == ("dent", 1, 0.0)
    # and with every label undone, nothing is left
    annotation_withdraw(labeler=first, annotation_id=kept.pk)
    item_consensus_refresh(item_id=item.pk)
    stored.refresh_from_db()
    assert (stored.label_id, stored.n_labels, stored.confidence) == (None, 0, None)


def test_a_deleted_item_is_ignored(db):
    assert item_consensus_refresh(item_id=987654) is None
