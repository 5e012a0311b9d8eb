"""The deal's custom fields the product writes (only those configured), in Kommo's write shape."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kommo_xero_sync.config import KommoFields
from kommo_xero_sync.mapping.status import InvoiceState
from kommo_xero_sync.models.xero import XeroInvoice


def _unix(value: date | datetime) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(datetime(value.year, value.month, value.day).timestamp())


def field_values(
    fields: KommoFields,
    *,
    number: str | None = None,
    state: InvoiceState | None = None,
    total: Decimal | None = None,
    amount_due: Decimal | None = None,
    amount_paid: Decimal | None = None,
    link: str | None = None,
    online_link: str | None = None,
    due_date: date | datetime | None = None,
    paid_date: date | datetime | None = None,
    currency: str | None = None,
    description: str | None = None,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def put(field_id: int | None, value: Any) -> None:
        if field_id is not None and value is not None:
            out.append({"field_id": field_id, "values": [{"value": value}]})

    put(fields.invoice_number, number)
    put(fields.invoice_status, state.value if state else None)
    put(fields.invoice_total, format(total, "f") if total is not None else None)
    put(fields.amount_due, format(amount_due, "f") if amount_due is not None else None)
    put(fields.amount_paid, format(amount_paid, "f") if amount_paid is not None else None)
    put(fields.invoice_link, link)
    put(fields.online_invoice_link, online_link)
    put(fields.due_date, _unix(due_date) if due_date else None)
    put(fields.paid_date, _unix(paid_date) if paid_date else None)
    put(fields.currency, currency)
    put(fields.description, description)
    return out


def invoice_field_values(
    fields: KommoFields, invoice: XeroInvoice, state: InvoiceState, *, link: str | None = None, **extra: Any
) -> list[dict[str, Any]]:
    """The fields that show an invoice on its deal (number, status, amounts, dates, link), plus ``extra`` ones."""
    return field_values(
        fields,
        number=invoice.InvoiceNumber,
        state=state,
        total=invoice.Total,
        amount_due=invoice.AmountDue,
        amount_paid=invoice.AmountPaid,
        link=link,
        due_date=invoice.DueDate,
        paid_date=invoice.FullyPaidOnDate,
        **extra,
    )


def deep_link(invoice_id: str, short_code: str | None) -> str:
    """A link that opens the invoice in Xero, in the right organisation when the ShortCode is known."""
    if short_code:
        return (
            "https://go.xero.com/organisationlogin/default.aspx?shortcode="
            f"{short_code}&redirecturl=/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"
        )
    return f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"
