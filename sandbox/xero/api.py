"""Accounting API handlers (``/api.xro/2.0/...``): request parsing, filters, paging and the JSON envelopes.

Authentication, tenant, limits, faults, idempotency and counters are applied around these by :mod:`sandbox.xero.app`.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.xero.formats import FormatError, loads, parse_timestamp, to_decimal
from sandbox.xero.ledger import ZERO_GUID, Invalid, Ledger, NotFound
from sandbox.xero.pdf import invoice_pdf
from sandbox.xero.responses import envelope, json_response, not_found, simple_error, validation_error
from sandbox.xero.where import WhereError, compile_where

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "DELETED", "AUTHORISED", "PAID", "VOIDED")


class BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("bad request")
        self.response = response


def _guid_or_zero(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        return ZERO_GUID


def _decimal_or_none(value: Any) -> Decimal | None:
    try:
        return to_decimal(value) if value is not None else None
    except FormatError:
        return None


def _errors(messages: list[str]) -> list[dict[str, str]]:
    return [{"Message": m} for m in messages]


def _str_fields(data: dict[str, Any], *names: str) -> dict[str, str]:
    return {n: data[n] for n in names if isinstance(data.get(n), str)}


def echo_contact_ref(data: Any) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    out: dict[str, Any] = {"ContactID": _guid_or_zero(data.get("ContactID"))}
    out.update(_str_fields(data, "ContactNumber", "Name", "EmailAddress"))
    out["HasValidationErrors"] = False
    return out


def echo_line(data: Any) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    out: dict[str, Any] = _str_fields(data, "Description", "AccountCode", "TaxType", "ItemCode")
    for name in ("Quantity", "UnitAmount", "LineAmount", "TaxAmount", "DiscountRate"):
        value = _decimal_or_none(data.get(name))
        if value is not None:
            out[name] = value
    if data.get("LineItemID"):
        out["LineItemID"] = _guid_or_zero(data["LineItemID"])
    out["Tracking"] = []
    out["ValidationErrors"] = []
    return out


def echo_document(data: Any, messages: list[str], *, credit: bool) -> dict[str, Any]:
    """A rejected invoice / credit note as Xero lists it in ``Elements`` or in a summarizeErrors=false response."""
    data = data if isinstance(data, dict) else {}
    types = ("ACCRECCREDIT", "ACCPAYCREDIT") if credit else ("ACCREC", "ACCPAY")
    out: dict[str, Any] = {}
    if data.get("Type") in types:
        out["Type"] = data["Type"]
    id_field, number_field = ("CreditNoteID", "CreditNoteNumber") if credit else ("InvoiceID", "InvoiceNumber")
    out[id_field] = _guid_or_zero(data.get(id_field))
    out.update(_str_fields(data, number_field, "Reference", "CurrencyCode"))
    if not credit:
        out["Prepayments"] = []
        out["Overpayments"] = []
    out["HasErrors"] = True
    out["Contact"] = echo_contact_ref(data.get("Contact"))
    if data.get("Status") in INVOICE_STATUSES:
        out["Status"] = data["Status"]
    if data.get("LineAmountTypes") in ("Exclusive", "Inclusive", "NoTax"):
        out["LineAmountTypes"] = data["LineAmountTypes"]
    lines = data.get("LineItems")
    out["LineItems"] = [echo_line(li) for li in lines] if isinstance(lines, list) else []
    out["StatusAttributeString"] = "ERROR"
    out["ValidationErrors"] = _errors(messages)
    return out


def echo_contact(data: Any, messages: list[str]) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    out: dict[str, Any] = {"ContactID": _guid_or_zero(data.get("ContactID"))}
    out.update(_str_fields(data, "ContactNumber", "Name", "FirstName", "LastName", "EmailAddress"))
    out["HasValidationErrors"] = True
    out["StatusAttributeString"] = "ERROR"
    out["ValidationErrors"] = _errors(messages)
    return out


def echo_payment(data: Any, messages: list[str]) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    invoice = data.get("Invoice") if isinstance(data.get("Invoice"), dict) else {}
    account = data.get("Account") if isinstance(data.get("Account"), dict) else {}
    out: dict[str, Any] = {
        "Invoice": {"InvoiceID": _guid_or_zero(invoice.get("InvoiceID")), **_str_fields(invoice, "InvoiceNumber")},
        "Account": _str_fields(account, "Code"),
    }
    amount = _decimal_or_none(data.get("Amount"))
    if amount is not None:
        out["Amount"] = amount
    out.update(_str_fields(data, "Reference"))
    out["HasValidationErrors"] = True
    out["StatusAttributeString"] = "ERROR"
    out["ValidationErrors"] = _errors(messages)
    return out


def echo_allocation(data: Any, messages: list[str]) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    invoice = data.get("Invoice") if isinstance(data.get("Invoice"), dict) else {}
    out: dict[str, Any] = {"Invoice": {"InvoiceID": _guid_or_zero(invoice.get("InvoiceID"))}}
    amount = _decimal_or_none(data.get("Amount"))
    out["Amount"] = amount if amount is not None else Decimal("0.00")
    out["Date"] = data["Date"] if isinstance(data.get("Date"), str) else ""
    out["StatusAttributeString"] = "ERROR"
    out["ValidationErrors"] = _errors(messages)
    return out


class AccountingApi:
    def __init__(self, ledger: Ledger, provider_name: str, online_origin: str = "https://in.xero.com") -> None:
        self.ledger = ledger
        self.provider = provider_name
        self.online_origin = online_origin

    # ------------------------------------------------------------------ helpers
    def _ok(self, plural: str, items: list[dict[str, Any]], **extra: Any) -> Response:
        return json_response(envelope(plural, items, self.ledger.now(), self.provider, **extra))

    @staticmethod
    def _body(request: Request) -> Any:
        raw = request.get_data(cache=True)
        if not raw.strip():
            raise BadRequest(simple_error(400, "PostDataInvalidException", "The request body is empty", 14))
        try:
            return loads(raw)
        except ValueError as exc:
            raise BadRequest(
                simple_error(400, "PostDataInvalidException", f"Invalid JSON in the request body: {exc}", 14)
            ) from exc

    @staticmethod
    def _elements(body: Any, plural: str) -> list[Any]:
        if isinstance(body, dict) and isinstance(body.get(plural), list):
            return list(body[plural])
        if isinstance(body, list):
            return body
        return [body]

    @staticmethod
    def _summarize(request: Request) -> bool:
        return request.args.get("summarizeErrors", "true").lower() != "false"

    def _write_batch(
        self,
        request: Request,
        plural: str,
        save: Callable[[Any], dict[str, Any]],
        echo: Callable[[Any, list[str]], dict[str, Any]],
    ) -> Response:
        """Save each element on its own; valid elements are saved even when others fail (as Xero may do)."""
        elements = self._elements(self._body(request), plural)
        results: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for element in elements:
            try:
                results.append(save(element))
            except Invalid as exc:
                rejected = echo(element, exc.messages)
                results.append(rejected)
                failed.append(rejected)
        if failed and self._summarize(request):
            return validation_error(failed)
        return self._ok(plural, results)

    def _page(self, request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        try:
            page = int(request.args.get("page", 1))
            size = int(request.args.get("pageSize", DEFAULT_PAGE_SIZE))
        except ValueError as exc:
            raise BadRequest(simple_error(400, "ValidationException", "page and pageSize must be integers")) from exc
        page = max(1, page)
        size = min(MAX_PAGE_SIZE, max(1, size))
        count = len(items)
        pages = (count + size - 1) // size
        extra = {"pagination": {"page": page, "pageSize": size, "pageCount": pages, "itemCount": count}}
        return items[(page - 1) * size : page * size], extra

    def _filter(
        self, request: Request, items: list[dict[str, Any]], id_field: str, default_order: bool = True
    ) -> list[dict[str, Any]]:
        since_header = request.headers.get("If-Modified-Since")
        if since_header:
            try:
                since = parse_timestamp(since_header)
            except FormatError as exc:
                raise BadRequest(simple_error(400, "ValidationException", str(exc))) from exc
            items = [i for i in items if self._updated(i) > since]
        where = request.args.get("where")
        if where:
            try:
                predicate = compile_where(where)
            except WhereError as exc:
                raise BadRequest(simple_error(400, "QueryParseException", str(exc), 16)) from exc
            items = [i for i in items if predicate(i)]
        order = request.args.get("order")
        items.sort(key=lambda i: (self._updated(i), i.get(id_field, "")))
        if order:
            for clause in reversed([c.strip() for c in order.split(",") if c.strip()]):
                field, _, direction = clause.partition(" ")
                reverse = direction.strip().upper() == "DESC"
                items.sort(key=functools.partial(_sort_key, field=field), reverse=reverse)
        return items

    @staticmethod
    def _updated(item: dict[str, Any]) -> datetime:
        from sandbox.xero.formats import parse_ms_date

        value = parse_ms_date(str(item.get("UpdatedDateUTC", "")))
        return value or datetime(1970, 1, 1, tzinfo=UTC)

    @staticmethod
    def _csv(request: Request, name: str) -> list[str] | None:
        raw = request.args.get(name)
        if raw is None:
            return None
        return [p.strip().strip('"') for p in raw.split(",") if p.strip()]

    # ------------------------------------------------------------------ invoices
    def get_invoices(self, request: Request) -> Response:
        with self.ledger.lock:
            docs = list(self.ledger.invoices.values())
            ids = self._csv(request, "IDs")
            if ids is not None:
                wanted = {i.lower() for i in ids}
                docs = [d for d in docs if d.doc_id in wanted]
            numbers = self._csv(request, "InvoiceNumbers")
            if numbers is not None:
                docs = [d for d in docs if d.number in set(numbers)]
            contact_ids = self._csv(request, "ContactIDs")
            if contact_ids is not None:
                wanted = {i.lower() for i in contact_ids}
                docs = [d for d in docs if d.contact_id in wanted]
            statuses = self._csv(request, "Statuses")
            if statuses is not None:
                docs = [d for d in docs if d.status in {s.upper() for s in statuses}]
            items = [self.ledger.invoice_json(d) for d in docs]
        term = request.args.get("searchTerm")
        if term:
            folded = term.casefold()
            items = [i for i in items if folded in i["InvoiceNumber"].casefold() or folded in i["Reference"].casefold()]
        items = self._filter(request, items, "InvoiceID")
        summary_only = request.args.get("summaryOnly", "").lower() == "true"
        extra: dict[str, Any] = {}
        if "page" in request.args or summary_only:
            items, extra = self._page(request, items)
        if summary_only:
            for item in items:
                for key in ("Payments", "LineItems", "HasAttachments", "CISDeduction"):
                    item.pop(key, None)
        elif "page" not in request.args:
            # Unpaged multi-invoice GETs return summaries without line items (X4.3).
            for item in items:
                item["LineItems"] = []
        return self._ok("Invoices", items, **extra)

    def get_invoice(self, request: Request, invoice_id: str) -> Response:
        try:
            with self.ledger.lock:
                doc = self.ledger.find_invoice(invoice_id)
                item = self.ledger.invoice_json(doc)
        except NotFound:
            return not_found()
        if "application/pdf" in request.headers.get("Accept", ""):
            org = self.ledger.organisation
            pdf = invoice_pdf(item, org.name if org else "")
            return Response(
                pdf,
                content_type="application/pdf",
                headers={"Content-Disposition": f'inline; filename="{item["InvoiceNumber"] or invoice_id}.pdf"'},
            )
        return self._ok("Invoices", [item])

    def _save_invoice(self, mode: str, target: str | None = None) -> Callable[[Any], dict[str, Any]]:
        def save(element: Any) -> dict[str, Any]:
            with self.ledger.lock:
                doc, _ = self.ledger.save_invoice(element, mode=mode, target=target)
                out = self.ledger.invoice_json(doc)
            out["StatusAttributeString"] = "OK"
            return out

        return save

    def put_invoices(self, request: Request) -> Response:
        return self._write_batch(
            request, "Invoices", self._save_invoice("create"), lambda d, m: echo_document(d, m, credit=False)
        )

    def post_invoices(self, request: Request) -> Response:
        return self._write_batch(
            request, "Invoices", self._save_invoice("upsert"), lambda d, m: echo_document(d, m, credit=False)
        )

    def post_invoice(self, request: Request, invoice_id: str) -> Response:
        try:
            self.ledger.find_invoice(invoice_id)
        except NotFound:
            return not_found()
        return self._write_batch(
            request,
            "Invoices",
            self._save_invoice("update", invoice_id),
            lambda d, m: echo_document(d, m, credit=False),
        )

    def online_invoice(self, request: Request, invoice_id: str) -> Response:
        try:
            doc = self.ledger.find_invoice(invoice_id)
        except NotFound:
            return not_found()
        if doc.type != "ACCREC" or doc.status in ("DRAFT", "DELETED"):
            return validation_error(
                [
                    {
                        "InvoiceID": doc.doc_id,
                        "ValidationErrors": _errors([f"Online invoices are not available for {doc.status} invoices."]),
                    }
                ]
            )
        token = hashlib.sha256(f"online:{doc.doc_id}".encode()).hexdigest()[:40]
        return self._ok("OnlineInvoices", [{"OnlineInvoiceUrl": f"{self.online_origin}/{token}"}])

    # ------------------------------------------------------------------ contacts
    def get_contacts(self, request: Request) -> Response:
        with self.ledger.lock:
            contacts = list(self.ledger.contacts.values())
            items = [c.to_json() for c in contacts]
        ids = self._csv(request, "IDs")
        if ids is not None:
            wanted = {i.lower() for i in ids}
            items = [i for i in items if i["ContactID"] in wanted]
        if request.args.get("includeArchived", "").lower() != "true" and ids is None:
            items = [i for i in items if i["ContactStatus"] != "ARCHIVED"]
        term = request.args.get("searchTerm")
        if term:
            folded = term.casefold()
            fields = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
            items = [i for i in items if any(folded in str(i.get(f, "")).casefold() for f in fields)]
        items = self._filter(request, items, "ContactID")
        extra: dict[str, Any] = {}
        if "page" in request.args:
            items, extra = self._page(request, items)
        return self._ok("Contacts", items, **extra)

    def get_contact(self, request: Request, contact_id: str) -> Response:
        try:
            contact = self.ledger.find_contact(contact_id)
        except NotFound:
            return not_found()
        return self._ok("Contacts", [contact.to_json()])

    def _save_contact(self, mode: str, target: str | None = None) -> Callable[[Any], dict[str, Any]]:
        def save(element: Any) -> dict[str, Any]:
            contact, _ = self.ledger.save_contact(element, mode=mode, target_id=target)
            out = contact.to_json()
            out["StatusAttributeString"] = "OK"
            return out

        return save

    def put_contacts(self, request: Request) -> Response:
        return self._write_batch(request, "Contacts", self._save_contact("create"), echo_contact)

    def post_contacts(self, request: Request) -> Response:
        return self._write_batch(request, "Contacts", self._save_contact("upsert"), echo_contact)

    def post_contact(self, request: Request, contact_id: str) -> Response:
        try:
            contact = self.ledger.find_contact(contact_id)
        except NotFound:
            return not_found()
        return self._write_batch(request, "Contacts", self._save_contact("update", contact.contact_id), echo_contact)

    # ------------------------------------------------------------------ payments
    def get_payments(self, request: Request) -> Response:
        with self.ledger.lock:
            items = [self.ledger.payment_json(p) for p in self.ledger.payments.values()]
        items = self._filter(request, items, "PaymentID")
        extra: dict[str, Any] = {}
        if "page" in request.args:
            items, extra = self._page(request, items)
        return self._ok("Payments", items, **extra)

    def get_payment(self, request: Request, payment_id: str) -> Response:
        try:
            with self.ledger.lock:
                item = self.ledger.payment_json(self.ledger.find_payment(payment_id))
        except NotFound:
            return not_found()
        return self._ok("Payments", [item])

    def put_payments(self, request: Request) -> Response:
        def save(element: Any) -> dict[str, Any]:
            with self.ledger.lock:
                out = self.ledger.payment_json(self.ledger.create_payment(element))
            out["StatusAttributeString"] = "OK"
            return out

        return self._write_batch(request, "Payments", save, echo_payment)

    def post_payment(self, request: Request, payment_id: str) -> Response:
        try:
            self.ledger.find_payment(payment_id)
        except NotFound:
            return not_found()

        def save(element: Any) -> dict[str, Any]:
            if not isinstance(element, dict) or element.get("Status") != "DELETED":
                raise Invalid('Payments can only be deleted: send {"Status": "DELETED"}')
            with self.ledger.lock:
                out = self.ledger.payment_json(self.ledger.delete_payment(payment_id))
            out["StatusAttributeString"] = "OK"
            return out

        return self._write_batch(request, "Payments", save, echo_payment)

    # ------------------------------------------------------------------ credit notes
    def get_credit_notes(self, request: Request) -> Response:
        with self.ledger.lock:
            items = [self.ledger.credit_note_json(d) for d in self.ledger.credit_notes.values()]
        items = self._filter(request, items, "CreditNoteID")
        extra: dict[str, Any] = {}
        if "page" in request.args:
            items, extra = self._page(request, items)
        return self._ok("CreditNotes", items, **extra)

    def get_credit_note(self, request: Request, credit_note_id: str) -> Response:
        try:
            with self.ledger.lock:
                item = self.ledger.credit_note_json(self.ledger.find_credit_note(credit_note_id))
        except NotFound:
            return not_found()
        return self._ok("CreditNotes", [item])

    def _save_credit_note(self, mode: str) -> Callable[[Any], dict[str, Any]]:
        def save(element: Any) -> dict[str, Any]:
            with self.ledger.lock:
                doc, _ = self.ledger.save_credit_note(element, mode=mode)
                out = self.ledger.credit_note_json(doc)
            out["StatusAttributeString"] = "OK"
            return out

        return save

    def put_credit_notes(self, request: Request) -> Response:
        return self._write_batch(
            request, "CreditNotes", self._save_credit_note("create"), lambda d, m: echo_document(d, m, credit=True)
        )

    def post_credit_notes(self, request: Request) -> Response:
        return self._write_batch(
            request, "CreditNotes", self._save_credit_note("upsert"), lambda d, m: echo_document(d, m, credit=True)
        )

    def put_allocations(self, request: Request, credit_note_id: str) -> Response:
        try:
            note = self.ledger.find_credit_note(credit_note_id)
        except NotFound:
            return not_found()

        def save(element: Any) -> dict[str, Any]:
            with self.ledger.lock:
                out = self.ledger.allocation_json(self.ledger.allocate(note.doc_id, element))
            out["StatusAttributeString"] = "OK"
            return out

        return self._write_batch(request, "Allocations", save, echo_allocation)

    # ------------------------------------------------------------------ settings
    def get_organisation(self, request: Request) -> Response:
        org = self.ledger.organisation
        return self._ok("Organisations", [org.to_json()] if org else [])

    def get_currencies(self, request: Request) -> Response:
        items = [c.to_json() for c in self.ledger.currencies.values()]
        return self._ok("Currencies", self._where_only(request, items))

    def get_accounts(self, request: Request) -> Response:
        items = [a.to_json() for a in self.ledger.accounts.values()]
        return self._ok("Accounts", self._where_only(request, items))

    def get_tax_rates(self, request: Request) -> Response:
        items = [t.to_json() for t in self.ledger.tax_rates.values()]
        return self._ok("TaxRates", self._where_only(request, items))

    def get_items(self, request: Request) -> Response:
        items = [i.to_json() for i in self.ledger.items.values()]
        return self._ok("Items", self._where_only(request, items))

    def get_item(self, request: Request, item_id: str) -> Response:
        for item in self.ledger.items.values():
            if item.item_id == item_id.lower() or item.code == item_id:
                return self._ok("Items", [item.to_json()])
        return not_found()

    def _where_only(self, request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        where = request.args.get("where")
        if not where:
            return items
        try:
            predicate = compile_where(where)
        except WhereError as exc:
            raise BadRequest(simple_error(400, "QueryParseException", str(exc), 16)) from exc
        return [i for i in items if predicate(i)]


def _sort_key(item: dict[str, Any], *, field: str) -> tuple[int, Any]:
    from sandbox.xero.formats import parse_ms_date

    value = next((v for k, v in item.items() if k.lower() == field.lower()), None)
    if isinstance(value, str):
        parsed = parse_ms_date(value)
        if parsed is not None:
            return (1, parsed.timestamp())
        return (2, value.casefold())
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return (1, float(value))
    return (0, "")
