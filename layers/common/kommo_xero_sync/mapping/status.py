"""One status model for an invoice, computed from Xero's Status, amounts and due date."""

from __future__ import annotations

from datetime import date
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


def invoice_state(invoice: XeroInvoice, today: date) -> InvoiceState:
    status = (invoice.Status or "").upper()
    paid = invoice.AmountPaid or ZERO
    credited = invoice.AmountCredited or ZERO
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
