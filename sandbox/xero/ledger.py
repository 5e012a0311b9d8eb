"""The organisation's state and Xero's business rules: invoices, contacts, payments, credit notes and allocations.

Every write goes through one re-entrant lock, and reports what changed through ``on_event(category, type, id, data)``
(the sandbox turns those into webhook events). Validation failures come back as :class:`Invalid` with Xero's messages.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.common.clock import Clock
from sandbox.xero import taxmath
from sandbox.xero.formats import FormatError, money, ms_date, parse_date, quantity, to_decimal
from sandbox.xero.models import (
    ZERO,
    Account,
    Allocation,
    Contact,
    Currency,
    Document,
    Item,
    LineItem,
    Organisation,
    Payment,
    TaxRate,
    envelope_dates,
    updated_fields,
)

EventSink = Callable[[str, str, str, dict[str, Any] | None], None]
ZERO_GUID = "00000000-0000-0000-0000-000000000000"

INVOICE_TYPES = ("ACCREC", "ACCPAY")
CREDIT_TYPES = ("ACCRECCREDIT", "ACCPAYCREDIT")
CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
# X4.1: allowed status changes on update (PAID only through payments/allocations).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "DRAFT": ("DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"),
    "SUBMITTED": ("SUBMITTED", "AUTHORISED", "DRAFT", "DELETED"),
    "AUTHORISED": ("AUTHORISED", "VOIDED"),
    "PAID": ("PAID",),
    "VOIDED": (),
    "DELETED": (),
}
# A document with payments or allocations accepts only Reference, DueDate, InvoiceNumber, Contact, Url and line
# descriptions/accounts (X4.1): an update that changes its total, currency, date or tax mode is refused.

MSG_DUPLICATE_NUMBER = "Invoice # must be unique."
MSG_SETTLED = "This document cannot be edited as it has a payment or credit note allocated to it."


class Invalid(Exception):
    """One element failed validation; ``messages`` are Xero's ``ValidationErrors[].Message`` texts."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class NotFound(Exception):
    pass


def new_id() -> str:
    return str(uuid.uuid4())


def _is_guid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Ledger:
    def __init__(self, clock: Clock, on_event: EventSink | None = None) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.on_event: EventSink = on_event or (lambda *_: None)
        self.clear()

    # ------------------------------------------------------------------ setup
    def clear(self) -> None:
        with self.lock:
            self.organisation: Organisation | None = None
            self.currencies: dict[str, Currency] = {}
            self.accounts: dict[str, Account] = {}
            self.tax_rates: dict[str, TaxRate] = {}
            self.items: dict[str, Item] = {}
            self.contacts: dict[str, Contact] = {}
            self.invoices: dict[str, Document] = {}
            self.credit_notes: dict[str, Document] = {}
            self.payments: dict[str, Payment] = {}
            self.allocations: dict[str, Allocation] = {}
            self._invoice_seq = 0
            self._credit_seq = 0

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.clock.now().date()

    def _emit(self, category: str, event_type: str, resource_id: str, data: dict[str, Any] | None = None) -> None:
        self.on_event(category, event_type, resource_id, data)

    # ------------------------------------------------------------------ lookups
    def find_invoice(self, key: str) -> Document:
        """By InvoiceID, or by InvoiceNumber (Xero accepts either in ``/Invoices/{id}``)."""
        with self.lock:
            doc = self.invoices.get(key.lower())
            if doc is not None:
                return doc
            for doc in self.invoices.values():
                if doc.number and doc.number == key:
                    return doc
        raise NotFound(key)

    def find_contact(self, key: str) -> Contact:
        with self.lock:
            contact = self.contacts.get(key.lower())
            if contact is not None:
                return contact
            for contact in self.contacts.values():
                if contact.contact_number and contact.contact_number == key:
                    return contact
        raise NotFound(key)

    def find_credit_note(self, key: str) -> Document:
        with self.lock:
            doc = self.credit_notes.get(key.lower())
            if doc is not None:
                return doc
            for doc in self.credit_notes.values():
                if doc.number == key:
                    return doc
        raise NotFound(key)

    def find_payment(self, key: str) -> Payment:
        with self.lock:
            payment = self.payments.get(key.lower())
        if payment is None:
            raise NotFound(key)
        return payment

    def _active_contact_by_name(self, name: str, exclude: str | None = None) -> Contact | None:
        folded = name.strip().casefold()
        for contact in self.contacts.values():
            if contact.status == "ACTIVE" and contact.name.casefold() == folded and contact.contact_id != exclude:
                return contact
        return None

    def _contact_by_number(self, number: str, exclude: str | None = None) -> Contact | None:
        for contact in self.contacts.values():
            if contact.contact_number == number and contact.contact_id != exclude:
                return contact
        return None

    # ------------------------------------------------------------------ rendering
    def invoice_json(self, doc: Document, *, with_lines: bool = True) -> dict[str, Any]:
        contact = self.contacts[doc.contact_id]
        credit_notes = []
        for allocation_id in doc.allocation_ids:
            allocation = self.allocations[allocation_id]
            note = self.credit_notes[allocation.credit_note_id]
            credit_notes.append(
                {
                    "CreditNoteID": note.doc_id,
                    "CreditNoteNumber": note.number,
                    "ID": note.doc_id,
                    "AppliedAmount": allocation.amount,
                    **envelope_dates(note),
                    "LineItems": [],
                    "Total": note.total,
                }
            )
        out: dict[str, Any] = {
            "Type": doc.type,
            "InvoiceID": doc.doc_id,
            "InvoiceNumber": doc.number,
            "Reference": doc.reference,
            "Payments": [self.payments[p].summary_json() for p in doc.payment_ids],
            "CreditNotes": credit_notes,
            "Prepayments": [],
            "Overpayments": [],
            "AmountDue": self.amount_due(doc),
            "AmountPaid": doc.amount_paid,
            "AmountCredited": doc.amount_credited,
            "SentToContact": doc.sent_to_contact,
            "CurrencyRate": doc.currency_rate,
            "HasErrors": False,
            "IsDiscounted": any(li.discount_rate for li in doc.line_items),
            "HasAttachments": False,
            "Contact": contact.summary_json(),
            **envelope_dates(doc),
            "Status": doc.status,
            "LineAmountTypes": doc.line_amount_types,
            "LineItems": [li.to_json() for li in doc.line_items] if with_lines else [],
            "SubTotal": doc.sub_total,
            "TotalTax": doc.total_tax,
            "Total": doc.total,
            **updated_fields(doc.updated),
            "CurrencyCode": doc.currency,
        }
        if doc.url:
            out["Url"] = doc.url
        if doc.expected_payment_date:
            out["ExpectedPaymentDate"] = ms_date(doc.expected_payment_date)
        if doc.fully_paid_on is not None and doc.status == "PAID":
            out["FullyPaidOnDate"] = ms_date(doc.fully_paid_on)
        return out

    def credit_note_json(self, doc: Document) -> dict[str, Any]:
        contact = self.contacts[doc.contact_id]
        allocations = []
        for allocation_id in doc.allocation_ids:
            allocation = self.allocations[allocation_id]
            invoice = self.invoices[allocation.invoice_id]
            allocations.append(
                {
                    "AllocationID": allocation.allocation_id,
                    "Amount": allocation.amount,
                    "Date": ms_date(allocation.date),
                    "Invoice": {
                        "InvoiceID": invoice.doc_id,
                        "InvoiceNumber": invoice.number,
                        "Payments": [],
                        "CreditNotes": [],
                        "Prepayments": [],
                        "Overpayments": [],
                        "HasErrors": False,
                        "IsDiscounted": False,
                        "LineItems": [],
                    },
                    "IsDeleted": allocation.is_deleted,
                }
            )
        out: dict[str, Any] = {
            "CreditNoteID": doc.doc_id,
            "CreditNoteNumber": doc.number,
            "Payments": [],
            "ID": doc.doc_id,
            "CurrencyRate": doc.currency_rate,
            "Type": doc.type,
            "Reference": doc.reference,
            "RemainingCredit": self.remaining_credit(doc),
            "Allocations": allocations,
            "HasAttachments": False,
            "HasErrors": False,
            "Contact": contact.summary_json(),
            **envelope_dates(doc),
            "Status": doc.status,
            "LineAmountTypes": doc.line_amount_types,
            "LineItems": [li.to_json() for li in doc.line_items],
            "SubTotal": doc.sub_total,
            "TotalTax": doc.total_tax,
            "Total": doc.total,
            **updated_fields(doc.updated),
            "CurrencyCode": doc.currency,
        }
        if doc.fully_paid_on is not None and doc.status == "PAID":
            out["FullyPaidOnDate"] = ms_date(doc.fully_paid_on)
        return out

    def payment_json(self, payment: Payment) -> dict[str, Any]:
        invoice = self.invoices[payment.invoice_id]
        account = self.accounts[payment.account_code]
        contact = self.contacts[invoice.contact_id]
        return {
            "PaymentID": payment.payment_id,
            "Date": ms_date(payment.date),
            "BankAmount": payment.amount,
            "Amount": payment.amount,
            "Reference": payment.reference,
            "CurrencyRate": payment.currency_rate,
            "PaymentType": payment.payment_type,
            "Status": payment.status,
            **updated_fields(payment.updated),
            "HasAccount": True,
            "IsReconciled": False,
            "Account": {"AccountID": account.account_id, "Code": account.code, "Name": account.name},
            "Invoice": {
                "Type": invoice.type,
                "InvoiceID": invoice.doc_id,
                "InvoiceNumber": invoice.number,
                "Reference": invoice.reference,
                "Payments": [],
                "CreditNotes": [],
                "Prepayments": [],
                "Overpayments": [],
                "AmountDue": self.amount_due(invoice),
                "AmountPaid": invoice.amount_paid,
                "AmountCredited": invoice.amount_credited,
                "IsDiscounted": False,
                "HasErrors": False,
                "Contact": {"ContactID": contact.contact_id, "Name": contact.name, "HasValidationErrors": False},
                **envelope_dates(invoice),
                "Status": invoice.status,
                "LineAmountTypes": invoice.line_amount_types,
                "LineItems": [],
                "SubTotal": invoice.sub_total,
                "TotalTax": invoice.total_tax,
                "Total": invoice.total,
                "CurrencyCode": invoice.currency,
            },
            "HasValidationErrors": False,
        }

    def amount_due(self, doc: Document) -> Decimal:
        if doc.status in ("VOIDED", "DELETED"):
            return ZERO
        return money(doc.amount_due)

    def remaining_credit(self, doc: Document) -> Decimal:
        if doc.status not in ("AUTHORISED", "PAID"):
            return ZERO
        return money(doc.total - doc.amount_credited - doc.amount_paid)

    # ------------------------------------------------------------------ contacts
    def save_contact(self, data: Any, *, mode: str, target_id: str | None = None) -> tuple[Contact, bool]:
        """Create (``mode="create"``), update (``"update"``) or upsert (``"upsert"``) one contact.

        Returns ``(contact, created)``. Upsert matches ContactID, then ContactNumber, then an active contact's Name.
        """
        if not isinstance(data, dict):
            raise Invalid("The contact could not be read")
        with self.lock:
            existing: Contact | None = None
            ident = target_id or data.get("ContactID")
            if ident:
                if not _is_guid(ident):
                    raise Invalid(f"The ContactID '{ident}' is not a valid identifier")
                existing = self.contacts.get(str(ident).lower())
                if existing is None:
                    raise Invalid(f"The contact with ContactID {ident} could not be found")
                if mode == "create":
                    raise Invalid("ContactID must not be specified when creating a contact")
            elif mode == "upsert":
                number = data.get("ContactNumber")
                if isinstance(number, str) and number:
                    existing = self._contact_by_number(number)
                if existing is None and isinstance(data.get("Name"), str):
                    existing = self._active_contact_by_name(data["Name"])
            if existing is None and mode == "update":
                raise Invalid("The contact could not be found")
            return self._write_contact(data, existing)

    def _write_contact(self, data: dict[str, Any], existing: Contact | None) -> tuple[Contact, bool]:
        name = data.get("Name", existing.name if existing else None)
        if not isinstance(name, str) or not name.strip():
            raise Invalid("The contact name must be specified")
        name = name.strip()
        if len(name) > 255:
            raise Invalid("The contact name must be no more than 255 characters")
        own_id = existing.contact_id if existing else None
        errors: list[str] = []
        if self._active_contact_by_name(name, exclude=own_id) is not None:
            errors.append(
                f"The contact name {name} is already assigned to another contact. "
                "The contact name must be unique across all active contacts."
            )
        number = data.get("ContactNumber", existing.contact_number if existing else None)
        if number is not None and not isinstance(number, str):
            errors.append("ContactNumber must be a string")
        elif number:
            if len(number) > 50:
                errors.append("The contact number must be no more than 50 characters")
            elif self._contact_by_number(number, exclude=own_id) is not None:
                errors.append(f"The contact number {number} is already assigned to another contact.")
        email = data.get("EmailAddress", existing.email if existing else None)
        if email is not None and not isinstance(email, str):
            errors.append("EmailAddress must be a string")
        elif email and ("@" not in email or len(email) > 255):
            errors.append("Email address must be valid.")
        status = data.get("ContactStatus", existing.status if existing else "ACTIVE")
        if status not in ("ACTIVE", "ARCHIVED", "GDPRREQUEST"):
            errors.append(f"ContactStatus '{status}' is not valid")
        currency = data.get("DefaultCurrency", existing.default_currency if existing else None)
        if currency and currency not in self.currencies:
            errors.append(f"Organisation is not subscribed to currency {currency}")
        if errors:
            raise Invalid(*errors)
        now = self.now()
        fields: dict[str, Any] = {
            "name": name,
            "contact_number": number or None,
            "email": email or None,
            "status": status,
            "default_currency": currency or None,
        }
        for key, attr in (
            ("FirstName", "first_name"),
            ("LastName", "last_name"),
            ("TaxNumber", "tax_number"),
            ("AccountNumber", "account_number"),
        ):
            if isinstance(data.get(key), str):
                fields[attr] = data[key] or None
        for key, attr in (("IsCustomer", "is_customer"), ("IsSupplier", "is_supplier")):
            if isinstance(data.get(key), bool):
                fields[attr] = data[key]
        if isinstance(data.get("Addresses"), list):
            fields["addresses"] = [a for a in data["Addresses"] if isinstance(a, dict)]
        if isinstance(data.get("Phones"), list):
            fields["phones"] = [p for p in data["Phones"] if isinstance(p, dict)]
        if existing is None:
            contact = Contact(contact_id=new_id(), updated=now, **fields)
            self.contacts[contact.contact_id] = contact
            self._emit("CONTACT", "CREATE", contact.contact_id)
            return contact, True
        before = existing.to_json()
        for attr, value in fields.items():
            setattr(existing, attr, value)
        if existing.to_json() != before:
            existing.updated = now
            self._emit("CONTACT", "UPDATE", existing.contact_id)
        return existing, False

    def _resolve_contact(self, data: Any) -> tuple[Contact | None, dict[str, Any] | None]:
        """Find the document's contact; a Name that matches no active contact means "create it" (returned as data)."""
        if not isinstance(data, dict) or not data:
            raise Invalid("A Contact must be specified for this type of transaction")
        contact_id = data.get("ContactID")
        number = data.get("ContactNumber")
        name = data.get("Name")
        if contact_id:
            if not _is_guid(contact_id):
                raise Invalid(f"The ContactID '{contact_id}' is not a valid identifier")
            found = self.contacts.get(str(contact_id).lower())
            if found is None:
                raise Invalid(f"The contact with ContactID {contact_id} could not be found")
            return found, None
        if isinstance(number, str) and number:
            by_number = self._contact_by_number(number)
            if by_number is not None:
                return by_number, None
            if not (isinstance(name, str) and name.strip()):
                raise Invalid(f"The contact with ContactNumber {number} could not be found")
        if isinstance(name, str) and name.strip():
            by_name = self._active_contact_by_name(name)
            if by_name is not None:
                return by_name, None
            return None, {k: v for k, v in data.items() if k in ("Name", "ContactNumber", "EmailAddress")}
        raise Invalid(
            "The Contact must contain at least 1 of the following elements to identify the contact: "
            "Name, ContactID, ContactNumber"
        )

    # ------------------------------------------------------------------ documents
    def _next_number(self, credit: bool) -> str:
        taken = {d.number for d in (self.credit_notes if credit else self.invoices).values()}
        while True:
            if credit:
                self._credit_seq += 1
                number = f"CN-{self._credit_seq:04d}"
            else:
                self._invoice_seq += 1
                number = f"INV-{self._invoice_seq:04d}"
            if number not in taken:
                return number

    def _default_due_date(self, issued: date) -> date:
        org = self.organisation
        if org is None:
            return issued + timedelta(days=30)
        if org.sales_terms_type == "DAYSAFTERBILLDATE":
            return issued + timedelta(days=org.sales_terms_day)
        # OFFOLLOWINGMONTH: that day of the month after the invoice date
        year, month = (issued.year + 1, 1) if issued.month == 12 else (issued.year, issued.month + 1)
        for day in range(org.sales_terms_day, 27, -1):
            try:
                return date(year, month, day)
            except ValueError:
                continue
        return date(year, month, 28)

    def _build_lines(
        self,
        raw_lines: Any,
        *,
        doc_type: str,
        status: str,
        line_amount_types: str,
        previous: list[LineItem],
        errors: list[str],
    ) -> list[LineItem]:
        if raw_lines is None:
            return []
        if not isinstance(raw_lines, list):
            errors.append("LineItems must be a list")
            return []
        by_id = {li.line_item_id: li for li in previous}
        lines: list[LineItem] = []
        for raw in raw_lines:
            if not isinstance(raw, dict):
                errors.append("A line item could not be read")
                continue
            try:
                lines.append(self._build_line(raw, doc_type, status, line_amount_types, by_id, errors))
            except FormatError as exc:
                errors.append(str(exc))
        return lines

    def _build_line(
        self,
        raw: dict[str, Any],
        doc_type: str,
        status: str,
        line_amount_types: str,
        by_id: dict[str, LineItem],
        errors: list[str],
    ) -> LineItem:
        item: Item | None = None
        item_code = raw.get("ItemCode")
        if item_code:
            item = self.items.get(str(item_code))
            if item is None:
                errors.append(f"Item code '{item_code}' is not valid")
        description = raw.get("Description")
        if not description and item is not None:
            description = item.description
        description = str(description or "")
        if len(description) > 4000:
            errors.append("Description must be no more than 4000 characters")
        qty = quantity(raw["Quantity"]) if raw.get("Quantity") is not None else None
        unit = to_decimal(raw["UnitAmount"]) if raw.get("UnitAmount") is not None else None
        given_amount = money(raw["LineAmount"]) if raw.get("LineAmount") is not None else None
        discount = to_decimal(raw["DiscountRate"]) if raw.get("DiscountRate") is not None else None
        if discount is not None and doc_type != "ACCREC":
            errors.append("Discounts are only supported on ACCREC invoices")
        if unit is None and item is not None and given_amount is None:
            unit = item.unit_price
        if qty is None:
            qty = quantity(1) if (unit is not None or given_amount is not None) else quantity(0)
        if unit is None:
            if given_amount is not None and qty:
                unit = money(given_amount / qty)
            else:
                unit = money(0)
        unit = unit.quantize(Decimal("0.01")) if unit == unit.quantize(Decimal("0.01")) else unit
        amount = taxmath.line_amount(qty, unit, discount)
        if given_amount is not None and abs(given_amount - amount) > Decimal("0.01"):
            errors.append(
                f"The line amount {given_amount} does not match Quantity x UnitAmount ({amount}) for line '{description}'"
            )
        account_code = raw.get("AccountCode") or (item.account_code if item else None)
        account_code = str(account_code) if account_code is not None else None
        if account_code is not None:
            account = self.accounts.get(account_code)
            if account is None or account.status != "ACTIVE" or account.type == "BANK":
                errors.append(f"Account code '{account_code}' is not a valid code for this document.")
        elif status in ("SUBMITTED", "AUTHORISED") and amount:
            errors.append("An account code must be specified on each line item of an approved document.")
        tax_type = raw.get("TaxType")
        if tax_type is None:
            if line_amount_types == "NoTax":
                tax_type = "NONE"
            elif item is not None and not raw.get("AccountCode"):
                tax_type = item.tax_type
            elif account_code and account_code in self.accounts:
                tax_type = self.accounts[account_code].tax_type
        rate = Decimal(0)
        if tax_type is not None:
            tax_rate = self.tax_rates.get(str(tax_type))
            if tax_rate is None or tax_rate.status != "ACTIVE":
                errors.append(
                    f"The TaxType code '{tax_type}' does not exist or cannot be used with this type of transaction."
                )
            else:
                rate = tax_rate.fraction
        tax = taxmath.line_tax(amount, rate, line_amount_types)
        if raw.get("TaxAmount") is not None and line_amount_types != "NoTax":
            override = money(raw["TaxAmount"])
            if abs(override - tax) > Decimal("0.01") * max(Decimal(1), qty):
                errors.append(f"The TaxAmount {override} is not valid for the line amount {amount} and tax rate")
            else:
                tax = override
        line_id = raw.get("LineItemID")
        if line_id and str(line_id).lower() not in by_id:
            line_id = None
        raw_tracking = raw.get("Tracking")
        tracking: list[Any] = raw_tracking if isinstance(raw_tracking, list) else []
        return LineItem(
            line_item_id=str(line_id).lower() if line_id else new_id(),
            description=description,
            quantity=qty,
            unit_amount=unit,
            account_code=account_code,
            tax_type=str(tax_type) if tax_type is not None else None,
            tax_amount=tax,
            line_amount=amount,
            item_code=str(item_code) if item_code else None,
            discount_rate=discount,
            tracking=[t for t in tracking[:2] if isinstance(t, dict)],
        )

    def save_invoice(self, data: Any, *, mode: str, target: str | None = None) -> tuple[Document, bool]:
        """``mode``: ``"create"`` (PUT), ``"upsert"`` (POST /Invoices), ``"update"`` (POST /Invoices/{id})."""
        return self._save_document(data, mode=mode, target=target, credit=False)

    def save_credit_note(self, data: Any, *, mode: str, target: str | None = None) -> tuple[Document, bool]:
        return self._save_document(data, mode=mode, target=target, credit=True)

    def _save_document(self, data: Any, *, mode: str, target: str | None, credit: bool) -> tuple[Document, bool]:
        if not isinstance(data, dict):
            raise Invalid("The document could not be read")
        id_field, number_field = ("CreditNoteID", "CreditNoteNumber") if credit else ("InvoiceID", "InvoiceNumber")
        store = self.credit_notes if credit else self.invoices
        with self.lock:
            existing: Document | None = None
            ident = target or data.get(id_field)
            if ident:
                existing = store.get(str(ident).lower())
                if existing is None and not _is_guid(ident):
                    existing = next((d for d in store.values() if d.number == ident), None)
                if existing is None:
                    raise NotFound(str(ident)) if target else Invalid(f"{id_field} {ident} could not be found")
                if mode == "create":
                    raise Invalid(f"{id_field} must not be specified when creating a document; use POST to update")
            elif mode == "upsert" and isinstance(data.get(number_field), str) and data[number_field]:
                existing = next(
                    (
                        d
                        for d in store.values()
                        if d.number == data[number_field] and d.type in ("ACCREC", "ACCRECCREDIT")
                    ),
                    None,
                )
            if existing is None:
                return self._create_document(data, credit), True
            return self._update_document(existing, data), False

    def _create_document(self, data: dict[str, Any], credit: bool) -> Document:
        errors: list[str] = []
        doc_type = data.get("Type")
        allowed_types = CREDIT_TYPES if credit else INVOICE_TYPES
        if doc_type not in allowed_types:
            errors.append(f"Type must be one of {', '.join(allowed_types)}")
            doc_type = allowed_types[0]
        status = data.get("Status") or "DRAFT"
        if status not in CREATE_STATUSES:
            errors.append(f"{'Credit note' if credit else 'Invoice'} not of valid status for creation")
            status = "DRAFT"
        contact: Contact | None = None
        new_contact: dict[str, Any] | None = None
        try:
            contact, new_contact = self._resolve_contact(data.get("Contact"))
        except Invalid as exc:
            errors.extend(exc.messages)
        currency = data.get("CurrencyCode") or (self.organisation.base_currency if self.organisation else "NZD")
        if currency not in self.currencies:
            errors.append(f"Organisation is not subscribed to currency {currency}")
        lat = data.get("LineAmountTypes") or "Exclusive"
        if lat not in taxmath.LINE_AMOUNT_TYPES:
            errors.append(f"LineAmountTypes '{lat}' is not valid. Use Exclusive, Inclusive or NoTax")
            lat = "Exclusive"
        issued = self.today()
        due: date | None = None
        try:
            if data.get("Date"):
                issued = parse_date(data["Date"])
            if data.get("DueDate"):
                due = parse_date(data["DueDate"])
        except FormatError as exc:
            errors.append(str(exc))
        if due is None and not credit:
            due = self._default_due_date(issued)
        lines = self._build_lines(
            data.get("LineItems"),
            doc_type=str(doc_type),
            status=status,
            line_amount_types=lat,
            previous=[],
            errors=errors,
        )
        if status in ("SUBMITTED", "AUTHORISED") and not lines:
            errors.append("At least one line item is required for an approved document.")
        number_field = "CreditNoteNumber" if credit else "InvoiceNumber"
        number = data.get(number_field)
        if number is not None and not isinstance(number, str):
            errors.append(f"{number_field} must be a string")
            number = None
        store = self.credit_notes if credit else self.invoices
        if number:
            if len(number) > 255:
                errors.append(f"{number_field} must be no more than 255 characters")
            if doc_type in ("ACCREC", "ACCRECCREDIT") and any(
                d.number == number and d.type == doc_type and d.status != "DELETED" for d in store.values()
            ):
                errors.append(MSG_DUPLICATE_NUMBER if not credit else "Credit Note # must be unique.")
        reference = data.get("Reference") or ""
        if not isinstance(reference, str):
            errors.append("Reference must be a string")
            reference = ""
        if errors:
            raise Invalid(*errors)
        if contact is None:
            assert new_contact is not None
            contact, _ = self._write_contact(new_contact, None)
        if not number and doc_type in ("ACCREC", "ACCRECCREDIT"):
            number = self._next_number(credit)
        now = self.now()
        sub_total, total_tax, total = taxmath.totals(((li.line_amount, li.tax_amount) for li in lines), lat)
        doc = Document(
            doc_id=new_id(),
            type=str(doc_type),
            contact_id=contact.contact_id,
            number=number or "",
            reference=reference,
            date=issued,
            due_date=due,
            status=status,
            line_amount_types=lat,
            currency=str(currency),
            line_items=lines,
            created=now,
            updated=now,
            sub_total=sub_total,
            total_tax=total_tax,
            total=total,
            currency_rate=self._currency_rate(data, str(currency)),
            url=data.get("Url") if isinstance(data.get("Url"), str) else None,
            sent_to_contact=bool(data.get("SentToContact")) and status == "AUTHORISED",
        )
        if doc.type in ("ACCREC", "ACCRECCREDIT") and not contact.is_customer:
            contact.is_customer = True
        if doc.type in ("ACCPAY", "ACCPAYCREDIT") and not contact.is_supplier:
            contact.is_supplier = True
        if credit:
            self.credit_notes[doc.doc_id] = doc
            self._emit("CREDITNOTE", "CREATE", doc.doc_id, {"Type": doc.type, "Status": doc.status})
        else:
            self.invoices[doc.doc_id] = doc
            self._emit("INVOICE", "CREATE", doc.doc_id)
        return doc

    def _currency_rate(self, data: dict[str, Any], currency: str) -> Decimal:
        if self.organisation and currency == self.organisation.base_currency:
            return Decimal("1.000000")
        try:
            if data.get("CurrencyRate") is not None:
                return to_decimal(data["CurrencyRate"]).quantize(Decimal("0.000001"))
        except FormatError:
            pass
        return Decimal("1.000000")

    def _update_document(self, doc: Document, data: dict[str, Any]) -> Document:
        errors: list[str] = []
        credit = doc.is_credit_note
        new_status = data.get("Status") or doc.status
        if doc.status in ("VOIDED", "DELETED"):
            raise Invalid(f"This document cannot be edited as it is {doc.status}.")
        if new_status not in TRANSITIONS.get(doc.status, ()):
            if new_status == "PAID":
                errors.append("The status PAID can only be reached by applying payments or credit.")
            else:
                errors.append(
                    f"{'Credit note' if credit else 'Invoice'} not of valid status for modification "
                    f"(cannot change from {doc.status} to {new_status})."
                )
        if new_status == "VOIDED" and doc.has_settlements:
            errors.append(
                "This document cannot be voided as it has a payment or credit note allocated to it. "
                "Remove the payments first."
            )
        settled = doc.has_settlements or doc.status == "PAID"
        contact = self.contacts[doc.contact_id]
        new_contact: dict[str, Any] | None = None
        if data.get("Contact") is not None:
            try:
                found, new_contact = self._resolve_contact(data["Contact"])
                if found is not None:
                    contact = found
            except Invalid as exc:
                errors.extend(exc.messages)
        currency = data.get("CurrencyCode") or doc.currency
        if currency not in self.currencies:
            errors.append(f"Organisation is not subscribed to currency {currency}")
        lat = data.get("LineAmountTypes") or doc.line_amount_types
        if lat not in taxmath.LINE_AMOUNT_TYPES:
            errors.append(f"LineAmountTypes '{lat}' is not valid. Use Exclusive, Inclusive or NoTax")
            lat = doc.line_amount_types
        issued, due = doc.date, doc.due_date
        try:
            if data.get("Date"):
                issued = parse_date(data["Date"])
            if data.get("DueDate"):
                due = parse_date(data["DueDate"])
        except FormatError as exc:
            errors.append(str(exc))
        status_for_lines = new_status if new_status in CREATE_STATUSES else doc.status
        lines = doc.line_items
        if "LineItems" in data and data["LineItems"] is not None:
            lines = self._build_lines(
                data["LineItems"],
                doc_type=doc.type,
                status=status_for_lines,
                line_amount_types=lat,
                previous=doc.line_items,
                errors=errors,
            )
        elif lat != doc.line_amount_types:
            lines = self._build_lines(
                [li.to_json() for li in doc.line_items],
                doc_type=doc.type,
                status=status_for_lines,
                line_amount_types=lat,
                previous=doc.line_items,
                errors=errors,
            )
        if new_status in ("SUBMITTED", "AUTHORISED") and not lines:
            errors.append("At least one line item is required for an approved document.")
        sub_total, total_tax, total = taxmath.totals(((li.line_amount, li.tax_amount) for li in lines), lat)
        if settled and (
            total != doc.total or currency != doc.currency or issued != doc.date or lat != doc.line_amount_types
        ):
            if MSG_SETTLED not in errors:
                errors.append(MSG_SETTLED)
        number_field = "CreditNoteNumber" if credit else "InvoiceNumber"
        number = data.get(number_field) or doc.number
        store = self.credit_notes if credit else self.invoices
        if number != doc.number and any(
            d.number == number and d.type == doc.type and d.status != "DELETED" for d in store.values()
        ):
            errors.append(MSG_DUPLICATE_NUMBER if not credit else "Credit Note # must be unique.")
        reference = data.get("Reference", doc.reference)
        if reference is None:
            reference = doc.reference
        if not isinstance(reference, str):
            errors.append("Reference must be a string")
            reference = doc.reference
        if errors:
            raise Invalid(*errors)
        if new_contact is not None:
            contact, _ = self._write_contact(new_contact, None)
        before = self.credit_note_json(doc) if credit else self.invoice_json(doc)
        doc.contact_id = contact.contact_id
        doc.currency = str(currency)
        doc.line_amount_types = lat
        doc.date, doc.due_date = issued, due
        doc.line_items = lines
        doc.sub_total, doc.total_tax, doc.total = sub_total, total_tax, total
        doc.number = str(number)
        doc.reference = reference
        doc.status = new_status
        if isinstance(data.get("Url"), str):
            doc.url = data["Url"]
        if isinstance(data.get("SentToContact"), bool) and doc.status in ("AUTHORISED", "PAID"):
            doc.sent_to_contact = data["SentToContact"]
        if data.get("ExpectedPaymentDate"):
            try:
                doc.expected_payment_date = parse_date(data["ExpectedPaymentDate"])
            except FormatError:
                pass
        after = self.credit_note_json(doc) if credit else self.invoice_json(doc)
        before.pop("UpdatedDateUTC"), after.pop("UpdatedDateUTC")
        before.pop("UpdatedDateUTCString"), after.pop("UpdatedDateUTCString")
        if before != after:
            doc.updated = self.now()
            if credit:
                self._emit("CREDITNOTE", "UPDATE", doc.doc_id, {"Type": doc.type, "Status": doc.status})
            else:
                self._emit("INVOICE", "UPDATE", doc.doc_id)
        return doc

    def void_invoice(self, invoice_id: str) -> Document:
        with self.lock:
            doc = self.find_invoice(invoice_id)
            target = "VOIDED" if doc.status in ("AUTHORISED", "PAID") else "DELETED"
            return self._update_document(doc, {"Status": target})

    # ------------------------------------------------------------------ payments
    def create_payment(self, data: Any) -> Payment:
        if not isinstance(data, dict):
            raise Invalid("The payment could not be read")
        with self.lock:
            errors: list[str] = []
            invoice: Document | None = None
            ref = data.get("Invoice")
            if not isinstance(ref, dict) or not (ref.get("InvoiceID") or ref.get("InvoiceNumber")):
                errors.append("Payments must have an Invoice, CreditNote, Prepayment or Overpayment specified")
            else:
                try:
                    invoice = self.find_invoice(str(ref.get("InvoiceID") or ref.get("InvoiceNumber")))
                except NotFound:
                    errors.append("Invoice could not be found")
            account: Account | None = None
            acc = data.get("Account")
            if not isinstance(acc, dict) or not (acc.get("Code") or acc.get("AccountID")):
                errors.append("An Account must be specified for the payment")
            else:
                code = acc.get("Code")
                if code:
                    account = self.accounts.get(str(code))
                else:
                    account = next(
                        (a for a in self.accounts.values() if a.account_id == str(acc.get("AccountID")).lower()), None
                    )
                if account is None:
                    errors.append("Account could not be found")
                elif not account.accepts_payments:
                    errors.append(
                        "Payments can only be made to or from a BANK account, or an account with "
                        "EnablePaymentsToAccount set to true."
                    )
            amount = money(0)
            try:
                amount = money(data.get("Amount"))
                if amount <= 0:
                    errors.append("Payment amount must be greater than zero")
            except FormatError:
                errors.append("Amount must be specified for the payment")
            paid_on = self.today()
            try:
                if data.get("Date"):
                    paid_on = parse_date(data["Date"])
            except FormatError as exc:
                errors.append(str(exc))
            if invoice is not None:
                if invoice.status != "AUTHORISED":
                    errors.append(f"Invoice not of valid status for creating a payment (status {invoice.status}).")
                elif amount > self.amount_due(invoice):
                    # Xero rejects a payment larger than the amount due (overpayments are a separate object).
                    errors.append(
                        f"The payment amount ({amount}) exceeds the amount outstanding on this document "
                        f"({self.amount_due(invoice)})."
                    )
            if errors:
                raise Invalid(*errors)
            assert invoice is not None and account is not None
            now = self.now()
            payment = Payment(
                payment_id=new_id(),
                invoice_id=invoice.doc_id,
                account_code=account.code,
                date=paid_on,
                amount=amount,
                updated=now,
                reference=str(data.get("Reference") or ""),
                currency_rate=invoice.currency_rate,
                payment_type="ACCRECPAYMENT" if invoice.type == "ACCREC" else "ACCPAYPAYMENT",
            )
            self.payments[payment.payment_id] = payment
            invoice.payment_ids.append(payment.payment_id)
            invoice.amount_paid = money(invoice.amount_paid + amount)
            self._settle(invoice, paid_on)
            invoice.updated = now
            self._emit("INVOICE", "UPDATE", invoice.doc_id)
            return payment

    def _settle(self, invoice: Document, on: date) -> None:
        if invoice.amount_due <= 0 and invoice.status == "AUTHORISED":
            invoice.status = "PAID"
            invoice.fully_paid_on = on
        elif invoice.amount_due > 0 and invoice.status == "PAID":
            invoice.status = "AUTHORISED"
            invoice.fully_paid_on = None

    def delete_payment(self, payment_id: str) -> Payment:
        with self.lock:
            payment = self.find_payment(payment_id)
            if payment.status == "DELETED":
                raise Invalid("This payment has already been deleted.")
            invoice = self.invoices[payment.invoice_id]
            now = self.now()
            payment.status = "DELETED"
            payment.updated = now
            invoice.payment_ids.remove(payment.payment_id)
            invoice.amount_paid = money(invoice.amount_paid - payment.amount)
            self._settle(invoice, payment.date)
            invoice.updated = now
            self._emit("INVOICE", "UPDATE", invoice.doc_id)
            return payment

    # ------------------------------------------------------------------ allocations
    def allocate(self, credit_note_id: str, data: Any) -> Allocation:
        if not isinstance(data, dict):
            raise Invalid("The allocation could not be read")
        with self.lock:
            note = self.find_credit_note(credit_note_id)
            errors: list[str] = []
            invoice: Document | None = None
            ref = data.get("Invoice")
            if not isinstance(ref, dict) or not (ref.get("InvoiceID") or ref.get("InvoiceNumber")):
                errors.append("An Invoice must be specified for the allocation")
            else:
                try:
                    invoice = self.find_invoice(str(ref.get("InvoiceID") or ref.get("InvoiceNumber")))
                except NotFound:
                    errors.append("Invoice could not be found")
            amount = money(0)
            try:
                amount = money(data.get("Amount"))
                if amount <= 0:
                    errors.append("Allocation amount must be greater than zero")
            except FormatError:
                errors.append("Amount must be specified for the allocation")
            on = self.today()
            try:
                if data.get("Date"):
                    on = parse_date(data["Date"])
            except FormatError as exc:
                errors.append(str(exc))
            if note.status != "AUTHORISED":
                errors.append(f"Credit note not of valid status for allocation (status {note.status}).")
            elif amount > self.remaining_credit(note):
                errors.append(
                    f"The amount allocated ({amount}) exceeds the remaining credit ({self.remaining_credit(note)})."
                )
            if invoice is not None:
                if invoice.status != "AUTHORISED":
                    errors.append(f"Invoice not of valid status for allocation (status {invoice.status}).")
                elif amount > self.amount_due(invoice):
                    errors.append(
                        f"The amount allocated ({amount}) exceeds the amount due ({self.amount_due(invoice)})."
                    )
                if invoice.currency != note.currency:
                    errors.append("The credit note and the invoice must be in the same currency.")
                if invoice.contact_id != note.contact_id:
                    errors.append("The credit note and the invoice must belong to the same contact.")
            if errors:
                raise Invalid(*errors)
            assert invoice is not None
            now = self.now()
            allocation = Allocation(new_id(), note.doc_id, invoice.doc_id, amount, on)
            self.allocations[allocation.allocation_id] = allocation
            note.allocation_ids.append(allocation.allocation_id)
            invoice.allocation_ids.append(allocation.allocation_id)
            note.amount_credited = money(note.amount_credited + amount)
            invoice.amount_credited = money(invoice.amount_credited + amount)
            if self.remaining_credit(note) <= 0:
                note.status = "PAID"
                note.fully_paid_on = on
            self._settle(invoice, on)
            note.updated = now
            invoice.updated = now
            self._emit("CREDITNOTE", "UPDATE", note.doc_id, {"Type": note.type, "Status": note.status})
            self._emit("INVOICE", "UPDATE", invoice.doc_id)
            return allocation

    def allocation_json(self, allocation: Allocation) -> dict[str, Any]:
        invoice = self.invoices[allocation.invoice_id]
        note = self.credit_notes[allocation.credit_note_id]
        return {
            "AllocationID": allocation.allocation_id,
            "Amount": allocation.amount,
            "Date": ms_date(allocation.date),
            "Invoice": {
                "InvoiceID": invoice.doc_id,
                "InvoiceNumber": invoice.number,
                "Payments": [],
                "CreditNotes": [],
                "Prepayments": [],
                "Overpayments": [],
                "AmountDue": self.amount_due(invoice),
                "AmountCredited": invoice.amount_credited,
                "Status": invoice.status,
                "HasErrors": False,
                "IsDiscounted": False,
                "LineItems": [],
                "ValidationErrors": [],
            },
            "CreditNote": {"CreditNoteID": note.doc_id, "ID": note.doc_id, "LineItems": []},
            "IsDeleted": allocation.is_deleted,
            "ValidationErrors": [],
        }
