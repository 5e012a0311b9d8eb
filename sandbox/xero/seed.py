"""Seeds: ``"demo"`` (the values in docs/ARCHITECTURE.md) and the bare organisation set-up every seed starts from.

IDs of seeded records are stable (uuid5 of their names), so a reseed gives the same ContactIDs and ItemIDs.
Seeding fires no webhooks.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sandbox.xero.formats import money
from sandbox.xero.ledger import Ledger
from sandbox.xero.models import Account, Currency, Item, Organisation, TaxRate

DEMO_TENANT_ID = "a3f1c6f0-8d44-4c1e-9a51-2b7d0c9e5f10"
DEMO_ORG_NAME = "Demo Company (NZ)"
DEMO_SHORT_CODE = "!DemoNZ"
SEEDS = ("demo",)

_NS = uuid.UUID("6f1f3c0e-8a51-4c7e-9d3b-0b7d0c9e5f10")


def stable_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NS, f"{kind}:{name}"))


ITEMS = (
    ("WEB-DESIGN", "Website design", "Website design (up to 5 pages)", "1500.00", "200"),
    ("HOSTING-12M", "Hosting 12 months", "Managed hosting, 12 months", "240.00", "260"),
    ("SEO-AUDIT", "SEO audit", "Search engine optimisation audit", "650.00", "200"),
    ("SUPPORT-HOUR", "Support hour", "Support, per hour", "95.00", "200"),
    ("LOGO", "Logo design", "Logo design, three concepts", "450.00", "200"),
    ("TRAINING-DAY", "Training day", "On-site training, one day", "1200.00", "200"),
)

CONTACTS = (
    # The only one sharing its name with a Kommo company (the unique-name case). No ContactNumber.
    {"Name": "Globex Corporation", "EmailAddress": "accounts@globex.example"},
    {"Name": "Initech Ltd", "EmailAddress": "ap@initech.example", "ContactNumber": "XERO-INITECH"},
    {"Name": "Tui Brewing Supplies", "EmailAddress": "finance@tuibrewing.example"},
    {"Name": "Wayne Enterprises NZ", "FirstName": "Bruce", "LastName": "Wayne", "EmailAddress": "bruce@wayne.example"},
    {"Name": "Ridgeway University", "EmailAddress": "payables@ridgeway.example"},
)


def setup_organisation(ledger: Ledger) -> None:
    """The organisation, currencies, chart of accounts and tax rates (present in every seed, also ``seed=None``)."""
    created = ledger.now() - timedelta(days=400)
    ledger.organisation = Organisation(
        organisation_id=DEMO_TENANT_ID,
        name=DEMO_ORG_NAME,
        short_code=DEMO_SHORT_CODE,
        base_currency="NZD",
        created=created,
    )
    ledger.currencies = {
        "NZD": Currency("NZD", "New Zealand Dollar"),
        "AUD": Currency("AUD", "Australian Dollar"),
        "USD": Currency("USD", "United States Dollar"),
    }
    ledger.accounts = {
        a.code: a
        for a in (
            Account(stable_id("account", "200"), "200", "Sales", "REVENUE", "REVENUE", "OUTPUT2", updated=created),
            Account(
                stable_id("account", "260"), "260", "Other Revenue", "REVENUE", "REVENUE", "OUTPUT2", updated=created
            ),
            Account(
                stable_id("account", "090"),
                "090",
                "Business Bank Account",
                "BANK",
                "ASSET",
                "NONE",
                enable_payments=True,
                bank_account_number="0102030405060708",
                updated=created,
            ),
            Account(
                stable_id("account", "610"),
                "610",
                "Accounts Receivable",
                "CURRENT",
                "ASSET",
                "NONE",
                system_account="DEBTORS",
                updated=created,
            ),
        )
    }
    ledger.tax_rates = {
        t.tax_type: t
        for t in (
            TaxRate("OUTPUT2", "15% GST on Income", Decimal("15.0000"), "OUTPUT", can_apply_to_expenses=False),
            TaxRate("NONE", "No GST", Decimal("0.0000"), "NONE"),
            TaxRate("INPUT2", "15% GST on Expenses", Decimal("15.0000"), "INPUT", can_apply_to_revenue=False),
            TaxRate("ZERORATEDOUTPUT", "Zero Rated", Decimal("0.0000"), "OUTPUT", can_apply_to_expenses=False),
        )
    }


def seed_demo(ledger: Ledger) -> None:
    now = ledger.now()
    ledger.items = {
        code: Item(stable_id("item", code), code, name, description, money(price), account, "OUTPUT2", updated=now)
        for code, name, description, price, account in ITEMS
    }
    ids: dict[str, str] = {}
    for data in CONTACTS:
        contact, _ = ledger.save_contact(dict(data), mode="create")
        # stable ids for the seeded contacts
        del ledger.contacts[contact.contact_id]
        contact.contact_id = stable_id("contact", contact.name)
        ledger.contacts[contact.contact_id] = contact
        ids[contact.name] = contact.contact_id
    today = ledger.today()

    def invoice(contact: str, lines: list[dict[str, object]], status: str, days_ago: int, **extra: object) -> str:
        data = {
            "Type": "ACCREC",
            "Contact": {"ContactID": ids[contact]},
            "LineItems": lines,
            "Status": status,
            "Date": (today - timedelta(days=days_ago)).isoformat(),
            "DueDate": (today - timedelta(days=days_ago - 14)).isoformat(),
            **extra,
        }
        doc, _ = ledger.save_invoice(data, mode="create")
        return doc.doc_id

    paid = invoice(
        "Globex Corporation", [{"ItemCode": "WEB-DESIGN", "Quantity": 1}], "AUTHORISED", 40, Reference="Website"
    )
    partly = invoice(
        "Initech Ltd", [{"ItemCode": "SUPPORT-HOUR", "Quantity": 10}], "AUTHORISED", 20, Reference="Support March"
    )
    invoice("Tui Brewing Supplies", [{"ItemCode": "SEO-AUDIT", "Quantity": 1}], "DRAFT", 2, Reference="SEO draft")
    invoice(
        "Globex Corporation",
        [{"ItemCode": "HOSTING-12M", "Quantity": 1}],
        "AUTHORISED",
        30,
        Reference="Hosting renewal",
    )  # due 16 days ago: overdue
    voided = invoice("Ridgeway University", [{"ItemCode": "LOGO", "Quantity": 1}], "AUTHORISED", 25, Reference="Logo")
    invoice(
        "Wayne Enterprises NZ",
        [
            {
                "Description": "Consulting (USD)",
                "Quantity": 2,
                "UnitAmount": 800,
                "AccountCode": "200",
                "TaxType": "NONE",
            }
        ],
        "AUTHORISED",
        5,
        CurrencyCode="USD",
        CurrencyRate="0.590000",
    )
    ledger.create_payment(
        {
            "Invoice": {"InvoiceID": paid},
            "Account": {"Code": "090"},
            "Amount": str(ledger.invoices[paid].total),
            "Date": (today - timedelta(days=30)).isoformat(),
        }
    )
    ledger.create_payment(
        {
            "Invoice": {"InvoiceID": partly},
            "Account": {"Code": "090"},
            "Amount": "400.00",
            "Date": (today - timedelta(days=3)).isoformat(),
        }
    )
    ledger.void_invoice(voided)


def apply_seed(ledger: Ledger, name: str | None) -> None:
    """Reset the ledger to ``name`` (``None``: organisation set-up only, no items, contacts or invoices)."""
    if name is not None and name not in SEEDS:
        raise ValueError(f"unknown seed {name!r}; known: {', '.join(SEEDS)}")
    sink = ledger.on_event
    ledger.on_event = lambda *_: None
    try:
        with ledger.lock:
            ledger.clear()
            setup_organisation(ledger)
            if name == "demo":
                seed_demo(ledger)
    finally:
        ledger.on_event = sink
