"""PHP-style bracketed query strings (``filter[statuses][0][pipeline_id]=1``, ``filter[id][]=5``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_PART = re.compile(r"\[([^\[\]]*)\]")


def split_key(key: str) -> list[str]:
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    return [head, *_PART.findall(key[len(head) :])]


def parse_php_query(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested dicts; ``[]`` appends with the next integer key (as a string)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = split_key(key)
        node = root
        for i, part in enumerate(parts):
            if part == "":
                part = str(sum(1 for k in node if k.isdigit()))
            if i == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return root


def as_list(value: Any) -> list[Any]:
    """A filter value as a list: dict -> its values, ``"1,2"`` -> ["1", "2"], scalar -> [scalar]."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    if isinstance(value, str) and "," in value:
        return [v for v in value.split(",") if v != ""]
    return [value]


def as_ints(value: Any) -> list[int]:
    out: list[int] = []
    for v in as_list(value):
        try:
            out.append(int(str(v).strip()))
        except ValueError:
            continue
    return out


def flatten_php(prefix: str, value: Any) -> list[tuple[str, str]]:
    """The inverse of ``parse_php_query`` for building form bodies: nested dicts/lists to bracketed pairs."""
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(flatten_php(f"{prefix}[{k}]", v))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(flatten_php(f"{prefix}[{i}]", v))
    elif value is None:
        out.append((prefix, ""))
    elif isinstance(value, bool):
        out.append((prefix, "1" if value else "0"))
    else:
        out.append((prefix, str(value)))
    return out
