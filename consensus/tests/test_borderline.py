"""Borderline as a first-class class: ordinal alpha puts it between its neighbours, and the
report says how often each class meets borderline on the same item."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from annotations.models import LabelClass, Membership, Project, Role, Round
from consensus.models import ConsistencyReport
from tests.factories import ItemFactory, UserFactory, submit_labels

pytestmark = pytest.mark.django_db

SCALE = ["ok", "borderline", "defect"]


def _scale_project() -> tuple[Project, list]:
    project = Project.objects.create(name="scale", overlap=3)
    Round.objects.create(project=project, number=1)
    for order, key in enumerate(SCALE):
        kind = "borderline" if key == "borderline" else "normal"
        LabelClass.objects.create(project=project, key=key, name=key, order=order, kind=kind)
    labelers = [UserFactory() for _ in range(3)]
    for user in labelers:
        Membership.objects.create(project=project, user=user, role=Role.LABELER)
    return project, labelers


def _report(rows: list[list[str]]) -> ConsistencyReport:
    project, labelers = _scale_project()
    for n, keys in enumerate(rows):
        item = ItemFactory(project=project, external_id=f"i{n}")
        submit_labels(item, dict(zip(labelers, keys, strict=True)))
    return ConsistencyReport.objects.filter(project=project).order_by("-version").first()


AGREED = [["ok"] * 3, ["defect"] * 3, ["ok"] * 3, ["defect"] * 3]
NEAR = [*AGREED, ["borderline", "defect", "defect"], ["ok", "ok", "borderline"]]
FAR = [*AGREED, ["ok", "defect", "defect"], ["ok", "ok", "defect"]]


def _reference_ordinal(rows: list[list[str]]) -> float:
    data = np.array([[SCALE.index(k) for k in row] for row in rows], dtype=float).T
    return krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")


def test_borderline_disagreements_cost_less_than_crossing_the_scale():
    near, far = _report(NEAR), _report(FAR)
    near_ordinal = near.overall["borderline"]["ordinal_alpha"]["value"]
    far_ordinal = far.overall["borderline"]["ordinal_alpha"]["value"]
    assert near_ordinal == pytest.approx(_reference_ordinal(NEAR), abs=1e-6)
    assert far_ordinal == pytest.approx(_reference_ordinal(FAR), abs=1e-6)
    assert near_ordinal > far_ordinal


def test_the_report_counts_items_where_a_class_meets_borderline():
    borderline = _report(NEAR).overall["borderline"]
    assert (borderline["class"], borderline["labels"], borderline["items"]) == ("borderline", 2, 2)
    confused = {row["class"]: (row["items"], row["share"]) for row in borderline["confused"]}
    # ok appears on 3 items (two agreed, one with borderline); defect on 3 likewise
    assert confused == {"ok": (1, pytest.approx(1 / 3)), "defect": (1, pytest.approx(1 / 3))}


def test_ordinal_alpha_is_left_out_where_the_classes_are_no_scale(project, member):
    labelers = [member(Role.LABELER) for _ in range(3)]
    item = ItemFactory(project=project)
    submit_labels(item, dict(zip(labelers, ["clean", "borderline", "dent"], strict=True)))
    report = ConsistencyReport.objects.filter(project=project).order_by("-version").first()
    ordinal = report.overall["borderline"]["ordinal_alpha"]
    assert ordinal["value"] is None
    assert "scale" in ordinal["reason"]


def test_no_borderline_class_no_borderline_figures():
    project = Project.objects.create(name="plain", overlap=2)
    Round.objects.create(project=project, number=1)
    for order, key in enumerate(["a", "b"]):
        LabelClass.objects.create(project=project, key=key, name=key, order=order)
    labelers = [UserFactory() for _ in range(2)]
    for user in labelers:
        Membership.objects.create(project=project, user=user, role=Role.LABELER)
    submit_labels(ItemFactory(project=project), dict(zip(labelers, ["a", "b"], strict=True)))
    report = ConsistencyReport.objects.filter(project=project).order_by("-version").first()
    assert report.overall["borderline"] is None
