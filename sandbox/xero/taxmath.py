"""Line and document totals the way Xero computes them (per-line rounding, Decimal only).

* ``LineAmount = round(Quantity * UnitAmount * (100 - DiscountRate) / 100, 2)`` (no discount: ``Quantity * UnitAmount``).
* Exclusive: ``TaxAmount = round(LineAmount * rate, 2)``; SubTotal = sum of line amounts; Total = SubTotal + TotalTax.
* Inclusive: the line amount includes tax: ``TaxAmount = round(LineAmount * rate / (1 + rate), 2)``;
  Total = sum of line amounts; SubTotal = Total - TotalTax.
* NoTax: every TaxAmount is 0.

Rounding is half up to the cent on each line ("round each line" is Xero's default rounding setting).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sandbox.xero.formats import money

LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")


def line_amount(quantity: Decimal, unit_amount: Decimal, discount_rate: Decimal | None = None) -> Decimal:
    gross = quantity * unit_amount
    if discount_rate:
        gross = gross * (Decimal(100) - discount_rate) / Decimal(100)
    return money(gross)


def line_tax(amount: Decimal, rate_fraction: Decimal, line_amount_types: str) -> Decimal:
    if line_amount_types == "NoTax" or not rate_fraction:
        return money(0)
    if line_amount_types == "Inclusive":
        return money(amount * rate_fraction / (Decimal(1) + rate_fraction))
    return money(amount * rate_fraction)


def totals(lines: Iterable[tuple[Decimal, Decimal]], line_amount_types: str) -> tuple[Decimal, Decimal, Decimal]:
    """``(SubTotal, TotalTax, Total)`` from ``(LineAmount, TaxAmount)`` pairs."""
    amounts = money(0)
    tax = money(0)
    for amount, line_tax_amount in lines:
        amounts += amount
        tax += line_tax_amount
    if line_amount_types == "Inclusive":
        return money(amounts - tax), money(tax), money(amounts)
    return money(amounts), money(tax), money(amounts + tax)
