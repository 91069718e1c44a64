"""One error type for services and one JSON error shape for the whole API.

Every API error is ``{"error": {"code", "message", "field"?, "row"?, "details"?}}`` with a 4xx
status. Services raise :class:`ApplicationError`; :func:`api_exception_handler` maps it, DRF's
exceptions and Django's ``ValidationError``/``Http404``/``PermissionDenied`` to that shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(Exception):
    """A business rule said no. ``field`` names the input field, ``row`` the (1-based) input row."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        row: int | None = None,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.row = row
        self.status_code = status_code
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.row is not None:
            body["row"] = self.row
        if self.details:
            body["details"] = self.details
        return body


class NotFoundError(ApplicationError):
    def __init__(self, message: str = "Not found.") -> None:
        super().__init__("not_found", message, status_code=status.HTTP_404_NOT_FOUND)


class ForbiddenError(ApplicationError):
    def __init__(self, message: str, *, code: str = "permission_denied") -> None:
        super().__init__(code, message, status_code=status.HTTP_403_FORBIDDEN)


class ConflictError(ApplicationError):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(
            code, message, field=field, status_code=status.HTTP_409_CONFLICT, details=details
        )


def _flatten(detail: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(dotted.field.path, message)`` for every leaf of a DRF error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                name = path
            elif isinstance(key, int):  # DRF keys list-item errors by index
                name = f"{path}[{key}]"
            else:
                name = f"{path}.{key}" if path else str(key)
            yield from _flatten(value, name)
    elif isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            for item in detail:
                yield path, str(item)
        else:
            for index, item in enumerate(detail):
                yield from _flatten(item, f"{path}[{index}]" if path else f"[{index}]")
    else:
        yield path, str(detail)


def _validation_error(detail: Any) -> dict[str, Any]:
    leaves = list(_flatten(detail))
    if not leaves:
        return {"code": "invalid", "message": "Invalid input."}
    field, message = leaves[0]
    body: dict[str, Any] = {"code": "invalid", "message": message}
    if field:
        body["field"] = field
    if len(leaves) > 1:
        body["details"] = [{"field": f or None, "message": m} for f, m in leaves]
    return body


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map every known error to the one error shape; unknown errors stay 500 (and are logged)."""
    if isinstance(exc, ApplicationError):
        return Response({"error": exc.as_dict()}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return Response({"error": _validation_error(detail)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": _validation_error(exc.detail)}
        return response
    code = next((c for klass, c in _CODES.items() if isinstance(exc, klass)), "error")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    # A code given when raising (AuthenticationFailed(..., code="token_revoked")) is more precise.
    own_code = getattr(detail, "code", None)
    if own_code and own_code != getattr(exc, "default_code", None):
        code = own_code
    response.data = {"error": {"code": code, "message": str(detail)}}
    return response
