"""Xero invoice -> Kommo deal: the new deal's payload and the client/amount/currency match (pure functions, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kommo_xero_sync.config import Mapping
from kommo_xero_sync.mapping.deal_fields import invoice_field_values
from kommo_xero_sync.mapping.status import InvoiceState
from kommo_xero_sync.mapping.tax import line_amount, money
from kommo_xero_sync.models.kommo import Company, Contact, Lead
from kommo_xero_sync.models.xero import XeroContact, XeroInvoice

CLOSED_STATUSES = {142, 143}  # Kommo's fixed "won" and "lost" stages in every pipeline
_KOMMO_NUMBER = re.compile(r"^KOMMO-(CO|CT)-(\d+)$")
_SUFFIX = re.compile(r"\s*\([^()]*\)$")
DESCRIPTION_LIMIT = 4000


def kommo_price(total: Decimal | None) -> int:
    """Kommo's deal budget is a whole number; the exact total goes to the invoice-total field."""
    return int((total or Decimal(0)).to_integral_value(rounding=ROUND_HALF_UP))


def kommo_contact_number(entity: str, entity_id: int) -> str:
    """The ContactNumber the product gives a Xero contact it creates for a Kommo company or contact."""
    return f"KOMMO-{'CO' if entity == 'company' else 'CT'}-{entity_id}"


def kommo_entity_from_contact_number(contact_number: str | None) -> tuple[str, int] | None:
    """A Xero contact the product created carries ContactNumber KOMMO-CO-<company id> or KOMMO-CT-<contact id>."""
    match = _KOMMO_NUMBER.match((contact_number or "").strip())
    if not match:
        return None
    return ("company" if match.group(1) == "CO" else "contact", int(match.group(2)))


def lines_text(invoice: XeroInvoice) -> str:
    rows = []
    for line in invoice.LineItems:
        quantity = line.Quantity if line.Quantity is not None else Decimal(1)
        amount = (
            money(line.LineAmount)
            if line.LineAmount is not None
            else line_amount(quantity, line.UnitAmount or Decimal(0))
        )
        text = (line.Description or line.ItemCode or "Item").strip()
        rows.append(f"{quantity.normalize():f} x {text} = {amount:f} {invoice.CurrencyCode or ''}".rstrip())
    text = "\n".join(rows)
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def plain_name(name: str | None) -> str:
    """The name without the disambiguating suffix the product adds in Xero ("Name (city)") and extra spaces."""
    return " ".join(_SUFFIX.sub("", name or "").split())


def normalise_name(name: str | None) -> str:
    """Compare names without case, spacing or the product's disambiguating suffix."""
    return plain_name(name).lower()


def same_email(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().lower() == b.strip().lower())


@dataclass(frozen=True)
class Party:
    """Who the invoice bills, as Kommo knows them: an existing company/contact (ids) or new ones to create."""

    company_id: int | None = None
    contact_id: int | None = None
    new_company: dict[str, Any] | None = None
    new_contact: dict[str, Any] | None = None


def _multitext(code: str, value: str | None, enum_code: str) -> list[dict[str, Any]]:
    return [{"field_code": code, "values": [{"value": value, "enum_code": enum_code}]}] if value else []


def new_party(contact: XeroContact) -> Party:
    """Kommo entities for a Xero contact nobody has in Kommo: a person is a contact; anything else a company (with
    its contact person when Xero names one)."""
    name = (contact.Name or "").strip() or "Xero contact"
    email = contact.EmailAddress or None
    phone = xero_phone(contact)
    person = " ".join(p for p in (contact.FirstName, contact.LastName) if p).strip()
    fields = _multitext("EMAIL", email, "WORK") + _multitext("PHONE", phone, "WORK")
    person_entity: dict[str, Any] | None = None
    if person:
        person_entity = {"first_name": contact.FirstName or "", "last_name": contact.LastName or ""}
        if fields:
            person_entity["custom_fields_values"] = fields
    if person and normalise_name(person) == normalise_name(name):
        return Party(new_contact=person_entity)
    company: dict[str, Any] = {"name": name[:255]}
    if fields and person_entity is None:
        company["custom_fields_values"] = fields
    return Party(new_company=company, new_contact=person_entity)


def xero_phone(contact: XeroContact) -> str | None:
    """The contact's main number: Xero's DEFAULT, then MOBILE, then any other that is not a fax."""
    order = {"DEFAULT": 0, "MOBILE": 1}
    phones = [p for p in contact.Phones if str(p.get("PhoneType") or "").upper() != "FAX"]
    for phone in sorted(phones, key=lambda p: order.get(str(p.get("PhoneType") or "").upper(), 2)):
        number = "".join(str(phone.get(k) or "") for k in ("PhoneCountryCode", "PhoneAreaCode", "PhoneNumber"))
        if number.strip():
            return number.strip()
    return None


def client_score(contact: XeroContact | None, entities: list[Contact | Company], linked_contact_ids: set[str]) -> int:
    """How surely a deal's company/contacts are the invoice's client: 3 same record, 2 same e-mail, 1 same name."""
    if contact is None:
        return 0
    kommo_ref = kommo_entity_from_contact_number(contact.ContactNumber)
    best = 0
    for entity in entities:
        if (kommo_ref == (entity.kind, entity.id)) or (contact.ContactID and contact.ContactID in linked_contact_ids):
            return 3
        if same_email(contact.EmailAddress, entity.email):
            best = max(best, 2)
        if same_name(contact.Name, entity):
            best = max(best, 1)
    return best


def same_name(name: str | None, entity: Contact | Company) -> bool:
    """The Xero name is the Kommo entity's name or its person's full name (ignoring case, spacing and suffix)."""
    wanted = normalise_name(name)
    return bool(wanted) and wanted in (normalise_name(entity.name), normalise_name(entity.full_name))


def made_from_invoice(lead: Lead, mapping: Mapping) -> bool:
    """Deals created from hand-made Xero invoices carry the configured tag; deal -> invoice never invoices them."""
    return lead.has_tag(mapping.kommo.invoice_deal_tag)


def amount_matches(lead: Lead, total: Decimal | None) -> bool:
    if lead.price is None or total is None:
        return False
    return Decimal(lead.price) in (total, Decimal(kommo_price(total)))


def deal_payload(
    invoice: XeroInvoice,
    mapping: Mapping,
    *,
    state: InvoiceState,
    link: str,
    party: Party,
    request_id: str,
) -> dict[str, Any]:
    """The ``/leads/complex`` item for a deal made from a hand-made invoice."""
    kommo = mapping.kommo
    assert kommo.invoice_deal_stage is not None
    client = (invoice.Contact.Name if invoice.Contact else None) or "Xero client"
    fields = invoice_field_values(
        kommo.fields, invoice, state, link=link, currency=invoice.CurrencyCode, description=lines_text(invoice) or None
    )
    deal: dict[str, Any] = {
        "name": f"{invoice.InvoiceNumber or 'Invoice'} - {client}"[:255],
        "price": kommo_price(invoice.Total),
        "pipeline_id": kommo.invoice_deal_stage.pipeline_id,
        "status_id": kommo.invoice_deal_stage.status_id,
        "custom_fields_values": fields,
        "request_id": request_id,
        "_embedded": {"tags": [{"name": kommo.invoice_deal_tag}]},
    }
    if kommo.responsible_user_id:
        deal["responsible_user_id"] = kommo.responsible_user_id
    embedded = deal["_embedded"]
    if party.company_id:
        embedded["companies"] = [{"id": party.company_id}]
    elif party.new_company:
        embedded["companies"] = [party.new_company]
    if party.contact_id:
        embedded["contacts"] = [{"id": party.contact_id}]
    elif party.new_contact:
        embedded["contacts"] = [party.new_contact]
    return deal


def invoice_date(invoice: XeroInvoice, today: date) -> date:
    return invoice.Date.date() if invoice.Date else today
