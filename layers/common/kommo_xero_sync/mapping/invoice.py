"""Kommo deal -> Xero invoice: pre-flight checks and the invoice payload (pure functions, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kommo_xero_sync.config import Mapping
from kommo_xero_sync.mapping.tax import line_amount, money
from kommo_xero_sync.models.kommo import CatalogElement, CatalogLink, Company, Contact, Lead

REFERENCE_PREFIX = "Kommo deal "
_REFERENCE = re.compile(r"Kommo deal #?(\d+)")


def reference_for(lead_id: int) -> str:
    return f"{REFERENCE_PREFIX}{lead_id}"


def lead_id_from_reference(reference: str | None) -> int | None:
    match = _REFERENCE.search(reference or "")
    return int(match.group(1)) if match else None


@dataclass
class Product:
    element: CatalogElement
    link: CatalogLink


@dataclass
class DealBundle:
    """A deal with everything needed to invoice it, read from Kommo in batches."""

    lead: Lead
    contact: Contact | None = None
    company: Company | None = None
    products: list[Product] = field(default_factory=list)
    missing_products: list[int] = field(default_factory=list)

    @property
    def billing_entity(self) -> tuple[str, Contact | Company] | None:
        if self.company is not None:
            return "company", self.company
        if self.contact is not None:
            return "contact", self.contact
        return None


def deal_currency(lead: Lead, mapping: Mapping, base_currency: str) -> str:
    field_id = mapping.kommo.fields.currency
    if field_id is not None:
        value = lead.field_value(field_id)
        if value:
            return str(value).strip().upper()
    return mapping.xero.default_currency or base_currency


def _entity_field(bundle: DealBundle, entity: str, field_id: int) -> Any:
    source = {"lead": bundle.lead, "contact": bundle.contact, "company": bundle.company}[entity]
    return source.field_value(field_id) if source is not None else None


def preflight(bundle: DealBundle, mapping: Mapping, *, currencies: set[str], base_currency: str) -> list[str]:
    """What must be fixed in Kommo before this deal can be invoiced (empty list: good to go)."""
    problems: list[str] = []
    if bundle.billing_entity is None:
        problems.append("no contact or company to bill: link a contact or a company to the deal")
    if bundle.missing_products:
        problems.append(f"products not found in the catalog: {', '.join(map(str, bundle.missing_products))}")
    if bundle.products:
        for product in bundle.products:
            if product.element.price() is None:
                problems.append(f"product '{product.element.name}' has no price")
            if product.link.quantity <= 0:
                problems.append(f"product '{product.element.name}' has quantity {product.link.quantity}")
    elif not bundle.lead.price or bundle.lead.price <= 0:
        problems.append("no amount: set the deal's budget or add products to the deal")
    currency = deal_currency(bundle.lead, mapping, base_currency)
    if currency not in currencies:
        enabled = ", ".join(sorted(currencies)) or "none"
        problems.append(f"currency {currency} is not enabled in the Xero organisation (enabled: {enabled})")
    for required in mapping.kommo.required_fields:
        if _entity_field(bundle, required.entity, required.field_id) in (None, ""):
            problems.append(f"{required.label} is empty on the {required.entity}")
    return problems


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def line_items(bundle: DealBundle, mapping: Mapping) -> list[dict[str, Any]]:
    xero = mapping.xero
    if bundle.products:
        lines = []
        for product in bundle.products:
            sku = product.element.sku(mapping.kommo.catalog_sku_field_code)
            accounting = xero.products.get(sku or "")
            price = product.element.price()
            assert price is not None  # pre-flight guarantees it
            line: dict[str, Any] = {
                "Description": product.element.name or (sku or "Product"),
                "Quantity": product.link.quantity,
                "UnitAmount": money(price),
                "AccountCode": (accounting.account_code if accounting else None) or xero.default_account_code,
                "TaxType": (accounting.tax_type if accounting else None) or xero.default_tax_type,
            }
            if sku:
                line["ItemCode"] = sku
            lines.append(line)
        return lines
    description = None
    if mapping.kommo.fields.description is not None:
        description = bundle.lead.field_value(mapping.kommo.fields.description)
    assert bundle.lead.price is not None
    return [
        {
            "Description": str(description or bundle.lead.name or f"Deal {bundle.lead.id}"),
            "Quantity": Decimal(1),
            "UnitAmount": money(_decimal(bundle.lead.price)),
            "AccountCode": xero.default_account_code,
            "TaxType": xero.default_tax_type,
        }
    ]


def deal_amount(bundle: DealBundle, mapping: Mapping) -> Decimal:
    """The amount the invoice's lines add up to (before Xero adds tax in Exclusive mode)."""
    return sum((line_amount(li["Quantity"], li["UnitAmount"]) for li in line_items(bundle, mapping)), Decimal(0))


def build_invoice(
    bundle: DealBundle, mapping: Mapping, *, contact_id: str, currency: str, today: date
) -> dict[str, Any]:
    xero = mapping.xero
    return {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "LineItems": line_items(bundle, mapping),
        "LineAmountTypes": xero.line_amount_types,
        "Date": today.isoformat(),
        "DueDate": (today + timedelta(days=xero.payment_terms_days)).isoformat(),
        "Reference": reference_for(bundle.lead.id),
        "CurrencyCode": currency,
        "Status": xero.invoice_status,
    }
