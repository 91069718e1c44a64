"""Class merges and taxonomy versions: the preview equals what applying gives, alpha after a
merge equals alpha on hand-merged data, undo restores the report, raw labels never change."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from django.core.cache import cache
from django.test import TestCase

from annotations.models import Annotation, LabelClass, Role
from consensus.models import ClassMerge, ConsistencyReport, ItemConsensus, TaxonomyVersion
from consensus.services.reports import report_recompute
from tests.factories import (
    ItemFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    submit_labels,
)

pytestmark = pytest.mark.django_db

#: Per item, the three labelers' labels (deep/shallow scratches are the confusable pair).
LABELS = [
    ["deep", "shallow", "deep"],
    ["deep", "shallow", "shallow"],
    ["shallow", "deep", "clean"],
    ["deep", "deep", "deep"],
    ["clean", "clean", "clean"],
    ["clean", "clean", "shallow"],
    ["dent", "dent", "dent"],
    ["dent", "clean", "dent"],
    ["shallow", "shallow", "deep"],
    ["clean", "deep", "shallow"],
]


@pytest.fixture
def scratches(project):
    for order, key in [(10, "deep"), (11, "shallow")]:
        LabelClass.objects.create(project=project, key=key, name=key.title(), order=order)
    return project


@pytest.fixture
def labeled(scratches, trio):
    items = []
    for n, keys in enumerate(LABELS):
        item = ItemFactory(project=scratches, external_id=f"i{n}")
        submit_labels(item, dict(zip(trio, keys, strict=True)))
        items.append(item)
    return items


def _latest(project) -> ConsistencyReport:
    return ConsistencyReport.objects.filter(project=project).order_by("-version").first()


def _alpha(report_or_figures) -> float:
    overall = (
        report_or_figures.overall
        if isinstance(report_or_figures, ConsistencyReport)
        else report_or_figures["overall"]
    )
    return overall["krippendorff_alpha"]["value"]


def _hand_alpha(rows: list[list[str]], mapping: dict[str, str]) -> float:
    """Krippendorff's nominal alpha by the reference package on hand-merged labels."""
    keys = sorted({mapping.get(k, k) for row in rows for k in row})
    data = np.array([[keys.index(mapping.get(k, k)) for k in row] for row in rows], float).T
    return krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")


def _merge(api, user, project, sources, target, **extra):
    """POST a merge and run its after-commit work (the recompute), as production does."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api(user).post(
            f"/api/v1/projects/{project.pk}/merges/",
            {"sources": sources, "target": target, **extra},
            format="json",
        )


def _undo(api, user, project, merge_id):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api(user).delete(f"/api/v1/projects/{project.pk}/merges/{merge_id}/")


def test_the_report_before_a_merge_matches_the_reference_alpha(labeled, scratches):
    assert _alpha(_latest(scratches)) == pytest.approx(_hand_alpha(LABELS, {}), abs=1e-6)


def test_a_merge_recomputes_alpha_as_on_hand_merged_data(labeled, scratches, manager, api):
    # given a report on the raw labels
    raw_before = list(Annotation.objects.order_by("id").values_list("value", "label_id"))

    # when deep and shallow are merged into a new class "scratch_any"
    response = _merge(api, manager, scratches, ["deep", "shallow"], "scratch_any")

    # then a new taxonomy version exists, the report is recomputed under it, and its alpha is
    # the reference package's alpha on the hand-merged labels
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sources"], body["target"], body["created_target"]) == (
        ["deep", "shallow"],
        "scratch_any",
        True,
    )
    scratches.refresh_from_db()
    assert scratches.taxonomy_version == body["taxonomy_version"] == 1
    mapping = {"deep": "scratch_any", "shallow": "scratch_any"}
    assert TaxonomyVersion.objects.get(project=scratches, number=1).mapping == mapping
    report = _latest(scratches)
    assert report.taxonomy_version == 1
    assert _alpha(report) == pytest.approx(_hand_alpha(LABELS, mapping), abs=1e-6)
    assert _alpha(report) > _hand_alpha(LABELS, {})
    classes = [row["class"] for row in report.per_class]
    assert "deep" not in classes
    assert "scratch_any" in classes
    # and not one raw label changed
    assert list(Annotation.objects.order_by("id").values_list("value", "label_id")) == raw_before


def test_the_preview_equals_what_applying_gives(labeled, scratches, manager, api):
    url = f"/api/v1/projects/{scratches.pk}/merges/preview/"
    before_report = _latest(scratches)
    mapping = {"deep": "scratch", "shallow": "scratch"}
    consensus_before = {
        c.item_id: mapping.get(c.label.key, c.label.key)
        for c in ItemConsensus.objects.select_related("label")
    }

    preview = api(manager).post(
        url, {"sources": ["deep", "shallow"], "target": "scratch"}, format="json"
    )

    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert not ClassMerge.objects.exists()  # nothing written
    assert body["before"]["overall"] == before_report.overall
    assert body["before"]["per_class"] == before_report.per_class
    assert body["labels_remapped"] == sum(k in ("deep", "shallow") for row in LABELS for k in row)
    assert _merge(api, manager, scratches, ["deep", "shallow"], "scratch").status_code == 201
    after_report = _latest(scratches)
    assert body["after"]["overall"] == after_report.overall
    assert body["after"]["per_class"] == after_report.per_class
    assert body["after"]["per_slice"] == after_report.per_slice
    consensus_after = {
        c.item_id: c.label.key for c in ItemConsensus.objects.select_related("label")
    }
    changed = sum(consensus_before[i] != consensus_after[i] for i in consensus_after)
    assert body["changed_items"] == changed == 2
    assert body["creates_target"] is False


def test_undo_restores_the_earlier_report(labeled, scratches, manager, api):
    before = _latest(scratches)
    merge = _merge(api, manager, scratches, ["deep", "shallow"], "scratch").json()
    assert _alpha(_latest(scratches)) != _alpha(before)

    response = _undo(api, manager, scratches, merge["id"])

    assert response.status_code == 200
    assert response.json()["undo_taxonomy_version"] == 2
    after = _latest(scratches)
    assert after.taxonomy_version == 2
    assert after.overall == before.overall
    assert after.per_class == before.per_class
    assert not LabelClass.objects.filter(merged_into__isnull=False).exists()
    again = _undo(api, manager, scratches, merge["id"])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_undone"


def test_undo_removes_a_created_target_nobody_used(labeled, scratches, manager, api):
    merge = _merge(api, manager, scratches, ["deep", "shallow"], "scratch_any").json()
    _undo(api, manager, scratches, merge["id"])
    assert not LabelClass.objects.filter(project=scratches, key="scratch_any").exists()
    history = api(manager).get(f"/api/v1/projects/{scratches.pk}/merges/").json()
    assert history[0]["target"] == "scratch_any"
    assert history[0]["undone_by"] == manager.username


def test_merged_classes_leave_the_labelers_list_but_stay_in_the_api(
    labeled, scratches, manager, trio, api
):
    _merge(api, manager, scratches, ["deep", "shallow"], "scratch")
    listed = api(manager).get(f"/api/v1/projects/{scratches.pk}/classes/").json()
    merged = {c["key"]: c["merged_into"] for c in listed}
    assert merged["deep"] == merged["shallow"] == "scratch"
    assert merged["clean"] is None
    from annotations.selectors import label_class_list

    assert "deep" not in set(label_class_list(project=scratches).values_list("key", flat=True))


def test_a_label_of_a_merged_class_counts_as_its_target(labeled, scratches, manager, api):
    _merge(api, manager, scratches, ["deep", "shallow"], "scratch")
    fresh = ItemFactory(project=scratches, external_id="fresh")
    labelers = list(scratches.memberships.filter(role=Role.LABELER).order_by("id"))
    submit_labels(fresh, {labelers[0].user: "deep", labelers[1].user: "shallow"})
    consensus = ItemConsensus.objects.select_related("label").get(item=fresh)
    assert (consensus.label.key, consensus.majority_share) == ("scratch", 1.0)
    raw = Annotation.objects.filter(item=fresh).order_by("id")
    assert [a.value["label"] for a in raw] == ["deep", "shallow"]


def test_the_export_maps_labels_and_keeps_raw_ones(labeled, scratches, manager, api):
    _merge(api, manager, scratches, ["deep", "shallow"], "scratch")
    body = api(manager).get(f"/api/v1/projects/{scratches.pk}/export/")
    records = [json.loads(line) for line in b"".join(body.streaming_content).splitlines()]
    first = next(r for r in records if r["external_id"] == "i0")
    assert first["taxonomy_version"] == 1
    assert first["label"] == "scratch"
    assert {(e["label"], e.get("raw_label")) for e in first["labels"]} == {
        ("scratch", "deep"),
        ("scratch", "shallow"),
    }
    plain = next(r for r in records if r["external_id"] == "i4")
    assert all("raw_label" not in e for e in plain["labels"])


@pytest.mark.parametrize(
    ("sources", "target", "status", "code", "field"),
    [
        (["deep"], "deep", 400, "merge_into_itself", "target"),
        ([], "scratch", 400, "invalid", "sources"),
        (["deep", "deep"], "scratch", 400, "invalid", "sources"),
        (["nope"], "scratch", 400, "unknown_class", "sources"),
        (["deep"], "borderline", 400, "invalid", "target"),
        (["deep"], "Not A Key!", 400, "invalid", "target"),
    ],
)
def test_bad_merges_are_refused_and_write_nothing(
    labeled, scratches, manager, api, sources, target, status, code, field
):
    response = _merge(api, manager, scratches, sources, target)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == field
    assert not ClassMerge.objects.exists()
    assert not TaxonomyVersion.objects.exists()


def test_a_cycle_of_merges_is_refused(labeled, scratches, manager, api):
    assert _merge(api, manager, scratches, ["deep"], "shallow").status_code == 201
    # shallow ← deep; now deep cannot take more (it is merged) and nothing can merge into deep
    again = _merge(api, manager, scratches, ["deep"], "clean")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_merged")
    cycle = _merge(api, manager, scratches, ["shallow"], "deep")
    assert (cycle.status_code, cycle.json()["error"]["code"]) == (400, "target_merged")
    # a chain is fine: shallow (with deep in it) into dent; deep now counts as dent too
    assert _merge(api, manager, scratches, ["shallow"], "dent").status_code == 201
    deep = LabelClass.objects.get(project=scratches, key="deep")
    assert deep.merged_into.key == "dent"


def test_classes_of_another_project_are_unknown(labeled, scratches, manager, api):
    other = ProjectFactory()
    LabelClass.objects.create(project=other, key="foreign", name="Foreign", order=9)
    response = _merge(api, manager, scratches, ["foreign"], "clean")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "unknown_class")


def test_who_may_preview_and_merge(labeled, scratches, trio, member, api):
    reviewer = member(Role.REVIEWER)
    body = {"sources": ["deep"], "target": "shallow"}
    preview = f"/api/v1/projects/{scratches.pk}/merges/preview/"
    assert api(trio[0]).post(preview, body, format="json").status_code == 403
    assert api(reviewer).post(preview, body, format="json").status_code == 200
    assert api(UserFactory()).post(preview, body, format="json").status_code == 404
    assert _merge(api, reviewer, scratches, ["deep"], "shallow").status_code == 403


def test_a_class_with_labels_cannot_be_deleted_but_an_unused_one_can(
    labeled, scratches, manager, api
):
    deep = LabelClass.objects.get(project=scratches, key="deep")
    refused = api(manager).delete(f"/api/v1/projects/{scratches.pk}/classes/{deep.pk}/")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "class_in_use"
    unused = LabelClass.objects.create(project=scratches, key="unused", name="Unused", order=20)
    url = f"/api/v1/projects/{scratches.pk}/classes/{unused.pk}/"
    assert api(manager).delete(url).status_code == 204
    assert api(manager).delete(url).status_code == 404


def test_the_preview_answers_with_query_count_independent_of_items(
    scratches, trio, manager, api, django_assert_max_num_queries
):
    for n in range(30):
        item = ItemFactory(project=scratches)
        submit_labels(item, dict(zip(trio, LABELS[n % len(LABELS)], strict=True)))
    with django_assert_max_num_queries(12):
        response = api(manager).post(
            f"/api/v1/projects/{scratches.pk}/merges/preview/",
            {"sources": ["deep", "shallow"], "target": "scratch"},
            format="json",
        )
    assert response.status_code == 200


def test_a_recompute_of_the_same_labels_gives_the_same_figures(labeled, scratches):
    # Deterministic figures (bootstrap seeded): what lets a fresh stored report stand in for
    # the preview's "before".
    first = _latest(scratches)
    again = report_recompute(project_id=scratches.pk, version=first.version + 1)
    assert again.overall == first.overall
    assert again.per_class == first.per_class


def test_membership_of_another_project_sees_nothing(labeled, scratches, api):
    outsider_project = ProjectFactory()
    outsider = MembershipFactory(project=outsider_project, role=Role.MANAGER).user
    response = _merge(api, outsider, scratches, ["deep"], "shallow")
    assert response.status_code == 404


def test_the_preview_gives_the_same_answer_with_a_fresh_or_a_stale_report(
    labeled, scratches, manager, api
):
    from consensus.services.recompute import recompute_mark_requested

    url = f"/api/v1/projects/{scratches.pk}/merges/preview/"
    body = {"sources": ["deep", "clean"], "target": "shallow"}
    fresh = api(manager).post(url, body, format="json").json()
    recompute_mark_requested(project_id=scratches.pk)  # a newer report is now due: stale
    try:
        computed = api(manager).post(url, body, format="json").json()
    finally:
        cache.clear()  # the request marked a task as queued that this test never runs
    assert computed == fresh


def test_splitting_a_class_starts_a_round_on_the_items_labeled_it(labeled, scratches, manager, api):
    # given a merge (deep, shallow → scratch) whose class we now want split differently
    _merge(api, manager, scratches, ["deep", "shallow"], "scratch")
    expected = sorted(
        ItemConsensus.objects.filter(label__key="scratch").values_list("item_id", flat=True)
    )
    client = api(manager)
    # when the manager adds the new classes and starts a round on the items labeled scratch
    for key in ("hairline", "gouge"):
        assert (
            client.post(f"/api/v1/projects/{scratches.pk}/classes/", {"key": key}).status_code
            == 201
        )
    response = client.post(
        f"/api/v1/projects/{scratches.pk}/rounds/", {"labeled": "scratch"}, format="json"
    )
    # then exactly those items are in the new round, and their raw labels are still there
    assert response.status_code == 201, response.content
    assert response.json()["items"] == len(expected) > 0
    from annotations.models import Item

    assert sorted(Item.objects.filter(round=2).values_list("pk", flat=True)) == expected
    assert Annotation.objects.filter(item_id__in=expected, round=1).count() == 3 * len(expected)
    unknown = client.post(
        f"/api/v1/projects/{scratches.pk}/rounds/", {"labeled": "nope"}, format="json"
    )
    assert unknown.json()["error"]["field"] == "labeled"


def _records(api, user, project, query=""):
    response = api(user).get(f"/api/v1/projects/{project.pk}/export/?{query}")
    assert response.status_code == 200, response.content
    return {
        r["external_id"]: r
        for r in map(json.loads, b"".join(response.streaming_content).splitlines())
    }


def test_an_export_can_use_an_earlier_taxonomy_version(labeled, scratches, manager, api):
    _merge(api, manager, scratches, ["deep", "shallow"], "scratch_any")
    now = _records(api, manager, scratches)
    before = _records(api, manager, scratches, "taxonomy_version=0")
    assert now["i0"]["label"] == "scratch_any"
    assert now["i0"]["taxonomy_version"] == 1
    # i0 = deep, shallow, deep: under version 0 the raw classes count, recounted by majority
    assert (before["i0"]["label"], before["i0"]["label_method"]) == ("deep", "majority")
    assert before["i0"]["agreement"]["majority_share"] == pytest.approx(2 / 3)
    assert before["i0"]["taxonomy_version"] == 0
    assert all("raw_label" not in e for e in before["i0"]["labels"])
    # i2 = shallow, deep, clean: a three-way tie goes to the earliest class in class order
    assert before["i2"]["agreement"]["tied"] is True
    assert before["i2"]["label"] == "clean"
    bad = api(manager).get(f"/api/v1/projects/{scratches.pk}/export/?taxonomy_version=2")
    assert bad.json()["error"]["field"] == "taxonomy_version"


def test_an_undone_merges_created_class_still_exports_under_its_version(
    labeled, scratches, manager, api
):
    merge = _merge(api, manager, scratches, ["deep", "shallow"], "scratch_any").json()
    _undo(api, manager, scratches, merge["id"])
    assert not LabelClass.objects.filter(key="scratch_any").exists()
    old = _records(api, manager, scratches, "taxonomy_version=1")
    assert old["i0"]["label"] == "scratch_any"
    assert old["i0"]["agreement"]["majority_share"] == 1.0


def test_the_dataset_diff_names_a_merge(labeled, scratches, manager, api):
    client = api(manager)
    url = f"/api/v1/projects/{scratches.pk}/datasets/"
    before = client.post(url, {}, format="json").json()
    _merge(api, manager, scratches, ["deep", "shallow"], "scratch_any")
    after = client.post(url, {}, format="json").json()
    diff = client.get(f"{url}{before['id']}/diff/{after['id']}/").json()
    assert diff["items"]
    assert all(c["reasons"] == ["merge"] for c in diff["items"])
    assert {c["after"] for c in diff["items"]} == {"scratch_any"}
