"""Texts of the notes the product leaves on deals (what a sales manager reads)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kommo_xero_sync.models.xero import XeroInvoice


def _money(amount: Decimal | None, currency: str | None) -> str:
    return f"{amount if amount is not None else Decimal('0.00'):,.2f} {currency or ''}".strip()


def note(lead_id: int, text: str, service: str) -> dict[str, Any]:
    return {"entity_id": lead_id, "note_type": "service_message", "params": {"service": service, "text": text[:4000]}}


def invoice_created_text(invoice: XeroInvoice, link: str) -> str:
    due = invoice.DueDate.date().isoformat() if invoice.DueDate else "-"
    return (
        f"Xero invoice {invoice.InvoiceNumber} created ({invoice.Status}): total "
        f"{_money(invoice.Total, invoice.CurrencyCode)}, due {due}. Open in Xero: {link}"
    )


def blocked_text(problems: list[str]) -> str:
    lines = "\n".join(f"- {p}" for p in problems)
    return (
        "No Xero invoice was created for this deal. Please fix the following, then move the deal to the "
        f"invoicing stage again:\n{lines}"
    )


def rejected_text(message: str) -> str:
    return (
        f"Xero rejected the invoice for this deal: {message}. Fix the deal (or ask the accountant to fix the Xero "
        "settings), then move the deal to the invoicing stage again."
    )


def payment_text(
    amount: Decimal, currency: str | None, date_text: str, remaining: Decimal | None, source: str = ""
) -> str:
    rest = "the invoice is now fully paid" if not remaining else f"{_money(remaining, currency)} remains due"
    origin = f" (applied from {source})" if source else ""
    return f"Payment of {_money(amount, currency)} received on {date_text}{origin}; {rest}."


def payment_reversed_text(amount: Decimal, currency: str | None) -> str:
    return f"A payment of {_money(amount, currency)} was removed in Xero; the amount is due again."


def status_text(number: str | None, state: str) -> str:
    return f"Xero invoice {number or ''} is now {state}.".replace("  ", " ")


def invoice_linked_text(invoice: XeroInvoice, link: str, how: str) -> str:
    """Note on a deal that a hand-made Xero invoice was turned into (``how`` = created) or matched to."""
    due = invoice.DueDate.date().isoformat() if invoice.DueDate else "-"
    origin = "This deal was created from" if how == "created" else f"Linked ({how}) to"
    return (
        f"{origin} Xero invoice {invoice.InvoiceNumber} made in Xero ({invoice.Status}): total "
        f"{_money(invoice.Total, invoice.CurrencyCode)}, due {due}. Open in Xero: {link}"
    )


def reference_conflict_text(invoice: XeroInvoice, linked_number: str | None) -> str:
    return (
        f"Xero invoice {invoice.InvoiceNumber} ({_money(invoice.Total, invoice.CurrencyCode)}) names this deal in its "
        f"Reference, but the deal is already linked to invoice {linked_number or '(unknown)'}. The new invoice was "
        "not linked; ask the accountant whether it is a duplicate."
    )
