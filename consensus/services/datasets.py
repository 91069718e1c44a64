"""Frozen dataset versions: an export written once to an immutable file, and the diff of two.

Freezing (:func:`dataset_freeze`)
    Streams the export as JSONL into a gzip file while hashing the uncompressed bytes (SHA-256:
    the ``content_hash``; equal hashes mean equal records) and counting labels per class, then
    numbers the version under the project's row lock and stores the file with the parameters,
    the counts and the consistency summary of that moment. Nothing is updated afterwards: the API
    has no edit or delete for versions.

Diffing (:func:`dataset_diff`)
    Reads version ``a`` into a dict keyed by item id (a few small values per item), then streams
    ``b``. An item is listed when its label differs, or it is in only one version. Each entry
    says why, from what the two records hold:

    - ``review_decision``: an SME's current decision differs (new, revised or withdrawn);
    - ``new_labels``: the item's labels differ (a new round, more labels, a withdrawal);
    - ``merge`` / ``rules``: the versions map labels through different taxonomy versions (class
      merges) or normalise transcripts with different standardisation rule sets;
    - ``reestimated``: same labels and no decision change, but the computed consensus moved:
      Dawid–Skene re-weighs labelers from the whole project, so other items' labels can flip it;
    - ``export_parameters``: the versions were frozen with different parameters and the item's
      labels and decision are unchanged (a borderline policy, a filter);
    - ``added`` / ``removed``: the item is in one version only (and why, when known).

"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.files import File
from django.db import transaction
from django.db.models import Max

from annotations.models import Project, TaskType
from annotations.selectors import project_get_for_user
from consensus.export import export_records
from consensus.export_formats import encode_jsonl
from consensus.export_params import PARAMETERS
from consensus.models import ConsistencyReport, DatasetVersion
from consensus.services.exports import EXPORTERS, export_params_for
from consensus.services.webhooks import webhook_event_emit
from labelhub.errors import ApplicationError, NotFoundError

#: Why an item's label differs between two versions (see the module docstring).
DIFF_REASONS = (
    "review_decision",
    "new_labels",
    "merge",
    "rules",
    "reestimated",
    "export_parameters",
    "added",
    "removed",
)
#: A version's parameters: everything an export takes except the format (always JSONL).
FREEZE_PARAMETERS = tuple(p for p in PARAMETERS if p != "format")
READ_BYTES = 1 << 20


def _summary(project: Project) -> dict[str, Any]:
    report = (
        ConsistencyReport.objects.filter(project=project)
        .order_by("-version")
        .only("version", "computed_at", "round", "n_items", "n_annotations", "overall")
        .first()
    )
    if report is None:
        return {"report_version": None}
    return {
        "report_version": report.version,
        "computed_at": report.computed_at.isoformat(),
        "round": report.round,
        "n_items": report.n_items,
        "n_annotations": report.n_annotations,
        "overall": report.overall,
    }


def dataset_freeze(
    *,
    user,
    project_id: int,
    params: Mapping[str, Any] | None = None,
    name: str = "",
    note: str = "",
    media_base: str = "",
) -> DatasetVersion:
    """Freeze the export of ``params`` into version n+1 (engineers and managers).

    Locks the project row only while numbering and inserting, not while exporting."""
    project = project_get_for_user(user=user, project_id=project_id, roles=EXPORTERS)
    parsed = export_params_for(project=project, query=params or {}, allow=FREEZE_PARAMETERS)
    if parsed.labelers == "username":
        raise ApplicationError(
            "invalid_parameter",
            "A frozen version keeps labelers pseudonymous: it may be shared further.",
            field="labelers",
        )
    summary = _summary(project)
    counts: Counter[str] = Counter()
    # A transcription project's labels are transcripts: counting them per value says nothing.
    by_label = project.task_type != TaskType.TRANSCRIPTION

    def counted(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            counts[record["label"] if by_label else "items"] += 1
            yield record

    records = export_records(
        project=project, params=parsed, include_gold=True, media_base=media_base
    )
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
            for chunk in encode_jsonl(counted(records)):
                digest.update(chunk)
                packed.write(chunk)
        n_items = sum(counts.values())
        class_counts = dict(sorted(counts.items())) if by_label else {}
        with transaction.atomic():
            locked = Project.objects.select_for_update().get(pk=project.pk)
            number = (
                DatasetVersion.objects.filter(project=locked).aggregate(n=Max("number"))["n"] or 0
            ) + 1
            version = DatasetVersion(
                project=locked,
                number=number,
                name=name.strip(),
                note=note.strip(),
                params=parsed.canonical(),
                content_hash=digest.hexdigest(),
                n_items=n_items,
                class_counts=class_counts,
                summary=summary,
                size_bytes=raw.seek(0, 2),
                created_by=user,
            )
            raw.seek(0)
            version.file.save(f"project-{project.id}-v{number}.jsonl.gz", File(raw), save=False)
            version.save()
            _announce(version)
    return version


def _announce(version: DatasetVersion) -> None:
    webhook_event_emit(
        project_id=version.project_id,
        event="dataset.frozen",
        payload={
            "dataset": version.id,
            "number": version.number,
            "name": version.name,
            "content_hash": version.content_hash,
            "n_items": version.n_items,
        },
    )


def _read_records(handle) -> Iterator[dict[str, Any]]:
    with gzip.GzipFile(fileobj=handle, mode="rb") as packed:
        for line in packed:
            if line.strip():
                yield json.loads(line)


def dataset_chunks(version: DatasetVersion) -> Iterator[bytes]:
    """The version's JSONL bytes, decompressed in 1 MiB chunks."""
    with version.file.open("rb") as handle, gzip.GzipFile(fileobj=handle, mode="rb") as packed:
        while chunk := packed.read(READ_BYTES):
            yield chunk


def dataset_get_for_user(*, user, project_id: int, dataset_id: int) -> DatasetVersion:
    project = project_get_for_user(user=user, project_id=project_id, roles=EXPORTERS)
    version = (
        DatasetVersion.objects.filter(project=project, pk=dataset_id)
        .select_related("created_by")
        .first()
    )
    if version is None:
        raise NotFoundError("Dataset version not found.")
    return version


@dataclass(frozen=True)
class _Entry:
    external_id: str
    label: str
    method: str
    decision: tuple[int, int] | None
    labels: tuple[tuple[str, str], ...]
    round: int
    taxonomy: int | None
    rules: int | None


def _entry(record: dict[str, Any]) -> _Entry:
    review = record.get("review")
    return _Entry(
        external_id=record["external_id"],
        label=record["label"],
        method=record["label_method"],
        decision=(review["decision"], review["revision"]) if review else None,
        labels=tuple(
            sorted((r["labeler"], r.get("raw_label", r["label"])) for r in record["labels"])
        ),
        round=record["round"],
        taxonomy=record.get("taxonomy_version"),
        rules=record.get("rule_set_version"),
    )


def _after(stamp: str | None, since: dt.datetime) -> bool:
    return stamp is not None and dt.datetime.fromisoformat(stamp) > since


def _added_reasons(record: dict[str, Any], since: dt.datetime, same_params: bool) -> list[str]:
    """Why an item is only in the newer version: a decision made since the older one, else
    different parameters, else (same parameters) it must have gained its labels since."""
    review = record.get("review")
    if review and _after(review["decided_at"], since):
        return ["added", "review_decision"]
    return ["added", "new_labels" if same_params else "export_parameters"]


def _reasons(old: _Entry, new: _Entry, same_params: bool) -> list[str]:
    reasons = []
    if old.decision != new.decision:
        reasons.append("review_decision")
    if old.labels != new.labels or old.round != new.round:
        reasons.append("new_labels")
    if old.taxonomy != new.taxonomy:
        reasons.append("merge")
    if old.rules != new.rules:
        reasons.append("rules")
    if not reasons:
        reasons.append("reestimated" if same_params else "export_parameters")
    return reasons


def dataset_diff(
    *, user, project_id: int, a_id: int, b_id: int
) -> tuple[DatasetVersion, DatasetVersion, list[dict[str, Any]]]:
    """The items whose label differs between versions ``a`` and ``b``, in item-id order."""
    a = dataset_get_for_user(user=user, project_id=project_id, dataset_id=a_id)
    b = dataset_get_for_user(user=user, project_id=project_id, dataset_id=b_id)
    same_params = a.params == b.params
    with a.file.open("rb") as handle:
        before = {r["item_id"]: _entry(r) for r in _read_records(handle)}
    changes: list[dict[str, Any]] = []
    with b.file.open("rb") as handle:
        for record in _read_records(handle):
            item_id = record["item_id"]
            new = _entry(record)
            old = before.pop(item_id, None)
            if old is not None and old.label == new.label:
                continue
            if old is None:
                reasons = _added_reasons(record, a.created_at, same_params)
            else:
                reasons = _reasons(old, new, same_params)
            changes.append(
                {
                    "item_id": item_id,
                    "external_id": new.external_id,
                    "before": old.label if old else None,
                    "after": new.label,
                    "before_method": old.method if old else None,
                    "after_method": new.method,
                    "change": "changed" if old else "added",
                    "reasons": reasons,
                }
            )
    for item_id, old in before.items():
        changes.append(
            {
                "item_id": item_id,
                "external_id": old.external_id,
                "before": old.label,
                "after": None,
                "before_method": old.method,
                "after_method": None,
                "change": "removed",
                "reasons": ["removed"] + ([] if same_params else ["export_parameters"]),
            }
        )
    changes.sort(key=lambda change: change["item_id"])
    return a, b, changes
