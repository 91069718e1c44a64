"""Parse and validate item imports into plain dataclasses; no ORM here.

Accepted inputs (see README, "Importing items"):

* JSON: a list of records, or ``{"items": [...]}``; JSONL: one record per line; CSV with a header.
  A record is ``{"external_id", "data"?, "text"?, "image_url"?, "image"?, "audio_url"?, "audio"?,
  "slices"?, "gold"?}``. ``data`` is a string: an ``http(s)://`` URL means an image URL (an audio
  URL when its path ends in an audio extension, e.g. ``.wav``), anything else is text; or an
  object with one of ``text``, ``image_url``, ``image``, ``audio_url``, ``audio``. ``image`` and
  ``audio`` name a file in the archive or folder. In CSV, columns other than the known ones are
  slices (``camera`` → ``{"camera": ...}``).
* A zip archive or a folder of images and/or audio clips: one item per file (external id = path
  without the extension), optionally described by a manifest (``items.json``/``.jsonl``/``.csv``)
  whose records name their file in ``image`` or ``audio``.

Audio files are checked by their first bytes, not their names (:func:`sniff_audio`): a PNG renamed
``x.wav`` is refused at import, where the row can still be fixed, instead of failing silently in
a labeler's player.

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
from urllib.parse import urlsplit

import numpy as np
from PIL import Image, UnidentifiedImageError

from labelhub.errors import ApplicationError
from labelhub.validation import nul_path

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
MANIFEST_NAMES = ("items.json", "items.jsonl", "items.csv")
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".webm"})
KNOWN_FIELDS = frozenset(
    {"external_id", "data", "text", "image_url", "image", "audio_url", "audio", "slices", "gold"}
)
#: Record fields holding the item's input, and the ParsedItem attribute each fills.
DATA_FIELDS = (
    ("text", "text"),
    ("image_url", "image_url"),
    ("image", "image_name"),
    ("audio_url", "audio_url"),
    ("audio", "audio_name"),
)
#: The first bytes read to tell an audio file's format (ftyp brands sit at offset 8–12).
SNIFF_BYTES = 16
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
    audio_url: str = ""
    audio_name: str = ""
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
    """Return the one data field of a record as ``{attribute: value}`` (see ``DATA_FIELDS``)."""
    data = record.get("data")
    found: dict[str, str] = {}
    if isinstance(data, str):
        found[_kind_of_data_string(data)] = data
    elif isinstance(data, dict):
        record = {**data, **record}
    elif data is not None:
        errors.append(RowError(row, "data must be a string or an object.", "data"))
        return {}
    for name, target in DATA_FIELDS:
        value = record.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            errors.append(RowError(row, f"{name} must be a string.", name))
            return {}
        found[target] = value
    if len(found) != 1:
        what = (
            "no data" if not found else "more than one of text, image_url, image, audio_url, audio"
        )
        errors.append(RowError(row, f"{what}: give exactly one.", "data"))
        return {}
    for url_field in ("image_url", "audio_url"):
        if url_field in found and not found[url_field].startswith(("http://", "https://")):
            errors.append(
                RowError(row, f"{url_field} must start with http:// or https://.", url_field)
            )
            return {}
    return found


def _kind_of_data_string(data: str) -> str:
    """A bare ``data`` string: a URL is an image unless its path ends like an audio file."""
    if not data.startswith(("http://", "https://")):
        return "text"
    path = urlsplit(data).path
    return "audio_url" if PurePosixPath(path).suffix.lower() in AUDIO_EXTENSIONS else "image_url"


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
    where = nul_path(record)
    if where is not None:
        field = where.split(".")[0].split("[")[0].replace(" (a key)", "")
        errors.append(RowError(row, f"{where} contains a NUL character (\\u0000).", field))
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
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApplicationError("invalid_import", f"The file is not UTF-8 text: {exc}.") from exc
    if "\x00" in text:
        raise ApplicationError(
            "invalid_import", "The file holds NUL characters: is it a binary file, not text?"
        )
    return text


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

    def size(self, name: str) -> int:
        """Bytes of one file (a zip member's uncompressed size) without reading it."""
        if self.archive is not None:
            return self.archive.getinfo(name).file_size
        assert self.root is not None
        return self._path(name).stat().st_size

    def _path(self, name: str) -> Path:
        assert self.root is not None
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise FileNotFoundError(name)
        return path

    def open(self, name: str) -> BinaryIO:
        if self.archive is not None:
            return self.archive.open(name)
        return self._path(name).open("rb")

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
    """Items of an archive or folder: from its manifest if it has one, else one per image or
    audio clip (chosen by extension here; the content is checked in ``iter_*_checks``)."""
    manifest = source.read_manifest()
    if manifest is not None:
        items, errors = manifest
        names = set(source.names())
        for item in items:
            for name, field_name in ((item.image_name, "image"), (item.audio_name, "audio")):
                if name and name not in names:
                    errors.append(
                        RowError(item.row, f"no file {name!r} in the upload.", field_name)
                    )
        errors.sort(key=lambda e: e.row)
        return items, errors
    media = sorted(
        name
        for name in source.names()
        if PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS | AUDIO_EXTENSIONS
        and not _is_hidden(name)
    )
    if not media:
        return [], [
            RowError(
                1, "the upload holds no images or audio clips (and no items.json/.jsonl/.csv)."
            )
        ]
    items = []
    for row, name in enumerate(media, start=1):
        path = PurePosixPath(name)
        target = "audio_name" if path.suffix.lower() in AUDIO_EXTENSIONS else "image_name"
        items.append(ParsedItem(row=row, external_id=str(path.with_suffix("")), **{target: name}))
    return items, []


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


@dataclass(frozen=True)
class AudioInfo:
    """What the import learns of a clip without decoding it: its container format and size."""

    format: str
    size: int


def _is_mpeg_frame_sync(head: bytes) -> bool:
    """An MPEG audio frame header (MP3, or AAC in ADTS): 11 set sync bits; a version other than
    the reserved 01 (ISO/IEC 11172-3 §2.4.2.3). JPEG's FF D8 fails the sync test."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x18 != 0x08


#: ISO base media brands (offset 8 after ``ftyp``) of files that hold still images, not sound.
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis", b"crx "})


def sniff_audio(head: bytes) -> str | None:
    """The audio container ``head`` (a file's first bytes) starts like, or None.

    Signatures: WAV = ``RIFF····WAVE``; MP3 = ``ID3`` (an ID3v2 tag) or an MPEG frame sync;
    Ogg (Vorbis, Opus, FLAC-in-Ogg) = ``OggS``; FLAC = ``fLaC``; M4A/MP4 = ``····ftyp`` with a
    brand that is not an image format; WebM/Matroska = the EBML magic ``1A 45 DF A3``.
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or _is_mpeg_frame_sync(head):
        return "mp3"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[4:8] == b"ftyp" and head[8:12] not in _IMAGE_BRANDS:
        return "m4a"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


_LOOKALIKES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)


def describe_start(head: bytes) -> str:
    """How a non-audio file starts, for the error message: "like a PNG image", "empty"…"""
    if not head:
        return "it is empty"
    if head[:4] == b"RIFF":
        return f"it is a RIFF file of type {head[8:12].decode('latin-1')!r}, not WAVE"
    if head[4:8] == b"ftyp":
        return f"it is an ISO media file of brand {head[8:12].decode('latin-1')!r} (an image)"
    for magic, what in _LOOKALIKES:
        if head.startswith(magic):
            return f"it starts like {what}"
    try:
        head.decode("ascii")
    except UnicodeDecodeError:
        return f"its first bytes are {head[:8].hex(' ')}"
    return "it starts like text"


def inspect_audio(handle: BinaryIO, *, size: int, max_bytes: int) -> AudioInfo:
    """Check a clip by size and magic bytes (ValueError says why it is refused)."""
    if size > max_bytes:
        raise ValueError(f"too large: {size:,} bytes, over the {max_bytes:,}-byte limit per clip")
    head = handle.read(SNIFF_BYTES)
    kind = sniff_audio(head)
    if kind is None:
        raise ValueError(f"not an audio file ({describe_start(head)})")
    return AudioInfo(format=kind, size=size)


def iter_audio_checks(
    items: list[ParsedItem], source: ImageSource | None, *, max_bytes: int
) -> Iterator[tuple[ParsedItem, AudioInfo | RowError]]:
    """Check every item's audio file; yields the item with its info or its error."""
    for item in items:
        if not item.audio_name:
            continue
        if source is None:
            yield item, RowError(item.row, "audio files need a zip or folder upload.", "audio")
            continue
        try:
            size = source.size(item.audio_name)
            with source.open(item.audio_name) as handle:
                yield item, inspect_audio(handle, size=size, max_bytes=max_bytes)
        except (KeyError, FileNotFoundError):
            yield item, RowError(item.row, f"no file {item.audio_name!r} in the upload.", "audio")
        except ValueError as exc:
            yield item, RowError(item.row, f"{item.audio_name} is {exc}.", "audio")
