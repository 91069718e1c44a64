"""Import items all or nothing: validate every row (decode every image, sniff every audio clip)
first, then write everything in one transaction."""

from __future__ import annotations

import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from uuid import uuid4

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from annotations.importers import (
    PARSERS,
    AudioInfo,
    ImageInfo,
    ImageSource,
    ParsedItem,
    RowError,
    format_of,
    iter_audio_checks,
    iter_image_checks,
    make_thumbnail,
    parse_image_source,
    parse_records,
    raise_if_errors,
)
from annotations.models import Item, Project
from annotations.services.aliases import ClassLookup, class_lookup
from labelhub.errors import ApplicationError

_BATCH = 1000
_MAX_ARCHIVE_MEMBERS = 200_000


def _check_against_project(project: Project, items: list[ParsedItem]) -> list[RowError]:
    """Gold labels must be classes of the project; external ids new and unique."""
    errors: list[RowError] = []
    classes = class_lookup(project_id=project.pk)
    seen: dict[str, int] = {}
    for item in items:
        if item.gold is not None and classes.resolve(item.gold) is None:
            errors.append(
                RowError(item.row, f"gold {item.gold!r} is not a class of this project.", "gold")
            )
        if item.external_id in seen:
            errors.append(
                RowError(
                    item.row,
                    f"external_id {item.external_id!r} repeats row {seen[item.external_id]}.",
                    "external_id",
                )
            )
        seen.setdefault(item.external_id, item.row)
    ids = list(seen)
    taken: set[str] = set()
    for start in range(0, len(ids), _BATCH):
        taken.update(
            Item.objects.filter(
                project=project, external_id__in=ids[start : start + _BATCH]
            ).values_list("external_id", flat=True)
        )
    errors.extend(
        RowError(
            item.row, f"external_id {item.external_id!r} exists in this project.", "external_id"
        )
        for item in items
        if item.external_id in taken and seen[item.external_id] == item.row
    )
    return errors


def _store_image(source: ImageSource, item: ParsedItem, written: list[str]) -> tuple[str, str]:
    """Save the image and its thumbnail under random names (external ids are not file names)."""
    stem = uuid4().hex
    suffix = PurePosixPath(item.image_name).suffix.lower()
    with source.open(item.image_name) as handle:
        name = default_storage.save(f"items/{stem[:2]}/{stem}{suffix}", handle)
    written.append(name)
    with source.open(item.image_name) as handle:
        thumb = default_storage.save(
            f"thumbs/{stem[:2]}/{stem}.jpg", ContentFile(make_thumbnail(handle))
        )
    written.append(thumb)
    return name, thumb


def _store_audio(source: ImageSource, item: ParsedItem, written: list[str]) -> str:
    """Save the clip under a random name, keeping its extension (browsers and ``FileResponse``
    pick the Content-Type from it)."""
    stem = uuid4().hex
    suffix = PurePosixPath(item.audio_name).suffix.lower()
    with source.open(item.audio_name) as handle:
        name = default_storage.save(f"audio/{stem[:2]}/{stem}{suffix}", handle)
    written.append(name)
    return name


def _gold_id(classes: ClassLookup, gold: str | None) -> int | None:
    found = classes.resolve(gold) if gold else None
    return found.pk if found is not None else None


def _write(
    project: Project,
    items: list[ParsedItem],
    infos: dict[int, ImageInfo],
    source: ImageSource | None,
    clips: dict[int, AudioInfo] | None = None,
) -> int:
    clips = clips or {}
    classes = class_lookup(project_id=project.pk)
    written: list[str] = []
    try:
        with transaction.atomic():
            batch: list[Item] = []
            for parsed in items:
                row = Item(
                    project=project,
                    external_id=parsed.external_id,
                    text=parsed.text,
                    image_url=parsed.image_url,
                    audio_url=parsed.audio_url,
                    slices=parsed.slices,
                    gold_label_id=_gold_id(classes, parsed.gold),
                    round=project.current_round,
                )
                if parsed.image_name and source is not None:
                    row.image.name, row.thumbnail.name = _store_image(source, parsed, written)
                    info = infos[parsed.row]
                    row.metadata = {
                        "width": info.width,
                        "height": info.height,
                        "brightness": info.brightness,
                    }
                if parsed.audio_name and source is not None:
                    row.audio.name = _store_audio(source, parsed, written)
                    clip = clips[parsed.row]
                    row.metadata = {"audio_format": clip.format, "audio_bytes": clip.size}
                batch.append(row)
                if len(batch) >= _BATCH:
                    Item.objects.bulk_create(batch)
                    batch = []
            Item.objects.bulk_create(batch)
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    return len(items)


def items_import(
    *,
    project: Project,
    items: list[ParsedItem],
    errors: list[RowError],
    source: ImageSource | None = None,
) -> int:
    """Validate parsed items against the project and their images, then create them all.

    Raises ``ApplicationError`` (code ``invalid_import``) naming the first bad row; then nothing
    is written. Returns the number of items created. Audio clips over
    ``LABELHUB_MAX_AUDIO_BYTES`` each, or whose first bytes are not an audio format, are bad rows.
    """
    errors = [*errors, *_check_against_project(project, items)]
    infos: dict[int, ImageInfo] = {}
    for item, result in iter_image_checks(items, source):
        if isinstance(result, RowError):
            errors.append(result)
        else:
            infos[item.row] = result
    clips: dict[int, AudioInfo] = {}
    max_audio = settings.LABELHUB_MAX_AUDIO_BYTES
    for item, clip in iter_audio_checks(items, source, max_bytes=max_audio):
        if isinstance(clip, RowError):
            errors.append(clip)
        else:
            clips[item.row] = clip
    # A missing file is found by the manifest check and again by the file check: report it once.
    errors = sorted(dict.fromkeys(errors), key=lambda e: e.row)
    raise_if_errors(errors)
    return _write(project, items, infos, source, clips)


def items_import_records(*, project: Project, records: Any) -> int:
    """Import a JSON body already decoded: a list of records or ``{"items": [...]}``."""
    items, errors = parse_records(records)
    return items_import(project=project, items=items, errors=errors)


@contextmanager
def _open_archive(handle: BinaryIO):
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as exc:
        raise ApplicationError(
            "invalid_import", "The file is not a valid zip archive.", field="file"
        ) from exc
    with archive:
        members = archive.infolist()
        if len(members) > _MAX_ARCHIVE_MEMBERS:
            raise ApplicationError(
                "import_too_large",
                f"The archive has over {_MAX_ARCHIVE_MEMBERS} files.",
                field="file",
            )
        if sum(m.file_size for m in members) > settings.LABELHUB_MAX_IMPORT_BYTES:
            raise ApplicationError(
                "import_too_large",
                f"The archive unpacks to more than {settings.LABELHUB_MAX_IMPORT_BYTES} bytes.",
                field="file",
            )
        yield ImageSource(archive=archive)


def items_import_file(*, project: Project, filename: str, handle: BinaryIO) -> int:
    """Import an uploaded file: JSON, JSONL, CSV (by extension), or a zip of images and/or audio."""
    kind = format_of(filename)
    if kind is None:
        raise ApplicationError(
            "unsupported_format",
            f"{filename!r}: use a .json, .jsonl, .csv or .zip file.",
            field="file",
        )
    if kind == "zip":
        with _open_archive(handle) as source:
            items, errors = parse_image_source(source)
            return items_import(project=project, items=items, errors=errors, source=source)
    items, errors = PARSERS[kind](handle.read())
    return items_import(project=project, items=items, errors=errors)


def items_import_path(*, project: Project, path: Path) -> int:
    """Import from the command line: a data file, a zip archive, or a folder of images/audio."""
    if path.is_dir():
        source = ImageSource(root=path)
        items, errors = parse_image_source(source)
        return items_import(project=project, items=items, errors=errors, source=source)
    if not path.is_file():
        raise ApplicationError("not_found", f"{path} does not exist.", field="path")
    with path.open("rb") as handle:
        return items_import_file(project=project, filename=path.name, handle=handle)
