"""The export's parameters: parsed from a query string (or a frozen version's JSON), validated
against the project, and written back out in one canonical form.

Every export, frozen version and ``manage.py export`` goes through :func:`export_params_parse`,
so the same words mean the same records everywhere. An unknown parameter is refused (400 naming
it) rather than ignored: a typo such as ``min_agrement=0.9`` must not quietly export everything.

Parameters (all optional)

``format``
    ``jsonl`` (default), ``json`` or ``csv``. Not part of what a frozen version stores: a version
    is always frozen as JSONL.
``min_agreement``, ``min_confidence``
    In [0, 1]: keep items whose majority share / consensus confidence is at least this.
    Reviewed items (an SME decided their label) are kept whatever their labels' agreement: the
    decision is the strongest evidence the project has.
``reviewed_only``
    ``true``: only items whose label an SME decided.
``borderline``
    What to do with items whose label is the project's borderline class: ``keep`` (default),
    ``drop``, ``soft`` (add a ``soft_label`` distribution, see ``consensus.export``), or a class
    key: map them to that side.
``slice``
    ``name:value``, repeatable: items whose slice ``name`` equals ``value``; values of one name
    are alternatives (OR), different names must all match (AND).
``class``
    Comma-separated class keys: items whose final label is one of them.
``round``
    Comma-separated round numbers: items currently in one of those rounds.
``updated_since``
    ISO 8601 date or date-time (UTC when it has no offset): items whose consensus or review
    decision changed at or after it.
``include_insufficient``
    ``true``: keep items an SME judged to lack the information for a label (excluded by default:
    their label is a guess).
``labelers``
    ``pseudonymous`` (default: a stable per-project pseudonym) or ``username`` (managers only).
``taxonomy_version``
    The classes as they were at that version (0: as created), instead of the current one: raw
    labels are mapped through that version's merges and each item's label is recounted by
    majority (the stored Dawid–Skene consensus belongs to the current version).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FORMATS = ("jsonl", "json", "csv")
BORDERLINE_POLICIES = ("keep", "drop", "soft")
LABELER_MODES = ("pseudonymous", "username")
PARAMETERS = (
    "format",
    "min_agreement",
    "min_confidence",
    "reviewed_only",
    "borderline",
    "slice",
    "class",
    "round",
    "updated_since",
    "include_insufficient",
    "labelers",
    "taxonomy_version",
)
#: Rounds are stored as PositiveIntegerField: nothing beyond this can match.
MAX_ROUND = 2_147_483_647
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


class ExportParamError(ValueError):
    """A parameter is unknown or its value is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ExportParams:
    format: str = "jsonl"
    min_agreement: float | None = None
    min_confidence: float | None = None
    reviewed_only: bool = False
    borderline: str = "keep"
    slices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    classes: tuple[str, ...] = ()
    rounds: tuple[int, ...] = ()
    updated_since: dt.datetime | None = None
    include_insufficient: bool = False
    labelers: str = "pseudonymous"
    taxonomy_version: int | None = None

    def canonical(self) -> dict[str, Any]:
        """The record-selecting parameters as plain JSON (format excluded), defaults included,
        lists sorted: two exports with equal ``canonical()`` select the same records."""
        return {
            "min_agreement": self.min_agreement,
            "min_confidence": self.min_confidence,
            "reviewed_only": self.reviewed_only,
            "borderline": self.borderline,
            "slice": {name: list(values) for name, values in self.slices},
            "class": list(self.classes),
            "round": list(self.rounds),
            "updated_since": self.updated_since.isoformat() if self.updated_since else None,
            "include_insufficient": self.include_insufficient,
            "labelers": self.labelers,
            "taxonomy_version": self.taxonomy_version,
        }


def _values(query: Mapping[str, Any], name: str) -> list[str]:
    """All values of ``name``: a QueryDict's list, or a JSON value (scalar or list)."""
    getlist = getattr(query, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(name)]
    value = query.get(name)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [_scalar(v) for v in value]
    if isinstance(value, dict) and name == "slice":
        pairs = ((k, vs if isinstance(vs, list) else [vs]) for k, vs in value.items())
        return [f"{k}:{v}" for k, vs in pairs for v in vs]
    return [_scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _one(query: Mapping[str, Any], name: str) -> str | None:
    values = _values(query, name)
    if len(values) > 1:
        raise ExportParamError(name, f"Give {name} once.")
    return values[0].strip() if values else None


def _fraction(query: Mapping[str, Any], name: str) -> float | None:
    raw = _one(query, name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ExportParamError(name, f"{name} must be a number between 0 and 1.") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ExportParamError(name, f"{name} must be a number between 0 and 1.")
    return value


def _flag(query: Mapping[str, Any], name: str) -> bool:
    raw = _one(query, name)
    if raw is None:
        return False
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ExportParamError(name, f"{name} must be true or false.")


def _comma_list(query: Mapping[str, Any], name: str) -> list[str]:
    return [part.strip() for raw in _values(query, name) for part in raw.split(",") if part.strip()]


def _datetime(raw: str, name: str) -> dt.datetime:
    text = raw.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # An unencoded "+01:00" offset arrives as " 01:00" once the query string is decoded.
    head, space, tail = text.rpartition(" ")
    candidates = [text] + ([f"{head}+{tail}"] if space and ":" in tail and "T" in head else [])
    for candidate in candidates:
        try:
            value = dt.datetime.fromisoformat(candidate)
            break
        except ValueError:
            continue
    else:
        raise ExportParamError(
            name, f"{name} must be an ISO 8601 date or date-time, e.g. 2026-11-01T12:00:00Z."
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def export_params_parse(
    query: Mapping[str, Any],
    *,
    class_keys: Iterable[str],
    borderline_key: str | None,
    allow: Iterable[str] = PARAMETERS,
    taxonomy_version: int = 0,
) -> ExportParams:
    """Validate ``query`` (a QueryDict or a JSON object) against a project's classes.

    Raises :class:`ExportParamError` naming the first bad parameter."""
    allowed = set(allow)
    for name in query:
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise ExportParamError(name, f"Unknown parameter {name!r}. Known: {known}.")
    keys = set(class_keys)

    fmt = (_one(query, "format") or "jsonl").lower()
    if fmt not in FORMATS:
        raise ExportParamError("format", f"format must be one of {', '.join(FORMATS)}.")

    borderline = _one(query, "borderline") or "keep"
    if borderline not in BORDERLINE_POLICIES and borderline not in keys:
        raise ExportParamError(
            "borderline", "borderline must be keep, drop, soft or the key of a class to map to."
        )
    if borderline not in BORDERLINE_POLICIES and borderline == borderline_key:
        raise ExportParamError("borderline", "Map borderline items to a class other than itself.")

    slices: dict[str, set[str]] = {}
    for raw in _values(query, "slice"):
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            raise ExportParamError("slice", f"slice must be name:value, not {raw!r}.")
        slices.setdefault(name.strip(), set()).add(value.strip())

    classes = _comma_list(query, "class")
    unknown = sorted(set(classes) - keys)
    if unknown:
        raise ExportParamError("class", f"Unknown class: {', '.join(unknown)}.")

    rounds: set[int] = set()
    for raw in _comma_list(query, "round"):
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ROUND:
            raise ExportParamError("round", f"round must hold round numbers, not {raw!r}.")
        rounds.add(int(raw))

    since_raw = _one(query, "updated_since")
    labelers = _one(query, "labelers") or "pseudonymous"
    if labelers not in LABELER_MODES:
        raise ExportParamError("labelers", "labelers must be pseudonymous or username.")

    version_raw = _one(query, "taxonomy_version")
    version = None
    if version_raw not in (None, ""):
        if not version_raw.isdigit() or int(version_raw) > taxonomy_version:
            raise ExportParamError(
                "taxonomy_version",
                f"taxonomy_version must be a version from 0 to {taxonomy_version} (the current).",
            )
        version = int(version_raw)

    return ExportParams(
        format=fmt,
        min_agreement=_fraction(query, "min_agreement"),
        min_confidence=_fraction(query, "min_confidence"),
        reviewed_only=_flag(query, "reviewed_only"),
        borderline=borderline,
        slices=tuple((name, tuple(sorted(values))) for name, values in sorted(slices.items())),
        classes=tuple(sorted(set(classes))),
        rounds=tuple(sorted(rounds)),
        updated_since=_datetime(since_raw, "updated_since") if since_raw else None,
        include_insufficient=_flag(query, "include_insufficient"),
        labelers=labelers,
        taxonomy_version=version,
    )
