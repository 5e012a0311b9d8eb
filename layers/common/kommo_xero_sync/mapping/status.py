"""One status model for an invoice, computed from Xero's Status, amounts and due date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from kommo_xero_sync.models.xero import XeroInvoice


class InvoiceState(StrEnum):
    DRAFT = "Draft"
    AWAITING_APPROVAL = "Awaiting approval"
    AWAITING_PAYMENT = "Awaiting payment"
    PARTIALLY_PAID = "Partially paid"
    PAID = "Paid"
    OVERDUE = "Overdue"
    VOIDED = "Voided"
    DELETED = "Deleted"
    CREDITED = "Credited"
    NEEDS_ATTENTION = "Needs attention"  # the product could not invoice the deal (see the note on the deal)


OPEN_STATES = {InvoiceState.AWAITING_PAYMENT, InvoiceState.PARTIALLY_PAID, InvoiceState.OVERDUE}
ZERO = Decimal(0)


@dataclass(frozen=True)
class Receipt:
    """Money the client paid towards the invoice: a payment, or an overpayment/prepayment allocated to it."""

    amount: Decimal
    when: datetime | None
    source: str  # "" for a payment, "an overpayment" / "a prepayment" for an allocation


def receipts(invoice: XeroInvoice) -> dict[str, Receipt]:
    """Every live receipt by a stable key (payment id, ``overpayment:<id>``, ``prepayment:<id>``)."""
    out = {
        p.PaymentID: Receipt(p.Amount, p.Date, "") for p in invoice.Payments if (p.Status or "AUTHORISED") != "DELETED"
    }
    for kind, article, credits in (
        ("overpayment", "an", invoice.Overpayments),
        ("prepayment", "a", invoice.Prepayments),
    ):
        for credit in credits:
            credit_id = credit.OverpaymentID if kind == "overpayment" else credit.PrepaymentID
            if credit_id and credit.AppliedAmount:
                out[f"{kind}:{credit_id}"] = Receipt(credit.AppliedAmount, credit.Date, f"{article} {kind}")
    return out


def invoice_state(invoice: XeroInvoice, today: date) -> InvoiceState:
    status = (invoice.Status or "").upper()
    # Overpayments and prepayments count in AmountCredited, but they are money received: "Paid", not "Credited".
    allocated = sum((r.amount for k, r in receipts(invoice).items() if ":" in k), ZERO)
    paid = (invoice.AmountPaid or ZERO) + allocated
    credited = max((invoice.AmountCredited or ZERO) - allocated, ZERO)
    due = invoice.AmountDue if invoice.AmountDue is not None else (invoice.Total or ZERO)
    if status == "DRAFT":
        return InvoiceState.DRAFT
    if status == "SUBMITTED":
        return InvoiceState.AWAITING_APPROVAL
    if status == "DELETED":
        return InvoiceState.DELETED
    if status == "VOIDED":
        return InvoiceState.VOIDED
    if status == "PAID" or (status == "AUTHORISED" and due <= ZERO):
        return InvoiceState.CREDITED if credited > ZERO and paid <= ZERO else InvoiceState.PAID
    if invoice.DueDate is not None and invoice.DueDate.date() < today:
        return InvoiceState.OVERDUE
    if paid > ZERO or credited > ZERO:
        return InvoiceState.PARTIALLY_PAID
    return InvoiceState.AWAITING_PAYMENT
