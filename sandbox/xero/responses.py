"""Response bodies shared by the Accounting routes: the envelope, Xero's error shapes, JSON with exact money."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Response

from sandbox.xero.formats import dumps

PROBLEM_TYPES = {401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status=status, headers=headers, content_type="application/json; charset=utf-8")


def envelope(plural: str, items: list[dict[str, Any]], now: datetime, provider: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": provider,
        "DateTimeUTC": f"/Date({int(now.timestamp() * 1000)})/",
    }
    out.update(extra)
    out[plural] = items
    return out


def validation_error(elements: list[dict[str, Any]], message: str = "A validation exception occurred") -> Response:
    """400 ``ValidationException`` (X7)."""
    return json_response(
        {"ErrorNumber": 10, "Type": "ValidationException", "Message": message, "Elements": elements}, 400
    )


def simple_error(status: int, error_type: str, message: str, number: int = 10) -> Response:
    """A 400-family ``Error`` body without elements (bad JSON, bad where clause, idempotency conflict...)."""
    return json_response({"ErrorNumber": number, "Type": error_type, "Message": message}, status)


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """The PascalCase problem envelope Xero's gateway uses for 401 / 403 / 429."""
    title = PROBLEM_TYPES.get(status, "Error")
    body: dict[str, Any] = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return json_response(body, status, headers)


def not_found() -> Response:
    return Response(
        "The resource you're looking for cannot be found", status=404, content_type="text/plain; charset=utf-8"
    )


def server_error(status: int) -> Response:
    if status == 503:
        return Response("The Organisation is offline", status=503, content_type="text/plain; charset=utf-8")
    if status == 429:
        return problem(429, "Rate limit exceeded", {"Retry-After": "1", "X-Rate-Limit-Problem": "minute"})
    if status in (401, 403):
        return problem(status, "AuthenticationUnsuccessful")
    if status == 404:
        return not_found()
    if status == 400:
        return simple_error(400, "ValidationException", "A validation exception occurred")
    return json_response(
        {"ErrorNumber": 500, "Type": "UnknownErrorException", "Message": "An error occurred in Xero (sandbox fault)"},
        status,
    )
