"""Parse and validate model predictions into plain dataclasses; no ORM here.

A prediction record is ``{"item": "<external id>", "label": "<class key>", "scores"?: {class:
score}, "predicted_at"?: "<ISO 8601>"}`` (``item_id`` — the numeric id — may replace ``item``).
JSON (a list, or ``{"predictions": [...]}``), JSONL (one record per line) and CSV (header with
``item`` or ``external_id``, ``label``, optional ``predicted_at``, and ``score_<class>``
columns) are accepted. Rows are numbered from 1 in input order. Every problem is collected, then
one error names the first row (``annotations.importers.raise_if_errors``).

Checks here are those that need no database: shapes, types, scores are numbers in [0, 1],
timestamps parse, an item appears once. The service checks items and classes against the project.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from annotations.importers import RowError, decode_text, format_of
from labelhub.validation import nul_path

KNOWN_FIELDS = frozenset({"item", "item_id", "external_id", "label", "scores", "predicted_at"})
SCORE_PREFIX = "score_"
#: Item ids are BigAutoFields (signed 64-bit). A larger number names no item, and the database
#: cannot even look it up (SQLite raises OverflowError, PostgreSQL "bigint out of range").
MAX_ITEM_ID = 2**63 - 1


@dataclass(frozen=True)
class ParsedPrediction:
    row: int
    item: str | None  # external id
    item_id: int | None
    label: str
    scores: dict[str, float] | None = None
    predicted_at: datetime | None = field(default=None)


def _item(
    row: int, record: dict[str, Any], errors: list[RowError]
) -> tuple[str | None, int | None]:
    external = record.get("item", record.get("external_id"))
    item_id = record.get("item_id")
    if isinstance(external, int) and not isinstance(external, bool):
        external = str(external)
    if item_id not in (None, ""):
        try:
            item_id = int(item_id)
        except (TypeError, ValueError):
            errors.append(RowError(row, "item_id must be an integer.", "item_id"))
            return None, None
        if not 1 <= item_id <= MAX_ITEM_ID:
            errors.append(RowError(row, f"item_id {item_id} is not an item id.", "item_id"))
            return None, None
        return None, item_id
    if not isinstance(external, str) or not external.strip():
        errors.append(RowError(row, "item (the item's external id) is required.", "item"))
        return None, None
    return external.strip(), None


def _scores(row: int, value: Any, errors: list[RowError]) -> dict[str, float] | None:
    if value in (None, "", {}):
        return None
    if not isinstance(value, dict):
        errors.append(RowError(row, "scores must be an object of class → score.", "scores"))
        return None
    scores = {}
    for key, score in value.items():
        if isinstance(score, bool) or not isinstance(score, int | float):
            errors.append(RowError(row, f"the score of {key!r} must be a number.", "scores"))
            return None
        if not math.isfinite(score) or not 0 <= score <= 1:
            errors.append(RowError(row, f"the score of {key!r} must be in [0, 1].", "scores"))
            return None
        scores[str(key)] = float(score)
    return scores


def _timestamp(row: int, value: Any, errors: list[RowError]) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        errors.append(
            RowError(row, "predicted_at must be an ISO 8601 date and time.", "predicted_at")
        )
        return None
    if parsed.tzinfo is None:
        errors.append(
            RowError(row, "predicted_at needs a time zone (e.g. Z or +01:00).", "predicted_at")
        )
        return None
    return parsed


def parse_prediction(row: int, record: Any, errors: list[RowError]) -> ParsedPrediction | None:
    """Validate one record; append its problems to ``errors``."""
    if not isinstance(record, dict):
        errors.append(RowError(row, "each prediction must be an object."))
        return None
    where = nul_path(record)
    if where is not None:
        field = where.split(".")[0].split("[")[0].replace(" (a key)", "")
        errors.append(RowError(row, f"{where} contains a NUL character (\\u0000).", field))
        return None
    unknown = sorted(set(record) - KNOWN_FIELDS)
    if unknown:
        errors.append(RowError(row, f"unknown field {unknown[0]!r}.", unknown[0]))
        return None
    before = len(errors)
    external, item_id = _item(row, record, errors)
    label = record.get("label")
    if not isinstance(label, str) or not label.strip():
        errors.append(RowError(row, "label (a class key) is required.", "label"))
    scores = _scores(row, record.get("scores"), errors)
    predicted_at = _timestamp(row, record.get("predicted_at"), errors)
    if len(errors) > before:
        return None
    return ParsedPrediction(
        row=row,
        item=external,
        item_id=item_id,
        label=label.strip(),
        scores=scores,
        predicted_at=predicted_at,
    )


def _check_duplicates(parsed: list[ParsedPrediction], errors: list[RowError]) -> None:
    seen: dict[Any, int] = {}
    for p in parsed:
        key = ("id", p.item_id) if p.item_id is not None else ("external", p.item)
        if key in seen:
            errors.append(
                RowError(p.row, f"this item was already predicted on row {seen[key]}.", "item")
            )
        else:
            seen[key] = p.row


def parse_prediction_records(records: Any) -> tuple[list[ParsedPrediction], list[RowError]]:
    if isinstance(records, dict) and "predictions" in records:
        records = records["predictions"]
    if not isinstance(records, list):
        return [], [RowError(1, 'expected a list of predictions (or {"predictions": [...]}).')]
    if not records:
        return [], [RowError(1, "the import holds no predictions.")]
    errors: list[RowError] = []
    parsed = [parse_prediction(row, record, errors) for row, record in enumerate(records, 1)]
    kept = [p for p in parsed if p is not None]
    _check_duplicates(kept, errors)
    errors.sort(key=lambda e: e.row)
    return kept, errors


def parse_prediction_json(data: bytes) -> tuple[list[ParsedPrediction], list[RowError]]:
    try:
        records = json.loads(decode_text(data))
    except json.JSONDecodeError as exc:
        return [], [RowError(exc.lineno, f"invalid JSON: {exc.msg} (line {exc.lineno}).")]
    return parse_prediction_records(records)


def parse_prediction_jsonl(data: bytes) -> tuple[list[ParsedPrediction], list[RowError]]:
    lines = [line for line in decode_text(data).splitlines() if line.strip()]
    records: list[Any] = []
    errors: list[RowError] = []
    for row, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(RowError(row, f"invalid JSON: {exc.msg}."))
            records.append(None)
    if not records:
        return [], [RowError(1, "the import holds no predictions.")]
    parsed, more = parse_prediction_records(records)
    bad_json = {e.row for e in errors}
    return parsed, sorted(errors + [e for e in more if e.row not in bad_json], key=lambda e: e.row)


def parse_prediction_csv(data: bytes) -> tuple[list[ParsedPrediction], list[RowError]]:
    reader = csv.DictReader(io.StringIO(decode_text(data), newline=""))
    header = reader.fieldnames or []
    if not {"item", "external_id", "item_id"} & set(header) or "label" not in header:
        return [], [
            RowError(1, "the CSV header needs an item (or external_id) and a label column.")
        ]
    records: list[dict[str, Any]] = []
    errors: list[RowError] = []
    for row, raw in enumerate(reader, start=1):
        if None in raw:
            errors.append(RowError(row, "the row has more cells than the header."))
            records.append({})
            continue
        record: dict[str, Any] = {}
        scores: dict[str, Any] = {}
        for key, value in raw.items():
            if key.startswith(SCORE_PREFIX):
                if value not in (None, ""):
                    try:
                        scores[key[len(SCORE_PREFIX) :]] = float(value)
                    except ValueError:
                        scores[key[len(SCORE_PREFIX) :]] = value  # reported as not a number
            elif value not in (None, ""):
                record[key] = value
        if scores:
            record["scores"] = scores
        records.append(record)
    if not records:
        return [], [RowError(1, "the import holds no predictions.")]
    parsed, more = parse_prediction_records(records)
    bad = {e.row for e in errors}
    return parsed, sorted(errors + [e for e in more if e.row not in bad], key=lambda e: e.row)


PREDICTION_PARSERS = {
    "json": parse_prediction_json,
    "jsonl": parse_prediction_jsonl,
    "csv": parse_prediction_csv,
}


def prediction_format_of(filename: str) -> str | None:
    """``json``, ``jsonl`` or ``csv`` by file extension; None if not supported."""
    kind = format_of(filename)
    return kind if kind in PREDICTION_PARSERS else None
