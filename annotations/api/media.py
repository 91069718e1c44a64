"""Stored media served with HTTP Range support.

Django's ``FileResponse`` always answers 200 with the whole file. Browsers ask audio for byte
ranges (Chromium sends ``Range: bytes=0-`` first and ``bytes=N-`` when a labeler seeks beyond
what is buffered) and treat a source that cannot answer 206 as unseekable, so the audio endpoint
answers ranges itself (RFC 9110 §14): one range per request; a multi-range request gets the whole
file (a server may ignore Range), a range past the end 416.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from typing import BinaryIO

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from rest_framework import status

from labelhub.errors import ApplicationError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 64 * 1024

# Python's table lacks some audio containers on slim images; these are the IANA types.
_AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
}


def content_type_of(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _AUDIO_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range ``(first, last)`` a ``Range`` header asks of a ``size``-byte
    file; None to send the whole file (no header, several ranges, or a form we do not know).
    Raises ``ApplicationError`` 416 when the range starts past the end."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # "bytes=-500": the last 500 bytes
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> ApplicationError:
    return ApplicationError(
        "range_not_satisfiable",
        f"The requested range is outside the file ({size} bytes).",
        field="Range",
        status_code=status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
    )


def _read(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def ranged_file_response(field: FieldFile, range_header: str | None) -> HttpResponseBase:
    """200 with the whole file, or 206 with the one range asked for; ``Accept-Ranges`` either
    way so the browser knows it may seek."""
    size = field.size
    content_type = content_type_of(field.name)
    byte_range = parse_range(range_header, size)
    if byte_range is None:
        response: HttpResponseBase = FileResponse(field.open("rb"), content_type=content_type)
    else:
        first, last = byte_range
        length = last - first + 1
        response = StreamingHttpResponse(
            _read(field.open("rb"), first, length),
            status=status.HTTP_206_PARTIAL_CONTENT,
            content_type=content_type,
        )
        response["Content-Length"] = str(length)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    return response
