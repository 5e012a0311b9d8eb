from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kommo_xero_sync.mapping.deal_fields import deep_link, field_values
from kommo_xero_sync.mapping.invoice import (
    DealBundle,
    Product,
    build_invoice,
    deal_amount,
    lead_id_from_reference,
    preflight,
    reference_for,
)
from kommo_xero_sync.mapping.status import InvoiceState, invoice_state
from kommo_xero_sync.mapping.tax import line_amount, money, totals
from kommo_xero_sync.models.kommo import CatalogElement, CatalogLink, Company, Contact, Lead
from kommo_xero_sync.models.xero import XeroInvoice, parse_xero_datetime

TODAY = date(2026, 11, 23)


def make_lead(price=4800, currency=None, products=(), contact=True, company=True):
    fields = [{"field_id": 8100010, "values": [{"value": currency}]}] if currency else []
    return Lead.model_validate(
        {
            "id": 1000001,
            "name": "Website redesign",
            "price": price,
            "status_id": 7100004,
            "pipeline_id": 7000001,
            "custom_fields_values": fields,
            "_embedded": {
                "contacts": [{"id": 6000001, "is_main": True}] if contact else [],
                "companies": [{"id": 6500001}] if company else [],
                "catalog_elements": [
                    {"id": eid, "metadata": {"quantity": q, "catalog_id": 9000001}} for eid, q in products
                ],
            },
        }
    )


def element(eid, sku, price, name="Product"):
    return CatalogElement.model_validate(
        {
            "id": eid,
            "name": name,
            "catalog_id": 9000001,
            "custom_fields_values": [
                {"field_id": 9100001, "field_code": "SKU", "values": [{"value": sku}]},
                {"field_id": 9100002, "field_code": "PRICE", "field_type": "price", "values": [{"value": price}]},
            ],
        }
    )


def bundle(lead, products=()):
    contact = Contact.model_validate({"id": 6000001, "name": "Anna"})
    company = Company.model_validate({"id": 6500001, "name": "Globex Corporation"})
    b = DealBundle(
        lead=lead, contact=contact if lead.main_contact_id else None, company=company if lead.company_id else None
    )
    for el, link in products:
        b.products.append(Product(element=el, link=link))
    return b


def test_single_line_from_price(mapping):
    inv = build_invoice(bundle(make_lead()), mapping, contact_id="c-1", currency="NZD", today=TODAY)
    assert inv["Reference"] == "Kommo deal 1000001"
    assert inv["DueDate"] == "2026-12-07" and inv["Date"] == "2026-11-23"
    (line,) = inv["LineItems"]
    assert (line["Description"], line["UnitAmount"], line["Quantity"]) == ("Website redesign", Decimal("4800.00"), 1)
    assert (line["AccountCode"], line["TaxType"]) == ("200", "OUTPUT2")
    assert inv["Status"] == "AUTHORISED" and inv["Type"] == "ACCREC"


def test_lines_from_products_with_per_sku_accounts(mapping):
    lead = make_lead(products=[(9200001, 1), (9200002, 2)])
    prods = [
        (element(9200001, "WEB-DESIGN", "3500", "Web design"), lead.embedded.catalog_elements[0]),
        (element(9200002, "HOSTING-12M", "240.50", "Hosting 12 months"), lead.embedded.catalog_elements[1]),
    ]
    inv = build_invoice(bundle(lead, prods), mapping, contact_id="c-1", currency="NZD", today=TODAY)
    assert [(li["ItemCode"], li["Quantity"], li["UnitAmount"], li["AccountCode"]) for li in inv["LineItems"]] == [
        ("WEB-DESIGN", Decimal(1), Decimal("3500.00"), "200"),
        ("HOSTING-12M", Decimal(2), Decimal("240.50"), "260"),
    ]
    assert deal_amount(bundle(lead, prods), mapping) == Decimal("3981.00")


def test_preflight_names_every_problem(mapping):
    lead = make_lead(price=0, currency="EUR", contact=False, company=False)
    problems = preflight(bundle(lead), mapping, currencies={"NZD", "AUD", "USD"}, base_currency="NZD")
    assert any("no contact or company" in p for p in problems)
    assert any("no amount" in p for p in problems)
    assert any("currency EUR is not enabled" in p and "AUD, NZD, USD" in p for p in problems)


def test_preflight_passes_for_a_good_deal(mapping):
    assert preflight(bundle(make_lead()), mapping, currencies={"NZD"}, base_currency="NZD") == []


def test_product_without_price_is_reported(mapping):
    lead = make_lead(products=[(9200003, 1)])
    prods = [(element(9200003, "SEO-AUDIT", "", "SEO audit"), lead.embedded.catalog_elements[0])]
    problems = preflight(bundle(lead, prods), mapping, currencies={"NZD"}, base_currency="NZD")
    assert problems == ["product 'SEO audit' has no price"]


def test_reference_round_trip():
    assert lead_id_from_reference(reference_for(42)) == 42
    assert lead_id_from_reference("PO 77 / Kommo deal #1234") == 1234
    assert lead_id_from_reference("Website work") is None


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)
quantities = st.decimals(min_value=Decimal("0.25"), max_value=Decimal("100"), places=2)
rates = st.sampled_from([Decimal(0), Decimal(15), Decimal("12.5"), Decimal(20)])


@given(st.lists(st.tuples(quantities, amounts, rates), min_size=1, max_size=8))
def test_totals_match_the_deal_amount_in_each_tax_mode(lines):
    line_amounts = [(line_amount(q, u), r) for q, u, r in lines]
    deal = sum((a for a, _ in line_amounts), Decimal(0))
    inclusive = totals(line_amounts, "Inclusive")
    exclusive = totals(line_amounts, "Exclusive")
    notax = totals(line_amounts, "NoTax")
    assert inclusive.total == deal  # prices include tax: the invoice total is the deal amount
    assert exclusive.sub_total == deal  # prices exclude tax: Xero adds tax on top
    assert exclusive.total == deal + exclusive.total_tax
    assert notax.total == deal and notax.total_tax == 0
    for result in (inclusive, exclusive, notax):
        assert result.total == money(result.total)  # exact cents, no float drift
        assert result.total_tax >= 0


@given(amounts, rates)
def test_exclusive_tax_is_rounded_per_line(amount, rate):
    result = totals([(amount, rate)], "Exclusive")
    assert result.total_tax == money(amount * rate / 100)


def invoice(**kw):
    base = {
        "InvoiceID": "i-1",
        "Status": "AUTHORISED",
        "Total": 100,
        "AmountDue": 100,
        "AmountPaid": 0,
        "AmountCredited": 0,
    }
    base.update(kw)
    return XeroInvoice.model_validate(base)


@pytest.mark.parametrize(
    "fields,expected",
    [
        ({"Status": "DRAFT"}, InvoiceState.DRAFT),
        ({"Status": "SUBMITTED"}, InvoiceState.AWAITING_APPROVAL),
        ({}, InvoiceState.AWAITING_PAYMENT),
        ({"AmountPaid": 40, "AmountDue": 60}, InvoiceState.PARTIALLY_PAID),
        ({"Status": "PAID", "AmountPaid": 100, "AmountDue": 0}, InvoiceState.PAID),
        ({"DueDate": "/Date(1763424000000+0000)/"}, InvoiceState.OVERDUE),  # 2025-11-18
        ({"Status": "VOIDED"}, InvoiceState.VOIDED),
        ({"Status": "DELETED"}, InvoiceState.DELETED),
        ({"Status": "PAID", "AmountCredited": 100, "AmountDue": 0}, InvoiceState.CREDITED),
        ({"AmountCredited": 30, "AmountDue": 70}, InvoiceState.PARTIALLY_PAID),
        # An overpayment allocated to the invoice is money received (it counts in AmountCredited in Xero): Paid.
        (
            {
                "Status": "PAID",
                "AmountCredited": 100,
                "AmountDue": 0,
                "Overpayments": [{"OverpaymentID": "o-1", "AppliedAmount": 100}],
            },
            InvoiceState.PAID,
        ),
        (
            {
                "Status": "PAID",
                "AmountCredited": 100,
                "AmountDue": 0,
                "CreditNotes": [{"CreditNoteID": "c-1", "AppliedAmount": 60}],
                "Prepayments": [{"PrepaymentID": "p-1", "AppliedAmount": 40}],
            },
            InvoiceState.PAID,
        ),
    ],
)
def test_status_model(fields, expected):
    assert invoice_state(invoice(**fields), TODAY) is expected


def test_xero_dates_parse_to_utc():
    assert parse_xero_datetime("/Date(1543449600000+0000)/") == datetime(2018, 11, 29, tzinfo=UTC)
    assert parse_xero_datetime("2018-11-02T16:31:30Z") == datetime(2018, 11, 2, 16, 31, 30, tzinfo=UTC)


def test_deal_fields_only_configured_ones(mapping):
    values = field_values(mapping.kommo.fields, number="INV-1", state=InvoiceState.PAID, total=Decimal("115.00"))
    assert values == [
        {"field_id": 8100001, "values": [{"value": "INV-1"}]},
        {"field_id": 8100002, "values": [{"value": "Paid"}]},
        {"field_id": 8100003, "values": [{"value": "115.00"}]},
    ]


def test_deep_link_uses_short_code():
    assert "shortcode=!DemoNZ&redirecturl=/AccountsReceivable/View.aspx?InvoiceID=abc" in deep_link("abc", "!DemoNZ")
    assert deep_link("abc", None) == "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=abc"


def test_catalog_link_quantity_is_decimal():
    assert CatalogLink.model_validate({"id": 1, "metadata": {"quantity": 2.5}}).quantity == Decimal("2.5")


def test_status_sync_sees_no_change_when_dynamodb_normalised_the_amount(mapping):
    from kommo_xero_sync.logic.invoice_status import InvoiceStatusSync

    sync = InvoiceStatusSync(mapping=mapping, kommo=None, xero=None, store=None, today=lambda: TODAY)
    current = invoice(InvoiceNumber="INV-1", AmountDue="1380.00", Total="1380.00")
    previous = {
        "deal_state": "Awaiting payment",
        "amount_due": Decimal("1380"),
        "payments_seen": [],
        "invoice_number": "INV-1",
    }
    assert sync.compare(1, previous, current) is None
    assert sync.compare(1, {**previous, "amount_due": Decimal("1000")}, current) is not None


def test_an_allocated_overpayment_is_announced_once_like_a_payment(mapping):
    from kommo_xero_sync.logic.invoice_status import InvoiceStatusSync

    sync = InvoiceStatusSync(mapping=mapping, kommo=None, xero=None, store=None, today=lambda: TODAY)
    before = invoice(InvoiceNumber="INV-2", AmountDue="100.00", Total="100.00", CurrencyCode="NZD")
    after = invoice(
        InvoiceNumber="INV-2",
        Status="PAID",
        AmountDue="0.00",
        AmountCredited="100.00",
        Total="100.00",
        CurrencyCode="NZD",
        Overpayments=[{"OverpaymentID": "o-9", "AppliedAmount": "100.00", "Date": "/Date(1763424000000+0000)/"}],
    )
    first = sync.compare(1, {"deal_state": "Awaiting payment", "amount_due": 100, "payments_seen": []}, before)
    assert first is not None and first[1] == []  # nothing received yet
    change = sync.compare(1, {"deal_state": "Awaiting payment", "amount_due": 100, "payments_seen": []}, after)
    assert change is not None
    patch, deal_notes, snapshot, still_open = change
    texts = [n["params"]["text"] for n in deal_notes]
    assert texts == [
        "Payment of 100.00 NZD received on 2025-11-18 (applied from an overpayment); the invoice is now fully paid."
    ]
    assert snapshot["payments_seen"] == ["overpayment:o-9"] and snapshot["deal_state"] == "Paid" and not still_open
    assert sync.compare(1, {**snapshot, "amount_due": 0}, after) is None  # seen again (webhook, then sweep): no note
