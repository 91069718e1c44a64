"""Label Studio interoperability: import a Label Studio JSON export (all or nothing) and export a
project back in that format.

Import writes, in one transaction: the project and its classes (when new), one labeler user per
Label Studio annotator, items, annotations (round = the item's round, ``value={"label": key}``,
or for a transcription project ``value={"text": transcript}`` with no class),
submitted assignments, and each touched item's ``labels_done``/``status`` — the same state
``annotation_submit`` leaves, so the assignment engine and the consistency engine see imported
labels as if they had been submitted here. After commit, ``annotations_imported`` tells consensus.
See annotations/README.md, "Label Studio".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from annotations.label_studio import (
    LsAnnotator,
    LsImport,
    LsTask,
    RowError,
    parse_label_studio,
    raise_if_task_errors,
    task_error,
)
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
    Round,
    TaskType,
)
from annotations.services.annotations import TRANSCRIPT_MAX
from annotations.services.projects import ClassSpec, project_create
from annotations.signals import annotations_imported, label_studio_predictions
from labelhub.errors import ApplicationError, ConflictError, ForbiddenError

_BATCH = 1000
#: Items per export chunk: three queries per chunk (items, annotations, predictions).
EXPORT_CHUNK = 500
MAX_OVERLAP = 50  # Project's check constraint
_KEY_PREFIX = "ls:"  # idempotency keys of imported annotations: "ls:<Label Studio annotation id>"


@dataclass(frozen=True)
class LsImportResult:
    project: Project
    tasks: int
    items_created: int
    annotations: int  # annotations written by this import (0 on a repeat)
    annotations_existing: int  # already imported before (same Label Studio annotation id)
    labelers: int  # distinct annotators in the file
    labelers_created: int
    skipped_cancelled: int
    skipped_empty: int


# --- import -----------------------------------------------------------------------------------


def _class_specs(choices: list[str]) -> list[ClassSpec]:
    """One class per distinct choice, in order of first appearance: key = slug of the choice
    (``-2``, ``-3``… when two choices slug alike), name = the choice as written."""
    specs: list[ClassSpec] = []
    taken: set[str] = set()
    for number, choice in enumerate(choices, start=1):
        base = slugify(choice)[:60] or f"class-{number}"
        key, n = base, 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        taken.add(key)
        specs.append(ClassSpec(key=key, name=choice))
    return specs


def _class_lookup(project: Project) -> dict[str, tuple[int, str]]:
    """Choice (lower case) → (class id, key): by key and by name, case-insensitively."""
    lookup: dict[str, tuple[int, str]] = {}
    rows = list(LabelClass.objects.filter(project=project).values_list("id", "key", "name"))
    for class_id, key, _ in rows:
        lookup.setdefault(key.lower(), (class_id, key))
    for class_id, key, name in rows:
        lookup.setdefault(name.strip().lower(), (class_id, key))
    return lookup


def _base_username(annotator: LsAnnotator) -> str:
    if annotator.email:
        local = re.sub(r"[^\w.+-]", "-", annotator.email.split("@", 1)[0]).strip(".-")[:100]
        if local:
            return local
    return f"ls-{annotator.ls_id}"


def _matches(username: str, base: str) -> bool:
    return username == base or re.fullmatch(re.escape(base) + r"-\d+", username) is not None


def _labelers(
    *, project: Project, annotators: list[LsAnnotator], existing_project: bool
) -> tuple[dict[int, int], int]:
    """Map each Label Studio annotator id to a LabelHub user id; create the missing users.

    Re-use: a labeler of this project whose account was made by an import (unusable password),
    whose username is the annotator's base name (``ls-<id>`` or the e-mail's local part, maybe
    with a ``-n`` suffix) and whose e-mail equals the annotator's. Accounts people log in with
    are never matched, so a file cannot attach labels to a real user. New users get the base
    name, or the first free ``base-n``.
    """
    user_model = get_user_model()
    mapping: dict[int, int] = {}
    if existing_project:
        members = list(
            user_model.objects.filter(
                memberships__project=project,
                memberships__role=Role.LABELER,
                password__startswith=UNUSABLE_PASSWORD_PREFIX,
            ).values_list("id", "username", "email")
        )
        claimed: set[int] = set()
        for annotator in annotators:
            base = _base_username(annotator)
            for user_id, username, email in sorted(members, key=lambda m: m[1] != base):
                if (
                    user_id not in claimed
                    and _matches(username, base)
                    and email.lower() == annotator.email.lower()
                ):
                    mapping[annotator.ls_id] = user_id
                    claimed.add(user_id)
                    break
    missing = [a for a in annotators if a.ls_id not in mapping]
    if not missing:
        return mapping, 0
    bases = sorted({_base_username(a) for a in missing})
    taken: set[str] = set()
    for start in range(0, len(bases), 200):
        query = Q()
        for base in bases[start : start + 200]:
            query |= Q(username__istartswith=base)
        taken.update(
            u.lower() for u in user_model.objects.filter(query).values_list("username", flat=True)
        )
    users = []
    for annotator in missing:
        base = _base_username(annotator)
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name.lower())
        users.append(
            user_model(username=name, email=annotator.email[:254], password=make_password(None))
        )
    created = user_model.objects.bulk_create(users, batch_size=_BATCH)
    Membership.objects.bulk_create(
        [Membership(project=project, user=user, role=Role.LABELER) for user in created],
        batch_size=_BATCH,
    )
    for annotator, user in zip(missing, created, strict=True):
        mapping[annotator.ls_id] = user.pk
    return mapping, len(created)


def _items_lock(project: Project, external_ids: list[str]) -> dict[str, Item]:
    """Lock the project's items with these external ids, in pk order (a stable lock order, as
    every other writer of items uses), and return them by external id."""
    found: dict[str, Item] = {}
    for start in range(0, len(external_ids), _BATCH):
        rows = (
            Item.objects.select_for_update(of=("self",))
            .filter(project=project, external_id__in=external_ids[start : start + _BATCH])
            .order_by("pk")
            .only("id", "external_id", "round", "labels_done", "extra_labels", "status")
        )
        found.update((item.external_id, item) for item in rows)
    return found


def _existing_annotations(
    item_ids: list[int], labeler_ids: list[int]
) -> tuple[dict[tuple[int, str], tuple], dict[tuple[int, int, int], str]]:
    """These labelers' annotations on these items: by (labeler, idempotency key) → (item,
    class, transcript), withdrawn ones included; and the active ones by (item, labeler, round)
    → key."""
    by_key: dict[tuple[int, str], tuple] = {}
    active: dict[tuple[int, int, int], str] = {}
    for start in range(0, len(item_ids), _BATCH):
        rows = Annotation.objects.filter(
            item_id__in=item_ids[start : start + _BATCH], labeler_id__in=labeler_ids
        ).values_list(
            "item_id", "labeler_id", "round", "idempotency_key", "label_id", "withdrawn", "value"
        )
        for item_id, labeler_id, round_number, key, label_id, withdrawn, value in rows:
            text = value.get("text") if isinstance(value, dict) else None
            # A withdrawn import keeps its key: re-importing must not bring the label back.
            by_key[(labeler_id, key)] = (item_id, label_id, text)
            if not withdrawn:
                active[(item_id, labeler_id, round_number)] = key
    return by_key, active


@dataclass
class _Planned:
    task: LsTask
    item: Item
    rows: list[Annotation]


def _plan(
    *,
    project: Project,
    parsed: LsImport,
    classes: dict[str, tuple[int, str]],
    labelers: dict[int, int],
    items: dict[str, Item],
) -> tuple[list[_Planned], int, list[RowError]]:
    """The annotations to insert per task, after checking them against what is stored."""
    errors: list[RowError] = []
    by_key, active = _existing_annotations(
        [item.pk for item in items.values() if item.pk], list(labelers.values())
    )
    open_rounds = set(
        Round.objects.filter(project=project, is_open=True).values_list("number", flat=True)
    )
    planned: list[_Planned] = []
    existing = 0
    transcribes = project.task_type == TaskType.TRANSCRIPTION
    for task in parsed.tasks:
        item = items[task.external_id]
        if task.annotations and item.round not in open_rounds:
            errors.append(
                task_error(task.index, task.ls_id, f"round {item.round} is closed.", "id")
            )
            continue
        rows: list[Annotation] = []
        for number, annotation in enumerate(task.annotations):
            field = f"annotations[{number}]"
            if transcribes:
                problem = _transcript_problem(project, annotation.text)
                if problem is not None:
                    errors.append(
                        task_error(task.index, task.ls_id, problem, f"{field}.result.value.text")
                    )
                    continue
                class_id, value = None, {"text": annotation.text}
            else:
                found = classes.get(annotation.choice.lower())
                if found is None:
                    errors.append(
                        task_error(
                            task.index,
                            task.ls_id,
                            f"{annotation.choice!r} is not a class of this project.",
                            f"{field}.result.value.choices",
                        )
                    )
                    continue
                class_id, value = found[0], {"label": found[1]}
            labeler_id = labelers[annotation.annotator.ls_id]
            idempotency_key = f"{_KEY_PREFIX}{annotation.ls_id}"
            stored = by_key.get((labeler_id, idempotency_key))
            if stored is not None:
                if stored != (item.pk, class_id, annotation.text):
                    errors.append(
                        task_error(
                            task.index,
                            task.ls_id,
                            f"annotation {annotation.ls_id} was imported before with another "
                            "label or task; imported labels are immutable here.",
                            f"{field}.result",
                        )
                    )
                existing += 1
                continue
            if (item.pk, labeler_id, item.round) in active:
                errors.append(
                    task_error(
                        task.index,
                        task.ls_id,
                        f"annotator {annotation.annotator.ls_id} already has a label on this "
                        f"item in round {item.round}.",
                        f"{field}.completed_by",
                    )
                )
                continue
            rows.append(
                Annotation(
                    project=project,
                    item_id=item.pk,
                    labeler_id=labeler_id,
                    round=item.round,
                    value=value,
                    label_id=class_id,
                    time_spent_ms=annotation.time_spent_ms,
                    idempotency_key=idempotency_key,
                    # Made under Label Studio's instructions, not a LabelHub guideline version.
                    guideline_version=0,
                )
            )
        planned.append(_Planned(task=task, item=item, rows=rows))
    return planned, existing, errors


def _transcript_problem(project: Project, text: str | None) -> str | None:
    """Why ``text`` cannot be stored as a transcript of ``project`` (the rules
    ``annotation_submit`` applies, see ``services.annotations._answer``), or None."""
    if text is None:
        return "a choices answer in a transcription project."
    if len(text) > TRANSCRIPT_MAX:
        return f"the transcript is over {TRANSCRIPT_MAX} characters."
    if not text.strip() and not project.allow_empty_transcripts:
        return "the transcript is empty; this project does not accept empty transcripts."
    return None


def _check_task_type(project: Project, parsed: LsImport) -> None:
    """The file's answer type must be the project's task type; audio is for transcription.

    400 naming the first task with an answer (or with audio) and ``task_type``."""
    if parsed.task_type is not None and parsed.task_type != project.task_type:
        index = parsed.first_answer_index()
        task = next(t for t in parsed.tasks if t.index == index)
        raise_if_task_errors(
            [
                task_error(
                    index,
                    task.ls_id,
                    f"{parsed.answer_type} answers make a {parsed.task_type} project, but this "
                    f"project's task_type is {str(project.task_type)!r}.",
                    "task_type",
                )
            ]
        )
    if project.task_type != TaskType.TRANSCRIPTION:
        raise_if_task_errors(
            [
                task_error(
                    task.index,
                    task.ls_id,
                    "audio tasks are imported for transcription (textarea answers) only.",
                    "data.audio",
                )
                for task in parsed.tasks
                if task.audio_url
            ]
        )


def _check_project_input(
    *, user: AbstractBaseUser, project: Project | None, name: str | None, overlap: int | None
) -> None:
    if overlap is not None and not 1 <= overlap <= MAX_OVERLAP:
        raise ApplicationError(
            "invalid", f"overlap must be between 1 and {MAX_OVERLAP}.", field="overlap"
        )
    if project is None:
        if not name or not name.strip():
            raise ApplicationError("invalid", "A new project needs a name.", field="name")
        if len(name.strip()) > 200:
            raise ApplicationError("invalid", "name is over 200 characters.", field="name")
        return
    if not Membership.objects.filter(project=project, user=user, role=Role.MANAGER).exists():
        raise ForbiddenError("Only the project's managers import labels.")


def label_studio_import(
    *,
    user: AbstractBaseUser,
    file_bytes: bytes,
    project: Project | None = None,
    name: str | None = None,
    from_name: str | None = None,
    overlap: int | None = None,
    id_key: str | None = None,
) -> LsImportResult:
    """Import a Label Studio JSON export, all or nothing (one transaction).

    Without ``project``: a new project ``name`` (``user`` its manager) — for ``choices`` answers a
    classification project whose classes are the choices found; for ``textarea`` answers a
    transcription project that allows empty transcripts exactly when the file holds one (its
    annotators submitted silence as an answer: refusing it would drop labels, and without one
    the stricter default stands); its overlap is ``overlap`` or the most labels any task has.
    With ``project`` (``user`` must manage it): the answers must be of its task type (400
    ``task_type``), every choice a class (key or name, case aside), every transcript at most
    ``TRANSCRIPT_MAX`` characters and non-blank unless the project allows empty transcripts.
    Re-importing the same file writes nothing (annotation idempotency key ``ls:<annotation id>``,
    items by external id). Locks: the touched existing items' rows, in pk
    order. Raises ``ApplicationError`` 400 naming the task index; then nothing is written.
    """
    _check_project_input(user=user, project=project, name=name, overlap=overlap)
    parsed, errors = parse_label_studio(file_bytes, id_key=id_key, from_name=from_name)
    raise_if_task_errors(errors)
    if project is None and parsed.task_type is None:
        raise ApplicationError(
            "invalid_import",
            "The export holds no labels (no choices or textarea answer): there is no project "
            "to create.",
            field="file",
        )
    if project is not None:
        _check_task_type(project, parsed)
    most = max((len(task.annotations) for task in parsed.tasks), default=1)
    now = timezone.now()
    try:
        with transaction.atomic():
            existing_project = project is not None
            if project is None:
                transcribes = parsed.task_type == TaskType.TRANSCRIPTION
                project = project_create(
                    creator=user,
                    name=(name or "").strip(),
                    task_type=TaskType.TRANSCRIPTION if transcribes else TaskType.CLASSIFICATION,
                    classes=[] if transcribes else _class_specs(parsed.choices),
                    allow_empty_transcripts=transcribes and parsed.empty_transcripts > 0,
                    overlap=overlap or min(max(most, 1), MAX_OVERLAP),
                    description="Imported from Label Studio.",
                )
                _check_task_type(project, parsed)
            annotators = parsed.annotators
            labelers, labelers_created = _labelers(
                project=project, annotators=annotators, existing_project=existing_project
            )
            items = (
                _items_lock(project, [task.external_id for task in parsed.tasks])
                if existing_project
                else {}
            )
            new_items = [
                Item(
                    project=project,
                    external_id=task.external_id,
                    text=task.text,
                    image_url=task.image_url,
                    audio_url=task.audio_url,
                    round=project.current_round,
                )
                for task in parsed.tasks
                if task.external_id not in items
            ]
            items.update((item.external_id, item) for item in new_items)
            # Plan on the unsaved new items too (pk None: nothing stored to collide with), so an
            # unknown class fails before anything is inserted.
            planned, existing, errors = _plan(
                project=project,
                parsed=parsed,
                classes=_class_lookup(project),
                labelers=labelers,
                items=items,
            )
            raise_if_task_errors(errors)
            new = {id(item) for item in new_items}
            for plan in planned:
                if id(plan.item) in new:
                    plan.item.labels_done = len(plan.rows)
                    plan.item.status = _status(project, plan.item)
            Item.objects.bulk_create(new_items, batch_size=_BATCH)
            annotations = _write_annotations(planned, now=now)
            changed = []
            for plan in planned:
                if plan.rows and id(plan.item) not in new:
                    plan.item.labels_done += len(plan.rows)
                    plan.item.status = _status(project, plan.item)
                    changed.append(plan.item)
            Item.objects.bulk_update(changed, ["labels_done", "status"], batch_size=_BATCH)
            item_ids = sorted({item.pk for item in new_items} | {item.pk for item in changed})
            if item_ids:
                project_id = project.pk
                transaction.on_commit(
                    lambda: annotations_imported.send(
                        sender=Project, project_id=project_id, item_ids=item_ids
                    )
                )
    except IntegrityError as exc:
        # Another import (or a labeler) wrote the same item, username or label meanwhile; the
        # unique constraints refused ours and the transaction rolled back whole.
        raise ConflictError(
            "import_conflict",
            "The project changed while importing (a concurrent import?); nothing was written: "
            "retry.",
        ) from exc

    return LsImportResult(
        project=project,
        tasks=len(parsed.tasks),
        items_created=len(new_items),
        annotations=annotations,
        annotations_existing=existing,
        labelers=len(annotators),
        labelers_created=labelers_created,
        skipped_cancelled=parsed.skipped_cancelled,
        skipped_empty=parsed.skipped_empty,
    )


def _status(project: Project, item: Item) -> str:
    wanted = project.overlap + item.extra_labels
    return ItemStatus.COMPLETE if item.labels_done >= wanted else ItemStatus.OPEN


def _write_annotations(planned: list[_Planned], *, now: datetime) -> int:
    """Insert the annotations and their submitted assignments; keep Label Studio's created_at.

    ``created_at`` is ``auto_now_add`` (``bulk_create`` stamps now), so the original times are
    set by one ``bulk_update`` afterwards.
    """
    rows: list[Annotation] = []
    times: dict[int, datetime | None] = {}
    for plan in planned:
        for row, annotation in zip(plan.rows, _annotations_of(plan), strict=True):
            row.item_id = plan.item.pk
            times[id(row)] = annotation.created_at
            rows.append(row)
    if not rows:
        return 0
    Annotation.objects.bulk_create(rows, batch_size=_BATCH)
    dated = []
    for row in rows:
        created_at = times[id(row)]
        if created_at is not None:
            if timezone.is_naive(created_at):
                created_at = timezone.make_aware(created_at, timezone.get_default_timezone())
            row.created_at = min(created_at, now)
            dated.append(row)
    _set_created_at(dated)
    Assignment.objects.bulk_create(
        [
            Assignment(
                item_id=row.item_id,
                labeler_id=row.labeler_id,
                round=row.round,
                status=AssignmentStatus.SUBMITTED,
                lease_expires_at=None,
            )
            for row in rows
        ],
        batch_size=_BATCH,
        # A lease or skip the labeler held here becomes "submitted", as on a submit.
        update_conflicts=True,
        unique_fields=["item", "labeler", "round"],
        update_fields=["status", "lease_expires_at", "updated_at"],
    )
    return len(rows)


_SET_CREATED_AT = """
UPDATE annotations_annotation AS a SET created_at = u.created_at
FROM unnest(%s::bigint[], %s::timestamptz[]) AS u(id, created_at) WHERE a.id = u.id
"""


def _set_created_at(rows: list[Annotation]) -> None:
    """Store Label Studio's ``created_at`` on inserted rows. PostgreSQL: one ``UPDATE … FROM
    unnest`` per 10,000 rows; elsewhere Django's ``bulk_update`` (a CASE per batch: about 10x
    slower on 30,000 rows, fine for SQLite's small installs)."""
    if connection.vendor != "postgresql":
        Annotation.objects.bulk_update(rows, ["created_at"], batch_size=_BATCH)
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 10 * _BATCH):
            batch = rows[start : start + 10 * _BATCH]
            cursor.execute(_SET_CREATED_AT, [[r.pk for r in batch], [r.created_at for r in batch]])


def _annotations_of(plan: _Planned):
    """The parsed annotations behind ``plan.rows``, in the same order (by idempotency key)."""
    by_key = {f"{_KEY_PREFIX}{a.ls_id}": a for a in plan.task.annotations}
    return [by_key[row.idempotency_key] for row in plan.rows]


# --- export -----------------------------------------------------------------------------------


def _labeler_pseudonyms(project: Project) -> dict[int, int]:
    """Labeler id → 1, 2, 3… in the order of user id: stable across exports of the project."""
    ids = (
        Annotation.objects.filter(project=project, withdrawn=False)
        .order_by("labeler_id")
        .values_list("labeler_id", flat=True)
        .distinct()
    )
    return {labeler_id: number for number, labeler_id in enumerate(ids, start=1)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _choices_result(result_id: str, to_name: str, choice: str) -> dict[str, Any]:
    return {
        "id": result_id,
        "from_name": "label",
        "to_name": to_name,
        "type": "choices",
        "origin": "manual",
        "value": {"choices": [choice]},
    }


def _textarea_result(result_id: str, to_name: str, text: str) -> dict[str, Any]:
    """A transcript as Label Studio's ``textarea`` result. ``value.text`` is a list of strings;
    the transcript is its one element (newlines kept inside it), so importing it back — which
    joins the list with newlines — gives the same text."""
    return {
        "id": result_id,
        "from_name": "transcription",
        "to_name": to_name,
        "type": "textarea",
        "origin": "manual",
        "value": {"text": [text]},
    }


def label_studio_tasks(*, project: Project, base_url: str = "") -> Iterator[dict[str, Any]]:
    """The project's items as Label Studio tasks, read in chunks of ``EXPORT_CHUNK`` items.

    Each task holds ``data`` (``text``, ``image`` or ``audio`` — the item's URL, or for a stored
    file the item-image/item-audio API URL under ``base_url`` — and ``external_id``), one
    annotation per labeler with an active label in the item's current round (classification: a
    ``choices`` result, ``from_name`` "label", the class name as the choice; transcription: a
    ``textarea`` result, ``from_name`` "transcription", ``value.text`` ``[transcript]``;
    ``to_name`` "text"/"image"/"audio", ``completed_by`` a pseudonymous integer, ``lead_time`` in
    seconds), and ``predictions`` from any receiver of ``label_studio_predictions`` (consensus
    answers with the current consensus label or medoid transcript). Withdrawn labels are left
    out. Queries: two, then three per chunk — not one per item.
    """
    transcribes = project.task_type == TaskType.TRANSCRIPTION
    names = dict(LabelClass.objects.filter(project=project).values_list("id", "name"))
    pseudonyms = _labeler_pseudonyms(project)
    last = 0
    full = True
    while full:
        chunk = list(
            Item.objects.filter(project=project, pk__gt=last)
            .order_by("pk")
            .values(
                "id", "external_id", "text", "image", "image_url", "audio", "audio_url", "round"
            )[:EXPORT_CHUNK]
        )
        if not chunk:
            return
        full = len(chunk) == EXPORT_CHUNK  # a short chunk is the last: no empty read after it
        last = chunk[-1]["id"]
        rounds = {item["id"]: item["round"] for item in chunk}
        labels: dict[int, list[tuple]] = {}
        # A classification label names a class; a transcript is its value's text.
        answered = {} if transcribes else {"label__isnull": False}
        rows = (
            Annotation.objects.filter(
                project=project, item_id__in=list(rounds), withdrawn=False, **answered
            )
            .order_by("item_id", "id")
            .values_list(
                "id",
                "item_id",
                "labeler_id",
                "label_id",
                "round",
                "created_at",
                "time_spent_ms",
                "value",
            )
        )
        for row in rows.iterator(chunk_size=2000):
            if row[4] == rounds[row[1]]:
                labels.setdefault(row[1], []).append(row)
        predictions: dict[int, dict[str, Any]] = {}
        for _, answer in label_studio_predictions.send(
            sender=Project, project_id=project.pk, item_ids=list(rounds)
        ):
            predictions.update(answer or {})
        for item in chunk:
            yield _task(
                item,
                labels.get(item["id"], []),
                predictions.get(item["id"]),
                names,
                pseudonyms,
                base_url,
            )


def _answer_result(result_id: str, to_name: str, label_id, value, names) -> dict[str, Any]:
    if label_id is None:  # a transcript (only transcripts are read without a class)
        text = value.get("text") if isinstance(value, dict) else None
        return _textarea_result(result_id, to_name, text if isinstance(text, str) else "")
    return _choices_result(result_id, to_name, names[label_id])


def _task(item, labels, prediction, names, pseudonyms, base_url) -> dict[str, Any]:
    if item["audio_url"]:
        data: dict[str, Any] = {"audio": item["audio_url"]}
    elif item["audio"]:
        data = {"audio": base_url + reverse("api:item-audio", args=[item["id"]])}
    elif item["image_url"]:
        data = {"image": item["image_url"]}
    elif item["image"]:
        data = {"image": base_url + reverse("api:item-image", args=[item["id"]])}
    else:
        data = {"text": item["text"]}
    to_name = next(iter(data))
    data["external_id"] = item["external_id"]
    annotations = [
        {
            "id": annotation_id,
            "completed_by": pseudonyms[labeler_id],
            "result": [_answer_result(f"a{annotation_id}", to_name, label_id, value, names)],
            "was_cancelled": False,
            "ground_truth": False,
            "created_at": _iso(created_at),
            "updated_at": _iso(created_at),
            "lead_time": time_ms / 1000 if time_ms is not None else None,
            "task": item["id"],
        }
        for annotation_id, _, labeler_id, label_id, _, created_at, time_ms, value in labels
    ]
    predictions = []
    if prediction is not None and isinstance(prediction.get("text"), str):
        predictions.append(
            {
                "model_version": prediction.get("model_version", "labelhub-consensus"),
                "score": prediction.get("score"),
                "result": [_textarea_result(f"p{item['id']}", to_name, prediction["text"])],
                "task": item["id"],
            }
        )
    elif prediction is not None and prediction.get("label_id") in names:
        predictions.append(
            {
                "model_version": prediction.get("model_version", "labelhub-consensus"),
                "score": prediction.get("score"),
                "result": [
                    _choices_result(f"p{item['id']}", to_name, names[prediction["label_id"]])
                ],
                "task": item["id"],
            }
        )
    return {
        "id": item["id"],
        "data": data,
        "annotations": annotations,
        "predictions": predictions,
    }


def label_studio_export(*, project: Project, base_url: str = "") -> Iterator[bytes]:
    """The project as Label Studio's JSON export (a list of tasks), as byte chunks for a
    streaming response: the list is never held whole in memory."""
    yield b"["
    first = True
    for task in label_studio_tasks(project=project, base_url=base_url):
        yield (b"" if first else b",\n") + json.dumps(task, ensure_ascii=False).encode()
        first = False
    yield b"]\n"
