"""Parse and validate a Label Studio JSON export into plain dataclasses; no ORM here.

The input is Label Studio's "JSON" export (https://labelstud.io/guide/task_format): a list of
tasks ``{"id", "data": {...}, "annotations": [...], "predictions": [...]}``; each annotation is
``{"id", "completed_by": int | {"id", "email", ...}, "result": [...], "was_cancelled",
"created_at", "lead_time"}`` and each result ``{"from_name", "to_name", "type", "value"}``.

What LabelHub takes (see annotations/README.md, "Label Studio"): one control's answers, all of
one type — single-choice classification (``choices``) or transcription (``textarea``):

* a task's data is ``data.text`` (text), ``data.image`` or ``data.audio`` (``http(s)`` URLs, kept
  as is; audio only for transcription, which the service checks against the project);
* an annotation's label is its one ``choices`` result holding exactly one choice, or its one
  ``textarea`` result: ``value.text`` is a list of strings in Label Studio's export (one per
  submitted line of the text area; https://labelstud.io/tags/textarea), joined with a newline
  so no line is lost — a single-line transcript, the usual case, is its one string unchanged.
  A text that is blank is an *empty transcript* (an answer: silence), counted in
  ``empty_transcripts``; the service stores it only where the project allows empty transcripts;
* cancelled (skipped) annotations and annotations with no answer of the control (an empty
  result) are counted, not imported;
* ``predictions`` are model output, not labels: ignored.

Refused, with the task named: ``rectanglelabels`` (boxes) and other answer types — LabelHub has
no such answer type and dropping them would silently lose labels — multi-choice answers, several
``textarea`` results in one annotation (per-region transcription), a file mixing ``choices`` and
``textarea`` answers (one import is one project's task type), several controls unless the caller
names one (``from_name``), and one annotator answering the same task twice.

Tasks are numbered from 0 (their position in the file); errors name that index, the task id and
the field. :func:`raise_if_task_errors` raises one 400 naming the first and lists up to 50;
a file that is not JSON, or not a list of tasks, raises at once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from annotations.importers import MAX_ERRORS, MAX_EXTERNAL_ID, RowError, decode_text
from labelhub.errors import ApplicationError

__all__ = [
    "LsAnnotation",
    "LsAnnotator",
    "LsImport",
    "LsTask",
    "RowError",
    "parse_label_studio",
    "raise_if_task_errors",
]

#: Result types that carry answers LabelHub cannot store (boxes, spans, ratings…).
UNSUPPORTED_RESULTS = {
    "rectanglelabels": "bounding boxes (rectanglelabels)",
    "rectangle": "bounding boxes (rectangle)",
    "polygonlabels": "polygons (polygonlabels)",
    "labels": "span labels (labels)",
    "taxonomy": "taxonomy",
    "rating": "rating",
    "number": "number",
}
MAX_CLASS_NAME = 120
MAX_URL = 2000  # Item.image_url / Item.audio_url max_length
#: The answer types imported, and the LabelHub task type each one makes.
ANSWER_TYPES = {"choices": "classification", "textarea": "transcription"}


@dataclass(frozen=True)
class LsAnnotator:
    """A Label Studio user as the export names them: ``completed_by`` (an id, or an object)."""

    ls_id: int
    email: str = ""


@dataclass(frozen=True)
class LsAnnotation:
    ls_id: str
    annotator: LsAnnotator
    choice: str  # the choice of a ``choices`` answer ("" for a transcript)
    created_at: datetime | None
    time_spent_ms: int | None
    text: str | None = None  # the transcript of a ``textarea`` answer (None for a choice)


@dataclass(frozen=True)
class LsTask:
    index: int  # 0-based position in the file
    ls_id: int
    external_id: str
    text: str = ""
    image_url: str = ""
    audio_url: str = ""
    annotations: tuple[LsAnnotation, ...] = ()


@dataclass(frozen=True)
class LsImport:
    tasks: list[LsTask]
    choices: list[str]  # distinct choice values in order of first appearance
    from_name: str | None  # the control imported
    skipped_cancelled: int
    skipped_empty: int
    answer_type: str | None = None  # "choices", "textarea", or None when nothing was answered
    empty_transcripts: int = 0  # textarea answers whose text is blank

    @property
    def task_type(self) -> str | None:
        """The LabelHub task type the answers make: "classification", "transcription" or None."""
        return ANSWER_TYPES.get(self.answer_type) if self.answer_type else None

    def first_answer_index(self) -> int:
        """The index of the first task holding an answer (0 when none does)."""
        return next((task.index for task in self.tasks if task.annotations), 0)

    @property
    def annotators(self) -> list[LsAnnotator]:
        seen: dict[int, LsAnnotator] = {}
        for task in self.tasks:
            for annotation in task.annotations:
                seen.setdefault(annotation.annotator.ls_id, annotation.annotator)
        return list(seen.values())

    @property
    def n_annotations(self) -> int:
        return sum(len(task.annotations) for task in self.tasks)


class _Errors(list):
    """RowErrors whose ``row`` is the task index (0-based), messages naming the task id."""

    def add(self, index: int, task_id: Any, message: str, field: str | None = None) -> None:
        where = f"(id {task_id}): " if task_id is not None else ": "
        self.append(RowError(index, f"{where}{message}", field))


def task_error(index: int, task_id: Any, message: str, field: str | None = None) -> RowError:
    """One problem of the task at ``index`` (0-based), worded like the parser's own."""
    errors = _Errors()
    errors.add(index, task_id, message, field)
    return errors[0]


def raise_if_task_errors(errors: list[RowError]) -> None:
    """Like ``importers.raise_if_errors``, but worded for tasks: "Task index 3 (id 12): …".

    Label Studio users know tasks by id and position, not by "row"; ``row`` in the error body is
    the 0-based task index, ``details`` lists at most 50 problems.
    """
    if not errors:
        return
    errors = sorted(errors, key=lambda e: e.row)
    first = errors[0]
    more = f" ({len(errors)} problems in all)" if len(errors) > 1 else ""
    raise ApplicationError(
        "invalid_import",
        f"Task index {first.row} {first.message}{more}",
        row=first.row,
        field=first.field,
        details=[
            {"task_index": e.row, "field": e.field, "message": e.message}
            for e in errors[:MAX_ERRORS]
        ],
    )


def _file_error(message: str) -> ApplicationError:
    return ApplicationError("invalid_import", message, field="file")


def _int_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _annotator(value: Any) -> LsAnnotator | None:
    if isinstance(value, dict):
        ls_id = _int_id(value.get("id"))
        email = value.get("email")
        if ls_id is None:
            return None
        return LsAnnotator(ls_id=ls_id, email=email.strip() if isinstance(email, str) else "")
    ls_id = _int_id(value)
    return None if ls_id is None else LsAnnotator(ls_id=ls_id)


def _lead_time_ms(value: Any) -> int | None:
    """``lead_time`` is seconds (a float); stored as whole milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return min(round(value * 1000), 2**31 - 1)


def _data(
    index: int, task_id: Any, data: Any, id_key: str | None, errors: _Errors
) -> dict[str, str] | None:
    if not isinstance(data, dict):
        errors.add(index, task_id, "data must be an object.", "data")
        return None
    found: dict[str, str] = {}
    if id_key is not None:
        value = data.get(id_key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            errors.add(index, task_id, f"data.{id_key} (the id key) is missing.", f"data.{id_key}")
            return None
        if len(value.strip()) > MAX_EXTERNAL_ID:
            errors.add(
                index, task_id, f"data.{id_key} is over {MAX_EXTERNAL_ID} characters.", id_key
            )
            return None
        found["external_id"] = value.strip()
    text, image, audio = data.get("text"), data.get("image"), data.get("audio")
    given = [key for key, value in (("text", text), ("image", image), ("audio", audio)) if value]
    if len(given) > 1:
        errors.add(index, task_id, f"data has {' and '.join(given)}: give one.", "data")
        return None
    if isinstance(text, str) and text.strip():
        found["text"] = text
    elif isinstance(image, str) and image.strip() or isinstance(audio, str) and audio.strip():
        key, url = ("image", image) if image else ("audio", audio)
        if not url.startswith(("http://", "https://")):
            errors.add(
                index,
                task_id,
                f"data.{key} must be an http(s) URL; Label Studio upload paths such as "
                "/data/upload/... exist only on that server (export with absolute URLs).",
                f"data.{key}",
            )
            return None
        if len(url) > MAX_URL:
            errors.add(index, task_id, f"data.{key} is over {MAX_URL} characters.", f"data.{key}")
            return None
        found[f"{key}_url"] = url
    else:
        errors.add(index, task_id, "data needs a text, an image URL or an audio URL.", "data")
        return None
    return found


def _choices_results(
    index: int, task_id: Any, position: int, annotation: dict, errors: _Errors
) -> list[dict] | None:
    result = annotation.get("result")
    field = f"annotations[{position}].result"
    if result is None:
        result = []
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        errors.add(index, task_id, "result must be a list of objects.", field)
        return None
    return result


def _parse_task(
    index: int,
    record: Any,
    *,
    id_key: str | None,
    from_name: str | None,
    errors: _Errors,
    controls: dict[str, int],
    kinds: dict[str, int],
    counts: dict[str, int],
) -> LsTask | None:
    if not isinstance(record, dict):
        errors.add(index, None, "each task must be an object.")
        return None
    task_id = _int_id(record.get("id"))
    if task_id is None:
        errors.add(index, record.get("id"), "id must be an integer.", "id")
        return None
    before = len(errors)
    data = _data(index, task_id, record.get("data"), id_key, errors)
    annotations = record.get("annotations", [])
    if annotations is None:
        annotations = []
    if not isinstance(annotations, list):
        errors.add(index, task_id, "annotations must be a list.", "annotations")
        return None
    parsed: list[LsAnnotation] = []
    seen_annotators: set[int] = set()
    for position, annotation in enumerate(annotations):
        field = f"annotations[{position}]"
        if not isinstance(annotation, dict):
            errors.add(index, task_id, "each annotation must be an object.", field)
            continue
        if annotation.get("was_cancelled") is True:
            counts["cancelled"] += 1
            continue
        annotator = _annotator(annotation.get("completed_by"))
        if annotator is None:
            errors.add(
                index,
                task_id,
                "completed_by must be a user id or an object with an id.",
                f"{field}.completed_by",
            )
            continue
        ls_id = annotation.get("id")
        if isinstance(ls_id, bool) or not isinstance(ls_id, int | str) or not str(ls_id).strip():
            errors.add(index, task_id, "the annotation has no id.", f"{field}.id")
            continue
        results = _choices_results(index, task_id, position, annotation, errors)
        if results is None:
            continue
        answer = _answer(index, task_id, field, results, from_name, errors, controls)
        if answer is False:
            continue
        if answer is None:
            counts["empty"] += 1
            continue
        kind, value = answer
        kinds.setdefault(kind, index)
        if kind == "textarea" and not value.strip():
            counts["empty_transcripts"] += 1
        if annotator.ls_id in seen_annotators:
            errors.add(
                index,
                task_id,
                f"annotator {annotator.ls_id} answered this task twice; LabelHub keeps one "
                "label per labeler and item.",
                f"{field}.completed_by",
            )
            continue
        seen_annotators.add(annotator.ls_id)
        created_at = annotation.get("created_at")
        parsed.append(
            LsAnnotation(
                ls_id=str(ls_id).strip(),
                annotator=annotator,
                choice=value if kind == "choices" else "",
                text=value if kind == "textarea" else None,
                created_at=parse_datetime(created_at) if isinstance(created_at, str) else None,
                time_spent_ms=_lead_time_ms(annotation.get("lead_time")),
            )
        )
    if len(errors) > before or data is None:
        return None
    return LsTask(
        index=index,
        ls_id=task_id,
        external_id=data.pop("external_id", f"ls-{task_id}"),
        annotations=tuple(parsed),
        **data,
    )


def _transcript(value: Any) -> str | None:
    """``value.text`` of a textarea result: a list of strings (Label Studio's export: one per
    submitted line) joined with a newline, or a bare string as some older exports hold; None
    when it is neither."""
    text = value.get("text") if isinstance(value, dict) else None
    if isinstance(text, str):
        return text
    if isinstance(text, list) and all(isinstance(t, str) for t in text):
        return "\n".join(text)
    return None


def _answer(
    index: int,
    task_id: int,
    field: str,
    results: list[dict],
    from_name: str | None,
    errors: _Errors,
    controls: dict[str, int],
) -> tuple[str, str] | None | bool:
    """The one answer of an annotation, ``(type, choice or transcript)``; None when it holds no
    answer of the control; False after an error."""
    chosen: list[tuple[str, str, str]] = []
    for number, result in enumerate(results):
        kind = result.get("type")
        name = result.get("from_name")
        if from_name is not None and name != from_name:
            continue  # the caller picked one control; others are out of scope by request
        where = f"{field}.result[{number}]"
        if kind in UNSUPPORTED_RESULTS:
            errors.add(
                index,
                task_id,
                f"LabelHub does not support {UNSUPPORTED_RESULTS[kind]} answers "
                "(single-choice classification and transcription only).",
                f"{where}.type",
            )
            return False
        if kind not in ANSWER_TYPES:
            errors.add(index, task_id, f"unsupported result type {kind!r}.", f"{where}.type")
            return False
        if not isinstance(name, str) or not name:
            errors.add(index, task_id, f"a {kind} result needs a from_name.", f"{where}.from_name")
            return False
        value = result.get("value")
        if kind == "textarea":
            text = _transcript(value)
            if text is None:
                errors.add(
                    index, task_id, "value.text must be a list of strings.", f"{where}.value.text"
                )
                return False
            controls.setdefault(name, index)
            chosen.append((name, kind, text))
            continue
        choices = value.get("choices") if isinstance(value, dict) else None
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            errors.add(index, task_id, "value.choices must be a list of strings.", f"{where}.value")
            return False
        if len(choices) != 1:
            errors.add(
                index,
                task_id,
                f"{len(choices)} choices in one answer; only single-choice classification "
                "is supported.",
                f"{where}.value.choices",
            )
            return False
        choice = choices[0].strip()
        if not choice or len(choice) > MAX_CLASS_NAME:
            errors.add(
                index,
                task_id,
                f"a choice must have 1 to {MAX_CLASS_NAME} characters.",
                f"{where}.value.choices",
            )
            return False
        controls.setdefault(name, index)
        chosen.append((name, kind, choice))
    if not chosen:
        return None
    names = sorted({name for name, _, _ in chosen})
    if len(names) > 1:
        errors.add(
            index,
            task_id,
            f"several controls ({', '.join(names)}): name the one to import (from_name).",
            "from_name",
        )
        return False
    if len(chosen) > 1:
        kinds = {kind for _, kind, _ in chosen}
        errors.add(
            index,
            task_id,
            f"{len(chosen)} results of control {names[0]!r} in one annotation"
            + (
                " (per-region transcription is not supported)."
                if kinds == {"textarea"}
                else ": one answer per annotation."
            ),
            "annotations",
        )
        return False
    return chosen[0][1], chosen[0][2]


def parse_label_studio(
    data: bytes, *, id_key: str | None = None, from_name: str | None = None
) -> tuple[LsImport, list[RowError]]:
    """Parse a Label Studio JSON export. ``id_key`` names the data key holding each task's
    external id (default ``ls-<task id>``); ``from_name`` names the control to import
    when tasks have several. Returns the parsed import and every problem found (row = task
    index, 0-based)."""
    try:
        records = json.loads(decode_text(data))
    except json.JSONDecodeError as exc:
        raise _file_error(f"The file is not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
    except RecursionError as exc:
        raise _file_error("The file nests JSON too deeply.") from exc
    if not isinstance(records, list):
        raise _file_error("Expected Label Studio's JSON export: a list of tasks.")
    if not records:
        raise _file_error("The export holds no tasks.")
    errors = _Errors()
    controls: dict[str, int] = {}
    kinds: dict[str, int] = {}  # answer type → index of the first task answering with it
    counts = {"cancelled": 0, "empty": 0, "empty_transcripts": 0}
    tasks: list[LsTask] = []
    for index, record in enumerate(records):
        task = _parse_task(
            index,
            record,
            id_key=id_key,
            from_name=from_name,
            errors=errors,
            controls=controls,
            kinds=kinds,
            counts=counts,
        )
        if task is not None:
            tasks.append(task)
    if from_name is None and len(controls) > 1:
        # Different tasks answered through different controls: the same ambiguity as above.
        second = sorted(controls.items(), key=lambda kv: kv[1])[1]
        errors.add(
            second[1],
            records[second[1]].get("id") if isinstance(records[second[1]], dict) else None,
            f"several controls ({', '.join(sorted(controls))}): name the one to "
            "import (from_name).",
            "from_name",
        )
    if len(kinds) > 1:
        # One import is one project's task type: choices and transcripts cannot share it.
        (first, first_at), (second, second_at) = sorted(kinds.items(), key=lambda kv: kv[1])
        record = records[second_at]
        errors.add(
            second_at,
            record.get("id") if isinstance(record, dict) else None,
            f"a {second} answer, but task index {first_at} has a {first} answer: a file imports "
            "one answer type, choices (classification) or textarea (transcription).",
            "annotations",
        )
    _check_duplicates(tasks, errors)
    errors.sort(key=lambda e: e.row)
    choices: dict[str, None] = {}
    for task in tasks:
        for annotation in task.annotations:
            if annotation.text is None:
                choices.setdefault(annotation.choice, None)
    used = from_name if from_name is not None else next(iter(controls), None)
    answer_type = min(kinds, key=kinds.__getitem__) if kinds else None
    return (
        LsImport(
            tasks=tasks,
            choices=list(choices),
            from_name=used,
            skipped_cancelled=counts["cancelled"],
            skipped_empty=counts["empty"],
            answer_type=answer_type,
            empty_transcripts=counts["empty_transcripts"],
        ),
        list(errors),
    )


def _check_duplicates(tasks: list[LsTask], errors: _Errors) -> None:
    """External ids and annotation ids must be unique in the file (they key re-imports)."""
    seen: dict[str, LsTask] = {}
    annotation_ids: dict[str, int] = {}
    for task in tasks:
        first = seen.setdefault(task.external_id, task)
        if first is not task:
            errors.add(
                task.index,
                task.ls_id,
                f"external id {task.external_id!r} repeats task index {first.index}.",
                "id",
            )
        for annotation in task.annotations:
            other = annotation_ids.setdefault(annotation.ls_id, task.index)
            if other != task.index:
                errors.add(
                    task.index,
                    task.ls_id,
                    f"annotation id {annotation.ls_id} repeats one of task index {other}.",
                    "annotations",
                )
