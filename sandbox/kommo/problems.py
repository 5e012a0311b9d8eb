"""Kommo error bodies (``application/problem+json``), as documented in the reference (K3, K10)."""

from __future__ import annotations

import uuid
from typing import Any

TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "ErrInternalServer",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

DETAILS: dict[int, str] = {
    400: "Request data can not be empty",
    401: "Invalid user name or password",
    402: "Payment required",
    403: "Access denied",
    405: "Method Not Allowed",
    422: "Limit 250 per page",
    429: "You have sent too many requests in a given amount of time. Please try again later.",
    500: "Our team are probably already working on the elimination of the problem",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def problem_body(status: int, detail: str | None = None, title: str | None = None, **extra: Any) -> dict[str, Any]:
    """The documented problem+json body for ``status``.

    500 has no ``type`` and carries a ``trace_id`` (the documented example); everything else has
    ``type: https://httpstatus.es/<status>``.
    """
    body: dict[str, Any] = {"title": title or TITLES.get(status, "Error")}
    if status != 500:
        body["type"] = f"https://httpstatus.es/{status}"
    body["status"] = status
    body["detail"] = detail if detail is not None else DETAILS.get(status, TITLES.get(status, "Error"))
    if status == 500 and "trace_id" not in extra:
        body["trace_id"] = str(uuid.uuid4())
    body.update(extra)
    return body


class ApiError(Exception):
    """Raised by handlers; the app turns it into a problem+json response."""

    def __init__(self, status: int, detail: str | None = None, title: str | None = None, **extra: Any) -> None:
        super().__init__(detail or TITLES.get(status, "Error"))
        self.status = status
        self.body = problem_body(status, detail, title, **extra)


class ValidationErrors:
    """Collects ``validation-errors`` per batch item (keyed by request_id), K10 shape."""

    def __init__(self) -> None:
        self._items: dict[str, list[dict[str, str]]] = {}

    def add(self, request_id: str, code: str, path: str, detail: str) -> None:
        self._items.setdefault(request_id, []).append({"code": code, "path": path, "detail": detail})

    def __bool__(self) -> bool:
        return bool(self._items)

    def count(self) -> int:
        return sum(len(v) for v in self._items.values())

    def raise_if_any(self) -> None:
        if self._items:
            raise ValidationFailed(self)

    def to_list(self) -> list[dict[str, Any]]:
        return [{"request_id": rid, "errors": errs} for rid, errs in self._items.items()]


class ValidationFailed(ApiError):
    def __init__(self, errors: ValidationErrors) -> None:
        super().__init__(400, "Request validation failed")
        # documented order: validation-errors first, then title/type/status/detail
        self.body = {"validation-errors": errors.to_list(), **self.body}


def single_validation_error(code: str, path: str, detail: str, request_id: str = "0") -> ValidationFailed:
    errors = ValidationErrors()
    errors.add(request_id, code, path, detail)
    return ValidationFailed(errors)
