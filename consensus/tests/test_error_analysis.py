"""Error analysis: model runs, prediction imports, and the analysis against the humans."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from annotations.models import Item, LabelClass, Role
from consensus.models import ConsistencyReport, ItemConsensus, ModelRun, Prediction
from consensus.services.error_analysis import run_analysis
from consensus.services.predictions import model_run_create
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db

# DOMAIN.md section 3: slice, share of data, model accuracy, HLP.
SPEECH = [
    ("clean speech", 3000, 2820, 0.95),
    ("car noise", 200, 178, 0.93),
    ("people noise", 1500, 1305, 0.89),
    ("low bandwidth", 300, 210, 0.70),
]


def _build(project, rows, *, truth="clean", wrong="scratch", slice_name="background", version="1"):
    """Items per slice with consensus ``truth``; the model is right on ``correct`` of them."""
    classes = {c.key: c for c in project.classes.all()}
    items = Item.objects.bulk_create(
        Item(project=project, external_id=f"{value}-{i}", slices={slice_name: value})
        for value, n, _, _ in rows
        for i in range(n)
    )
    ItemConsensus.objects.bulk_create(
        ItemConsensus(item=item, project=project, round=1, label=classes[truth], method="majority")
        for item in items
    )
    run = ModelRun.objects.create(project=project, name="asr", version=version)
    predictions, at = [], 0
    for _, n, correct, _ in rows:
        for i in range(n):
            key = truth if i < correct else wrong
            predictions.append(
                Prediction(
                    run=run,
                    item=items[at],
                    label=classes[key],
                    predicted_at=timezone.now(),
                )
            )
            at += 1
    Prediction.objects.bulk_create(predictions)
    return run, items


def _report(project, per_slice, overall=None):
    return ConsistencyReport.objects.create(
        project=project,
        round=1,
        version=1,
        computed_at=timezone.now(),
        duration_ms=1,
        n_items=0,
        n_labeled_items=0,
        n_annotations=0,
        n_labelers=0,
        overall=overall or {},
        per_slice=per_slice,
    )


def test_the_speech_table_comes_out_as_printed_in_domain_md(project):
    run, _ = _build(project, SPEECH)
    _report(
        project,
        [
            {"slice": "background", "value": value, "hlp_agreement": {"value": hlp}}
            for value, _, _, hlp in SPEECH
        ],
    )
    table = run_analysis(run=run)["priorities"]
    got = [
        (r["value"], r["accuracy"], r["hlp"], r["gap"], r["share"], r["gap_x_share"]) for r in table
    ]
    assert got == [
        ("clean speech", 0.94, 0.95, 0.01, 0.6, 0.006),
        ("people noise", 0.87, 0.89, 0.02, 0.3, 0.006),
        ("car noise", 0.89, 0.93, 0.04, 0.04, 0.0016),
        ("low bandwidth", 0.7, 0.7, 0.0, 0.06, 0.0),
    ]
    assert all(not r["too_small"] for r in table)
    assert table[0]["accuracy_low"] < 0.94 < table[0]["accuracy_high"]


def test_overall_classes_and_confusion(project):
    run, _ = _build(project, [("a", 100, 90, None)])
    analysis = run_analysis(run=run)
    assert analysis["predictions"] == analysis["compared"] == 100
    assert analysis["overall"]["accuracy"] == 0.9
    by_class = {c["class"]: c for c in analysis["classes"]}
    # every reference label is clean; the model said scratch 10 times
    assert by_class["clean"]["recall"] == 0.9
    assert by_class["clean"]["precision"] == 1.0
    assert by_class["clean"]["errors"] == "more false negatives"
    assert by_class["scratch"]["precision"] == 0.0
    assert by_class["scratch"]["recall"] is None
    assert by_class["scratch"]["reasons"]["recall"]
    assert by_class["dent"]["precision"] is None  # never predicted, never present
    assert by_class["dent"]["f1"] is None
    matrix = dict(
        zip(analysis["confusion"]["labels"], analysis["confusion"]["matrix"], strict=True)
    )
    assert matrix["clean"][:2] == [90, 10]


def test_a_reviewed_label_is_the_reference_and_gold_can_be_chosen(project, member):
    from consensus.services.decisions import decision_make

    run, items = _build(project, [("a", 4, 4, None)])
    scratch = LabelClass.objects.get(project=project, key="scratch")
    Item.objects.filter(pk=items[0].pk).update(gold_label=scratch)
    decision_make(
        item_id=items[1].pk,
        decided_by=member(Role.REVIEWER),
        outcome="label",
        label_key="dent",
        reason="x",
    )
    assert run_analysis(run=run)["overall"]["accuracy"] == 0.75  # the decision says dent
    gold = run_analysis(run=run, reference="gold")
    assert (gold["compared"], gold["without_reference"]) == (1, 3)
    assert gold["overall"]["accuracy"] == 0.0


def test_the_audit_warns_about_a_key_slice_below_the_whole(project):
    run, _ = _build(project, [("f", 100, 95, None), ("m", 100, 75, None)], slice_name="gender")
    project.audit_slices = ["gender"]
    project.audit_margin = 0.05
    project.save()
    audit = run_analysis(run=run)["audit"]
    rows = {r["value"]: r for r in audit["rows"]}
    assert audit["whole"]["accuracy"] == 0.85
    assert rows["m"]["warning"].startswith("accuracy")
    assert rows["f"]["warning"] is None


def test_agreement_by_week_in_shadow_mode(project):
    run, _ = _build(project, [("a", 4, 3, None)])
    at = [datetime(2026, 11, 2, 9, tzinfo=UTC)] * 2 + [datetime(2026, 11, 11, 9, tzinfo=UTC)] * 2
    for prediction, when in zip(run.predictions.order_by("item_id"), at, strict=True):
        Prediction.objects.filter(pk=prediction.pk).update(predicted_at=when)
    weeks = run_analysis(run=run)["weeks"]
    assert [(w["week"], w["predictions"], w["agreement"]) for w in weeks] == [
        ("2026-11-02", 2, 1.0),
        ("2026-11-09", 2, 0.5),
    ]


def test_the_analysis_costs_the_same_queries_for_any_size(project, django_assert_num_queries):
    from django.db import connection

    # classes, predictions with their references, slices, the report; SQLite reads the reviewed
    # decisions in a query of their own (PostgreSQL joins them into the predictions' query)
    expected = 4 if connection.vendor == "postgresql" else 5
    run, _ = _build(project, [("a", 5, 4, None)])
    with django_assert_num_queries(expected):
        run_analysis(run=run)
    more, _ = _build(project, [("b", 50, 20, None)], slice_name="other", version="2")
    with django_assert_num_queries(expected):
        run_analysis(run=more)


# API -------------------------------------------------------------------------------------------


@pytest.fixture
def roles(member):
    return {
        role: member(role) for role in (Role.LABELER, Role.REVIEWER, Role.ENGINEER, Role.MANAGER)
    }


def test_runs_and_imports_through_the_api(project, roles, api, items):
    made = items(3)
    engineer = api(roles[Role.ENGINEER])
    created = engineer.post(
        f"/api/v1/projects/{project.pk}/runs/", {"name": "resnet", "version": "2"}, format="json"
    )
    assert created.status_code == 201
    run_id = created.json()["id"]
    again = engineer.post(
        f"/api/v1/projects/{project.pk}/runs/", {"name": "resnet", "version": "2"}, format="json"
    )
    assert again.status_code == 409
    body = [
        {"item": made[0].external_id, "label": "clean", "scores": {"clean": 0.8, "dent": 0.2}},
        {"item": made[1].external_id, "label": "dent", "predicted_at": "2026-11-20T10:00:00Z"},
    ]
    imported = engineer.post(f"/api/v1/runs/{run_id}/predictions/", body, format="json")
    assert imported.status_code == 201
    assert imported.json() == {"imported": 2}
    assert Prediction.objects.get(item=made[0]).scores == {"clean": 0.8, "dent": 0.2}
    csv_file = (
        f"item,label,score_clean,score_dent\n{made[2].external_id},clean,0.9,0.1\n"
    ).encode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("p.csv", csv_file, content_type="text/csv")
    response = engineer.post(f"/api/v1/runs/{run_id}/predictions/", {"file": upload})
    assert response.status_code == 201
    assert Prediction.objects.filter(run_id=run_id).count() == 3
    listing = api(roles[Role.REVIEWER]).get(f"/api/v1/projects/{project.pk}/runs/").json()
    assert listing[0]["predictions"] == 3


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"item": "nope", "label": "clean"}, "item"),
        ({"item": "{x}", "label": "rust"}, "label"),
        ({"item": "{x}", "label": "clean", "scores": {"clean": 1.5}}, "scores"),
        ({"item": "{x}", "label": "clean", "scores": {"rust": 0.5}}, "scores"),
        ({"item": "{x}", "label": "clean", "predicted_at": "yesterday"}, "predicted_at"),
        ({"item": "{x}", "label": "clean", "oops": 1}, "oops"),
        # ids no 64-bit key can hold: the lookup overflowed (a 500); found by tests/test_api_fuzz
        ({"item_id": 2**63, "label": "clean"}, "item_id"),
        ({"item_id": -(2**63) - 1, "label": "clean"}, "item_id"),
    ],
)
def test_a_bad_prediction_row_is_400_naming_it_and_nothing_is_written(
    project, roles, api, items, row, field
):
    first, item = items(2)
    run = model_run_create(project=project, name="m", version="1", created_by=None)
    good = {"item": first.external_id, "label": "dent"}
    bad = {
        k: (v.replace("{x}", item.external_id) if isinstance(v, str) else v) for k, v in row.items()
    }
    response = api(roles[Role.ENGINEER]).post(
        f"/api/v1/runs/{run.pk}/predictions/", [good, bad], format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["row"], error["field"]) == (2, field)
    assert not Prediction.objects.exists()


def test_roles_on_the_analysis(project, roles, api):
    run, _ = _build(project, [("a", 3, 2, None)])
    url = f"/api/v1/runs/{run.pk}/analysis/"
    assert api(roles[Role.LABELER]).get(url).status_code == 403
    assert api(roles[Role.LABELER]).get(f"/api/v1/projects/{project.pk}/runs/").status_code == 403
    assert api(roles[Role.REVIEWER]).get(url).status_code == 200
    outsider = MembershipFactory(project=ProjectFactory(), role=Role.MANAGER).user
    assert api(outsider).get(url).status_code == 404
    assert (
        api(roles[Role.REVIEWER])
        .post(f"/api/v1/projects/{project.pk}/runs/", {"name": "x", "version": "1"}, format="json")
        .status_code
        == 403
    )
    bad = api(roles[Role.MANAGER]).get(url + "?reference=vibes")
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "reference"


def test_tables_download_as_csv(project, roles, api):
    run, _ = _build(project, [("a", 10, 9, None)])
    response = api(roles[Role.ENGINEER]).get(f"/api/v1/runs/{run.pk}/analysis/classes.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("class,support,predicted,tp,fp,fn,precision,recall,f1")
    assert lines[1].startswith("clean,10,9,9,0,1,1.0,0.9,")
    confusion = api(roles[Role.ENGINEER]).get(f"/api/v1/runs/{run.pk}/analysis/confusion.csv")
    assert confusion.content.decode().splitlines()[1].startswith("clean,9,1,0,0")
    missing = api(roles[Role.ENGINEER]).get(f"/api/v1/runs/{run.pk}/analysis/nothing.csv")
    assert missing.status_code == 400


def test_run_names_with_control_characters_are_refused_and_unicode_names_download(
    project, roles, api
):
    engineer = api(roles[Role.ENGINEER])
    url = f"/api/v1/projects/{project.pk}/runs/"
    refused = engineer.post(url, {"name": "a\nb", "version": "1"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "name"
    run_id = engineer.post(url, {"name": "模型", "version": "1"}, format="json").json()["id"]
    response = engineer.get(f"/api/v1/runs/{run_id}/analysis/classes.csv")
    assert response.status_code == 200
    assert "filename*=utf-8''" in response["Content-Disposition"]
