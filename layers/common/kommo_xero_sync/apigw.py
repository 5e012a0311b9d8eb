"""API Gateway (REST, proxy) adapter helpers shared by the webhook handlers."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent


def raw_body(event: APIGatewayProxyEvent) -> bytes:
    """The exact bytes the sender posted (API Gateway base64-encodes binary media types)."""
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            return body.encode("utf-8")  # not what anyone signed: the signature check rejects it
    return body.encode("utf-8")


def header(event: APIGatewayProxyEvent, name: str) -> str | None:
    value = event.headers.get(name) if event.headers else None
    if value is None and event.headers:
        lowered = name.lower()
        for key, val in event.headers.items():
            if key.lower() == lowered:
                return val
    return value


def response(status: int, body: Any = None, *, json_body: bool = True) -> dict[str, Any]:
    """A proxy response. ``body=None`` gives an empty body (what Xero requires)."""
    if body is None:
        return {"statusCode": status, "headers": {}, "body": ""}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"} if json_body else {"Content-Type": "text/plain"},
        "body": json.dumps(body) if json_body else str(body),
    }
