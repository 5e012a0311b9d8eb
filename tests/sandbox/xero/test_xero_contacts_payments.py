"""Contacts, payments, credit notes and allocations over HTTP and through the Python API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from xero_support import globex_id

from sandbox.xero import XeroSandbox, XeroSandboxError
from sandbox.xero.testing import XeroClient

DUPLICATE = (
    "The contact name Globex Corporation is already assigned to another contact. "
    "The contact name must be unique across all active contacts."
)


def test_contact_queries(xero: XeroSandbox, api: XeroClient) -> None:
    by_name = api.get("/Contacts", params={"where": 'Name=="Globex Corporation"'}).json()["Contacts"]
    assert len(by_name) == 1 and by_name[0]["EmailAddress"] == "accounts@globex.example"
    assert "ContactNumber" not in by_name[0]
    by_email = api.get("/Contacts", params={"where": 'EmailAddress=="accounts@globex.example"'}).json()["Contacts"]
    assert by_email[0]["ContactID"] == by_name[0]["ContactID"]
    search = api.get("/Contacts", params={"searchTerm": "GLOBEX"}).json()["Contacts"]
    assert [c["Name"] for c in search] == ["Globex Corporation"]
    assert api.get("/Contacts", params={"searchTerm": "bruce"}).json()["Contacts"][0]["LastName"] == "Wayne"
    by_number = api.get("/Contacts/XERO-INITECH").json()["Contacts"][0]
    assert by_number["Name"] == "Initech Ltd"
    by_ids = api.get("/Contacts", params={"IDs": by_name[0]["ContactID"]}).json()["Contacts"]
    assert len(by_ids) == 1
    paged = api.get("/Contacts", params={"page": 1, "pageSize": 2}).json()
    assert paged["pagination"]["itemCount"] == 5 and len(paged["Contacts"]) == 2


def test_put_contacts_rejects_duplicate_name_and_number(api: XeroClient) -> None:
    response = api.put("/Contacts", json={"Contacts": [{"Name": "globex corporation"}]})
    assert response.status_code == 400
    element = response.json()["Elements"][0]
    assert element["ValidationErrors"][0]["Message"] == DUPLICATE.replace("Globex Corporation", "globex corporation")
    assert element["HasValidationErrors"] is True
    mixed = api.put(
        "/Contacts",
        params={"summarizeErrors": "false"},
        json={
            "Contacts": [
                {"Name": "Fresh Co", "ContactNumber": "KOMMO-1"},
                {"Name": "Other", "ContactNumber": "XERO-INITECH"},
            ]
        },
    ).json()["Contacts"]
    assert [c["StatusAttributeString"] for c in mixed] == ["OK", "ERROR"]
    assert mixed[0]["ContactNumber"] == "KOMMO-1"


def test_post_contacts_upserts(xero: XeroSandbox, api: XeroClient) -> None:
    response = api.post(
        "/Contacts", json={"Contacts": [{"Name": "Globex Corporation", "ContactNumber": "KOMMO-6500001"}]}
    )
    contact = response.json()["Contacts"][0]
    assert contact["ContactID"] == globex_id(xero) and contact["ContactNumber"] == "KOMMO-6500001"
    renamed = api.post(f"/Contacts/{contact['ContactID']}", json={"Name": "Initech Ltd"})
    assert renamed.status_code == 400


def test_partial_then_full_payment_then_delete(xero: XeroSandbox, api: XeroClient) -> None:
    invoice = xero.create_invoice(
        contact_name="Globex Corporation", line_items=[{"item_code": "SUPPORT-HOUR", "quantity": 2}]
    )
    invoice_id = invoice["InvoiceID"]
    assert invoice["Total"] == Decimal("218.50")
    part = api.put(
        "/Payments",
        json={
            "Payments": [
                {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Date": "2026-03-11", "Amount": 100}
            ]
        },
    )
    assert part.status_code == 200, part.text
    after_part = api.get(f"/Invoices/{invoice_id}").json()["Invoices"][0]
    assert (after_part["Status"], after_part["AmountPaid"], after_part["AmountDue"]) == ("AUTHORISED", 100.0, 118.5)
    too_much = api.put(
        "/Payments", json={"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Amount": 200}
    )
    assert too_much.status_code == 400 and "exceeds the amount outstanding" in too_much.text
    wrong_account = api.put(
        "/Payments", json={"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "200"}, "Amount": 1}
    )
    assert wrong_account.status_code == 400
    rest = api.post(
        "/Payments",
        json={
            "Invoice": {"InvoiceID": invoice_id},
            "Account": {"Code": "090"},
            "Date": "2026-03-12",
            "Amount": "118.50",
        },
    )
    payment_id = rest.json()["Payments"][0]["PaymentID"]
    paid = api.get(f"/Invoices/{invoice_id}").json()["Invoices"][0]
    assert paid["Status"] == "PAID" and paid["AmountDue"] == 0
    assert paid["FullyPaidOnDate"] == "/Date(1773273600000+0000)/"
    assert len(paid["Payments"]) == 2
    deleted = api.post(f"/Payments/{payment_id}", json={"Status": "DELETED"})
    assert deleted.json()["Payments"][0]["Status"] == "DELETED"
    reverted = api.get(f"/Invoices/{invoice_id}").json()["Invoices"][0]
    assert reverted["Status"] == "AUTHORISED" and "FullyPaidOnDate" not in reverted and reverted["AmountDue"] == 118.5
    listed = api.get("/Payments", params={"where": f'Invoice.InvoiceID==guid("{invoice_id}")'}).json()["Payments"]
    assert {p["Status"] for p in listed} == {"AUTHORISED", "DELETED"}


def test_payment_on_draft_is_refused(xero: XeroSandbox) -> None:
    draft = xero.create_invoice(contact_name="Globex Corporation", status="DRAFT")
    with pytest.raises(XeroSandboxError, match="not of valid status"):
        xero.apply_payment(draft["InvoiceID"], "10")


def test_credit_note_allocation_reduces_amount_due(xero: XeroSandbox, api: XeroClient) -> None:
    invoice = xero.create_invoice(contact_name="Globex Corporation", line_items=[{"ItemCode": "LOGO"}])
    note = api.put(
        "/CreditNotes",
        json={
            "CreditNotes": [
                {
                    "Type": "ACCRECCREDIT",
                    "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
                    "Status": "AUTHORISED",
                    "LineItems": [{"Description": "Discount", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}],
                }
            ]
        },
    ).json()["CreditNotes"][0]
    assert note["Total"] == 115.0 and note["RemainingCredit"] == 115.0 and note["CreditNoteNumber"] == "CN-0001"
    allocation = api.put(
        f"/CreditNotes/{note['CreditNoteID']}/Allocations",
        json={"Allocations": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 115, "Date": "2026-03-10"}]},
    )
    assert allocation.status_code == 200, allocation.text
    updated = api.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert (updated["AmountCredited"], updated["AmountDue"]) == (115.0, 402.5)
    assert updated["CreditNotes"][0]["AppliedAmount"] == 115.0
    assert api.get(f"/CreditNotes/{note['CreditNoteID']}").json()["CreditNotes"][0]["Status"] == "PAID"
    # crediting the rest through the Python API pays the invoice off
    xero.credit_invoice(invoice["InvoiceID"], "402.50")
    assert xero.get_invoice(invoice["InvoiceID"])["Status"] == "PAID"


def test_void_and_settings_endpoints(xero: XeroSandbox, api: XeroClient) -> None:
    invoice = xero.create_invoice(contact_name="Globex Corporation")
    voided = xero.void_invoice(invoice["InvoiceID"])
    assert voided["Status"] == "VOIDED" and voided["AmountDue"] == 0
    org = api.get("/Organisation").json()["Organisations"][0]
    assert (org["ShortCode"], org["BaseCurrency"], org["OrganisationID"]) == ("!DemoNZ", "NZD", xero.tenant_id)
    assert {c["Code"] for c in api.get("/Currencies").json()["Currencies"]} == {"NZD", "AUD", "USD"}
    accounts = {a["Code"]: a for a in api.get("/Accounts").json()["Accounts"]}
    assert set(accounts) == {"200", "260", "090", "610"} and accounts["090"]["EnablePaymentsToAccount"] is True
    rates = {t["TaxType"]: t["EffectiveRate"] for t in api.get("/TaxRates").json()["TaxRates"]}
    assert rates == {"OUTPUT2": 15.0, "NONE": 0.0, "INPUT2": 15.0, "ZERORATEDOUTPUT": 0.0}
    codes = {i["Code"] for i in api.get("/Items").json()["Items"]}
    assert codes == {"WEB-DESIGN", "HOSTING-12M", "SEO-AUDIT", "SUPPORT-HOUR", "LOGO", "TRAINING-DAY"}
    assert api.get("/Items", params={"where": 'Code=="LOGO"'}).json()["Items"][0]["Name"] == "Logo design"
