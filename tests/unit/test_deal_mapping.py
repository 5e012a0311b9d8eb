"""mapping/deal.py: the deal made from a hand-made Xero invoice, and the client/amount match (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kommo_xero_sync.mapping.deal import (
    DESCRIPTION_LIMIT,
    Party,
    amount_matches,
    client_score,
    deal_payload,
    kommo_entity_from_contact_number,
    kommo_price,
    lines_text,
    new_party,
    normalise_name,
)
from kommo_xero_sync.mapping.status import InvoiceState
from kommo_xero_sync.models.kommo import Company, Contact, Lead
from kommo_xero_sync.models.xero import XeroContact, XeroInvoice

INVOICE_ID = "9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11"
CONTACT_ID = "565acaa9-e7f3-4fbf-80c3-16b081ddae10"
LINK = f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={INVOICE_ID}"

# demo mapping field ids (config/mapping.demo.json)
F_NUMBER, F_STATUS, F_TOTAL, F_DUE, F_PAID, F_LINK = 8100001, 8100002, 8100003, 8100004, 8100005, 8100006
F_DUE_DATE, F_PAID_DATE, F_CURRENCY, F_DESCRIPTION = 8100008, 8100009, 8100010, 8100011


def xero_contact(**overrides: Any) -> XeroContact:
    data: dict[str, Any] = {
        "ContactID": CONTACT_ID,
        "ContactStatus": "ACTIVE",
        "Name": "Tui Brewing Supplies",
        "EmailAddress": "accounts@tuibrewing.co.nz",
        "Phones": [
            {"PhoneType": "DDI", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
            {"PhoneType": "DEFAULT", "PhoneNumber": "4735555", "PhoneAreaCode": "9", "PhoneCountryCode": "64"},
            {"PhoneType": "MOBILE", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
        ],
        "Addresses": [{"AddressType": "POBOX", "City": "Auckland"}],
        "HasValidationErrors": False,
    }
    data.update(overrides)
    return XeroContact.model_validate(data)


def xero_invoice(**overrides: Any) -> XeroInvoice:
    data: dict[str, Any] = {
        "Type": "ACCREC",
        "InvoiceID": INVOICE_ID,
        "InvoiceNumber": "INV-0042",
        "Reference": "",
        "Status": "AUTHORISED",
        "LineAmountTypes": "Exclusive",
        "Contact": {"ContactID": CONTACT_ID, "Name": "Tui Brewing Supplies"},
        "Date": "/Date(1763856000000+0000)/",  # 2025-11-23
        "DueDate": "/Date(1765065600000+0000)/",  # 2025-12-07
        "LineItems": [
            {
                "LineItemID": "3f7626f2-1d4b-4b1f-8a0e-2d6b2a9c1f01",
                "Description": "Brewing kit consulting",
                "Quantity": 2.0,
                "UnitAmount": 480.00,
                "LineAmount": 960.00,
                "AccountCode": "200",
                "TaxType": "OUTPUT2",
                "TaxAmount": 144.00,
            }
        ],
        "SubTotal": 960.00,
        "TotalTax": 144.00,
        "Total": 1104.00,
        "AmountDue": 1104.00,
        "AmountPaid": 0.00,
        "CurrencyCode": "NZD",
        "UpdatedDateUTC": "/Date(1763890539902+0000)/",
    }
    data.update(overrides)
    return XeroInvoice.model_validate(data)


def company(id: int = 6500004, name: str = "Tui Brewing Supplies", email: str | None = None, **kw: Any) -> Company:
    fields = []
    if email:
        fields.append({"field_id": 9000001, "field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]})
    return Company.model_validate({"id": id, "name": name, "custom_fields_values": fields or None, **kw})


def person(id: int = 6000004, first: str = "Ana", last: str = "Ngata", email: str | None = None) -> Contact:
    fields = [{"field_id": 9000001, "field_code": "EMAIL", "values": [{"value": email}]}] if email else None
    return Contact.model_validate(
        {"id": id, "name": f"{first} {last}", "first_name": first, "last_name": last, "custom_fields_values": fields}
    )


def lead(price: Any) -> Lead:
    return Lead.model_validate(
        {"id": 1000001, "name": "Deal", "price": price, "status_id": 7100002, "pipeline_id": 7000001}
    )


def field_map(payload: dict[str, Any]) -> dict[int, Any]:
    return {f["field_id"]: f["values"][0]["value"] for f in payload["custom_fields_values"]}


# ---- kommo_price ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "total,price",
    [
        ("1104.00", 1104),
        ("0.50", 1),  # half-up, not banker's rounding (which would give 0)
        ("2.50", 3),  # banker's rounding would give 2
        ("2.49", 2),
        ("2.4999", 2),
        ("999.995", 1000),
        ("-2.50", -3),  # a tie rounds away from zero
        ("0", 0),
    ],
)
def test_kommo_price_rounds_half_up(total: str, price: int) -> None:
    assert kommo_price(Decimal(total)) == price


def test_kommo_price_of_a_missing_total_is_zero() -> None:
    assert kommo_price(None) == 0


def test_kommo_price_is_exact_for_totals_a_float_cannot_hold() -> None:
    # 0.285 * 100 and the like are where float arithmetic drifts; Decimal keeps 1234567890123.5 exact.
    assert kommo_price(Decimal("1234567890123.5")) == 1234567890124
    assert kommo_price(Decimal("1234567890123.4999999")) == 1234567890123


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False))
def test_kommo_price_is_within_half_a_unit_of_the_total(total: Decimal) -> None:
    price = kommo_price(total)
    assert isinstance(price, int)
    assert abs(Decimal(price) - total) <= Decimal("0.5")
    if abs(Decimal(price) - total) == Decimal("0.5"):  # ties go away from zero
        assert abs(Decimal(price)) > abs(total)


# ---- kommo_entity_from_contact_number --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number,expected",
    [
        ("KOMMO-CO-6500004", ("company", 6500004)),
        ("KOMMO-CT-6000004", ("contact", 6000004)),
        ("  KOMMO-CO-12  ", ("company", 12)),
        ("KOMMO-XX-12", None),
        ("kommo-co-12", None),
        ("KOMMO-CO-", None),
        ("KOMMO-CO-12a", None),
        ("CUST-0042", None),
        ("", None),
        (None, None),
    ],
)
def test_kommo_entity_from_contact_number(number: str | None, expected: tuple[str, int] | None) -> None:
    assert kommo_entity_from_contact_number(number) == expected


# ---- lines_text ----------------------------------------------------------------------------------------------------


def test_lines_text_one_row_per_line_with_quantity_text_amount_and_currency() -> None:
    invoice = xero_invoice(
        LineItems=[
            {"Description": "Brewing kit consulting", "Quantity": 2.0, "UnitAmount": 480.0, "LineAmount": 960.0},
            {"ItemCode": "HOSTING-12M", "Quantity": 1.5, "UnitAmount": 100.0, "LineAmount": 150.0},
            {"Description": "  Training day  ", "Quantity": 10, "UnitAmount": 99.9, "LineAmount": 999.0},
        ]
    )
    assert lines_text(invoice).splitlines() == [
        "2 x Brewing kit consulting = 960.00 NZD",
        "1.5 x HOSTING-12M = 150.00 NZD",
        "10 x Training day = 999.00 NZD",  # 10, not 1E+1
    ]


def test_lines_text_fills_in_a_missing_quantity_and_amount() -> None:
    invoice = xero_invoice(
        CurrencyCode=None,
        LineItems=[{"UnitAmount": "12.50"}, {"Description": "Setup", "Quantity": "3", "UnitAmount": "0.25"}],
    )
    assert lines_text(invoice).splitlines() == ["1 x Item = 12.50", "3 x Setup = 0.75"]


def test_lines_text_rounds_a_computed_amount_half_up() -> None:
    invoice = xero_invoice(LineItems=[{"Description": "Sample", "Quantity": "1", "UnitAmount": "0.125"}])
    assert lines_text(invoice) == "1 x Sample = 0.13 NZD"


def test_lines_text_of_an_invoice_without_lines_is_empty() -> None:
    assert lines_text(xero_invoice(LineItems=[])) == ""


def test_lines_text_is_truncated_to_the_description_limit_with_an_ellipsis() -> None:
    lines = [
        {"Description": f"Line {i} " + "x" * 80, "Quantity": 1, "UnitAmount": 1, "LineAmount": 1} for i in range(100)
    ]
    text = lines_text(xero_invoice(LineItems=lines))
    assert len(text) == DESCRIPTION_LIMIT
    assert text.endswith("…") and text.startswith("1 x Line 0 ")


def test_lines_text_exactly_at_the_limit_is_kept_whole() -> None:
    row = "1 x {} = 1.00 NZD"
    description = "y" * (DESCRIPTION_LIMIT - len(row.format("")))
    text = lines_text(xero_invoice(LineItems=[{"Description": description, "Quantity": 1, "LineAmount": 1}]))
    assert len(text) == DESCRIPTION_LIMIT and not text.endswith("…")


# ---- normalise_name ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,expected",
    [
        ("Tui Brewing Supplies", "tui brewing supplies"),
        ("  TUI   Brewing\tSupplies ", "tui brewing supplies"),
        ("Tui Brewing Supplies (Auckland)", "tui brewing supplies"),  # city suffix the product adds in Xero
        ("Tui Brewing Supplies (NZ 123-456-789)", "tui brewing supplies"),  # tax number suffix
        ("Tui Brewing Supplies(6500004)", "tui brewing supplies"),  # Kommo id suffix
        ("(Pty) Acme Holdings", "(pty) acme holdings"),  # only a trailing suffix goes
        ("Acme (UK) Ltd", "acme (uk) ltd"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise_name(name: str | None, expected: str) -> None:
    assert normalise_name(name) == expected


def test_normalise_name_removes_only_the_last_suffix() -> None:
    assert normalise_name("Acme (Holdings) (Wellington)") == "acme (holdings)"


# ---- new_party -----------------------------------------------------------------------------------------------------


def test_new_party_for_a_person_is_a_contact_with_email_and_phone_in_kommo_write_shape() -> None:
    party = new_party(xero_contact(Name="Ana Ngata", FirstName="Ana", LastName="Ngata"))
    assert party.new_company is None and party.company_id is None and party.contact_id is None
    assert party.new_contact == {
        "first_name": "Ana",
        "last_name": "Ngata",
        "custom_fields_values": [
            {"field_code": "EMAIL", "values": [{"value": "accounts@tuibrewing.co.nz", "enum_code": "WORK"}]},
            {"field_code": "PHONE", "values": [{"value": "6494735555", "enum_code": "WORK"}]},
        ],
    }


def test_new_party_person_name_compared_without_case_or_suffix() -> None:
    party = new_party(xero_contact(Name="ana  NGATA (Auckland)", FirstName="Ana", LastName="Ngata"))
    assert party.new_company is None and party.new_contact is not None


def test_new_party_for_an_organisation_is_a_company_carrying_email_and_phone() -> None:
    party = new_party(xero_contact())
    assert party.new_contact is None
    assert party.new_company == {
        "name": "Tui Brewing Supplies",
        "custom_fields_values": [
            {"field_code": "EMAIL", "values": [{"value": "accounts@tuibrewing.co.nz", "enum_code": "WORK"}]},
            {"field_code": "PHONE", "values": [{"value": "6494735555", "enum_code": "WORK"}]},
        ],
    }


def test_new_party_company_with_a_named_person_puts_email_and_phone_on_the_person() -> None:
    party = new_party(xero_contact(FirstName="Ana", LastName="Ngata"))
    assert party.new_company == {"name": "Tui Brewing Supplies"}
    assert party.new_contact is not None
    assert (party.new_contact["first_name"], party.new_contact["last_name"]) == ("Ana", "Ngata")
    codes = [f["field_code"] for f in party.new_contact["custom_fields_values"]]
    assert codes == ["EMAIL", "PHONE"]


def test_new_party_without_email_or_phone_has_no_custom_fields() -> None:
    party = new_party(xero_contact(EmailAddress="", Phones=[]))
    assert party.new_company == {"name": "Tui Brewing Supplies"}
    party = new_party(xero_contact(Name="Ana Ngata", FirstName="Ana", LastName="Ngata", EmailAddress=None, Phones=[]))
    assert party.new_contact == {"first_name": "Ana", "last_name": "Ngata"}


def test_new_party_without_a_name_and_with_a_long_name() -> None:
    assert new_party(xero_contact(Name="  ", EmailAddress=None, Phones=[])).new_company == {"name": "Xero contact"}
    long = new_party(xero_contact(Name="N" * 300, EmailAddress=None, Phones=[]))
    assert long.new_company is not None and len(long.new_company["name"]) == 255


# ---- client_score --------------------------------------------------------------------------------------------------


def test_client_score_3_for_the_record_the_contact_number_names() -> None:
    contact = xero_contact(ContactNumber="KOMMO-CO-6500004", Name="Somebody else", EmailAddress=None)
    assert client_score(contact, [company(6500004, "Other name")], set()) == 3
    # the same id as a contact is another record
    assert client_score(contact, [person(6500004)], set()) == 0


def test_client_score_3_for_a_contact_number_naming_a_person() -> None:
    contact = xero_contact(ContactNumber="KOMMO-CT-6000004", EmailAddress=None)
    assert client_score(contact, [company(6500009, "Other"), person(6000004)], set()) == 3


def test_client_score_3_when_the_xero_contact_is_linked_to_an_entity_of_the_deal() -> None:
    contact = xero_contact(Name="Different", EmailAddress=None)
    assert client_score(contact, [company(6500004, "Other")], {CONTACT_ID}) == 3
    assert client_score(contact, [company(6500004, "Other")], {"another-xero-contact"}) == 0


def test_client_score_2_for_the_same_email_ignoring_case_and_spaces() -> None:
    contact = xero_contact(Name="Different name")
    assert client_score(contact, [company(email=" Accounts@TuiBrewing.co.nz ")], set()) == 2
    assert client_score(contact, [person(email="accounts@tuibrewing.co.nz")], set()) == 2


def test_client_score_1_for_the_same_name_only() -> None:
    contact = xero_contact(Name="TUI Brewing Supplies (Auckland)", EmailAddress=None)
    assert client_score(contact, [company(name="Tui brewing supplies")], set()) == 1
    person_contact = xero_contact(Name="Ana Ngata", EmailAddress=None)
    assert client_score(person_contact, [person()], set()) == 1


def test_client_score_takes_the_best_of_the_entities() -> None:
    contact = xero_contact(Name="Tui Brewing Supplies")
    entities: list[Contact | Company] = [
        company(name="Tui Brewing Supplies"),
        person(email="accounts@tuibrewing.co.nz"),
    ]
    assert client_score(contact, entities, set()) == 2


def test_client_score_0_for_nothing_in_common() -> None:
    contact = xero_contact()
    assert client_score(contact, [company(name="Other Ltd", email="other@example.com")], set()) == 0
    assert client_score(contact, [], set()) == 0
    assert client_score(None, [company()], {CONTACT_ID}) == 0


def test_client_score_empty_names_never_match() -> None:
    contact = xero_contact(Name="", EmailAddress="")
    nameless = Company.model_validate({"id": 6500004, "name": ""})
    assert client_score(contact, [nameless], set()) == 0


# ---- amount_matches ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "price,total,expected",
    [
        (1104, "1104.00", True),
        ("1104.50", "1104.50", True),  # an exact price
        (1105, "1104.50", True),  # the rounded total (what deal_payload writes)
        (1104, "1104.50", False),
        (1104, "1104.01", True),  # Kommo budgets are whole numbers: the rounded total is what a deal can hold
        (1105, "1104.49", False),
        (1103, "1104.00", False),
        (None, "1104.00", False),
        (1104, None, False),
        (0, "0.00", True),
    ],
)
def test_amount_matches(price: Any, total: str | None, expected: bool) -> None:
    assert amount_matches(lead(price), Decimal(total) if total is not None else None) is expected


@given(st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False))
def test_a_deal_priced_by_deal_payload_matches_its_invoice(total: Decimal) -> None:
    assert amount_matches(lead(kommo_price(total)), total)


# ---- deal_payload --------------------------------------------------------------------------------------------------


def payload(mapping: Any, party: Party, **invoice: Any) -> dict[str, Any]:
    return deal_payload(
        xero_invoice(**invoice),
        mapping,
        state=InvoiceState.AWAITING_PAYMENT,
        link=LINK,
        party=party,
        request_id="3",
    )


def test_deal_payload_stage_tag_user_price_and_name(mapping: Any) -> None:
    deal = payload(mapping, Party(company_id=6500004), Total="1104.50")
    assert deal["name"] == "INV-0042 - Tui Brewing Supplies"
    assert (deal["pipeline_id"], deal["status_id"]) == (7000001, 7100004)
    assert deal["responsible_user_id"] == 5000001
    assert deal["price"] == 1105 and isinstance(deal["price"], int)
    assert deal["request_id"] == "3"
    assert deal["_embedded"]["tags"] == [{"name": "Xero"}]


def test_deal_payload_fields_carry_the_invoice(mapping: Any) -> None:
    deal = payload(mapping, Party(company_id=6500004), Total="1104.50", AmountDue="1104.50", AmountPaid="0")
    fields = field_map(deal)
    assert fields[F_NUMBER] == "INV-0042"
    assert fields[F_STATUS] == "Awaiting payment"
    assert fields[F_TOTAL] == "1104.50"  # the exact total, as text, never a float
    assert (fields[F_DUE], fields[F_PAID]) == ("1104.50", "0")
    assert fields[F_LINK] == LINK
    assert fields[F_DUE_DATE] == int(datetime(2025, 12, 7, tzinfo=UTC).timestamp())
    assert fields[F_CURRENCY] == "NZD"
    assert fields[F_DESCRIPTION] == "2 x Brewing kit consulting = 960.00 NZD"
    assert F_PAID_DATE not in fields  # not paid
    assert all(f["field_id"] for f in deal["custom_fields_values"])


def test_deal_payload_paid_date_when_fully_paid(mapping: Any) -> None:
    deal = payload(mapping, Party(), FullyPaidOnDate="/Date(1764115200000+0000)/")
    assert field_map(deal)[F_PAID_DATE] == int(datetime(2025, 11, 26, tzinfo=UTC).timestamp())


def test_deal_payload_embeds_existing_ids(mapping: Any) -> None:
    deal = payload(mapping, Party(company_id=6500004, contact_id=6000004, new_company={"name": "ignored"}))
    assert deal["_embedded"]["companies"] == [{"id": 6500004}]
    assert deal["_embedded"]["contacts"] == [{"id": 6000004}]


def test_deal_payload_embeds_new_entities_to_create_with_the_deal(mapping: Any) -> None:
    party = new_party(xero_contact(FirstName="Ana", LastName="Ngata"))
    deal = payload(mapping, party)
    assert deal["_embedded"]["companies"] == [{"name": "Tui Brewing Supplies"}]
    (contact,) = deal["_embedded"]["contacts"]
    assert "id" not in contact and contact["first_name"] == "Ana"


def test_deal_payload_without_a_party_embeds_only_the_tag(mapping: Any) -> None:
    deal = payload(mapping, Party())
    assert set(deal["_embedded"]) == {"tags"}


def test_deal_payload_without_number_client_or_lines(mapping: Any) -> None:
    deal = payload(mapping, Party(), InvoiceNumber=None, Contact=None, LineItems=[], Total=None)
    assert deal["name"] == "Invoice - Xero client"
    assert deal["price"] == 0
    fields = field_map(deal)
    assert F_DESCRIPTION not in fields and F_NUMBER not in fields and F_TOTAL not in fields


def test_deal_payload_name_is_cut_at_255(mapping: Any) -> None:
    deal = payload(mapping, Party(), Contact={"ContactID": CONTACT_ID, "Name": "C" * 300})
    assert len(deal["name"]) == 255 and deal["name"].startswith("INV-0042 - CCC")


def test_deal_payload_without_responsible_user(mapping: Any) -> None:
    kommo = mapping.kommo.model_copy(update={"responsible_user_id": None})
    deal = payload(mapping.model_copy(update={"kommo": kommo}), Party())
    assert "responsible_user_id" not in deal


def test_deal_payload_leaves_out_fields_the_mapping_does_not_configure(mapping: Any) -> None:
    fields = mapping.kommo.fields.model_copy(update={"description": None, "currency": None})
    kommo = mapping.kommo.model_copy(update={"fields": fields})
    deal = payload(mapping.model_copy(update={"kommo": kommo}), Party())
    assert set(field_map(deal)) == {F_NUMBER, F_STATUS, F_TOTAL, F_DUE, F_PAID, F_LINK, F_DUE_DATE}
