"""Xero's line and tax arithmetic, exact with Decimal (used to predict totals and to check them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Totals:
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal


def line_amount(quantity: Decimal, unit_amount: Decimal) -> Decimal:
    return money(quantity * unit_amount)


def totals(lines: Iterable[tuple[Decimal, Decimal]], line_amount_types: str) -> Totals:
    """``lines`` are (line amount, tax rate in percent). Tax is computed and rounded per line, as Xero does."""
    sub = tax = Decimal(0)
    for amount, rate in lines:
        if line_amount_types == "NoTax" or rate == 0:
            line_tax = Decimal(0)
            net = amount
        elif line_amount_types == "Inclusive":
            line_tax = money(amount * rate / (Decimal(100) + rate))
            net = amount - line_tax
        else:
            line_tax = money(amount * rate / Decimal(100))
            net = amount
        sub += net
        tax += line_tax
    return Totals(money(sub), money(tax), money(sub + tax))
