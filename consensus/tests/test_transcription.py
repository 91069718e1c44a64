"""Transcription projects end to end: creating one, submitting transcripts, each item's
consensus transcript, the text report (hand-computed WER), the queue, rules, the export."""

from __future__ import annotations

import json

import pytest
from django.test import TestCase

from annotations.models import Annotation, Membership, Project, Role, Round, TaskType
from consensus.models import ConsistencyReport, ItemConsensus, RuleSet
from consensus.services.reports import report_recompute
from consensus.standardise import compile_rules
from tests.factories import ItemFactory, UserFactory, submit_labels

pytestmark = pytest.mark.django_db

SPEECH = ["Um, nearest gas station", "Umm, nearest gas station", "nearest gas station"]


@pytest.fixture
def speech():
    project = Project.objects.create(
        name="speech",
        task_type=TaskType.TRANSCRIPTION,
        overlap=3,
        transcript_tokens=["[unintelligible]"],
    )
    Round.objects.create(project=project, number=1)
    labelers = []
    for name in ("ana", "ben", "cy"):
        user = UserFactory(username=name)
        Membership.objects.create(project=project, user=user, role=Role.LABELER)
        labelers.append(user)
    engineer = UserFactory(username="eng")
    Membership.objects.create(project=project, user=engineer, role=Role.ENGINEER)
    return project, labelers, engineer


def _transcribe(item, labelers, texts):
    from annotations.services.annotations import annotation_submit

    for user, text in zip(labelers, texts, strict=True):
        with TestCase.captureOnCommitCallbacks(execute=True):
            annotation_submit(
                labeler=user,
                item_id=item.pk,
                value={"text": text},
                idempotency_key=f"{user.pk}-{item.pk}",
            )


def _latest(project) -> ConsistencyReport:
    return ConsistencyReport.objects.filter(project=project).order_by("-version").first()


def test_a_manager_creates_a_transcription_project(api):
    boss = UserFactory()
    client = api(boss)
    body = {
        "name": "Calls",
        "task_type": "transcription",
        "transcript_tokens": ["[unintelligible]", "[noise]"],
    }
    created = client.post("/api/v1/projects/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["task_type"] == "transcription"
    assert created.json()["transcript_tokens"] == ["[unintelligible]", "[noise]"]
    assert created.json()["classes"] == []
    with_classes = client.post(
        "/api/v1/projects/", {**body, "classes": [{"key": "a"}]}, format="json"
    )
    assert with_classes.json()["error"]["field"] == "classes"
    spaced = client.post(
        "/api/v1/projects/", {**body, "transcript_tokens": ["two words"]}, format="json"
    )
    assert spaced.json()["error"]["field"] == "transcript_tokens[0]"
    no_classes = client.post("/api/v1/projects/", {"name": "x"}, format="json")
    assert no_classes.json()["error"]["field"] == "classes"


def test_transcripts_are_stored_as_sent_and_checked(speech, api):
    project, labelers, _ = speech
    item = ItemFactory(project=project)
    client = api(labelers[0])
    assert client.post(f"/api/v1/projects/{project.pk}/next/").status_code == 200
    url = "/api/v1/annotations/"

    def send(value, key):
        return client.post(url, {"item": item.pk, "value": value, "idempotency_key": key}, "json")

    empty = send({"text": "   "}, "k0")
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "empty_transcript")
    assert send({"label": "clean"}, "k1").json()["error"]["field"] == "value.text"
    both = send({"text": "a", "label": "b"}, "k2")
    assert both.status_code == 400
    created = send({"text": "  Um, nearest  gas station "}, "k3")
    assert created.status_code == 201, created.content
    assert Annotation.objects.get().value == {"text": "  Um, nearest  gas station "}
    assert Annotation.objects.get().label is None


def test_an_empty_transcript_is_an_answer_where_the_project_allows_it(speech):
    project, labelers, _ = speech
    project.allow_empty_transcripts = True
    project.save()
    item = ItemFactory(project=project)
    _transcribe(item, labelers[:1], [""])
    assert Annotation.objects.get().value == {"text": ""}


def test_a_classification_project_refuses_text(project, member, api):
    labeler = member(Role.LABELER)
    item = ItemFactory(project=project)
    client = api(labeler)
    client.post(f"/api/v1/projects/{project.pk}/next/")
    response = client.post(
        "/api/v1/annotations/",
        {"item": item.pk, "value": {"text": "clean"}, "idempotency_key": "t"},
        format="json",
    )
    assert response.json()["error"]["field"] == "value.label"


def test_the_item_consensus_is_the_medoid_of_cleaned_transcripts(speech):
    project, labelers, _ = speech
    item = ItemFactory(project=project)
    _transcribe(
        item, labelers, ["nearest  gas station ", "Um nearest gas station", "nearest gas station"]
    )
    consensus = ItemConsensus.objects.get(item=item)
    # whitespace clean-up makes the first and third identical: 2 of 3 share the medoid
    assert consensus.text == "nearest gas station"
    assert consensus.majority_share == pytest.approx(2 / 3)
    assert consensus.method == "medoid"
    assert consensus.label is None
    # pairs: (1,2) 1 edit over 3+4 words, (1,3) 0, (2,3) 1 over 4+3 → Σ2E/Σ(|a|+|b|) = 4/20
    assert consensus.word_error_rate == pytest.approx(4 / 20)


def test_the_report_gives_hand_computed_error_rates(speech):
    # DOMAIN.md's speech example, with no rules: "Um," and "Umm," are different words.
    project, labelers, _ = speech
    item = ItemFactory(project=project, slices={"channel": "phone"})
    _transcribe(item, labelers, SPEECH)
    report = _latest(project)
    overall = report.overall
    # pairs (a,b): 1 substitution over 4+4 words; (a,c): 1 deletion over 4+3; (b,c) likewise:
    # corpus WER = 2·(1+1+1) / (8+7+7) = 6/22
    assert overall["word_error_rate"]["value"] == pytest.approx(6 / 22, abs=1e-6)
    assert overall["exact_agreement"]["value"] == 0.0
    assert overall["task"] == "transcription"
    assert report.per_slice[0]["word_error_rate"]["value"] == pytest.approx(6 / 22, abs=1e-6)
    assert {row["username"] for row in report.per_labeler} == {"ana", "ben", "cy"}
    assert report.top_disagreements[0]["item_id"] == item.pk


def test_an_active_rule_set_normalises_before_agreement(speech):
    project, labelers, _ = speech
    item = ItemFactory(project=project)
    _transcribe(item, labelers, SPEECH)
    assert _latest(project).overall["exact_agreement"]["value"] == 0.0
    rules = [
        {"kind": "case_fold"},
        {"kind": "punctuation"},
        {"kind": "fillers", "canonical": "", "variants": ["um", "umm", "uh"]},
        {"kind": "whitespace"},
    ]
    RuleSet.objects.create(
        project=project, version=1, rules=rules, fingerprint=compile_rules(rules).fingerprint
    )
    project.rule_set_version = 1
    project.save()
    report = report_recompute(project_id=project.pk, version=_latest(project).version + 1)
    assert report.overall["exact_agreement"]["value"] == 1.0
    assert report.overall["rule_set_version"] == 1
    assert ItemConsensus.objects.get(item=item).text == "nearest gas station"
    # the raw transcripts are untouched
    assert sorted(a.value["text"] for a in Annotation.objects.all()) == sorted(SPEECH)


def test_disputed_transcripts_reach_the_review_queue(speech, api):
    project, labelers, _ = speech
    reviewer = UserFactory()
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    agreed, disputed = ItemFactory(project=project), ItemFactory(project=project)
    _transcribe(agreed, labelers, ["turn left"] * 3)
    _transcribe(disputed, labelers, SPEECH)
    body = api(reviewer).get(f"/api/v1/projects/{project.pk}/disagreements/").json()
    assert [row["item"]["id"] for row in body["results"]] == [disputed.pk]
    assert sorted(x["label"] for x in body["results"][0]["labels"]) == sorted(SPEECH)
    review = api(reviewer).get(f"/api/v1/items/{disputed.pk}/review/").json()
    assert sorted(label["text"] for label in review["labels"]) == sorted(SPEECH)


def test_the_export_holds_the_consensus_transcript(speech, api):
    project, labelers, engineer = speech
    item = ItemFactory(project=project, external_id="clip-1")
    _transcribe(item, labelers, SPEECH)
    response = api(engineer).get(f"/api/v1/projects/{project.pk}/export/")
    (record,) = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert record["external_id"] == "clip-1"
    assert record["label"] == ItemConsensus.objects.get(item=item).text
    assert record["label_method"] == "medoid"
    assert sorted(x["label"] for x in record["labels"]) == sorted(SPEECH)
    assert record["agreement"]["word_error_rate"] == pytest.approx(6 / 22, abs=1e-6)
    assert record["rule_set_version"] == 0
    csv = api(engineer).get(f"/api/v1/projects/{project.pk}/export/?format=csv")
    assert b"clip-1" in b"".join(csv.streaming_content)


def test_a_class_label_on_a_transcription_item_is_refused(speech):
    # The shared test helper sends {"label": ...}; a transcription project refuses it clearly.
    project, labelers, _ = speech
    item = ItemFactory(project=project)
    with pytest.raises(Exception, match="transcription value"):
        submit_labels(item, {labelers[0]: "hello"})


def test_a_recompute_warms_the_rule_previews_before_side(speech):
    from unittest import mock

    from consensus.services import rule_sets

    project, labelers, _ = speech
    item = ItemFactory(project=project)
    _transcribe(item, labelers, SPEECH)
    report_recompute(project_id=project.pk, version=_latest(project).version + 1)
    # the first preview finds "before" cached: computing it again would call the normaliser
    manager = UserFactory()
    Membership.objects.create(project=project, user=manager, role=Role.MANAGER)
    with mock.patch.object(rule_sets, "transcript_normalizer", side_effect=AssertionError):
        preview = rule_sets.rule_set_preview(
            user=manager, project_id=project.pk, rules=[{"kind": "case_fold"}]
        )
    assert preview["before"]["exact_agreement"] == 0.0


def test_an_sme_sets_the_final_transcript(speech, api):
    project, labelers, engineer = speech
    sme = UserFactory()
    Membership.objects.create(project=project, user=sme, role=Role.REVIEWER)
    item = ItemFactory(project=project, external_id="clip-1")
    _transcribe(item, labelers, SPEECH)
    url = f"/api/v1/items/{item.pk}/decision/"
    client = api(sme)
    # a class label, or no text, is refused naming the field
    wrong = client.post(url, {"outcome": "label", "label": "x", "reason": "r"}, format="json")
    assert wrong.json()["error"]["field"] == "label"
    missing = client.post(url, {"outcome": "label", "reason": "r"}, format="json")
    assert missing.json()["error"]["field"] == "text"
    decided = client.post(
        url,
        {"outcome": "label", "text": "Um, nearest gas station", "reason": "Fillers are kept."},
        format="json",
    )
    assert decided.status_code == 201, decided.content
    assert decided.json()["text"] == "Um, nearest gas station"
    # the item leaves the queue, and the export carries the SME's transcript
    queue = client.get(f"/api/v1/projects/{project.pk}/disagreements/").json()
    assert queue["count"] == 0
    response = api(engineer).get(f"/api/v1/projects/{project.pk}/export/?reviewed_only=true")
    (record,) = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert (record["label"], record["label_method"], record["confidence"]) == (
        "Um, nearest gas station",
        "reviewed",
        None,
    )
