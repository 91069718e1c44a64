"""Model runs and their predictions: create a run, import predictions all or nothing."""

from __future__ import annotations

from typing import Any, BinaryIO

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.importers import RowError, raise_if_errors
from annotations.models import Item, Project
from annotations.services.aliases import class_lookup
from consensus.models import ModelRun, Prediction
from consensus.prediction_importers import (
    PREDICTION_PARSERS,
    ParsedPrediction,
    parse_prediction_records,
    prediction_format_of,
)
from labelhub.errors import ApplicationError, ConflictError

_BATCH = 5000


def model_run_create(
    *,
    project: Project,
    name: str,
    version: str,
    created_by: AbstractBaseUser | None,
    description: str = "",
    shadow: bool = False,
) -> ModelRun:
    """A new run; the same name and version twice in a project answers 409."""
    try:
        with transaction.atomic():
            return ModelRun.objects.create(
                project=project,
                name=name,
                version=version,
                description=description,
                shadow=shadow,
                created_by=created_by,
            )
    except IntegrityError as exc:
        raise ConflictError(
            "duplicate_run", f"{name} {version} exists in this project.", field="version"
        ) from exc


def _resolve(
    project: Project, parsed: list[ParsedPrediction]
) -> tuple[list[int | None], list[int | None], list[RowError]]:
    """Item ids and class ids per prediction, with a row error for each unknown one."""
    externals = {p.item for p in parsed if p.item is not None}
    ids = {p.item_id for p in parsed if p.item_id is not None}
    by_external = dict(
        Item.objects.filter(project=project, external_id__in=externals).values_list(
            "external_id", "pk"
        )
    )
    known_ids = set(Item.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
    lookup = class_lookup(project_id=project.pk)
    classes = lookup.by_key
    items: list[int | None] = []
    labels: list[int | None] = []
    errors: list[RowError] = []
    for p in parsed:
        item = by_external.get(p.item) if p.item is not None else p.item_id
        if item is None or (p.item_id is not None and item not in known_ids):
            what = p.item if p.item is not None else p.item_id
            errors.append(RowError(p.row, f"{what!r} is not an item of this project.", "item"))
        found = lookup.resolve(p.label) if isinstance(p.label, str) else None
        label = found.pk if found is not None else None
        if label is None:
            errors.append(RowError(p.row, f"{p.label!r} is not a class of this project.", "label"))
        unknown = sorted(set(p.scores or {}) - set(classes))
        if unknown:
            errors.append(
                RowError(p.row, f"score for {unknown[0]!r}, not a class of this project.", "scores")
            )
        items.append(item)
        labels.append(label)
    return items, labels, errors


def predictions_import(
    *, run: ModelRun, parsed: list[ParsedPrediction], errors: list[RowError]
) -> int:
    """Check the parsed predictions against the run's project and store them all, or nothing
    (400 ``invalid_import`` naming the first bad row). A prediction for an item the run has
    predicted before replaces it (one prediction per item and run). Returns how many."""
    items, labels, more = _resolve(run.project, parsed)
    errors = sorted([*errors, *more], key=lambda e: e.row)
    raise_if_errors(errors)
    now = timezone.now()
    rows = [
        Prediction(
            run=run,
            item_id=item,
            label_id=label,
            scores=p.scores,
            predicted_at=p.predicted_at or now,
        )
        for p, item, label in zip(parsed, items, labels, strict=True)
    ]
    with transaction.atomic():
        Prediction.objects.bulk_create(
            rows,
            batch_size=_BATCH,
            update_conflicts=True,
            unique_fields=["run", "item"],
            update_fields=["label", "scores", "predicted_at"],
        )
    return len(rows)


def predictions_import_records(*, run: ModelRun, records: Any) -> int:
    """Import a JSON body already decoded: a list of records or ``{"predictions": [...]}``."""
    parsed, errors = parse_prediction_records(records)
    return predictions_import(run=run, parsed=parsed, errors=errors)


def predictions_import_file(*, run: ModelRun, filename: str, handle: BinaryIO) -> int:
    """Import an uploaded .json, .jsonl or .csv file of predictions."""
    kind = prediction_format_of(filename)
    if kind is None:
        raise ApplicationError(
            "unsupported_format", f"{filename!r}: use a .json, .jsonl or .csv file.", field="file"
        )
    parsed, errors = PREDICTION_PARSERS[kind](handle.read())
    return predictions_import(run=run, parsed=parsed, errors=errors)
