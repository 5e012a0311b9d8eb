"""Xero's wire formats: Decimal money written as JSON numbers, MS JSON dates, ISO strings, and date parsing.

Money never goes through float: amounts are ``Decimal`` end to end and :func:`dumps` writes them as JSON number
literals with their own scale (``40.00``, ``2.0000``, ``1.000000``), as Xero does.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
QTY = Decimal("0.0001")
RATE = Decimal("0.000001")


class FormatError(ValueError):
    """A value in a request could not be read (bad number or date)."""


def money(value: Any) -> Decimal:
    """Round to cents, half up (Xero's default rounding of line amounts and tax)."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def quantity(value: Any) -> Decimal:
    return to_decimal(value).quantize(QTY, rounding=ROUND_HALF_UP)


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise FormatError(f"not a number: {value!r}")
    if isinstance(value, float):
        # JSON numbers arrive as float from json.loads unless parse_float=Decimal; go through repr, never binary.
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise FormatError(f"not a number: {value!r}") from exc


def loads(raw: bytes | str) -> Any:
    """Parse a request body keeping every number exact (Decimal)."""
    return json.loads(raw, parse_float=Decimal)


def dumps(obj: Any) -> str:
    """Serialize to compact JSON, writing Decimal values as number literals."""
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts)


def _encode(obj: Any, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, Decimal):
        text = format(obj, "f")
        out.append(text)
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, float):
        out.append(json.dumps(obj))
    elif isinstance(obj, str):
        out.append(json.dumps(obj))
    elif isinstance(obj, dict):
        out.append("{")
        first = True
        for key, value in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(value, out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _encode(value, out)
        out.append("]")
    else:
        raise TypeError(f"cannot serialize {type(obj).__name__}")


def ms_date(value: datetime | date) -> str:
    """``/Date(1541176290160+0000)/`` (milliseconds since the epoch, UTC)."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({int(round(value.timestamp() * 1000))}+0000)/"


def date_string(value: date) -> str:
    """``2019-03-11T00:00:00`` as in DateString / DueDateString."""
    return f"{value.isoformat()}T00:00:00"


def utc_string(value: datetime) -> str:
    """``2018-11-02T16:31:30Z`` as in UpdatedDateUTCString."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_date(value: datetime) -> str:
    """Webhook ``eventDateUtc``: milliseconds, no zone designator."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


_MS_DATE = re.compile(r"^\\?/Date\((-?\d+)([+-]\d{4})?\)\\?/$")


def parse_date(value: Any) -> date:
    """Read a request date: ``YYYY-MM-DD``, ``YYYY-MM-DDThh:mm:ss`` or ``/Date(ms+0000)/``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise FormatError(f"not a date: {value!r}")
    text = value.strip()
    m = _MS_DATE.match(text)
    if m:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC).date()
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise FormatError(f"not a date: {value!r}") from exc


def parse_ms_date(value: str) -> datetime | None:
    m = _MS_DATE.match(value)
    if not m:
        return None
    return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC)


def parse_timestamp(value: str) -> datetime:
    """Read an ``If-Modified-Since`` value: ISO-8601 (zone optional, UTC assumed) or an HTTP date."""
    text = value.strip()
    ms = parse_ms_date(text)
    if ms is not None:
        return ms
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError) as exc:
            raise FormatError(f"not a timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def add_days(value: date, days: int) -> date:
    return value + timedelta(days=days)
