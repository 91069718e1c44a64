"""The cleaned dataset as a stream of records: one per labeled item, in item-id order.

Reading
    Four queries, each streamed from a server-side cursor in item-id order and merged here, so the
    number of queries does not grow with the number of items and memory holds one chunk of each:
    items with their stored consensus, active annotations, current review decisions, and flags.
    On PostgreSQL the four run in one REPEATABLE READ transaction, so they see one snapshot (a
    label committed mid-export cannot appear in one stream and not another).

The record (JSONL: one per line; the ``json`` format is the same records in one array)
    ``item_id``, ``external_id``, ``data`` (``text`` and/or ``image_url``: the project's image
    URL, or the API address of an uploaded image), ``label`` and ``label_method`` (``reviewed``
    when an SME's current decision in the item's round set it, else the stored consensus method,
    ``dawid_skene`` or ``majority``), ``confidence`` (the consensus posterior or share; ``null``
    for a reviewed label: no model produced it), ``agreement`` (``labels``, ``majority_share``,
    ``entropy`` in nats, ``tied``), ``labels`` (each labeler's label in the item's round, oldest
    first, labelers pseudonymous unless asked otherwise; a label of a merged class counts as the
    merge's target and keeps its own key as ``raw_label``), ``round``, ``taxonomy_version`` (the
    project's taxonomy version the labels were mapped through), ``slices``, ``flags``
    (labelers' ``unsure`` / ``input_unclear``, an SME's ``input_insufficient`` /
    ``instructions_ambiguous``, and ``borderline`` when the label was the borderline class before
    the borderline policy applied), ``review`` (the current decision: id, revision, outcome,
    decided_at; else ``null``), ``gold_label`` (only for callers allowed to see gold), optional
    ``soft_label``, and ``updated_at`` (when the consensus or the decision last changed).
    Times are ``datetime`` objects here; the encoders write them in ISO 8601 (RFC 3339).

Soft labels (``borderline=soft``)
    For an item labeled borderline: p(c) = (n_c + b·w_c) / n, where n_c counts labels of normal
    class c, b the borderline labels, and w splits each borderline label evenly between the
    borderline class's two neighbours in class order (all to one neighbour at an end of the scale;
    evenly over all normal classes when it has none). DOMAIN.md §1: borderline sits between its
    neighbours, so half a vote to each side is the uninformative reading of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from annotations.models import (
    Annotation,
    ClassKind,
    Item,
    ItemFlag,
    LabelClass,
    Project,
    TaskType,
)
from consensus.export_params import ExportParams
from consensus.models import DecisionOutcome, ReviewDecision, TaxonomyVersion

CHUNK = 5000
_DECISION_FLAGS = {
    DecisionOutcome.INPUT_INSUFFICIENT: "input_insufficient",
    DecisionOutcome.INSTRUCTIONS_AMBIGUOUS: "instructions_ambiguous",
}


@dataclass(frozen=True)
class Taxonomy:
    """The project's classes as the export needs them, under its current taxonomy version: a
    label of a merged class counts as its target (``counts_as``), and is exported under the
    target's key with its own key as ``raw_label``."""

    version: int
    keys: dict[int, str]  # class id → the key it counts as
    raw_keys: dict[int, str]  # class id → its own key
    counts_as: dict[int, int]  # merged class id → target id (only merged classes)
    borderline_id: int | None
    #: For a soft label: per borderline vote, the share each class receives.
    borderline_split: dict[int, float]
    #: Class id → position in class order (ties of a recount go to the earlier class).
    rank: dict[int, int] = field(default_factory=dict)
    #: True for an earlier taxonomy version than the current: stored consensus was computed
    #: under the current one, so each item's label is recounted (majority) under this one.
    recount: bool = False

    @classmethod
    def load(cls, project: Project, version: int | None = None) -> Taxonomy:
        """The current version, or ``version``: its mapping (``TaxonomyVersion.mapping``, key →
        key) over the raw classes. A target class that no longer exists (an undone merge had
        created it) gets a stand-in id below zero."""
        every = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
        raw_keys = {c.id: c.key for c in every}
        current = version is None or version == project.taxonomy_version
        if current:
            counts_as = {c.id: c.merged_into_id for c in every if c.merged_into_id is not None}
        else:
            mapping = _version_mapping(project, version)
            by_key = {c.key: c.id for c in every}
            for n, target in enumerate(sorted(set(mapping.values()) - set(by_key)), start=1):
                by_key[target] = -n
                raw_keys[-n] = target
            counts_as = {
                by_key[source]: by_key[target]
                for source, target in mapping.items()
                if source in by_key
            }
        keys = {i: raw_keys[counts_as.get(i, i)] for i in raw_keys}
        classes = [c for c in every if c.id not in counts_as]
        border = next((c for c in classes if c.kind == ClassKind.BORDERLINE), None)
        split: dict[int, float] = {}
        if border is not None:
            normal = [c for c in classes if c.kind != ClassKind.BORDERLINE]
            at = classes.index(border)
            before = [c for c in classes[:at] if c.kind != ClassKind.BORDERLINE]
            after = [c for c in classes[at + 1 :] if c.kind != ClassKind.BORDERLINE]
            sides = [side for side in (before[-1:], after[:1]) if side]
            targets = [side[0] for side in sides] or normal
            split = {c.id: 1.0 / len(targets) for c in targets}
        rank = {c.id: n for n, c in enumerate(every)}
        rank.update({i: len(every) - i for i in raw_keys if i < 0})
        return cls(
            version=project.taxonomy_version if version is None else version,
            keys=keys,
            raw_keys=raw_keys,
            counts_as=counts_as,
            borderline_id=border.id if border else None,
            borderline_split=split,
            rank=rank,
            recount=not current,
        )

    def recounted(self, label_ids: list[int]) -> tuple[int | None, dict[str, Any]]:
        """The plurality class of ``label_ids`` as they count here (ties: the earlier class in
        class order) and the item's agreement: labels, majority share, entropy (nats), tied."""
        counts: dict[int, int] = {}
        for raw in label_ids:
            label = self.counts_as.get(raw, raw)
            counts[label] = counts.get(label, 0) + 1
        n = len(label_ids)
        if not n:
            return None, {"labels": 0, "majority_share": None, "entropy": None, "tied": False}
        top = max(counts.values())
        winners = sorted((c for c, k in counts.items() if k == top), key=self.rank.__getitem__)
        entropy = -sum(k / n * math.log(k / n) for k in counts.values())
        return winners[0], {
            "labels": n,
            "majority_share": top / n,
            "entropy": entropy,
            "tied": len(winners) > 1,
        }

    def label_entries(self, names: dict[int, str], rows: list[tuple]) -> list[dict[str, str]]:
        """Each labeler's label (rows: item, round, labeler, class), as it counts now."""
        keys = self.keys
        if not self.counts_as:
            return [{"labeler": names[row[2]], "label": keys[row[3]]} for row in rows]
        raw = self.raw_keys
        return [
            {"labeler": names[row[2]], "label": keys[row[3]]}
            if keys[row[3]] == raw[row[3]]
            else {"labeler": names[row[2]], "label": keys[row[3]], "raw_label": raw[row[3]]}
            for row in rows
        ]


def _version_mapping(project: Project, version: int) -> dict[str, str]:
    if version == 0:
        return {}
    found = TaxonomyVersion.objects.filter(project=project, number=version).first()
    return found.mapping if found is not None else {}


def labeler_pseudonym(project_id: int, user_id: int) -> str:
    """A stable per-project pseudonym: HMAC-SHA256(SECRET_KEY, "labeler:project:user"), 12 hex
    digits. The same labeler has the same pseudonym in every export of the project (so versions
    diff cleanly) and different ones across projects (so exports cannot be joined on it)."""
    message = f"labeler:{project_id}:{user_id}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
    return "l-" + digest[:12]


class _Names(dict):
    """Labeler id → exported name, filled on first sight (one query for usernames)."""

    def __init__(self, project_id: int, mode: str) -> None:
        super().__init__()
        self.project_id = project_id
        self.mode = mode
        if mode == "username":
            users = get_user_model().objects.filter(memberships__project_id=project_id)
            self.update(users.values_list("id", "username"))

    def __missing__(self, user_id: int) -> str:
        if self.mode == "username":
            user = get_user_model().objects.filter(pk=user_id).values_list("username", flat=True)
            name = user.first() or labeler_pseudonym(self.project_id, user_id)
        else:
            name = labeler_pseudonym(self.project_id, user_id)
        self[user_id] = name
        return name


class _SliceCache(dict):
    """Slice JSON text → the parsed dict, parsed once per distinct text: a project has a handful
    of slice combinations, and parsing every row's JSON was a tenth of the export's time. Bounded,
    so per-item slices cannot grow it without end."""

    LIMIT = 4096

    def __missing__(self, text: str | None) -> Any:
        if len(self) >= self.LIMIT:
            self.clear()
        value = json.loads(text) if text is not None else {}
        self[text] = value
        return value


class _Stream:
    """Rows whose first column is an item id, read in ascending order, handed out per item."""

    def __init__(self, rows: Iterator[tuple]) -> None:
        self._rows = rows
        self._next: tuple | None = next(rows, None)

    def take(self, item_id: int) -> list[tuple]:
        """The rows of ``item_id`` (empty when none); skips rows of smaller ids."""
        row = self._next
        if row is None or row[0] > item_id:
            return []
        rows = self._rows
        while row is not None and row[0] < item_id:
            row = next(rows, None)
        taken = []
        while row is not None and row[0] == item_id:
            taken.append(row)
            row = next(rows, None)
        self._next = row
        return taken


def _item_rows(project: Project, params: ExportParams) -> Iterator[tuple]:
    items = Item.objects.filter(project=project)
    if params.rounds:
        items = items.filter(round__in=params.rounds)
    return (
        items.order_by("id")
        .annotate(slices_text=Cast("slices", output_field=TextField()))
        .values_list(
            "id",
            "external_id",
            "text",
            "image",
            "image_url",
            "slices_text",
            "gold_label_id",
            "round",
            "consensus__round",
            "consensus__label_id",
            "consensus__method",
            "consensus__confidence",
            "consensus__n_labels",
            "consensus__majority_share",
            "consensus__entropy",
            "consensus__tied",
            "consensus__updated_at",
        )
        .iterator(chunk_size=CHUNK)
    )


def _streams(
    project: Project, params: ExportParams
) -> tuple[Iterator[tuple], _Stream, _Stream, _Stream]:
    labels = (
        Annotation.objects.filter(project=project, withdrawn=False)
        .order_by("item_id", "id")
        .values_list("item_id", "round", "labeler_id", "label_id")
        .iterator(chunk_size=CHUNK)
    )
    decisions = (
        ReviewDecision.objects.filter(project=project, current=True)
        .order_by("item_id", "round")
        .values_list("item_id", "round", "id", "revision", "outcome", "label_id", "decided_at")
        .iterator(chunk_size=CHUNK)
    )
    flags = (
        ItemFlag.objects.filter(project=project)
        .order_by("item_id", "kind")
        .values_list("item_id", "round", "kind")
        .iterator(chunk_size=CHUNK)
    )
    return _item_rows(project, params), _Stream(labels), _Stream(decisions), _Stream(flags)


def _soft_label(labels: list[int], taxonomy: Taxonomy) -> dict[str, float]:
    weights: dict[int, float] = {}
    for raw_id in labels:
        label_id = taxonomy.counts_as.get(raw_id, raw_id)
        if label_id == taxonomy.borderline_id:
            for class_id, share in taxonomy.borderline_split.items():
                weights[class_id] = weights.get(class_id, 0.0) + share
        else:
            weights[label_id] = weights.get(label_id, 0.0) + 1.0
    total = sum(weights.values())
    return {taxonomy.keys[c]: round(w / total, 6) for c, w in sorted(weights.items()) if w}


def _in_slices(slices: Any, wanted: tuple[tuple[str, tuple[str, ...]], ...]) -> bool:
    """Whether the item's slice values match every wanted name (values compared as text, so
    ``slice=floor:3`` finds the number 3 too, and ``slice=lit:true`` or ``lit:True`` a boolean)."""
    if not isinstance(slices, dict):
        return False
    for name, values in wanted:
        value = slices.get(name)
        if value is None:
            return False
        if isinstance(value, bool):  # JSON's spelling and Python's both name it
            spellings = {"true", "True"} if value else {"false", "False"}
            if spellings.isdisjoint(values):
                return False
        elif str(value) not in values:
            return False
    return True


def _review(decision: tuple, item_flags: set[str]) -> dict[str, Any]:
    """The record's ``review`` from a decision row; a non-label outcome becomes a flag."""
    _, _, decision_id, revision, outcome, _, decided_at, *_ = decision
    if outcome in _DECISION_FLAGS:
        item_flags.add(_DECISION_FLAGS[outcome])
    return {
        "decision": decision_id,
        "revision": revision,
        "outcome": outcome,
        "decided_at": decided_at,
    }


def _later(first: Any, second: Any) -> Any:
    return second if first is None or (second is not None and second > first) else first


def _data(item_id: int, text: str, image: str, image_url: str, media_base: str, **audio) -> dict:
    """Where the item's input is: its text, and its media's URL (ours for uploaded files)."""
    data: dict[str, str] = {}
    if text:
        data["text"] = text
    if audio.get("audio_url"):
        data["audio_url"] = audio["audio_url"]
    elif audio.get("audio"):
        data["audio_url"] = f"{media_base}/api/v1/items/{item_id}/audio/"
    if image_url:
        data["image_url"] = image_url
    elif image:
        data["image_url"] = f"{media_base}/api/v1/items/{item_id}/image/"
    return data


def _transcript_records(  # noqa: C901 (one pass over the merged streams, one branch a filter)
    project: Project, params: ExportParams, media_base: str
) -> Iterator[dict[str, Any]]:
    """A transcription project's records: ``label`` is the consensus transcript (the medoid of
    the normalised transcripts, method ``medoid``; an SME's final transcript, method
    ``reviewed``), ``labels`` hold each labeler's transcript as submitted, ``agreement`` adds
    the item's ``word_error_rate``, and ``rule_set_version`` says which standardisation rules
    normalised them."""
    names = _Names(project.id, params.labelers)
    since = params.updated_since
    items = Item.objects.filter(project=project)
    if params.rounds:
        items = items.filter(round__in=params.rounds)
    rows = (
        items.order_by("id")
        .values_list(
            "id",
            "external_id",
            "text",
            "audio",
            "audio_url",
            "image",
            "image_url",
            "slices",
            "round",
            "consensus__round",
            "consensus__text",
            "consensus__n_labels",
            "consensus__majority_share",
            "consensus__entropy",
            "consensus__tied",
            "consensus__word_error_rate",
            "consensus__updated_at",
        )
        .iterator(chunk_size=CHUNK)
    )
    labels = _Stream(
        Annotation.objects.filter(project=project, withdrawn=False)
        .order_by("item_id", "id")
        .values_list("item_id", "round", "labeler_id", "value")
        .iterator(chunk_size=CHUNK)
    )
    decisions = _Stream(
        ReviewDecision.objects.filter(project=project, current=True)
        .order_by("item_id", "round")
        .values_list(
            "item_id", "round", "id", "revision", "outcome", "label_id", "decided_at", "text"
        )
        .iterator(chunk_size=CHUNK)
    )
    flags = _Stream(
        ItemFlag.objects.filter(project=project)
        .order_by("item_id", "kind")
        .values_list("item_id", "round", "kind")
        .iterator(chunk_size=CHUNK)
    )
    for (
        item_id,
        external_id,
        text,
        audio,
        audio_url,
        image,
        image_url,
        slices,
        item_round,
        cons_round,
        consensus_text,
        n_labels,
        share,
        entropy,
        tied,
        wer,
        updated,
    ) in rows:
        item_labels = [row for row in labels.take(item_id) if row[1] == item_round]
        decision = next((d for d in decisions.take(item_id) if d[1] == item_round), None)
        item_flags = {row[2] for row in flags.take(item_id) if row[1] == item_round}
        if params.slices and not _in_slices(slices, params.slices):
            continue
        if cons_round != item_round or not n_labels:
            continue
        review = _review(decision, item_flags) if decision is not None else None
        method, confidence = "medoid", share
        if review is not None:
            updated = _later(updated, review["decided_at"])
            if review["outcome"] == DecisionOutcome.LABEL:
                consensus_text, method, confidence = decision[7], "reviewed", None
        reviewed = method == "reviewed"
        if params.reviewed_only and not reviewed:
            continue
        if not params.include_insufficient and "input_insufficient" in item_flags:
            continue
        if (
            not reviewed
            and params.min_agreement is not None
            and (share is None or share < params.min_agreement)
        ):
            continue
        if (
            not reviewed
            and params.min_confidence is not None
            and (share is None or share < params.min_confidence)
        ):
            continue
        if since is not None and (updated is None or updated < since):
            continue
        yield {
            "item_id": item_id,
            "external_id": external_id,
            "data": _data(
                item_id, text, image, image_url, media_base, audio=audio, audio_url=audio_url
            ),
            "label": consensus_text,
            "label_method": method,
            "confidence": confidence,
            "agreement": {
                "labels": n_labels,
                "majority_share": share,
                "entropy": entropy,
                "tied": tied,
                "word_error_rate": wer,
            },
            "labels": [
                {"labeler": names[row[2]], "label": (row[3] or {}).get("text", "")}
                for row in item_labels
            ],
            "round": item_round,
            "rule_set_version": project.rule_set_version,
            "slices": slices,
            "flags": sorted(item_flags),
            "review": review,
            "updated_at": updated,
        }


def export_records(
    *,
    project: Project,
    params: ExportParams,
    include_gold: bool,
    media_base: str = "",
) -> Iterator[dict[str, Any]]:
    """The export's records (see the module docstring), filtered by ``params``.

    ``media_base`` prefixes API addresses of uploaded images (e.g. ``https://host``)."""
    if project.task_type == TaskType.TRANSCRIPTION:
        records = _transcript_records(project, params, media_base)
    else:
        records = _records(project, params, include_gold, media_base)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield from records
    else:
        yield from records


def _records(  # noqa: C901 (one pass over the merged streams; each branch is one filter)
    project: Project, params: ExportParams, include_gold: bool, media_base: str
) -> Iterator[dict[str, Any]]:
    taxonomy = Taxonomy.load(project, params.taxonomy_version)
    keys = taxonomy.keys
    names = _Names(project.id, params.labelers)
    counts_as = taxonomy.counts_as
    wanted = (
        {k for k, v in keys.items() if v in params.classes and k not in counts_as}
        if params.classes
        else None
    )
    since = params.updated_since
    border = taxonomy.borderline_id
    mapped_to = next(
        (k for k, v in keys.items() if v == params.borderline and k not in counts_as), None
    )
    items, labels, decisions, flags = _streams(project, params)
    parsed = _SliceCache()

    for (
        item_id,
        external_id,
        text,
        image,
        image_url,
        slices_text,
        gold_id,
        item_round,
        cons_round,
        cons_label,
        cons_method,
        cons_confidence,
        n_labels,
        majority_share,
        entropy,
        tied,
        cons_updated,
    ) in items:
        item_labels = [row for row in labels.take(item_id) if row[1] == item_round]
        decision = next((d for d in decisions.take(item_id) if d[1] == item_round), None)
        item_flags = {row[2] for row in flags.take(item_id) if row[1] == item_round}
        slices = parsed[slices_text]
        if params.slices and not _in_slices(slices, params.slices):
            continue
        if cons_round != item_round:
            # A consensus of an earlier round (the item was moved to a new one): not current.
            cons_label = cons_method = cons_confidence = majority_share = entropy = None
            n_labels, tied, cons_updated = 0, False, None
        elif taxonomy.recount:
            cons_label, figures = taxonomy.recounted([row[3] for row in item_labels])
            n_labels, majority_share = figures["labels"], figures["majority_share"]
            entropy, tied = figures["entropy"], figures["tied"]
            cons_method, cons_confidence = "majority", majority_share

        label_id, method, confidence = cons_label, cons_method, cons_confidence
        updated = cons_updated
        review = _review(decision, item_flags) if decision is not None else None
        if review is not None:
            if review["outcome"] == DecisionOutcome.LABEL:
                label_id, method, confidence = decision[5], "reviewed", None
            updated = _later(updated, review["decided_at"])

        if label_id is None:
            continue
        label_id = counts_as.get(label_id, label_id)
        reviewed = method == "reviewed"
        if params.reviewed_only and not reviewed:
            continue
        if not params.include_insufficient and "input_insufficient" in item_flags:
            continue
        if not reviewed:
            if params.min_agreement is not None and (
                majority_share is None or majority_share < params.min_agreement
            ):
                continue
            if params.min_confidence is not None and (
                confidence is None or confidence < params.min_confidence
            ):
                continue
        if since is not None and (updated is None or updated < since):
            continue

        soft = None
        if label_id == border and border is not None:
            item_flags.add("borderline")
            if params.borderline == "drop":
                continue
            if params.borderline == "soft":
                soft = _soft_label([row[3] for row in item_labels], taxonomy)
            elif mapped_to is not None:
                label_id = mapped_to
        if wanted is not None and label_id not in wanted:
            continue

        record: dict[str, Any] = {
            "item_id": item_id,
            "external_id": external_id,
            "data": _data(item_id, text, image, image_url, media_base),
            "label": keys[label_id],
            "label_method": method,
            "confidence": confidence,
            "agreement": {
                "labels": n_labels,
                "majority_share": majority_share,
                "entropy": entropy,
                "tied": tied,
            },
            "labels": taxonomy.label_entries(names, item_labels),
            "round": item_round,
            "taxonomy_version": taxonomy.version,
            "slices": slices,
            "flags": sorted(item_flags),
            "review": review,
        }
        if soft is not None:
            record["soft_label"] = soft
        if include_gold:
            record["gold_label"] = keys.get(gold_id)
        record["updated_at"] = updated
        yield record
