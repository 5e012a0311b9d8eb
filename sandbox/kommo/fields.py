"""Custom field definitions, validation of ``custom_fields_values`` on write, and their read/webhook shapes (K5)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from sandbox.kommo.problems import ValidationErrors

ENUM_TYPES = {"select", "radiobutton", "multiselect"}
DATE_TYPES = {"date", "date_time", "birthday"}
TEXT_TYPES = {"text", "textarea", "streetaddress", "tracking_data"}
NUMBER_TYPES = {"numeric", "monetary"}
SUPPORTED_TYPES = ENUM_TYPES | DATE_TYPES | TEXT_TYPES | NUMBER_TYPES | {"url", "checkbox", "multitext", "price"}

NOT_A_CHOICE = "The value you selected is not a valid choice."


@dataclass
class Enum:
    id: int
    value: str
    sort: int = 500


@dataclass
class CustomFieldDef:
    id: int
    name: str
    type: str
    entity_type: str  # leads | contacts | companies | catalogs
    code: str | None = None
    sort: int = 500
    enums: list[Enum] = field(default_factory=list)
    catalog_id: int | None = None
    is_api_only: bool = False

    def enum_by_id(self, enum_id: int) -> Enum | None:
        return next((e for e in self.enums if e.id == enum_id), None)

    def enum_by_value(self, value: str) -> Enum | None:
        exact = next((e for e in self.enums if e.value == value), None)
        return exact or next((e for e in self.enums if e.value.lower() == value.lower()), None)

    def to_api(self, base_url: str, account_id: int) -> dict[str, Any]:
        if self.entity_type == "catalogs":
            href = f"{base_url}/api/v4/catalogs/{self.catalog_id}/custom_fields/{self.id}"
        else:
            href = f"{base_url}/api/v4/{self.entity_type}/custom_fields/{self.id}"
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "account_id": account_id,
            "code": self.code,
            "sort": self.sort,
            "is_api_only": self.is_api_only,
            "enums": [{"id": e.id, "value": e.value, "sort": e.sort} for e in self.enums] if self.enums else None,
            "group_id": None,
            "required_statuses": [],
            "is_deletable": self.code is None,
            "is_predefined": self.code is not None,
            "entity_type": self.entity_type,
            "remind": None,
            "settings": None,
            "_links": {"self": {"href": href}},
        }
        if self.entity_type == "leads":
            out["is_computed"] = False
        if self.catalog_id is not None:
            out["catalog_id"] = self.catalog_id
        return out


# Stored values: {field_id: [value dicts in the read shape]} -------------------------------------------------------

StoredValues = dict[int, list[dict[str, Any]]]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _number_text(v: Any) -> str | None:
    """Canonical text of a numeric value (number or numeric string), or None when it is not numeric."""
    if _is_number(v):
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    if isinstance(v, str):
        s = v.strip()
        try:
            f = float(s)
        except ValueError:
            return None
        if not math.isfinite(f) or s.lower() in ("nan", "inf", "-inf", "infinity"):
            return None
        return s
    return None


def parse_date(v: Any) -> int | None:
    """Unix int, numeric string or RFC3339 / ISO date string -> Unix seconds."""
    if _is_number(v):
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        if s.lstrip("-").isdigit():
            return int(s)
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return int(dt.timestamp())
    return None


def _valid_url(v: Any) -> bool:
    if not isinstance(v, str) or not v.strip() or any(c.isspace() for c in v.strip()):
        return False
    parsed = urlparse(v.strip())
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _normalise_value(
    fdef: CustomFieldDef, raw: Any, path: str, request_id: str, errors: ValidationErrors
) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors.add(request_id, "InvalidType", path, "This value should be of type object.")
        return None
    value = raw.get("value")
    t = fdef.type
    if t in ENUM_TYPES:
        if raw.get("enum_id") is not None:
            enum_id = raw["enum_id"]
            e = fdef.enum_by_id(enum_id) if isinstance(enum_id, int) and not isinstance(enum_id, bool) else None
            if e is None:
                errors.add(request_id, "NotSupportedChoice", f"{path}.enum_id", NOT_A_CHOICE)
                return None
        elif isinstance(value, str) and value.strip():
            e = fdef.enum_by_value(value.strip())
            if e is None:
                errors.add(request_id, "NotSupportedChoice", f"{path}.value", NOT_A_CHOICE)
                return None
        else:
            errors.add(request_id, "NotSupportedChoice", f"{path}.value", NOT_A_CHOICE)
            return None
        return {"value": e.value, "enum_id": e.id, "enum_code": None}
    if t == "multitext":
        if not isinstance(value, str) or not value.strip():
            errors.add(request_id, "InvalidType", f"{path}.value", "This value should be of type string.")
            return None
        enum: Enum | None
        if raw.get("enum_id") is not None:
            enum = fdef.enum_by_id(raw["enum_id"]) if isinstance(raw["enum_id"], int) else None
            if enum is None:
                errors.add(request_id, "NotSupportedChoice", f"{path}.enum_id", NOT_A_CHOICE)
                return None
        else:
            code = raw.get("enum_code", raw.get("enum", "WORK"))
            enum = fdef.enum_by_value(code) if isinstance(code, str) else None
            if enum is None:
                errors.add(request_id, "NotSupportedChoice", f"{path}.enum_code", NOT_A_CHOICE)
                return None
        return {"value": value.strip(), "enum_id": enum.id, "enum_code": enum.value}
    if t in DATE_TYPES:
        ts = parse_date(value)
        if ts is None:
            errors.add(request_id, "InvalidType", f"{path}.value", "This value should be a valid date.")
            return None
        return {"value": ts}
    if t in NUMBER_TYPES:
        text = _number_text(value)
        if text is None:
            errors.add(request_id, "InvalidType", f"{path}.value", "This value should be of type numeric.")
            return None
        return {"value": text}
    if t == "price":
        text = _number_text(value)
        if text is None:
            errors.add(request_id, "InvalidType", f"{path}.value", "This value should be of type numeric.")
            return None
        f = float(text)
        return {"value": int(f) if f.is_integer() else f}
    if t == "url":
        if not _valid_url(value):
            errors.add(request_id, "InvalidValue", f"{path}.value", "This value is not a valid URL.")
            return None
        return {"value": str(value).strip()}
    if t == "checkbox":
        if isinstance(value, bool):
            return {"value": value}
        if value in (0, 1, "0", "1"):
            return {"value": str(value) == "1"}
        errors.add(request_id, "InvalidType", f"{path}.value", "This value should be of type bool.")
        return None
    # text-like
    if isinstance(value, str):
        return {"value": value}
    if _is_number(value):
        return {"value": _number_text(value)}
    errors.add(request_id, "InvalidType", f"{path}.value", "This value should be of type string.")
    return None


def validate_custom_fields(
    defs: dict[int, CustomFieldDef],
    payload: Any,
    request_id: str,
    errors: ValidationErrors,
    path: str = "custom_fields_values",
) -> dict[int, list[dict[str, Any]] | None] | None:
    """Validate a ``custom_fields_values`` write. Returns {field_id: values or None (= clear)}; errors are collected."""
    if payload is None:
        return {}
    if not isinstance(payload, list):
        errors.add(request_id, "InvalidType", path, "This value should be of type array.")
        return None
    by_code = {d.code.upper(): d for d in defs.values() if d.code}
    out: dict[int, list[dict[str, Any]] | None] = {}
    before = errors.count()
    for i, item in enumerate(payload):
        ipath = f"{path}.{i}"
        if not isinstance(item, dict):
            errors.add(request_id, "InvalidType", ipath, "This value should be of type object.")
            continue
        fdef: CustomFieldDef | None = None
        if item.get("field_id") is not None:
            fid = item["field_id"]
            if isinstance(fid, str) and fid.isdigit():
                fid = int(fid)
            fdef = defs.get(fid) if isinstance(fid, int) and not isinstance(fid, bool) else None
            if fdef is None:
                errors.add(request_id, "NotSupportedChoice", f"{ipath}.field_id", NOT_A_CHOICE)
                continue
        elif item.get("field_code") is not None:
            code = item["field_code"]
            fdef = by_code.get(code.upper()) if isinstance(code, str) else None
            if fdef is None:
                errors.add(request_id, "NotSupportedChoice", f"{ipath}.field_code", NOT_A_CHOICE)
                continue
        else:
            errors.add(request_id, "NotBlank", f"{ipath}.field_id", "You must pass either field_id or field_code.")
            continue
        values = item.get("values")
        if values is None or values == []:
            out[fdef.id] = None
            continue
        if not isinstance(values, list):
            errors.add(request_id, "InvalidType", f"{ipath}.values", "This value should be of type array.")
            continue
        if fdef.type not in ("multitext", "multiselect") and len(values) > 1:
            errors.add(request_id, "InvalidValue", f"{ipath}.values", "This field accepts a single value.")
            continue
        normalised = [
            _normalise_value(fdef, raw, f"{ipath}.values.{j}", request_id, errors) for j, raw in enumerate(values)
        ]
        if all(v is not None for v in normalised):
            out[fdef.id] = [v for v in normalised if v is not None]
    return out if errors.count() == before else None


def apply_custom_fields(stored: StoredValues, changes: dict[int, list[dict[str, Any]] | None]) -> bool:
    """Merge validated changes into stored values; returns True when something changed."""
    changed = False
    for fid, values in changes.items():
        if values is None:
            if fid in stored:
                del stored[fid]
                changed = True
        elif stored.get(fid) != values:
            stored[fid] = values
            changed = True
    return changed


def custom_fields_to_api(defs: dict[int, CustomFieldDef], stored: StoredValues) -> list[dict[str, Any]] | None:
    """Read shape: ``[{field_id, field_name, field_code, field_type, values}]`` or null when nothing is set."""
    items = []
    for fid, values in stored.items():
        fdef = defs.get(fid)
        if fdef is None or not values:
            continue
        items.append(
            (
                fdef.sort,
                fid,
                {
                    "field_id": fid,
                    "field_name": fdef.name,
                    "field_code": fdef.code,
                    "field_type": fdef.type,
                    "values": [dict(v) for v in values],
                },
            )
        )
    if not items:
        return None
    return [item for _, _, item in sorted(items, key=lambda t: (t[0], t[1]))]


def custom_fields_to_webhook(defs: dict[int, CustomFieldDef], stored: StoredValues) -> list[dict[str, Any]]:
    """The old v2 shape used in webhooks: ``[{id, name, values: [{value, enum?}] | [<unix>]}]`` (K11.3)."""
    out = []
    for item in custom_fields_to_api(defs, stored) or []:
        values: list[Any] = []
        for v in item["values"]:
            if item["field_type"] in DATE_TYPES:
                values.append(str(v["value"]))
            elif v.get("enum_id") is not None:
                entry: dict[str, Any] = {"value": v["value"], "enum": str(v["enum_id"])}
                if v.get("enum_code"):
                    entry["enum"] = v["enum_code"]
                values.append(entry)
            else:
                values.append({"value": v["value"]})
        out.append({"id": str(item["field_id"]), "name": item["field_name"], "values": values})
    return out


def search_text(stored: StoredValues) -> list[str]:
    """Every stored value as text (for ``query=`` searches)."""
    return [str(v.get("value", "")) for values in stored.values() for v in values]
