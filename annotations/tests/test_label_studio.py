"""Label Studio interoperability: parsing and its refusals, the all-or-nothing import (new and
existing projects, re-import), consensus after commit, the export, the round trip, permissions
and the export's query count."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.label_studio import parse_label_studio
from annotations.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Item,
    ItemStatus,
    LabelClass,
    Membership,
    Project,
    Role,
)
from annotations.services.annotations import annotation_withdraw
from annotations.services.label_studio import label_studio_export, label_studio_import
from consensus.models import ItemConsensus
from labelhub.errors import ApplicationError
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "label_studio_sentiment.json"
User = get_user_model()


@pytest.fixture
def export_tasks() -> list[dict]:
    """A realistic Label Studio export: 6 text tasks, 3 annotators (two given as objects with an
    e-mail, one as a bare id), some disagreement, one cancelled annotation, one prediction."""
    return json.loads(FIXTURE.read_bytes())


def as_bytes(tasks) -> bytes:
    return json.dumps(tasks).encode()


def choices(label: str, from_name: str = "sentiment") -> dict:
    return {
        "from_name": from_name,
        "to_name": "text",
        "type": "choices",
        "value": {"choices": [label]},
    }


def synthetic(n_tasks: int, labels=("Cat", "Dog"), annotators=(1, 2, 3)) -> list[dict]:
    """n tasks, each labeled by every annotator (annotator 3 disagrees on odd tasks)."""
    tasks = []
    for t in range(n_tasks):
        annotations = []
        for who in annotators:
            label = labels[(t + (who == 3) * (t % 2)) % len(labels)]
            annotations.append(
                {
                    "id": t * 10 + who,
                    "completed_by": who,
                    "result": [choices(label, "animal")],
                    "was_cancelled": False,
                    "created_at": "2024-01-02T03:04:05Z",
                    "lead_time": 2.5,
                }
            )
        tasks.append({"id": t + 1, "data": {"text": f"text {t}"}, "annotations": annotations})
    return tasks


def labels_by_item_and_labeler(project: Project, key=lambda username: username) -> dict:
    rows = Annotation.objects.filter(project=project, withdrawn=False).values_list(
        "item__external_id", "labeler__username", "label__name"
    )
    result: dict[str, dict] = {}
    for external_id, username, name in rows:
        result.setdefault(external_id, {})[key(username)] = name
    return result


def problem(call) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value


# --- parsing ----------------------------------------------------------------------------------


def test_fixture_parses_to_tasks_annotators_and_choices(export_tasks):
    # when the realistic export is parsed
    parsed, errors = parse_label_studio(as_bytes(export_tasks))
    # then every task is kept with its text, the cancelled annotation is counted, not kept
    assert errors == []
    assert [t.external_id for t in parsed.tasks] == [f"ls-{201 + i}" for i in range(6)]
    assert parsed.choices == ["Positive", "Negative", "Neutral"]
    assert parsed.from_name == "sentiment"
    assert (parsed.skipped_cancelled, parsed.n_annotations) == (1, 17)
    assert [(a.ls_id, a.email) for a in parsed.annotators] == [
        (7, "ana@example.org"),
        (9, "ben@example.org"),
        (12, ""),
    ]
    first = parsed.tasks[0].annotations[0]
    assert (first.ls_id, first.choice, first.time_spent_ms) == ("1002", "Positive", 3500)
    assert first.created_at.isoformat() == "2024-05-10T09:10:00+00:00"


def _bad(kind: str, tasks: list[dict]) -> None:
    """Break task index 2 (id 203) of ``tasks`` in the way ``kind`` names."""
    task = tasks[2]
    result = task["annotations"][0]["result"]
    if kind == "textarea":
        result.append(
            {"from_name": "notes", "to_name": "text", "type": "textarea", "value": {"text": ["x"]}}
        )
    elif kind == "rectanglelabels":
        result[0] = {
            "from_name": "box",
            "to_name": "image",
            "type": "rectanglelabels",
            "value": {"x": 1, "y": 2, "width": 3, "height": 4, "rectanglelabels": ["Car"]},
        }
    elif kind == "multi_choice":
        result[0]["value"]["choices"] = ["Neutral", "Positive"]
    elif kind == "two_controls":
        result.append(choices("Happy", from_name="mood"))
    elif kind == "no_completed_by":
        del task["annotations"][0]["completed_by"]
    elif kind == "twice":
        task["annotations"][1]["completed_by"] = task["annotations"][0]["completed_by"]
    elif kind == "relative_image":
        task["data"] = {"image": "/data/upload/3/cat.jpg"}
    elif kind == "mixed":
        result[0] = {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "textarea",
            "value": {"text": ["meh"]},
        }
    elif kind == "audio":
        task["data"] = {"audio": "https://example.org/a.wav"}
    elif kind == "relative_audio":
        task["data"] = {"audio": "/data/upload/3/a.wav"}
    elif kind == "long_url":
        task["data"] = {"image": "https://example.org/" + "a" * 2000}
    elif kind == "not_an_object":
        tasks[2] = "task"


@pytest.mark.parametrize(
    ("kind", "field", "words"),
    [
        ("textarea", "from_name", "several controls (notes, sentiment)"),
        ("mixed", "annotations", "a textarea answer, but task index 0 has a choices answer"),
        ("rectanglelabels", "annotations[0].result[0].type", "does not support bounding boxes"),
        ("multi_choice", "annotations[0].result[0].value.choices", "single-choice"),
        ("two_controls", "from_name", "several controls (mood, sentiment)"),
        ("no_completed_by", "annotations[0].completed_by", "completed_by"),
        ("twice", "annotations[1].completed_by", "answered this task twice"),
        ("relative_image", "data.image", "http(s) URL"),
        ("audio", "data.audio", "audio tasks are imported for transcription"),
        ("relative_audio", "data.audio", "http(s) URL"),
        ("long_url", "data.image", "over 2000 characters"),
        ("not_an_object", None, "must be an object"),
    ],
)
def test_each_refusal_names_the_task_index_and_field_and_writes_nothing(
    export_tasks, kind, field, words
):
    # given the realistic export with task index 2 broken
    _bad(kind, export_tasks)
    owner = UserFactory()
    # when it is imported as a new project
    error = problem(
        lambda: label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="P")
    )
    # then one 400 names task index 2 (and its id when it has one) and the field
    assert error.status_code == 400
    assert error.code == "invalid_import"
    assert error.row == 2
    assert error.message.startswith("Task index 2")
    if kind != "not_an_object":
        assert "(id 203)" in error.message
    assert error.field == field
    assert words in error.message
    assert error.details[0]["task_index"] == 2
    # and nothing was written
    assert not Project.objects.exists()
    assert User.objects.count() == 1
    assert not Item.objects.exists()


def test_naming_the_control_imports_it_and_ignores_the_others(export_tasks):
    # given a task that also answers a second choices control
    _bad("two_controls", export_tasks)
    # when the caller names the control to import
    result = label_studio_import(
        user=UserFactory(), file_bytes=as_bytes(export_tasks), name="P", from_name="sentiment"
    )
    # then the sentiment labels are imported and "Happy" is no class
    assert result.annotations == 17
    assert list(LabelClass.objects.values_list("name", flat=True).order_by("order")) == [
        "Positive",
        "Negative",
        "Neutral",
    ]


def test_tasks_answering_through_different_controls_are_refused_without_from_name(export_tasks):
    # given task index 4 answers through another control than the others
    for annotation in export_tasks[4]["annotations"]:
        for result in annotation["result"]:
            result["from_name"] = "tone"
    # when imported without from_name, then the first task of the second control is named
    error = problem(
        lambda: label_studio_import(user=UserFactory(), file_bytes=as_bytes(export_tasks), name="P")
    )
    assert error.row == 4
    assert error.field == "from_name"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'[{"id": 1,', "not valid JSON"),
        (b'{"tasks": []}', "a list of tasks"),
        (b"[]", "no tasks"),
        (b"\xff\xfe[", "not UTF-8"),
    ],
)
def test_malformed_files_are_refused(content, words):
    error = problem(lambda: label_studio_import(user=UserFactory(), file_bytes=content, name="P"))
    assert error.status_code == 400
    assert words in error.message
    assert not Project.objects.exists()


def test_at_most_fifty_problems_are_listed():
    # given 60 tasks that each hold a bounding box
    tasks = synthetic(60)
    for task in tasks:
        task["annotations"][0]["result"] = [
            {"from_name": "animal", "to_name": "text", "type": "rectanglelabels", "value": {}}
        ]
    error = problem(
        lambda: label_studio_import(user=UserFactory(), file_bytes=as_bytes(tasks), name="P")
    )
    assert "(60 problems in all)" in error.message
    assert len(error.details) == 50
    assert [d["task_index"] for d in error.details[:3]] == [0, 1, 2]


# --- import into a new project -----------------------------------------------------------------


def test_new_project_import_writes_classes_labelers_annotations_and_consensus(
    api, export_tasks, django_capture_on_commit_callbacks
):
    owner = UserFactory()
    upload = SimpleUploadedFile("export.json", as_bytes(export_tasks))
    # when the export is posted as a new project, running the after-commit receivers
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner).post(
            "/api/v1/projects/import/label-studio/",
            {"file": upload, "name": "Reviews"},
            format="multipart",
        )
    # then 201 with the counts
    assert response.status_code == 201, response.json()
    body = response.json()
    project = Project.objects.get(pk=body["project"])
    assert body == {
        "project": project.pk,
        "tasks": 6,
        "items_created": 6,
        "annotations": 17,
        "annotations_existing": 0,
        "labelers": 3,
        "labelers_created": 3,
        "skipped_cancelled": 1,
        "skipped_empty": 0,
    }
    # the project: named, managed by the caller, overlap = most labels per task
    assert (project.name, project.overlap) == ("Reviews", 3)
    assert Membership.objects.get(project=project, user=owner).role == Role.MANAGER
    # classes: slug keys, names kept, order of first appearance
    assert list(LabelClass.objects.filter(project=project).values_list("key", "name")) == [
        ("positive", "Positive"),
        ("negative", "Negative"),
        ("neutral", "Neutral"),
    ]
    # labelers: e-mail local parts or ls-<id>, unusable passwords, labeler memberships
    labelers = User.objects.filter(memberships__project=project, memberships__role=Role.LABELER)
    assert sorted(labelers.values_list("username", flat=True)) == ["ana", "ben", "ls-12"]
    assert not any(user.has_usable_password() for user in labelers)
    assert labelers.get(username="ana").email == "ana@example.org"
    # annotations: round 1, value and label FK, LS times kept, idempotency key from the LS id
    ana = Annotation.objects.get(project=project, idempotency_key="ls:1002")
    assert (ana.labeler.username, ana.round, ana.value, ana.label.key) == (
        "ana",
        1,
        {"label": "positive"},
        "positive",
    )
    assert ana.created_at.isoformat() == "2024-05-10T09:10:00+00:00"
    assert ana.time_spent_ms == 3500
    # items: counters and statuses as the assignment engine expects
    items = {i.external_id: i for i in Item.objects.filter(project=project)}
    assert items["ls-201"].text == "The battery lasts all day, love it."
    assert (items["ls-201"].labels_done, items["ls-201"].status) == (3, ItemStatus.COMPLETE)
    assert (items["ls-203"].labels_done, items["ls-203"].status) == (2, ItemStatus.OPEN)
    assert Assignment.objects.filter(item__project=project).count() == 17
    assert not Assignment.objects.exclude(status=AssignmentStatus.SUBMITTED).exists()
    # and consensus rows exist after commit, one per item
    consensus = {c.item.external_id: c for c in ItemConsensus.objects.filter(project=project)}
    assert set(consensus) == set(items)
    assert consensus["ls-201"].label.key == "positive"
    assert consensus["ls-201"].n_labels == 3
    assert consensus["ls-204"].tied  # Positive, Negative, Neutral: one each


def test_the_import_announces_once_with_every_item(
    export_tasks, django_capture_on_commit_callbacks
):
    from annotations.signals import annotations_imported

    heard = []

    def listen(**kwargs):
        heard.append(kwargs)

    annotations_imported.connect(listen, dispatch_uid="test-listen")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = label_studio_import(
                user=UserFactory(), file_bytes=as_bytes(export_tasks), name="P"
            )
    finally:
        annotations_imported.disconnect(dispatch_uid="test-listen")
    ids = sorted(Item.objects.filter(project=result.project).values_list("id", flat=True))
    assert len(heard) == 1
    assert (heard[0]["project_id"], heard[0]["item_ids"]) == (result.project.pk, ids)


def test_reimport_into_the_same_project_writes_nothing_twice(
    api, export_tasks, django_capture_on_commit_callbacks
):
    owner = UserFactory()
    first = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="P")
    before = (User.objects.count(), Item.objects.count(), Annotation.objects.count())
    # when the same file is imported again into that project
    upload = SimpleUploadedFile("export.json", as_bytes(export_tasks))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api(owner).post(
            f"/api/v1/projects/{first.project.pk}/import/label-studio/",
            {"file": upload},
            format="multipart",
        )
    # then nothing new is written, the labelers are re-used, and nothing is announced
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["items_created"], body["annotations"], body["annotations_existing"]) == (0, 0, 17)
    assert body["labelers_created"] == 0
    assert (User.objects.count(), Item.objects.count(), Annotation.objects.count()) == before
    assert callbacks == []
    assert set(Item.objects.values_list("labels_done", flat=True)) == {2, 3}


def test_a_later_export_adds_new_labels_by_the_same_labelers(export_tasks):
    owner = UserFactory()
    first = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="P")
    annotator_12 = User.objects.get(username="ls-12")
    # given annotator 12's cancelled annotation on task 203 was later answered, in a newer export
    later = copy.deepcopy(export_tasks)
    cancelled = later[2]["annotations"][2]
    cancelled.update({"id": 5000, "was_cancelled": False, "result": [choices("Negative")]})
    # when the newer export is imported into the project
    result = label_studio_import(user=owner, file_bytes=as_bytes(later), project=first.project)
    # then only the new label is written, by the same labeler, and the item is complete
    assert (result.annotations, result.labelers_created) == (1, 0)
    item = Item.objects.get(project=first.project, external_id="ls-203")
    assert (item.labels_done, item.status) == (3, ItemStatus.COMPLETE)
    assert Annotation.objects.get(idempotency_key="ls:5000").labeler == annotator_12


def test_a_changed_label_under_the_same_annotation_id_is_refused(export_tasks):
    owner = UserFactory()
    first = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="P")
    export_tasks[1]["annotations"][0]["result"] = [choices("Positive")]
    error = problem(
        lambda: label_studio_import(
            user=owner, file_bytes=as_bytes(export_tasks), project=first.project
        )
    )
    assert error.row == 1
    assert "immutable" in error.message


def test_usernames_taken_elsewhere_get_a_suffix_and_real_accounts_are_never_reused(export_tasks):
    # given a real account "ana" that is not part of the import
    real = UserFactory(username="ana")
    result = label_studio_import(user=UserFactory(), file_bytes=as_bytes(export_tasks), name="P")
    labelers = set(
        User.objects.filter(memberships__project=result.project, memberships__role=Role.LABELER)
    )
    assert real not in labelers
    assert sorted(u.username for u in labelers) == ["ana-2", "ben", "ls-12"]


def test_overlap_and_name_are_checked(export_tasks):
    owner = UserFactory()
    assert (
        problem(
            lambda: label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name=" ")
        ).field
        == "name"
    )
    assert (
        problem(
            lambda: label_studio_import(
                user=owner, file_bytes=as_bytes(export_tasks), name="P", overlap=0
            )
        ).field
        == "overlap"
    )
    result = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="P", overlap=2)
    # with overlap 2, task 203's two labels complete it
    assert Item.objects.get(project=result.project, external_id="ls-203").status == "complete"


# --- import into an existing project -----------------------------------------------------------


def test_existing_project_matches_classes_by_key_or_name_case_aside(project, manager):
    # given the project's classes clean / scratch / dent / borderline (names capitalised)
    tasks = synthetic(3, labels=("CLEAN", "Scratch"))
    result = label_studio_import(user=manager, file_bytes=as_bytes(tasks), project=project)
    assert result.annotations == 9
    keys = Annotation.objects.filter(project=project).values_list("label__key", flat=True)
    assert set(keys) == {"clean", "scratch"}


def test_existing_project_refuses_an_unknown_class_naming_the_task(api, project, manager, items):
    # given an item already in the project, and an export whose task index 1 uses "Rust"
    items(1)
    tasks = synthetic(3, labels=("clean",))
    tasks[1]["annotations"][2]["result"] = [choices("Rust", "animal")]
    upload = SimpleUploadedFile("export.json", as_bytes(tasks))
    # when it is posted into the project
    response = api(manager).post(
        f"/api/v1/projects/{project.pk}/import/label-studio/", {"file": upload}, format="multipart"
    )
    # then 400 naming task index 1, its id and the class; nothing written
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["row"] == 1
    assert error["message"].startswith("Task index 1 (id 2): 'Rust' is not a class")
    assert error["field"] == "annotations[2].result.value.choices"
    assert Item.objects.filter(project=project).count() == 1
    assert not Annotation.objects.exists()
    assert not User.objects.filter(username__startswith="ls-").exists()


def test_a_labeler_with_a_label_here_already_is_refused(project, manager):
    label_studio_import(
        user=manager, file_bytes=as_bytes(synthetic(2, ("clean",))), project=project
    )
    # a new LS annotation id by annotator 1 on the same task
    tasks = synthetic(2, ("clean",))
    tasks[1]["annotations"][0]["id"] = 999
    error = problem(
        lambda: label_studio_import(user=manager, file_bytes=as_bytes(tasks), project=project)
    )
    assert error.row == 1
    assert "already has a label" in error.message


def test_only_managers_import_into_a_project(api, project, member):
    upload = lambda: SimpleUploadedFile("e.json", as_bytes(synthetic(1, ("clean",))))  # noqa: E731
    url = f"/api/v1/projects/{project.pk}/import/label-studio/"
    engineer = member(Role.ENGINEER)
    assert api(engineer).post(url, {"file": upload()}, format="multipart").status_code == 403
    outsider = UserFactory()
    assert api(outsider).post(url, {"file": upload()}, format="multipart").status_code == 404
    assert api(None).post(url, {"file": upload()}, format="multipart").status_code in (401, 403)
    # the service checks too (the management command goes through it)
    error = problem(
        lambda: label_studio_import(
            user=engineer, file_bytes=as_bytes(synthetic(1, ("clean",))), project=project
        )
    )
    assert error.status_code == 403
    assert not Annotation.objects.exists()


def test_the_import_endpoint_validates_its_form(api):
    response = api(UserFactory()).post(
        "/api/v1/projects/import/label-studio/", {"name": "P"}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "file"


# --- export ------------------------------------------------------------------------------------


def export_json(project: Project) -> list[dict]:
    return json.loads(b"".join(label_studio_export(project=project)))


def test_export_holds_tasks_labels_and_the_consensus_as_prediction(
    export_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = label_studio_import(
            user=UserFactory(), file_bytes=as_bytes(export_tasks), name="P"
        )
    project = result.project
    # given Ben withdrew his label on task 202 (withdrawn labels are not exported)
    ben = User.objects.get(username="ben")
    withdrawn = Annotation.objects.get(idempotency_key="ls:1006")
    with django_capture_on_commit_callbacks(execute=True):
        annotation_withdraw(labeler=ben, annotation_id=withdrawn.pk)
    tasks = {t["data"]["external_id"]: t for t in export_json(project)}
    assert len(tasks) == 6
    first = tasks["ls-201"]
    assert first["data"]["text"] == "The battery lasts all day, love it."
    assert first["id"] == Item.objects.get(project=project, external_id="ls-201").pk
    annotation = first["annotations"][0]
    assert annotation["result"] == [
        {
            "id": f"a{annotation['id']}",
            "from_name": "label",
            "to_name": "text",
            "type": "choices",
            "origin": "manual",
            "value": {"choices": ["Positive"]},
        }
    ]
    assert annotation["created_at"] == "2024-05-10T09:10:00Z"
    assert annotation["lead_time"] == 3.5
    assert annotation["was_cancelled"] is False
    # completed_by: pseudonymous 1, 2, 3 (no user ids or names)
    assert {a["completed_by"] for t in tasks.values() for a in t["annotations"]} == {1, 2, 3}
    assert len(tasks["ls-202"]["annotations"]) == 2
    assert withdrawn.pk not in {a["id"] for a in tasks["ls-202"]["annotations"]}
    # the consensus as a prediction, its confidence as the score
    stored = ItemConsensus.objects.get(item__external_id="ls-201", project=project)
    (prediction,) = first["predictions"]
    assert prediction["result"][0]["value"] == {"choices": ["Positive"]}
    assert prediction["score"] == pytest.approx(stored.confidence)
    assert prediction["model_version"] == f"labelhub-{stored.method}"
    # every item's prediction is its stored consensus (Dawid–Skene breaks the 1-1-1 tie)
    for stored in ItemConsensus.objects.filter(project=project).select_related("label", "item"):
        (prediction,) = tasks[stored.item.external_id]["predictions"]
        assert prediction["result"][0]["value"] == {"choices": [stored.label.name]}


def test_export_of_image_items_names_the_image(project, manager, items):
    Item.objects.create(project=project, external_id="img", image_url="https://example.org/a.png")
    (task,) = export_json(project)
    assert task["data"] == {"image": "https://example.org/a.png", "external_id": "img"}


def test_round_trip_gives_the_same_labels_per_item_and_labeler(export_tasks):
    owner = UserFactory()
    original = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="A")
    # when the project is exported and the export imported as a new project (ids kept)
    exported = b"".join(label_studio_export(project=original.project))
    again = label_studio_import(user=owner, file_bytes=exported, name="B", id_key="external_id")
    # then every item has the same labels by the same (renamed) labelers
    pseudonyms = {
        labeler_id: number
        for number, labeler_id in enumerate(
            sorted(
                Annotation.objects.filter(project=original.project)
                .values_list("labeler_id", flat=True)
                .distinct()
            ),
            start=1,
        )
    }
    names = {u.username: pseudonyms[u.pk] for u in User.objects.filter(pk__in=pseudonyms)}
    before = labels_by_item_and_labeler(original.project, key=names.__getitem__)
    after = labels_by_item_and_labeler(again.project, key=lambda u: int(u.removeprefix("ls-")))
    assert after == before
    assert len(after) == 6
    assert sum(len(v) for v in after.values()) == 17
    assert list(
        LabelClass.objects.filter(project=again.project).values_list("name", flat=True)
    ) == [
        "Positive",
        "Negative",
        "Neutral",
    ]


def test_export_permissions_and_download_name(api, project, member, manager):
    url = f"/api/v1/projects/{project.pk}/export/label-studio/"
    assert api(member(Role.LABELER)).get(url).status_code == 403
    assert api(member(Role.REVIEWER)).get(url).status_code == 403
    assert api(UserFactory()).get(url).status_code == 404
    response = api(member(Role.ENGINEER)).get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="{project.name.lower().replace(" ", "-")}-{project.pk}'
        '-label-studio.json"'
    )
    assert json.loads(b"".join(response.streaming_content)) == []
    assert api(manager).get(url).status_code == 200


def test_export_query_count_does_not_grow_with_the_number_of_tasks():
    owner = UserFactory()
    counts = []
    for n in (5, 50):
        project = label_studio_import(
            user=owner, file_bytes=as_bytes(synthetic(n)), name=f"P{n}"
        ).project
        with CaptureQueriesContext(connection) as queries:
            tasks = export_json(project)
        assert len(tasks) == n
        assert sum(len(t["annotations"]) for t in tasks) == 3 * n
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[1] <= 5


# --- management command -------------------------------------------------------------------------


def test_management_command_imports_a_file(tmp_path, export_tasks, capsys):
    owner = UserFactory(username="owner")
    path = tmp_path / "export.json"
    path.write_bytes(as_bytes(export_tasks))
    call_command("import_label_studio", str(path), "--name", "CLI", "--user", "owner")
    project = Project.objects.get(name="CLI")
    assert Membership.objects.get(project=project, user=owner).role == Role.MANAGER
    assert Annotation.objects.filter(project=project).count() == 17
    assert "17 annotations by 3 labelers" in capsys.readouterr().out


def test_management_command_reports_the_bad_task(tmp_path, export_tasks):
    UserFactory(username="owner")
    _bad("textarea", export_tasks)
    path = tmp_path / "export.json"
    path.write_bytes(as_bytes(export_tasks))
    with pytest.raises(CommandError, match="Task index 2"):
        call_command("import_label_studio", str(path), "--name", "CLI", "--user", "owner")
    assert not Project.objects.exists()


def test_labelers_of_other_projects_are_not_reused(export_tasks):
    # given the export imported once as project A, then as project B
    owner = UserFactory()
    a = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="A")
    b = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="B")
    # then B has its own labelers (suffixed), and each project's labels stay its own
    names_b = set(
        User.objects.filter(
            memberships__project=b.project, memberships__role=Role.LABELER
        ).values_list("username", flat=True)
    )
    assert names_b == {"ana-2", "ben-2", "ls-12-2"}
    assert Annotation.objects.filter(project=a.project).count() == 17
    assert Annotation.objects.filter(project=b.project).count() == 17
    # and re-importing into B re-uses B's suffixed labelers
    again = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), project=b.project)
    assert (again.annotations, again.labelers_created) == (0, 0)


def test_members_of_a_project_get_consensus_only_in_their_project(project):
    # guard: MembershipFactory users are real accounts; an import never maps onto them
    real = MembershipFactory(project=project, role=Role.LABELER, user=UserFactory(username="ls-1"))
    manager = MembershipFactory(project=project, role=Role.MANAGER).user
    label_studio_import(
        user=manager, file_bytes=as_bytes(synthetic(1, ("clean",))), project=project
    )
    assert not Annotation.objects.filter(labeler=real.user).exists()
    assert User.objects.filter(username="ls-1-2").exists()


def test_export_in_several_chunks_keeps_every_task_once(monkeypatch):
    # given chunks of 4 items and 10 tasks (chunks of 4, 4, 2)
    monkeypatch.setattr("annotations.services.label_studio.EXPORT_CHUNK", 4)
    project = label_studio_import(
        user=UserFactory(), file_bytes=as_bytes(synthetic(10)), name="P"
    ).project
    with CaptureQueriesContext(connection) as queries:
        tasks = export_json(project)
    # then every task comes once, in item order, with its three labels
    assert [t["data"]["external_id"] for t in tasks] == [f"ls-{n}" for n in range(1, 11)]
    assert all(len(t["annotations"]) == 3 for t in tasks)
    assert len(queries) == 2 + 3 * 3


def test_repeated_task_or_annotation_ids_are_refused():
    # given task index 3 repeats task 1's id, and task index 4 reuses an annotation id
    tasks = synthetic(5)
    tasks[3]["id"] = 1
    tasks[4]["annotations"][0]["id"] = tasks[0]["annotations"][0]["id"]
    error = problem(
        lambda: label_studio_import(user=UserFactory(), file_bytes=as_bytes(tasks), name="P")
    )
    assert [(d["task_index"], d["field"]) for d in error.details] == [
        (3, "id"),
        (4, "annotations"),
    ]
    assert "repeats task index 0" in error.message


def test_import_query_count_does_not_grow_with_the_number_of_tasks():
    owner = UserFactory()
    counts = []
    for n in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            result = label_studio_import(
                user=owner, file_bytes=as_bytes(synthetic(n)), name=f"P{n}"
            )
        assert result.annotations == 3 * n
        # SQLite splits a bulk INSERT by its 999-variable limit; PostgreSQL does not.
        counts.append(
            sum(
                connection.vendor == "postgresql" or not q["sql"].startswith("INSERT")
                for q in queries.captured_queries
            )
        )
    assert counts[0] == counts[1]


def test_image_tasks_keep_their_url_and_empty_answers_are_counted():
    # given an image task, and an annotation submitted with no answer
    tasks = synthetic(2)
    tasks[0]["data"] = {"image": "https://example.org/cat.jpg", "caption": "ignored"}
    tasks[1]["annotations"][0]["result"] = []
    result = label_studio_import(user=UserFactory(), file_bytes=as_bytes(tasks), name="P")
    # then the image URL is the item's, and the empty answer is skipped and counted
    item = Item.objects.get(project=result.project, external_id="ls-1")
    assert (item.image_url, item.text, item.kind) == ("https://example.org/cat.jpg", "", "image")
    assert (result.annotations, result.skipped_empty) == (5, 1)
    (task, _) = export_json(result.project)
    assert task["data"] == {"image": "https://example.org/cat.jpg", "external_id": "ls-1"}
    assert task["annotations"][0]["result"][0]["to_name"] == "image"


def test_a_withdrawn_import_is_not_brought_back_by_a_reimport(export_tasks):
    owner = UserFactory()
    first = label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), name="P")
    # given Ana undid her imported label on task 201
    ana = User.objects.get(username="ana")
    annotation_withdraw(
        labeler=ana, annotation_id=Annotation.objects.get(idempotency_key="ls:1002").pk
    )
    # when the same file is imported again, then nothing is written and the undo stands
    again = label_studio_import(
        user=owner, file_bytes=as_bytes(export_tasks), project=first.project
    )
    assert (again.annotations, again.annotations_existing) == (0, 17)
    item = Item.objects.get(project=first.project, external_id="ls-201")
    assert item.labels_done == 2
    assert not Annotation.objects.filter(labeler=ana, item=item, withdrawn=False).exists()


# --- transcription (textarea) ------------------------------------------------------------------

TRANSCRIPTION_FIXTURE = FIXTURE.with_name("label_studio_transcription.json")
#: The fixture's transcripts by task and annotator (ls-12's bare id; ben cancelled task 303).
TRANSCRIPTS = {
    "ls-301": {"ana": "Um, nearest gas station", "ben": "um nearest gas station",
               "ls-12": "nearest gas station"},
    "ls-302": {"ana": "Call mom", "ben": "Call mom", "ls-12": "call mom"},
    "ls-303": {"ana": "Turn left on Main Street", "ls-12": "Turn left on Main St."},
    "ls-304": {"ana": "Play some jazz\nplease", "ben": "play some jazz please",
               "ls-12": "Play some jazz, please"},
}  # fmt: skip


@pytest.fixture
def transcription_tasks() -> list[dict]:
    """A realistic Label Studio export of an audio transcription project: 4 tasks (``data.audio``
    URLs), 3 annotators, one cancelled annotation, one two-line text area, a model prediction."""
    return json.loads(TRANSCRIPTION_FIXTURE.read_bytes())


def textarea(*lines: str, from_name: str = "transcription") -> dict:
    return {
        "from_name": from_name,
        "to_name": "audio",
        "type": "textarea",
        "value": {"text": lines},
    }


def transcripts_by_item_and_labeler(project: Project, key=lambda username: username) -> dict:
    rows = Annotation.objects.filter(project=project, withdrawn=False).values_list(
        "item__external_id", "labeler__username", "value"
    )
    result: dict[str, dict] = {}
    for external_id, username, value in rows:
        result.setdefault(external_id, {})[key(username)] = value["text"]
    return result


def synthetic_transcripts(n_tasks: int) -> list[dict]:
    """n audio tasks, each transcribed by annotators 1, 2, 3 (3 drops the filler word)."""
    tasks = []
    for t in range(n_tasks):
        annotations = [
            {
                "id": t * 10 + who,
                "completed_by": who,
                "result": [textarea(f"{'um ' if who < 3 else ''}clip number {t}")],
                "created_at": "2024-01-02T03:04:05Z",
            }
            for who in (1, 2, 3)
        ]
        data = {"audio": f"https://example.org/{t}.wav"}
        tasks.append({"id": t + 1, "data": data, "annotations": annotations})
    return tasks


def test_a_textarea_export_parses_to_transcripts(transcription_tasks):
    parsed, errors = parse_label_studio(as_bytes(transcription_tasks))
    assert errors == []
    assert (parsed.answer_type, parsed.task_type, parsed.from_name) == (
        "textarea",
        "transcription",
        "transcription",
    )
    assert parsed.choices == []
    assert (parsed.skipped_cancelled, parsed.n_annotations, parsed.empty_transcripts) == (1, 11, 0)
    assert parsed.tasks[0].audio_url == "https://storage.example.org/clips/301.wav"
    # Label Studio's list of lines is joined with newlines; one line is kept as written
    assert [a.text for a in parsed.tasks[3].annotations] == [
        "Play some jazz\nplease",
        "play some jazz please",
        "Play some jazz, please",
    ]
    assert parsed.tasks[0].annotations[0].choice == ""


def test_a_textarea_export_imports_as_a_transcription_project_with_consensus_and_report(
    api, transcription_tasks, django_capture_on_commit_callbacks
):
    from consensus.models import ConsensusMethod, ConsistencyReport
    from consensus.services.item_consensus import item_consensus_refresh

    owner = UserFactory()
    upload = SimpleUploadedFile("export.json", as_bytes(transcription_tasks))
    # when posted as a new project, running the after-commit receivers
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner).post(
            "/api/v1/projects/import/label-studio/",
            {"file": upload, "name": "Voice"},
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("tasks", "items_created", "annotations", "labelers")} == {
        "tasks": 4,
        "items_created": 4,
        "annotations": 11,
        "labelers": 3,
    }
    assert body["skipped_cancelled"] == 1
    # then a transcription project without classes, refusing empty transcripts (none in the file)
    project = Project.objects.get(pk=body["project"])
    assert (project.task_type, project.overlap, project.allow_empty_transcripts) == (
        "transcription",
        3,
        False,
    )
    assert not LabelClass.objects.filter(project=project).exists()
    # the exact texts, by labeler, with no class
    assert transcripts_by_item_and_labeler(project) == TRANSCRIPTS
    assert not Annotation.objects.filter(project=project, label__isnull=False).exists()
    row = Annotation.objects.get(project=project, idempotency_key="ls:3001")
    assert (row.value, row.time_spent_ms) == ({"text": "Um, nearest gas station"}, 11250)
    # audio items with their URL; counters as for choices
    items = {i.external_id: i for i in Item.objects.filter(project=project)}
    assert items["ls-301"].audio_url == "https://storage.example.org/clips/301.wav"
    assert (items["ls-303"].labels_done, items["ls-303"].status) == (2, ItemStatus.OPEN)
    assert (items["ls-302"].labels_done, items["ls-302"].status) == (3, ItemStatus.COMPLETE)
    # consensus: the medoid transcript per item, as the per-item refresh computes it
    stored = {c.item.external_id: c for c in ItemConsensus.objects.filter(project=project)}
    assert set(stored) == set(items)
    assert all(c.method == ConsensusMethod.MEDOID and c.label_id is None for c in stored.values())
    assert (stored["ls-302"].text, stored["ls-302"].n_labels) == ("Call mom", 3)
    assert stored["ls-302"].majority_share == pytest.approx(2 / 3)
    assert stored["ls-303"].n_labels == 2
    for external_id, bulk in stored.items():
        one = item_consensus_refresh(item_id=items[external_id].pk)
        assert (one.text, one.n_labels, one.tied) == (bulk.text, bulk.n_labels, bulk.tied)
        assert one.majority_share == pytest.approx(bulk.majority_share)
        assert one.entropy == pytest.approx(bulk.entropy)
        # the report's rows round to 6 digits
        assert one.word_error_rate == pytest.approx(bulk.word_error_rate, abs=1e-6, nan_ok=True)
    # and the project's transcription report was computed after commit
    report = ConsistencyReport.objects.get(project=project)
    assert report.n_annotations == 11
    assert report.overall["task"] == "transcription"


def test_a_file_mixing_choices_and_textarea_is_refused_naming_the_task(api, transcription_tasks):
    # given task index 2 answered with a choice of the same control
    transcription_tasks[2]["annotations"][0]["result"] = [choices("Noise", "transcription")]
    upload = SimpleUploadedFile("export.json", as_bytes(transcription_tasks))
    response = api(UserFactory()).post(
        "/api/v1/projects/import/label-studio/", {"file": upload, "name": "V"}, format="multipart"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["row"] == 2
    assert error["message"].startswith("Task index 2 (id 303): a choices answer, but task index 0")
    assert error["field"] == "annotations"
    assert not Project.objects.exists()
    assert not Item.objects.exists()


def test_a_textarea_file_into_a_classification_project_is_refused(
    api, project, manager, transcription_tasks
):
    upload = SimpleUploadedFile("export.json", as_bytes(transcription_tasks))
    response = api(manager).post(
        f"/api/v1/projects/{project.pk}/import/label-studio/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["row"], error["field"]) == (0, "task_type")
    assert "this project's task_type is 'classification'" in error["message"]
    assert error["message"].startswith("Task index 0 (id 301)")
    assert not Annotation.objects.exists()
    assert not Item.objects.filter(project=project).exists()


def test_a_choices_file_into_a_transcription_project_is_refused(export_tasks):
    owner = UserFactory()
    voice = label_studio_import(
        user=owner, file_bytes=as_bytes(synthetic_transcripts(2)), name="V"
    ).project
    error = problem(
        lambda: label_studio_import(user=owner, file_bytes=as_bytes(export_tasks), project=voice)
    )
    assert (error.row, error.field) == (0, "task_type")
    assert "task_type is 'transcription'" in error.message


def test_empty_transcripts_follow_the_project(transcription_tasks):
    owner = UserFactory()
    # given an existing transcription project that refuses empty transcripts
    strict = label_studio_import(
        user=owner, file_bytes=as_bytes(synthetic_transcripts(1)), name="S"
    ).project
    # and the fixture with one blank transcript on task index 1
    transcription_tasks[1]["annotations"][1]["result"] = [textarea("  ")]
    # then importing it there is refused, naming the task, and nothing is written
    before = Annotation.objects.count()
    error = problem(
        lambda: label_studio_import(
            user=owner, file_bytes=as_bytes(transcription_tasks), project=strict
        )
    )
    assert (error.row, error.field) == (1, "annotations[1].result.value.text")
    assert "does not accept empty transcripts" in error.message
    assert Annotation.objects.count() == before
    # while as a new project it allows empty transcripts and stores the blank text as given
    result = label_studio_import(user=owner, file_bytes=as_bytes(transcription_tasks), name="N")
    assert result.project.allow_empty_transcripts is True
    assert transcripts_by_item_and_labeler(result.project)["ls-302"]["ben"] == "  "


def test_per_region_transcripts_and_bad_text_values_are_refused(transcription_tasks):
    tasks = copy.deepcopy(transcription_tasks)
    tasks[1]["annotations"][0]["result"] = [textarea("call"), textarea("mom")]
    error = problem(
        lambda: label_studio_import(user=UserFactory(), file_bytes=as_bytes(tasks), name="V")
    )
    assert (error.row, error.field) == (1, "annotations")
    assert "per-region transcription" in error.message
    transcription_tasks[3]["annotations"][2]["result"][0]["value"] = {"text": [1, 2]}
    error = problem(
        lambda: label_studio_import(
            user=UserFactory(), file_bytes=as_bytes(transcription_tasks), name="V"
        )
    )
    assert (error.row, error.field) == (3, "annotations[2].result[0].value.text")


def test_reimporting_a_transcription_export_writes_nothing_and_a_changed_text_is_refused(
    transcription_tasks,
):
    owner = UserFactory()
    first = label_studio_import(user=owner, file_bytes=as_bytes(transcription_tasks), name="V")
    again = label_studio_import(
        user=owner, file_bytes=as_bytes(transcription_tasks), project=first.project
    )
    assert (again.annotations, again.annotations_existing, again.labelers_created) == (0, 11, 0)
    assert Annotation.objects.count() == 11
    transcription_tasks[1]["annotations"][0]["result"] = [textarea("Call Mum")]
    error = problem(
        lambda: label_studio_import(
            user=owner, file_bytes=as_bytes(transcription_tasks), project=first.project
        )
    )
    assert error.row == 1
    assert "immutable" in error.message


def test_an_import_under_an_active_rule_set_stores_normalised_transcripts(
    transcription_tasks, django_capture_on_commit_callbacks
):
    from annotations.services.projects import project_create
    from consensus.models import NormalizedTranscript
    from consensus.services.rule_sets import rule_set_activate, rule_set_create

    owner = UserFactory()
    voice = project_create(creator=owner, name="Voice", task_type="transcription")
    rules = [{"kind": "case_fold"}, {"kind": "punctuation"}]
    rule_set_create(user=owner, project_id=voice.pk, rules=rules)
    with django_capture_on_commit_callbacks(execute=True):
        rule_set_activate(user=owner, project_id=voice.pk, version=1)
    with django_capture_on_commit_callbacks(execute=True):
        label_studio_import(user=owner, file_bytes=as_bytes(transcription_tasks), project=voice)
    # then every imported transcript has its normalised text, as a submitted one would
    normalised = dict(
        NormalizedTranscript.objects.filter(rule_set__project=voice).values_list(
            "annotation__idempotency_key", "text"
        )
    )
    assert len(normalised) == 11
    assert normalised["ls:3001"] == "um nearest gas station"
    # and the consensus compares the normalised texts: "Call mom" x2 and "call mom" agree
    consensus = ItemConsensus.objects.get(item__external_id="ls-302", project=voice)
    assert (consensus.text, consensus.majority_share) == ("call mom", 1.0)


def test_transcription_export_holds_textarea_results_and_the_consensus_transcript(
    transcription_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        project = label_studio_import(
            user=UserFactory(), file_bytes=as_bytes(transcription_tasks), name="V"
        ).project
    tasks = {t["data"]["external_id"]: t for t in export_json(project)}
    first = tasks["ls-301"]
    assert first["data"] == {
        "audio": "https://storage.example.org/clips/301.wav",
        "external_id": "ls-301",
    }
    annotation = first["annotations"][0]
    assert annotation["result"] == [
        {
            "id": f"a{annotation['id']}",
            "from_name": "transcription",
            "to_name": "audio",
            "type": "textarea",
            "origin": "manual",
            "value": {"text": ["Um, nearest gas station"]},
        }
    ]
    assert annotation["lead_time"] == 11.25
    assert len(tasks["ls-303"]["annotations"]) == 2
    for stored in ItemConsensus.objects.filter(project=project).select_related("item"):
        (prediction,) = tasks[stored.item.external_id]["predictions"]
        assert prediction["result"][0]["type"] == "textarea"
        assert prediction["result"][0]["value"] == {"text": [stored.text]}
        assert prediction["model_version"] == "labelhub-medoid"
        assert prediction["score"] == pytest.approx(stored.confidence)


def test_transcription_round_trip_gives_the_same_texts_per_item_and_labeler(transcription_tasks):
    owner = UserFactory()
    original = label_studio_import(user=owner, file_bytes=as_bytes(transcription_tasks), name="A")
    exported = b"".join(label_studio_export(project=original.project))
    again = label_studio_import(user=owner, file_bytes=exported, name="B", id_key="external_id")
    assert again.project.task_type == "transcription"
    labeler_ids = sorted(
        Annotation.objects.filter(project=original.project)
        .values_list("labeler_id", flat=True)
        .distinct()
    )
    pseudonyms = {labeler_id: n for n, labeler_id in enumerate(labeler_ids, start=1)}
    names = {u.username: pseudonyms[u.pk] for u in User.objects.filter(pk__in=pseudonyms)}
    before = transcripts_by_item_and_labeler(original.project, key=names.__getitem__)
    after = transcripts_by_item_and_labeler(again.project, key=lambda u: int(u.removeprefix("ls-")))
    assert after == before
    assert sum(len(v) for v in after.values()) == 11
    assert after["ls-304"][1] == "Play some jazz\nplease"  # the two-line transcript survives
    assert set(Item.objects.filter(project=again.project).values_list("audio_url", flat=True)) == {
        f"https://storage.example.org/clips/{n}.wav" for n in (301, 302, 303, 304)
    }


def test_transcription_export_query_count_does_not_grow_with_the_number_of_tasks(
    django_capture_on_commit_callbacks,
):
    owner = UserFactory()
    counts = []
    for n in (5, 50):
        with django_capture_on_commit_callbacks(execute=True):
            project = label_studio_import(
                user=owner, file_bytes=as_bytes(synthetic_transcripts(n)), name=f"T{n}"
            ).project
        with CaptureQueriesContext(connection) as queries:
            tasks = export_json(project)
        assert len(tasks) == n
        assert sum(len(t["annotations"]) for t in tasks) == 3 * n
        assert all(len(t["predictions"]) == 1 for t in tasks)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[1] <= 5


def test_the_bulk_refresh_stores_medoid_consensus_for_the_given_transcription_items(
    transcription_tasks,
):
    from consensus.label_studio import items_consensus_refresh
    from consensus.models import ConsensusMethod

    # given an import whose after-commit receivers have not run
    project = label_studio_import(
        user=UserFactory(), file_bytes=as_bytes(transcription_tasks), name="V"
    ).project
    assert not ItemConsensus.objects.exists()
    items = dict(Item.objects.filter(project=project).values_list("external_id", "id"))
    # when the import's bulk refresh runs for two of the items
    written = items_consensus_refresh(
        project_id=project.pk, item_ids=[items["ls-302"], items["ls-304"]]
    )
    # then exactly those two get a medoid consensus (not a classification majority of nothing)
    assert written == 2
    rows = {c.item_id: c for c in ItemConsensus.objects.all()}
    assert set(rows) == {items["ls-302"], items["ls-304"]}
    assert all(c.method == ConsensusMethod.MEDOID for c in rows.values())
    assert rows[items["ls-302"]].text == "Call mom"
    # (a consensus is a transcript as compared: whitespace runs collapsed)
    assert rows[items["ls-304"]].text in {
        " ".join(t.split()) for t in TRANSCRIPTS["ls-304"].values()
    }
    assert rows[items["ls-304"]].n_labels == 3
