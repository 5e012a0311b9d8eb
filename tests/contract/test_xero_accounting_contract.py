"""Every Accounting API body the product can receive from the sandbox matches Xero's official OpenAPI schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Check = Callable[[Any, str], None]


def _line(**kw: object) -> dict[str, object]:
    return {"Description": "Work", "Quantity": 2, "UnitAmount": 20, "AccountCode": "200", "TaxType": "OUTPUT2", **kw}


def _invoice(**kw: object) -> dict[str, object]:
    return {
        "Type": "ACCREC",
        "Contact": {"Name": "Globex Corporation"},
        "LineItems": [_line()],
        "Status": "AUTHORISED",
        **kw,
    }


def test_invoice_reads(xero_sandbox: Any, xero_api: Any, check_accounting: Check) -> None:
    invoice_id = next(i["InvoiceID"] for i in xero_sandbox.invoices() if i["InvoiceNumber"] == "INV-0001")
    for params in (
        {},
        {"page": 1, "pageSize": 2},
        {"where": 'Type=="ACCREC" AND Status=="AUTHORISED"'},
        {"IDs": invoice_id},
    ):
        response = xero_api.get("/Invoices", params=params)
        assert response.status_code == 200
        check_accounting(response.json(), "Invoices")
    paged = xero_api.get("/Invoices", params={"page": 1, "pageSize": 2}).json()
    assert paged["pagination"]["pageCount"] == 3
    check_accounting(paged["pagination"], "Pagination")
    check_accounting(xero_api.get("/Invoices", params={"summaryOnly": "true"}).json(), "Invoices")
    single = xero_api.get(f"/Invoices/{invoice_id}").json()
    assert single["Invoices"][0]["Payments"] and single["Invoices"][0]["FullyPaidOnDate"]
    check_accounting(single, "Invoices")


def test_invoice_writes(xero_sandbox: Any, xero_api: Any, check_accounting: Check) -> None:
    created = xero_api.put("/Invoices", json={"Invoices": [_invoice(), _invoice(LineAmountTypes="Inclusive")]})
    check_accounting(created.json(), "Invoices")
    invoice_id = created.json()["Invoices"][0]["InvoiceID"]
    check_accounting(xero_api.post("/Invoices", json=_invoice(InvoiceNumber="K-1")).json(), "Invoices")
    check_accounting(xero_api.post(f"/Invoices/{invoice_id}", json={"Reference": "R"}).json(), "Invoices")
    xero_sandbox.credit_invoice(invoice_id, "10.00")
    check_accounting(xero_api.get(f"/Invoices/{invoice_id}").json(), "Invoices")


def test_summarize_errors_false_mix(xero_api: Any, check_accounting: Check) -> None:
    body = {
        "Invoices": [
            _invoice(),
            _invoice(CurrencyCode="EUR"),
            _invoice(InvoiceNumber="INV-0001"),
            _invoice(LineItems=[_line(AccountCode="999", Quantity="abc")]),
            {"Type": "ACCREC", "Contact": {"ContactID": "not-a-guid"}},
            "not even an object",
        ]
    }
    response = xero_api.put("/Invoices", params={"summarizeErrors": "false"}, json=body)
    assert response.status_code == 200
    assert [i["StatusAttributeString"] for i in response.json()["Invoices"]] == ["OK"] + ["ERROR"] * 5
    check_accounting(response.json(), "Invoices")


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "params"),
    [
        ("PUT", "/Invoices", _invoice(CurrencyCode="EUR"), {}, {}),
        ("PUT", "/Contacts", {"Contacts": [{"Name": "Globex Corporation"}]}, {}, {}),
        ("PUT", "/Payments", {"Payments": [{"Invoice": {"InvoiceID": "x"}, "Amount": 1}]}, {}, {}),
        ("GET", "/Invoices", None, {}, {"where": "Status=="}),
        ("PUT", "/Invoices", None, {}, {}),
    ],
)
def test_error_bodies(
    xero_api: Any,
    check_accounting: Check,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    params: dict[str, str],
) -> None:
    response = xero_api.request(method, path, json=body, headers=headers, params=params)
    assert response.status_code == 400
    check_accounting(response.json(), "Error")


def test_idempotency_conflict_body(xero_api: Any, check_accounting: Check) -> None:
    xero_api.put("/Invoices", json=_invoice(), headers={"Idempotency-Key": "k1"})
    conflict = xero_api.put("/Invoices", json=_invoice(Reference="other"), headers={"Idempotency-Key": "k1"})
    assert conflict.status_code == 400
    check_accounting(conflict.json(), "Error")


def test_contacts(xero_api: Any, check_accounting: Check) -> None:
    check_accounting(xero_api.get("/Contacts").json(), "Contacts")
    check_accounting(xero_api.get("/Contacts", params={"page": 1, "searchTerm": "o"}).json(), "Contacts")
    check_accounting(xero_api.get("/Contacts/XERO-INITECH").json(), "Contacts")
    mixed = xero_api.put(
        "/Contacts",
        params={"summarizeErrors": "false"},
        json={
            "Contacts": [
                {"Name": "Kommo Co", "ContactNumber": "KOMMO-1", "EmailAddress": "a@b.example"},
                {"Name": "Globex Corporation"},
            ]
        },
    )
    assert [c["StatusAttributeString"] for c in mixed.json()["Contacts"]] == ["OK", "ERROR"]
    check_accounting(mixed.json(), "Contacts")
    check_accounting(xero_api.post("/Contacts", json={"Name": "Kommo Co", "FirstName": "K"}).json(), "Contacts")


def test_payments(xero_sandbox: Any, xero_api: Any, check_accounting: Check) -> None:
    invoice_id = next(i["InvoiceID"] for i in xero_sandbox.invoices() if i["InvoiceNumber"] == "INV-0004")
    made = xero_api.put(
        "/Payments",
        params={"summarizeErrors": "false"},
        json={
            "Payments": [
                {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Date": "2026-03-01", "Amount": 76},
                {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "200"}, "Amount": 1},
            ]
        },
    )
    check_accounting(made.json(), "Payments")
    payment_id = made.json()["Payments"][0]["PaymentID"]
    check_accounting(xero_api.get("/Payments").json(), "Payments")
    check_accounting(xero_api.get("/Payments", params={"page": 1}).json(), "Payments")
    check_accounting(xero_api.get(f"/Payments/{payment_id}").json(), "Payments")
    check_accounting(xero_api.post(f"/Payments/{payment_id}", json={"Status": "DELETED"}).json(), "Payments")


def test_credit_notes_and_allocations(xero_sandbox: Any, xero_api: Any, check_accounting: Check) -> None:
    invoice = next(i for i in xero_sandbox.invoices() if i["InvoiceNumber"] == "INV-0004")
    note = xero_api.put(
        "/CreditNotes",
        json={
            "Type": "ACCRECCREDIT",
            "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
            "Status": "AUTHORISED",
            "LineItems": [_line()],
        },
    ).json()
    check_accounting(note, "CreditNotes")
    note_id = note["CreditNotes"][0]["CreditNoteID"]
    allocations = xero_api.put(
        f"/CreditNotes/{note_id}/Allocations",
        params={"summarizeErrors": "false"},
        json={
            "Allocations": [
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 10, "Date": "2026-03-01"},
                {"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 1000, "Date": "2026-03-01"},
            ]
        },
    ).json()
    assert [a["StatusAttributeString"] for a in allocations["Allocations"]] == ["OK", "ERROR"]
    check_accounting(allocations, "Allocations")
    check_accounting(xero_api.get(f"/CreditNotes/{note_id}").json(), "CreditNotes")
    check_accounting(xero_api.get("/CreditNotes").json(), "CreditNotes")
    check_accounting(xero_api.get(f"/Invoices/{invoice['InvoiceID']}").json(), "Invoices")


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/Organisation", "Organisations"),
        ("/Currencies", "Currencies"),
        ("/Accounts", "Accounts"),
        ("/TaxRates", "TaxRates"),
        ("/Items", "Items"),
    ],
)
def test_settings(xero_api: Any, check_accounting: Check, path: str, schema: str) -> None:
    response = xero_api.get(path)
    assert response.status_code == 200
    check_accounting(response.json(), schema)


def test_online_invoice(xero_sandbox: Any, xero_api: Any, check_accounting: Check) -> None:
    invoices = {i["InvoiceNumber"]: i["InvoiceID"] for i in xero_sandbox.invoices()}
    check_accounting(xero_api.get(f"/Invoices/{invoices['INV-0002']}/OnlineInvoice").json(), "OnlineInvoices")
    draft = xero_api.get(f"/Invoices/{invoices['INV-0003']}/OnlineInvoice")
    assert draft.status_code == 400
    check_accounting(draft.json(), "Error")


def test_envelope_and_gateway_errors(xero_sandbox: Any, xero_api: Any) -> None:
    body = xero_api.get("/Currencies").json()
    assert body["Status"] == "OK" and body["DateTimeUTC"].startswith("/Date(") and body["Id"]
    xero_api.token = "expired-or-unknown"
    unauthorised = xero_api.get("/Invoices")
    assert unauthorised.status_code == 401
    assert {k: unauthorised.json()[k] for k in ("Type", "Title", "Status", "Detail")} == {
        "Type": None,
        "Title": "Unauthorized",
        "Status": 401,
        "Detail": "AuthenticationUnsuccessful",
    }
