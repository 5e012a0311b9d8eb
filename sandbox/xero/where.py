"""Xero's ``where`` filter (a small subset of its .NET-style expression language), evaluated on the API JSON.

Supported: comparisons ``== != > >= < <=`` between a field path (``Status``, ``Contact.ContactID``; names are matched
case-insensitively) and a literal: ``"text"``, ``guid("...")``, ``DateTime(2024,01,31)``, numbers, ``true``/``false``,
``null``; string methods ``Field.Contains("x")``, ``.StartsWith("x")``, ``.EndsWith("x")``, ``Field.ToLower()``/``ToUpper()``;
``AND``/``OR`` (also ``&&``/``||``), ``NOT``/``!``, and parentheses. Anything else raises :class:`WhereError` (HTTP 400).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.xero.formats import parse_ms_date

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>==|!=|>=|<=|&&|\|\||[<>!(),.])
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


class WhereError(ValueError):
    pass


class _Guid(str):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise WhereError(f"Cannot parse where clause near '{text[pos : pos + 20]}'")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1].lower() != value.lower()):
            raise WhereError(f"Expected {value or 'a token'} in where clause")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise WhereError(f"Unexpected '{self.peek()[1]}' in where clause")  # type: ignore[index]
        return pred

    def or_expr(self) -> Predicate:
        left = self.and_expr()
        while (tok := self.peek()) and tok[1].lower() in ("or", "||"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda rec: a(rec) or b(rec))(left, right)
        return left

    def and_expr(self) -> Predicate:
        left = self.not_expr()
        while (tok := self.peek()) and tok[1].lower() in ("and", "&&"):
            self.take()
            right = self.not_expr()
            left = (lambda a, b: lambda rec: a(rec) and b(rec))(left, right)
        return left

    def not_expr(self) -> Predicate:
        tok = self.peek()
        if tok and tok[1].lower() in ("not", "!"):
            self.take()
            inner = self.not_expr()
            return lambda rec: not inner(rec)
        return self.atom()

    def atom(self) -> Predicate:
        tok = self.peek()
        if tok and tok[1] == "(":
            self.take("(")
            inner = self.or_expr()
            self.take(")")
            return inner
        path, transform = self.field()
        tok = self.peek()
        if tok and tok[1] == "." and self.i + 1 < len(self.toks):
            self.take(".")
            method = self.take()[1].lower()
            self.take("(")
            arg = self.literal()
            self.take(")")
            if method not in ("contains", "startswith", "endswith") or not isinstance(arg, str):
                raise WhereError(f"Unsupported method {method} in where clause")
            fn = {"contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}[method]
            return lambda rec: isinstance(v := transform(_lookup(rec, path)), str) and fn(v, arg)
        if tok and tok[0] == "op" and tok[1] in ("==", "!=", ">", ">=", "<", "<="):
            op = self.take()[1]
            value = self.literal()
            return lambda rec: _compare(transform(_lookup(rec, path)), op, value)
        # A bare boolean field, e.g. ``IsCustomer``
        return lambda rec: transform(_lookup(rec, path)) is True

    def field(self) -> tuple[list[str], Callable[[Any], Any]]:
        kind, name = self.take()
        if kind != "name":
            raise WhereError(f"Expected a field name, got '{name}'")
        path = [name]
        transform: Callable[[Any], Any] = lambda v: v  # noqa: E731
        while (tok := self.peek()) and tok[1] == ".":
            nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
            if nxt is None or nxt[0] != "name":
                break
            after = self.toks[self.i + 2] if self.i + 2 < len(self.toks) else None
            if after is not None and after[1] == "(":
                method = nxt[1].lower()
                if method in ("tolower", "toupper"):
                    self.take(".")
                    self.take()
                    self.take("(")
                    self.take(")")
                    fold = str.lower if method == "tolower" else str.upper
                    transform = (lambda f: lambda v: f(v) if isinstance(v, str) else v)(fold)
                    continue
                break
            self.take(".")
            path.append(self.take()[1])
        return path, transform

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "number":
            return Decimal(value)
        low = value.lower()
        if low in ("true", "false"):
            return low == "true"
        if low == "null":
            return None
        if low == "guid":
            self.take("(")
            raw = self.literal()
            self.take(")")
            try:
                return _Guid(str(uuid.UUID(str(raw))))
            except ValueError as exc:
                raise WhereError(f"Invalid guid {raw!r}") from exc
        if low in ("datetime", "datetimeoffset"):
            self.take("(")
            parts = [int(self.literal())]
            while self.peek() and self.peek()[1] == ",":  # type: ignore[index]
                self.take(",")
                parts.append(int(self.literal()))
            self.take(")")
            try:
                return datetime(*parts[:6], tzinfo=UTC)  # type: ignore[arg-type,misc]
            except (TypeError, ValueError) as exc:
                raise WhereError(f"Invalid DateTime{tuple(parts)}") from exc
        raise WhereError(f"Unexpected '{value}' in where clause")


def _lookup(record: Any, path: list[str]) -> Any:
    value = record
    for part in path:
        if not isinstance(value, dict):
            return None
        key = part if part in value else next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            return None
        value = value[key]
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, _Guid):
        left = left.lower() if isinstance(left, str) else left
    elif isinstance(right, datetime):
        left = parse_ms_date(left) if isinstance(left, str) else None
        if left is None:
            return op == "!="
    elif isinstance(right, Decimal):
        try:
            left = Decimal(str(left)) if left is not None and not isinstance(left, bool) else None
        except InvalidOperation:
            left = None
        if left is None:
            return op == "!="
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
        if op == "<":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


def compile_where(text: str) -> Predicate:
    return _Parser(text).parse()
