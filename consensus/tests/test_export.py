"""The streaming export: every field of a record on a constructed project, each filter, the
formats, permissions, bad parameters, and a query count that does not grow with the items."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.models import Role
from annotations.services.flags import item_flag
from annotations.services.rounds import round_start
from consensus.export import labeler_pseudonym
from consensus.export_formats import CSV_COLUMNS
from consensus.models import ItemConsensus
from consensus.services.decisions import decision_make
from tests.factories import (
    ItemFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    submit_labels,
)

pytestmark = pytest.mark.django_db


def _label(item, trio, keys):
    submit_labels(item, dict(zip(trio, keys, strict=True)))


def _export(client, project, query: str = "") -> list[dict]:
    response = client.get(f"/api/v1/projects/{project.pk}/export/?{query}")
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


def _by_external(records: list[dict]) -> dict[str, dict]:
    return {r["external_id"]: r for r in records}


@pytest.fixture
def dataset(project, trio, sme):
    """Five items: unanimous, split 2–1, reviewed, input-insufficient, borderline; one unlabeled."""
    made = {
        "unanimous": ItemFactory(
            project=project,
            external_id="unanimous",
            slices={"camera": "A"},
            gold_label=project.classes.get(key="scratch"),
        ),
        "split": ItemFactory(
            project=project, external_id="split", text="", image_url="https://img.example/s.png"
        ),
        "reviewed": ItemFactory(project=project, external_id="reviewed", slices={"camera": "B"}),
        "insufficient": ItemFactory(project=project, external_id="insufficient"),
        "border": ItemFactory(project=project, external_id="border", slices={"camera": "A"}),
        "unlabeled": ItemFactory(project=project, external_id="unlabeled"),
    }
    _label(made["unanimous"], trio, ["scratch"] * 3)
    _label(made["split"], trio, ["clean", "clean", "dent"])
    _label(made["reviewed"], trio, ["clean", "dent", "dent"])
    _label(made["insufficient"], trio, ["clean", "scratch", "dent"])
    _label(made["border"], trio, ["borderline", "borderline", "clean"])
    item_flag(labeler=trio[2], item_id=made["split"].pk, kind="unsure", note="hard")
    decision_make(
        item_id=made["reviewed"].pk,
        decided_by=sme,
        outcome="label",
        label_key="clean",
        reason="Guideline 3: a dent needs depth.",
    )
    decision_make(
        item_id=made["insufficient"].pk,
        decided_by=sme,
        outcome="input_insufficient",
        reason="Blurred.",
    )
    return made


def test_a_record_holds_every_field(project, dataset, trio, engineer, api):
    # given the constructed project, when an engineer exports it
    records = _by_external(_export(api(engineer), project))

    # then labeled items are there, the unlabeled and the input-insufficient ones are not
    assert set(records) == {"unanimous", "split", "reviewed", "border"}
    unanimous = records["unanimous"]
    consensus = ItemConsensus.objects.get(item=dataset["unanimous"])
    pseudonyms = [labeler_pseudonym(project.pk, user.pk) for user in trio]
    assert unanimous == {
        "item_id": dataset["unanimous"].pk,
        "external_id": "unanimous",
        "data": {"text": dataset["unanimous"].text},
        "label": "scratch",
        "label_method": consensus.method,
        "confidence": consensus.confidence,
        "agreement": {"labels": 3, "majority_share": 1.0, "entropy": 0.0, "tied": False},
        "labels": [{"labeler": p, "label": "scratch"} for p in pseudonyms],
        "round": 1,
        "taxonomy_version": 0,
        "slices": {"camera": "A"},
        "flags": [],
        "review": None,
        "gold_label": "scratch",
        "updated_at": consensus.updated_at.isoformat(),
    }
    split = records["split"]
    assert split["data"] == {"image_url": "https://img.example/s.png"}
    # Whatever the stored consensus says (Dawid–Skene may outvote a 2–1 majority).
    stored = ItemConsensus.objects.select_related("label").get(item=dataset["split"])
    assert (split["label"], split["label_method"]) == (stored.label.key, stored.method)
    assert split["agreement"]["majority_share"] == pytest.approx(2 / 3)
    # −(2/3·ln 2/3 + 1/3·ln 1/3) nats
    assert split["agreement"]["entropy"] == pytest.approx(0.6365, abs=1e-4)
    assert split["flags"] == ["unsure"]
    assert [r["label"] for r in split["labels"]] == ["clean", "clean", "dent"]

    reviewed = records["reviewed"]
    assert (reviewed["label"], reviewed["label_method"], reviewed["confidence"]) == (
        "clean",
        "reviewed",
        None,
    )
    assert reviewed["review"]["outcome"] == "label"
    assert reviewed["review"]["revision"] == 1
    assert records["border"]["flags"] == ["borderline"]
    assert all("l-" in r["labeler"] and "ana" not in r["labeler"] for r in split["labels"])


def test_pseudonyms_are_stable_and_differ_between_projects(project):
    other = ProjectFactory()
    assert labeler_pseudonym(project.pk, 7) == labeler_pseudonym(project.pk, 7)
    assert labeler_pseudonym(project.pk, 7) != labeler_pseudonym(other.pk, 7)
    assert labeler_pseudonym(project.pk, 7) != labeler_pseudonym(project.pk, 8)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"unanimous", "split", "reviewed", "border"}),
        ("min_agreement=0.9", {"unanimous", "reviewed"}),
        ("min_agreement=0.6", {"unanimous", "split", "reviewed", "border"}),
        ("reviewed_only=true", {"reviewed"}),
        ("include_insufficient=true", {"unanimous", "split", "reviewed", "border", "insufficient"}),
        ("borderline=drop", {"unanimous", "split", "reviewed"}),
        ("slice=camera:A", {"unanimous", "border"}),
        ("slice=camera:A&slice=camera:B", {"unanimous", "border", "reviewed"}),
        ("round=1", {"unanimous", "split", "reviewed", "border"}),
        ("round=2", set()),
    ],
)
def test_each_filter(project, dataset, engineer, api, query, expected):
    assert set(_by_external(_export(api(engineer), project, query))) == expected


@pytest.mark.parametrize("classes", [["clean"], ["dent"], ["clean", "scratch"], ["borderline"]])
def test_the_class_filter_keeps_final_labels_in_it(project, dataset, engineer, api, classes):
    everything = _export(api(engineer), project)
    kept = _export(api(engineer), project, "class=" + ",".join(classes))
    assert kept == [r for r in everything if r["label"] in classes]
    assert kept or classes == ["dent"]


def test_the_class_filter_applies_after_the_borderline_mapping(project, dataset, engineer, api):
    kept = _by_external(_export(api(engineer), project, "borderline=clean&class=clean"))
    assert "border" in kept
    assert kept["border"]["label"] == "clean"


def test_min_confidence_keeps_items_at_or_above_it(project, dataset, engineer, api):
    records = _export(api(engineer), project)
    threshold = sorted(r["confidence"] for r in records if r["confidence"] is not None)[1]
    kept = _export(api(engineer), project, f"min_confidence={threshold}")
    expected = {
        r["external_id"]
        for r in records
        if r["label_method"] == "reviewed" or r["confidence"] >= threshold
    }
    assert {r["external_id"] for r in kept} == expected
    assert len(kept) < len(records)


def test_updated_since_compares_consensus_and_decision_times(project, dataset, engineer, api):
    records = _by_external(_export(api(engineer), project))
    newest = max(records.values(), key=lambda r: r["updated_at"])
    since = newest["updated_at"].replace("+00:00", "Z")
    kept = _export(api(engineer), project, f"updated_since={since}")
    assert [r["external_id"] for r in kept] == [newest["external_id"]]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert _export(api(engineer), project, f"updated_since={future.replace('+', '%2B')}") == []


def test_borderline_policies(project, dataset, engineer, api):
    mapped = _by_external(_export(api(engineer), project, "borderline=dent"))["border"]
    assert (mapped["label"], mapped["flags"]) == ("dent", ["borderline"])
    soft = _by_external(_export(api(engineer), project, "borderline=soft"))["border"]
    # Labels borderline, borderline, clean: borderline sits after dent with no class after it,
    # so each borderline vote goes wholly to dent.
    assert soft["label"] == "borderline"
    assert soft["soft_label"] == {"clean": pytest.approx(1 / 3), "dent": pytest.approx(2 / 3)}
    assert "soft_label" not in _by_external(_export(api(engineer), project))["border"]


def test_a_new_round_exports_only_current_labels(project, dataset, trio, manager, engineer, api):
    item = dataset["split"]
    round_start(project=project, started_by=manager, item_ids=[item.pk])
    assert "split" not in _by_external(_export(api(engineer), project))
    _label(item, trio, ["dent"] * 3)
    record = _by_external(_export(api(engineer), project))["split"]
    assert (record["label"], record["round"], record["flags"]) == ("dent", 2, [])
    assert [r["label"] for r in record["labels"]] == ["dent"] * 3


def test_json_and_csv_hold_the_same_records(project, dataset, engineer, api):
    client = api(engineer)
    lines = _export(client, project)
    whole = client.get(f"/api/v1/projects/{project.pk}/export/?format=json")
    assert whole["Content-Type"] == "application/json"
    assert json.loads(b"".join(whole.streaming_content)) == lines
    table = client.get(f"/api/v1/projects/{project.pk}/export/?format=csv")
    assert table["Content-Type"].startswith("text/csv")
    assert 'filename="labelhub-project-' in table["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(table.streaming_content).decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r["item_id"]) for r in rows] == [r["item_id"] for r in lines]
    split = next(r for r in rows if r["external_id"] == "split")
    assert split["flags"] == "unsure"
    assert json.loads(split["labels"]) == _by_external(lines)["split"]["labels"]


def test_an_empty_json_export_is_an_empty_array(project, engineer, api):
    response = api(engineer).get(f"/api/v1/projects/{project.pk}/export/?format=json")
    assert json.loads(b"".join(response.streaming_content)) == []


def test_an_ndjson_accept_header_is_served(project, dataset, engineer, api):
    response = api(engineer).get(
        f"/api/v1/projects/{project.pk}/export/", HTTP_ACCEPT="application/x-ndjson"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xml", "format"),
        ("min_agrement=0.9", "min_agrement"),
        ("min_agreement=1.5", "min_agreement"),
        ("min_agreement=nan", "min_agreement"),
        ("min_confidence=high", "min_confidence"),
        ("reviewed_only=maybe", "reviewed_only"),
        ("borderline=sideways", "borderline"),
        ("borderline=borderline", "borderline"),
        ("slice=camera", "slice"),
        ("class=hole", "class"),
        ("round=0", "round"),
        ("round=x", "round"),
        ("round=99999999999999999999", "round"),
        ("updated_since=yesterday", "updated_since"),
        ("labelers=everyone", "labelers"),
        ("format=csv&format=json", "format"),
    ],
)
def test_bad_parameters_answer_400_naming_them(project, engineer, api, query, field):
    response = api(engineer).get(f"/api/v1/projects/{project.pk}/export/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_who_may_export(project, dataset, trio, sme, engineer, manager, api):
    url = f"/api/v1/projects/{project.pk}/export/"
    assert api(trio[0]).get(url).status_code == 403
    assert api(sme).get(url).status_code == 403
    assert api(UserFactory()).get(url).status_code == 404
    assert api().get(url).status_code in (401, 403)
    assert api(engineer).get(url + "?labelers=username").status_code == 403
    records = _export(api(manager), project, "labelers=username")
    assert {r["labeler"] for rec in records for r in rec["labels"]} == {"ana", "ben", "cy"}


def test_another_projects_labels_never_leak(project, dataset, engineer, api):
    other = ProjectFactory()
    stranger = MembershipFactory(project=other, role=Role.LABELER).user
    foreign = ItemFactory(project=other, external_id="foreign")
    submit_labels(foreign, {stranger: "clean"})
    assert "foreign" not in _by_external(_export(api(engineer), project))


def test_the_query_count_does_not_grow_with_the_items(project, trio, engineer, api):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            _export(api(engineer), project, "format=jsonl")
        return len(queries)

    for item in ItemFactory.create_batch(3, project=project):
        _label(item, trio, ["clean", "dent", "dent"])
    few = count_queries()
    for item in ItemFactory.create_batch(12, project=project):
        _label(item, trio, ["clean", "clean", "dent"])
    assert count_queries() == few
    assert few <= 9


def test_manage_py_export_writes_the_same_records(project, dataset, engineer, api, tmp_path):
    target = tmp_path / "out.jsonl"
    call_command("export", project.pk, "--output", str(target), "-p", "min_agreement=0.9")
    written = [json.loads(line) for line in target.read_text().splitlines()]
    assert written == _export(api(engineer), project, "min_agreement=0.9")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_streams_share_one_snapshot(trio_outside):
    # given a project read outside any transaction (as a streaming response is)
    project = trio_outside
    # when its records are read (on PostgreSQL in one REPEATABLE READ READ ONLY transaction)
    from consensus.export import export_records
    from consensus.services.exports import export_params_for

    params = export_params_for(project=project, query={})
    records = export_records(project=project, params=params, include_gold=True)
    first = next(records)
    # then the transaction is open while streaming, on PostgreSQL only (SQLite's would take the
    # write lock), and over once the stream ends
    assert connection.in_atomic_block == (connection.vendor == "postgresql")
    assert [first["external_id"]] + [r["external_id"] for r in records] == ["t0", "t1"]
    assert not connection.in_atomic_block


@pytest.fixture
def trio_outside(transactional_db):
    project = ProjectFactory()
    labelers = [MembershipFactory(project=project).user for _ in range(3)]
    for n in range(2):
        item = ItemFactory(project=project, external_id=f"t{n}")
        submit_labels(item, dict(zip(labelers, ["clean", "clean", "dent"], strict=True)))
    return project


def test_a_boolean_slice_matches_either_spelling(project, trio, engineer, api):
    item = ItemFactory(project=project, external_id="lit", slices={"lit": True})
    _label(item, trio, ["clean"] * 3)
    for spelling in ("true", "True"):
        assert [
            r["external_id"] for r in _export(api(engineer), project, f"slice=lit:{spelling}")
        ] == ["lit"]
    assert _export(api(engineer), project, "slice=lit:false") == []
