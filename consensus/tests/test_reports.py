"""report_recompute: the stored report equals the metrics on the same data; written whole."""

import numpy as np
import pytest

from annotations.models import LabelClass
from annotations.services.annotations import annotation_submit
from consensus.data import project_labels_load
from consensus.metrics.agreement import krippendorff_alpha
from consensus.models import ConsistencyReport, ItemConsensus
from consensus.services import reports
from consensus.services.reports import report_recompute
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db

# Three labelers × four items; None = no label.
GRID = [
    ["clean", "clean", "dent", None],
    ["clean", "scratch", "dent", "dent"],
    ["clean", "scratch", "scratch", None],
]


@pytest.fixture
def labeled(project, member):
    items = [ItemFactory(project=project, slices={"camera": c}) for c in ("A", "A", "B", "B")]
    items[0].gold_label = LabelClass.objects.get(project=project, key="clean")
    items[0].save()
    users = [member(username=name) for name in ("ana", "ben", "cy")]
    for user, row in zip(users, GRID, strict=True):
        for item, key in zip(items, row, strict=True):
            if key:
                annotation_submit(
                    labeler=user,
                    item_id=item.pk,
                    value={"label": key},
                    idempotency_key=f"{user.pk}-{item.pk}",
                    time_spent_ms=1000,
                )
    return items, users


def test_data_bridge_codes_labels_as_the_grid(project, labeled):
    # when the labels are read into arrays
    data = project_labels_load(project=project)
    # then the matrix holds the grid's class codes (clean 0, scratch 1, dent 2) and NaN elsewhere
    expected = [[0, 0, 2, np.nan], [0, 1, 2, 2], [0, 1, 1, np.nan]]
    np.testing.assert_array_equal(data.matrix, expected)
    assert data.class_keys == ["clean", "scratch", "dent", "borderline"]
    assert data.gold[0] == 0
    assert np.isnan(data.gold[1:]).all()
    assert [s.name for s in data.slices] == ["camera"]
    assert data.n_annotations == 10


def test_report_holds_the_metrics_of_the_data(project, labeled):
    report = report_recompute(project_id=project.pk, version=1)
    data = project_labels_load(project=project).matrix
    alpha = report.overall["krippendorff_alpha"]
    assert alpha["value"] == pytest.approx(krippendorff_alpha(data).value, abs=1e-6)
    assert alpha["low"] <= alpha["value"] <= alpha["high"]
    assert (report.n_items, report.n_labeled_items, report.n_annotations, report.n_labelers) == (
        4,
        4,
        10,
        3,
    )
    by_user = {row["username"]: row for row in report.per_labeler}
    assert by_user["ana"]["labels"] == 3
    assert by_user["ana"]["gold_accuracy"] == 1.0
    assert by_user["ben"]["median_time_ms"] == 1000.0
    assert {(r["slice"], r["value"], r["items"]) for r in report.per_slice} == {
        ("camera", "A", 2),
        ("camera", "B", 2),
    }
    pairs = {(p["a"], p["b"]): p["items"] for p in report.confusion_pairs}
    assert pairs == {("clean", "scratch"): 1, ("scratch", "dent"): 1}
    assert report.pairwise["labelers"] == ["ana", "ben", "cy"]
    assert report.pairwise["shared"][0][1] == 3
    assert report.top_disagreements[0]["labels"] in (
        {"clean": 1, "scratch": 2},
        {"scratch": 1, "dent": 2},
    )


def test_report_rebuilds_every_items_consensus(project, labeled):
    items, _ = labeled
    report_recompute(project_id=project.pk, version=1)
    consensus = {c.item_id: c for c in ItemConsensus.objects.select_related("label")}
    assert consensus[items[0].pk].label.key == "clean"
    assert consensus[items[0].pk].n_labels == 3
    assert consensus[items[3].pk].n_labels == 1
    assert {c.method for c in consensus.values()} == {"dawid_skene"}


def test_a_failing_write_leaves_no_half_report(project, labeled, monkeypatch):
    # given the consensus upsert fails after the report row was inserted
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(reports, "consensus_store", explode)
    with pytest.raises(RuntimeError):
        report_recompute(project_id=project.pk, version=1)
    # then neither the report nor any consensus row was stored
    assert not ConsistencyReport.objects.exists()
    assert not ItemConsensus.objects.exists()


def test_same_version_twice_keeps_the_first(project, labeled):
    first = report_recompute(project_id=project.pk, version=7)
    again = report_recompute(project_id=project.pk, version=7)
    assert again.pk == first.pk
    assert ConsistencyReport.objects.count() == 1


def test_empty_project_gives_undefined_figures_not_errors(project):
    report = report_recompute(project_id=project.pk, version=1)
    assert report.overall["krippendorff_alpha"]["value"] is None
    assert report.overall["krippendorff_alpha"]["reason"]
    assert report.n_items == 0


def test_recompute_query_count_does_not_grow_with_items(
    project, member, django_assert_max_num_queries
):
    items = ItemFactory.create_batch(60, project=project)
    users = [member() for _ in range(3)]
    for item in items:
        for user in users:
            annotation_submit(
                labeler=user,
                item_id=item.pk,
                value={"label": "dent"},
                idempotency_key=f"{user.pk}-{item.pk}",
            )
    with django_assert_max_num_queries(12):
        report_recompute(project_id=project.pk, version=1)


def test_recompute_writes_only_the_consensus_rows_that_changed(project, labeled, member):
    from consensus.services import consensus_store as store

    items, users = labeled
    written = []
    original = store.consensus_store

    def counting(**kwargs):
        written.append(original(**kwargs))
        return written[-1]

    reports.consensus_store = counting
    try:
        report_recompute(project_id=project.pk, version=1)
        report_recompute(project_id=project.pk, version=2)
        annotation_submit(
            labeler=users[0], item_id=items[3].pk, value={"label": "dent"}, idempotency_key="late"
        )
        report_recompute(project_id=project.pk, version=3)
    finally:
        reports.consensus_store = original
    # all four items first, nothing when nothing changed, and the changed item(s) after a label
    assert written[0] == 4
    assert written[1] == 0
    assert 1 <= written[2] <= 4
    assert ItemConsensus.objects.get(item=items[3]).n_labels == 2


def test_median_time_per_labeler_handles_odd_even_and_untimed():
    from types import SimpleNamespace

    from consensus.services.reports import _median_per_labeler

    labels = SimpleNamespace(
        time_spent_ms=np.array([5.0, 1.0, 3.0, 10.0, 2.0, np.nan, 4.0]),
        annotation_labeler=np.array([0, 0, 0, 1, 1, 2, 1]),
        labeler_ids=np.array([11, 12, 13]),
    )
    medians = _median_per_labeler(labels)
    assert medians[0] == 3.0  # 1, 3, 5
    assert medians[1] == 4.0  # 2, 4, 10
    assert np.isnan(medians[2])  # no timed label
