"""Input checks shared by every entry point.

PostgreSQL text cannot hold the NUL character (U+0000): a string with one would fail at the
database as a 500. Every JSON body (:class:`StrictJSONParser`) and every imported record is
checked first, and the input is refused with a 400 naming where the character is.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser


def nul_path(value: Any, path: str = "") -> str | None:
    """The path (``items[2].text``, ``slices.<key>``) of the first string holding a NUL
    character, in keys or values, or None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return (path or "body") + " (a key)"
            found = nul_path(item, here)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, refusing strings that hold a NUL character (400 naming the field)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        where = nul_path(data)
        if where is not None:
            field = where.replace(" (a key)", "").replace("body", "non_field_errors") or "body"
            raise ValidationError({field: ["Text cannot contain the NUL character (\\u0000)."]})
        return data
