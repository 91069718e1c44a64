"""The disagreement queue: its rule, ranking, filters and confusion-pair summary."""

import pytest

from annotations.models import ReviewRule, Role
from annotations.services.flags import item_flag
from annotations.services.projects import project_update
from annotations.services.rounds import round_start
from consensus.models import ItemConsensus, ReviewDecision
from consensus.queue import QueueFilters, disagreement_queue, queue_labels
from consensus.services.decisions import decision_make
from tests.factories import ItemFactory, submit_labels

pytestmark = pytest.mark.django_db


def _item(project, labels, trio, **kwargs):
    item = ItemFactory(project=project, **kwargs)
    submit_labels(item, dict(zip(trio, labels, strict=False)))
    return item


def _ids(queue):
    return [e.item_id for e in queue.entries]


def test_the_queue_holds_complete_disputed_items_most_disputed_first(project, trio):
    # given a unanimous item, a 2–1 split, a three-way split, and a split with a missing label
    unanimous = _item(project, ["clean"] * 3, trio)
    split = _item(project, ["clean", "clean", "scratch"], trio)
    three_way = _item(project, ["clean", "scratch", "dent"], trio)
    _item(project, ["clean", "scratch"], trio)  # 2 of 3 labels: still being labeled
    # when the queue is read with the default rule ("any disagreement")
    queue = disagreement_queue(project=project, filters=QueueFilters())
    # then only complete disputed items are in it, the three-way split (s = 2/3) first
    assert _ids(queue) == [three_way.pk, split.pk]
    assert unanimous.pk not in _ids(queue)
    entry = queue.entries[1]
    assert entry.pair == ("clean", "scratch")
    assert entry.strength == pytest.approx(1 / 3, abs=1e-6)
    assert sorted(queue_labels(item_ids=[split.pk])[split.pk]) == [
        ("ana", "clean"),
        ("ben", "clean"),
        ("cy", "scratch"),
    ]


def test_priority_follows_the_documented_formula(project, trio):
    # given two clean/scratch splits and one clean/dent split of the same strength
    a = _item(project, ["clean", "clean", "scratch"], trio)
    b = _item(project, ["clean", "scratch", "scratch"], trio)
    c = _item(project, ["clean", "clean", "dent"], trio)
    queue = disagreement_queue(project=project, filters=QueueFilters())
    by_id = {e.item_id: e for e in queue.entries}
    # then s = 1/3 each; c = 1 for the common pair, 1/2 for the rare one; w = 0 (no slices)
    assert by_id[a.pk].priority == pytest.approx((1 / 3) * 2 * 1 / 4, abs=1e-6)
    assert by_id[c.pk].priority == pytest.approx((1 / 3) * 1.5 * 1 / 4, abs=1e-6)
    # and the common confusion comes before the rare one; ties by item id
    assert _ids(queue) == [a.pk, b.pk, c.pk]
    assert queue.pairs == [
        {"pair": ["clean", "scratch"], "items": 2},
        {"pair": ["clean", "dent"], "items": 1},
    ]


def test_a_flag_brings_an_agreed_item_into_the_queue(project, trio):
    # given a unanimous item that a labeler flagged as unclear
    item = _item(project, ["dent"] * 3, trio)
    item_flag(labeler=trio[0], item_id=item.pk, kind="input_unclear", note="blurry")
    # when the queue is read
    queue = disagreement_queue(project=project, filters=QueueFilters(flagged=True))
    # then it is there, with the flag's weight as its priority
    assert _ids(queue) == [item.pk]
    assert queue.entries[0].priority == pytest.approx(0.1)
    assert queue.entries[0].pair is None


@pytest.mark.parametrize(
    ("rule", "threshold", "expected"),
    [
        (ReviewRule.ANY, 0.75, {"split", "three_way"}),
        (ReviewRule.MAJORITY_BELOW, 0.5, {"three_way"}),
        (ReviewRule.MAJORITY_BELOW, 0.7, {"split", "three_way"}),
        (ReviewRule.POSTERIOR_BELOW, 0.5, {"three_way"}),
        (ReviewRule.POSTERIOR_BELOW, 0.95, {"split", "three_way"}),
    ],
)
def test_the_project_rule_decides_what_is_disputed(project, trio, rule, threshold, expected):
    # given a 2–1 split (majority 2/3) and a three-way split (1/3)
    items = {
        "split": _item(project, ["clean", "clean", "scratch"], trio),
        "three_way": _item(project, ["clean", "scratch", "dent"], trio),
    }
    # and Dawid–Skene posteriors of 0.9 and 0.4 for their consensus labels
    ItemConsensus.objects.filter(item=items["split"]).update(confidence=0.9)
    ItemConsensus.objects.filter(item=items["three_way"]).update(confidence=0.4)
    project_update(project=project, changes={"review_rule": rule, "review_threshold": threshold})
    project.refresh_from_db()
    # when the queue is read
    queued = set(_ids(disagreement_queue(project=project, filters=QueueFilters())))
    # then the rule picks them
    assert queued == {items[name].pk for name in expected}


def test_filters_narrow_the_queue(project, trio):
    a = _item(project, ["clean", "clean", "scratch"], trio, slices={"camera": "A"})
    b = _item(project, ["clean", "dent", "dent"], trio, slices={"camera": "B"})
    item_flag(labeler=trio[1], item_id=b.pk, kind="unsure")

    def ids(**kwargs):
        return _ids(disagreement_queue(project=project, filters=QueueFilters(**kwargs)))

    assert ids(pair=("scratch", "clean")) == [a.pk]  # either order
    assert ids(label_class="dent") == [b.pk]
    assert ids(slices={"camera": "A"}) == [a.pk]
    assert ids(flagged=True) == [b.pk]
    assert ids(flagged=False) == [a.pk]
    assert set(ids(labeler="cy")) == {a.pk, b.pk}
    assert ids(labeler="nobody") == []
    assert set(ids(round=1)) == {a.pk, b.pk}
    assert ids(round=2) == []


def test_decided_items_leave_the_queue_until_a_new_round(project, trio, member):
    sme = member(Role.REVIEWER)
    item = _item(project, ["clean", "clean", "scratch"], trio)
    decision_make(item_id=item.pk, decided_by=sme, outcome="label", label_key="clean", reason="x")
    assert _ids(disagreement_queue(project=project, filters=QueueFilters())) == []
    assert _ids(disagreement_queue(project=project, filters=QueueFilters(decided=True))) == [
        item.pk
    ]
    # when the item is relabeled in round 2 and disputed again
    round_start(project=project, item_ids=[item.pk])
    submit_labels(item, dict(zip(trio, ["dent", "clean", "dent"], strict=True)))
    # then it is back (the round-1 decision does not cover round 2)
    assert _ids(disagreement_queue(project=project, filters=QueueFilters())) == [item.pk]
    assert ReviewDecision.objects.filter(item=item, current=True, round=1).exists()


def test_an_unknown_class_in_a_filter_is_a_400_naming_it(project):
    from labelhub.errors import ApplicationError

    with pytest.raises(ApplicationError) as error:
        disagreement_queue(project=project, filters=QueueFilters(pair=("clean", "rust")))
    assert error.value.field == "pair"


def test_the_queue_costs_the_same_queries_for_few_or_many_items(
    project, trio, django_assert_num_queries
):
    for _ in range(3):
        _item(project, ["clean", "clean", "scratch"], trio)
    with django_assert_num_queries(4):  # classes, candidates, flags, the report's slice shares
        disagreement_queue(project=project, filters=QueueFilters())
    for _ in range(12):
        _item(project, ["clean", "dent", "scratch"], trio)
    with django_assert_num_queries(4):
        disagreement_queue(project=project, filters=QueueFilters())


def test_the_report_stores_the_same_confusion_pairs_as_the_item_refresh(project, trio):
    from consensus.services.reports import report_recompute

    # given items whose pairs were stored by the in-request refresh
    for keys in (["dent", "scratch", "clean"], ["dent", "dent", "scratch"], ["clean"] * 3):
        _item(project, keys, trio)
    pairs = lambda: list(  # noqa: E731
        ItemConsensus.objects.order_by("item_id").values_list("pair_low__key", "pair_high__key")
    )
    refreshed = pairs()
    assert refreshed == [("clean", "scratch"), ("scratch", "dent"), (None, None)]
    # when the report rewrites every item's consensus
    report_recompute(project_id=project.pk, version=5)
    # then the pairs are the same
    assert pairs() == refreshed


def test_the_slice_weight_is_the_mean_share_of_the_items_slice_values(project, trio):
    from consensus.services.reports import report_recompute

    # given two equally split items, one in camera A (2 of 3 items) and one in camera B
    a = _item(project, ["clean", "clean", "scratch"], trio, slices={"camera": "A"})
    b = _item(project, ["clean", "clean", "scratch"], trio, slices={"camera": "B"})
    _item(project, ["dent"] * 3, trio, slices={"camera": "A"})
    report_recompute(project_id=project.pk, version=3)
    queue = disagreement_queue(project=project, filters=QueueFilters())
    by_id = {e.item_id: e for e in queue.entries}
    # then w = 2/3 for the camera-A item and 1/3 for the camera-B one, and A ranks first
    assert queue.item_ids == [a.pk, b.pk]
    s = 1 - by_id[a.pk].majority_share
    assert by_id[a.pk].priority == pytest.approx(s * 2 * (1 + 2 / 3) / 4, abs=1e-5)
    assert by_id[b.pk].priority == pytest.approx(s * 2 * (1 + 1 / 3) / 4, abs=1e-5)
    assert [e.item_id for e in queue.page(1, 5)] == [b.pk]
