"""Parse and validate item imports into plain dataclasses; no ORM here.

Accepted inputs (see README, "Importing items"):

* JSON: a list of records, or ``{"items": [...]}``; JSONL: one record per line; CSV with a header.
  A record is ``{"external_id", "data"?, "text"?, "image_url"?, "image"?, "slices"?, "gold"?}``.
  ``data`` is a string: an ``http(s)://`` URL means an image URL, anything else is text; or an
  object with one of ``text``, ``image_url``, ``image``. ``image`` names a file in the archive or
  folder. In CSV, columns other than the known ones are slices (``camera`` → ``{"camera": ...}``).
* A zip archive or a folder of images: one item per image (external id = path without the
  extension), optionally described by a manifest (``items.json``/``.jsonl``/``.csv``) whose records
  name their file in ``image``.

Rows are numbered from 1 in the order of the input (for CSV: data rows, the header excluded).
Every problem is collected; :func:`raise_if_errors` raises one error naming the first row.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from labelhub.errors import ApplicationError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
MANIFEST_NAMES = ("items.json", "items.jsonl", "items.csv")
KNOWN_FIELDS = frozenset({"external_id", "data", "text", "image_url", "image", "slices", "gold"})
MAX_EXTERNAL_ID = 255
MAX_ERRORS = 50
THUMBNAIL_SIZE = (256, 256)
#: Refuse images whose pixel count suggests a decompression bomb (Pillow's own warning limit).
MAX_IMAGE_PIXELS = 89_478_485


@dataclass(frozen=True)
class RowError:
    row: int
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class ParsedItem:
    row: int
    external_id: str
    text: str = ""
    image_url: str = ""
    image_name: str = ""
    slices: dict[str, str | int | float | bool] = field(default_factory=dict)
    gold: str | None = None


@dataclass(frozen=True)
class ImageInfo:
    """Input metrics stored in item metadata: size, and mean luminance in 0–255 (ITU-R 601-2)."""

    width: int
    height: int
    brightness: float


def raise_if_errors(errors: list[RowError]) -> None:
    if not errors:
        return
    first = errors[0]
    more = f" ({len(errors)} problems in all)" if len(errors) > 1 else ""
    raise ApplicationError(
        "invalid_import",
        f"Row {first.row}: {first.message}{more}",
        row=first.row,
        field=first.field,
        details=[e.as_dict() for e in errors[:MAX_ERRORS]],
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _parse_data(row: int, record: dict[str, Any], errors: list[RowError]) -> dict[str, str]:
    """Return the one data field of a record as {"text"|"image_url"|"image_name": value}."""
    data = record.get("data")
    found: dict[str, str] = {}
    if isinstance(data, str):
        kind = "image_url" if data.startswith(("http://", "https://")) else "text"
        found[kind] = data
    elif isinstance(data, dict):
        record = {**data, **record}
    elif data is not None:
        errors.append(RowError(row, "data must be a string or an object.", "data"))
        return {}
    for name, target in (("text", "text"), ("image_url", "image_url"), ("image", "image_name")):
        value = record.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            errors.append(RowError(row, f"{name} must be a string.", name))
            return {}
        found[target] = value
    if len(found) != 1:
        what = "no data" if not found else "more than one of text, image_url, image"
        errors.append(RowError(row, f"{what}: give exactly one.", "data"))
        return {}
    if "image_url" in found and not found["image_url"].startswith(("http://", "https://")):
        errors.append(RowError(row, "image_url must start with http:// or https://.", "image_url"))
        return {}
    return found


def _parse_slices(row: int, value: Any, errors: list[RowError]) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        errors.append(RowError(row, "slices must be an object of name → value.", "slices"))
        return {}
    for key, item in value.items():
        if not key or not isinstance(item, str | int | float | bool):
            errors.append(RowError(row, f"slice {key!r} must be a string or number.", "slices"))
            return {}
    return dict(value)


def parse_record(row: int, record: Any, errors: list[RowError]) -> ParsedItem | None:
    """Validate one record; append its problems to ``errors``."""
    if not isinstance(record, dict):
        errors.append(RowError(row, "each item must be an object."))
        return None
    unknown = sorted(set(record) - KNOWN_FIELDS)
    if unknown:
        errors.append(RowError(row, f"unknown field {unknown[0]!r}.", unknown[0]))
        return None
    external_id = record.get("external_id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        errors.append(RowError(row, "external_id is required.", "external_id"))
        return None
    external_id = external_id.strip()
    if len(external_id) > MAX_EXTERNAL_ID:
        errors.append(
            RowError(row, f"external_id is over {MAX_EXTERNAL_ID} characters.", "external_id")
        )
        return None
    before = len(errors)
    data = _parse_data(row, record, errors)
    slices = _parse_slices(row, record.get("slices"), errors)
    gold = record.get("gold")
    if gold in ("", None):
        gold = None
    elif not isinstance(gold, str):
        errors.append(RowError(row, "gold must be a class key.", "gold"))
    if len(errors) > before:
        return None
    return ParsedItem(row=row, external_id=external_id, slices=slices, gold=gold, **data)


def parse_records(records: Any) -> tuple[list[ParsedItem], list[RowError]]:
    if isinstance(records, dict) and "items" in records:
        records = records["items"]
    if not isinstance(records, list):
        return [], [RowError(1, 'expected a list of items (or {"items": [...]}).')]
    if not records:
        return [], [RowError(1, "the import holds no items.")]
    errors: list[RowError] = []
    items = [parse_record(row, record, errors) for row, record in enumerate(records, start=1)]
    return [item for item in items if item is not None], errors


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApplicationError("invalid_import", f"The file is not UTF-8 text: {exc}.") from exc


def parse_json(data: bytes) -> tuple[list[ParsedItem], list[RowError]]:
    try:
        records = json.loads(decode_text(data))
    except json.JSONDecodeError as exc:
        return [], [RowError(exc.lineno, f"invalid JSON: {exc.msg} (line {exc.lineno}).")]
    return parse_records(records)


def parse_jsonl(data: bytes) -> tuple[list[ParsedItem], list[RowError]]:
    errors: list[RowError] = []
    items: list[ParsedItem] = []
    lines = [line for line in decode_text(data).splitlines() if line.strip()]
    if not lines:
        return [], [RowError(1, "the import holds no items.")]
    for row, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(RowError(row, f"invalid JSON: {exc.msg}."))
            continue
        item = parse_record(row, record, errors)
        if item is not None:
            items.append(item)
    return items, errors


def parse_csv(data: bytes) -> tuple[list[ParsedItem], list[RowError]]:
    reader = csv.DictReader(io.StringIO(decode_text(data), newline=""))
    if not reader.fieldnames or "external_id" not in reader.fieldnames:
        return [], [RowError(1, "the CSV header must have an external_id column.", "external_id")]
    records: list[dict[str, Any]] = []
    for raw in reader:
        if None in raw:
            records.append({"__extra__": raw[None]})  # more cells than header columns
            continue
        record: dict[str, Any] = {}
        slices: dict[str, str] = {}
        for key, value in raw.items():
            if key in KNOWN_FIELDS - {"slices"}:
                record[key] = value
            elif value not in (None, ""):
                slices[key] = value
        record["slices"] = slices
        records.append(record)
    items, errors = parse_records(records)
    for row, record in enumerate(records, start=1):
        if "__extra__" in record:
            errors = [e for e in errors if e.row != row]
            errors.append(RowError(row, "the row has more cells than the header."))
    errors.sort(key=lambda e: e.row)
    return items, errors


PARSERS = {"json": parse_json, "jsonl": parse_jsonl, "csv": parse_csv}


def format_of(filename: str) -> str | None:
    """``json``, ``jsonl``, ``csv`` or ``zip`` by file extension; None if not supported."""
    suffix = PurePosixPath(filename.lower()).suffix.lstrip(".")
    if suffix == "ndjson":
        return "jsonl"
    return suffix if suffix in {*PARSERS, "zip"} else None


class ImageSource:
    """Images of an import, by name: members of a zip archive or files below a folder."""

    def __init__(self, *, archive: zipfile.ZipFile | None = None, root: Path | None = None):
        self.archive = archive
        self.root = root

    def names(self) -> list[str]:
        if self.archive is not None:
            return [i.filename for i in self.archive.infolist() if not i.is_dir()]
        assert self.root is not None
        return [
            str(p.relative_to(self.root).as_posix())
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        ]

    def open(self, name: str) -> BinaryIO:
        if self.archive is not None:
            return self.archive.open(name)
        assert self.root is not None
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise FileNotFoundError(name)
        return path.open("rb")

    def read_manifest(self) -> tuple[list[ParsedItem], list[RowError]] | None:
        names = set(self.names())
        for manifest in MANIFEST_NAMES:
            if manifest in names:
                with self.open(manifest) as handle:
                    return PARSERS[format_of(manifest) or "json"](handle.read())
        return None


def _is_hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)


def parse_image_source(source: ImageSource) -> tuple[list[ParsedItem], list[RowError]]:
    """Items of an archive or folder: from its manifest if it has one, else one per image."""
    manifest = source.read_manifest()
    if manifest is not None:
        items, errors = manifest
        names = set(source.names())
        for item in items:
            if item.image_name and item.image_name not in names:
                errors.append(
                    RowError(item.row, f"no file {item.image_name!r} in the upload.", "image")
                )
        errors.sort(key=lambda e: e.row)
        return items, errors
    images = sorted(
        name
        for name in source.names()
        if PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS and not _is_hidden(name)
    )
    if not images:
        return [], [RowError(1, "the upload holds no images (and no items.json/.jsonl/.csv).")]
    return [
        ParsedItem(row=row, external_id=str(PurePosixPath(name).with_suffix("")), image_name=name)
        for row, name in enumerate(images, start=1)
    ], []


def _open_image(handle: BinaryIO) -> Image.Image:
    image = Image.open(handle)
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise ValueError(f"the image is too large ({image.width}×{image.height} pixels)")
    image.load()
    return image


def inspect_image(handle: BinaryIO) -> ImageInfo:
    """Decode the whole image (a truncated or non-image file raises ValueError) and measure it."""
    try:
        image = _open_image(handle)
        small = image.convert("L")
        small.thumbnail(THUMBNAIL_SIZE)
        brightness = float(np.asarray(small, dtype=np.float32).mean())
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ValueError("not a readable image") from exc
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"the image is damaged ({exc})") from exc
    return ImageInfo(width=image.width, height=image.height, brightness=round(brightness, 2))


def make_thumbnail(handle: BinaryIO) -> bytes:
    """A JPEG at most 256×256 for lists and review pages."""
    image = _open_image(handle).convert("RGB")
    image.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def iter_image_checks(
    items: list[ParsedItem], source: ImageSource | None
) -> Iterator[tuple[ParsedItem, ImageInfo | RowError]]:
    """Inspect every item's image file; yields the item with its info or its error."""
    for item in items:
        if not item.image_name:
            continue
        if source is None:
            yield item, RowError(item.row, "image files need a zip or folder upload.", "image")
            continue
        try:
            with source.open(item.image_name) as handle:
                yield item, inspect_image(handle)
        except (KeyError, FileNotFoundError):
            yield item, RowError(item.row, f"no file {item.image_name!r} in the upload.", "image")
        except ValueError as exc:
            yield item, RowError(item.row, f"{item.image_name}: {exc}.", "image")
