"""Pure pieces: tax math (property-based), the where-clause language, wire formats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.xero import taxmath
from sandbox.xero.formats import dumps, event_date, loads, ms_date, parse_date, parse_timestamp
from sandbox.xero.where import WhereError, compile_where

amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=2)
quantities = st.decimals(min_value=Decimal("0"), max_value=Decimal("1000"), places=4)


@given(st.lists(st.tuples(quantities, amounts), min_size=1, max_size=8), st.sampled_from(taxmath.LINE_AMOUNT_TYPES))
def test_totals_are_exact_cents_and_add_up(lines: list[tuple[Decimal, Decimal]], lat: str) -> None:
    rate = Decimal("0.15")
    pairs = []
    for qty, unit in lines:
        amount = taxmath.line_amount(qty, unit)
        pairs.append((amount, taxmath.line_tax(amount, rate, lat)))
    sub_total, tax, total = taxmath.totals(pairs, lat)
    for value in (sub_total, tax, total):
        assert value == value.quantize(Decimal("0.01"))
    assert sub_total + tax == total
    assert tax == sum((t for _, t in pairs), Decimal("0.00"))
    if lat == "NoTax":
        assert tax == 0


def test_rounding_is_half_up_per_line() -> None:
    assert taxmath.line_amount(Decimal("3"), Decimal("33.335")) == Decimal("100.01")
    assert taxmath.line_tax(Decimal("0.05"), Decimal("0.15"), "Exclusive") == Decimal("0.01")
    assert taxmath.line_tax(Decimal("115.00"), Decimal("0.15"), "Inclusive") == Decimal("15.00")
    assert taxmath.line_amount(Decimal("2"), Decimal("50"), Decimal("10")) == Decimal("90.00")


def test_where_language() -> None:
    record = {
        "Type": "ACCREC",
        "Status": "AUTHORISED",
        "Reference": 'Say "hi"',
        "AmountDue": Decimal("10.50"),
        "Date": "/Date(1773100800000+0000)/",
        "Contact": {"ContactID": "a3f1c6f0-8d44-4c1e-9a51-2b7d0c9e5f10", "Name": "Globex Corporation"},
    }
    assert compile_where('Type=="ACCREC" AND Status=="AUTHORISED"')(record)
    assert compile_where('Contact.ContactID==guid("A3F1C6F0-8D44-4C1E-9A51-2B7D0C9E5F10")')(record)
    assert compile_where('Reference=="Say \\"hi\\""')(record)
    assert compile_where('Status=="DRAFT" OR (AmountDue>=10 && AmountDue<11)')(record)
    assert compile_where("Date>=DateTime(2026,03,10) AND Date<DateTime(2026,03,11)")(record)
    assert compile_where('Contact.Name.Contains("lobex")')(record)
    assert compile_where('Contact.Name.ToLower()=="globex corporation"')(record)
    assert compile_where('status=="AUTHORISED"')(record)  # field names are case-insensitive
    assert not compile_where('NOT Type=="ACCREC"')(record)
    for bad in ("Status==", 'Status=="x" AND', "Status~1", 'Name.Explode("x")'):
        with pytest.raises(WhereError):
            compile_where(bad)(record)


def test_wire_formats() -> None:
    assert dumps({"a": Decimal("40.00"), "b": [Decimal("2.0000"), True, None], "c": "x"}) == (
        '{"a":40.00,"b":[2.0000,true,null],"c":"x"}'
    )
    assert loads('{"a": 0.1}')["a"] == Decimal("0.1")
    assert ms_date(date(2026, 3, 10)) == "/Date(1773100800000+0000)/"
    assert parse_date("/Date(1773100800000+0000)/") == date(2026, 3, 10)
    assert parse_date("2026-03-10T00:00:00") == date(2026, 3, 10)
    assert parse_timestamp("2026-03-10T09:00:00") == datetime(2026, 3, 10, 9, tzinfo=UTC)
    assert parse_timestamp("Tue, 10 Mar 2026 09:00:00 GMT") == datetime(2026, 3, 10, 9, tzinfo=UTC)
    assert event_date(datetime(2024, 6, 21, 1, 15, 39, 902000, tzinfo=UTC)) == "2024-06-21T01:15:39.902"
