"""The report's rounds: agreement per round and per guideline version, and whether the newest
round raised agreement significantly (paired bootstrap over the relabeled items)."""

import numpy as np
import pytest

from annotations.models import Annotation, Role
from annotations.services.rounds import round_start
from consensus.data import project_labels_load
from consensus.metrics.count_bootstrap import nominal_alpha
from consensus.services.guidelines import guideline_acknowledge, guideline_publish
from consensus.services.reports import report_recompute
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db

CLASSES = ["clean", "scratch", "dent"]


def _label(project, labelers, items, accuracy, truth, rng, version):
    """Each labeler labels each item in its current round: right with ``accuracy``, else a
    random other class (bulk insert: the counters do not matter to the report)."""
    classes = {c.key: c for c in project.classes.all()}
    rows = []
    for item in items:
        for labeler in labelers:
            right = rng.random() < accuracy
            key = (
                truth[item.pk] if right else rng.choice([c for c in CLASSES if c != truth[item.pk]])
            )
            rows.append(
                Annotation(
                    project=project,
                    item=item,
                    labeler=labeler,
                    round=item.round,
                    value={"label": key},
                    label=classes[key],
                    idempotency_key=f"{labeler.pk}-{item.pk}-{item.round}",
                    guideline_version=version,
                )
            )
    Annotation.objects.bulk_create(rows)


@pytest.fixture
def setup(project, member):
    rng = np.random.default_rng(7)
    items = [ItemFactory(project=project) for _ in range(120)]
    truth = {item.pk: CLASSES[int(rng.integers(3))] for item in items}
    labelers = [member(Role.LABELER) for _ in range(3)]
    _label(project, labelers, items, 0.6, truth, rng, version=0)
    return items, truth, labelers, rng


def _relabel(project, items, labelers, truth, rng, accuracy, chosen):
    round_start(project=project, item_ids=[i.pk for i in chosen])
    for item in chosen:
        item.refresh_from_db()
    _label(project, labelers, chosen, accuracy, truth, rng, version=project.guideline_version)
    return report_recompute(project_id=project.pk, version=2)


def test_a_round_under_a_clearer_guideline_raises_agreement_significantly(project, setup, manager):
    items, truth, labelers, rng = setup
    guideline_publish(project=project, author=manager, body="Scratches are deeper than hairs.")
    project.refresh_from_db()
    for labeler in labelers:
        guideline_acknowledge(project=project, user=labeler, version=1)
    # when 60 items are relabeled in round 2 by labelers who are now right 95% of the time
    chosen = items[:60]
    report = _relabel(project, items, labelers, truth, rng, 0.95, chosen)
    # then the report compares them with their own round-1 labels and says it rose
    change = report.round_change
    assert change["round"] == 2
    assert change["compared_with_rounds"] == [1]
    assert change["items"] == 60
    assert change["direction"] == "raised"
    assert change["significant"] is True
    assert change["low"] > 0
    assert change["after"] > change["before"]
    # and per round: round 1 over its 120 items, round 2 over the 60
    rounds = {r["round"]: r for r in report.per_round}
    assert (rounds[1]["items"], rounds[1]["labels"]) == (120, 360)
    assert (rounds[2]["items"], rounds[2]["labels"]) == (60, 180)
    assert rounds[2]["krippendorff_alpha"]["value"] == pytest.approx(change["after"], abs=1e-6)
    # and per guideline version (v0 before the guideline, v1 after)
    assert [g["guideline"] for g in report.per_guideline] == [0, 1]
    # and the current labels are round 2's for the moved items, round 1's for the rest
    data = project_labels_load(project=project)
    assert data.n_annotations == 60 * 3 + 60 * 3
    assert report.overall["krippendorff_alpha"]["value"] > rounds[1]["krippendorff_alpha"]["value"]


def test_a_round_that_changed_nothing_is_not_significant(project, setup):
    items, truth, labelers, rng = setup
    # when 60 items chosen at random are relabeled by labelers just as accurate as before
    chosen = list(rng.choice(np.array(items, dtype=object), size=60, replace=False))
    report = _relabel(project, items, labelers, truth, rng, 0.6, chosen)
    # then the report says so
    change = report.round_change
    assert change["significant"] is False
    assert change["direction"] == "no significant change"
    assert change["low"] < 0 < change["high"]


def test_before_any_second_round_the_report_says_why_there_is_no_comparison(project, setup):
    report = report_recompute(project_id=project.pk, version=1)
    assert report.round_change == {"round": None, "reason": "no later round with labels yet"}
    (only,) = report.per_round
    counts = np.zeros((120, 3))
    data = project_labels_load(project=project)
    for code in range(3):
        counts[:, code] = (data.matrix == code).sum(axis=0)
    assert only["krippendorff_alpha"]["value"] == pytest.approx(nominal_alpha(counts), abs=1e-6)
