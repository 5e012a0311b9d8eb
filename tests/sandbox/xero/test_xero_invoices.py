"""Invoices over HTTP: create, batch, validation, tax math, status rules, queries, PDF and online invoice."""

from __future__ import annotations

from decimal import Decimal

from xero_support import globex_id

from sandbox.xero import XeroSandbox
from sandbox.xero.testing import XeroClient


def _line(**kw: object) -> dict[str, object]:
    return {"Description": "Work", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200", "TaxType": "OUTPUT2", **kw}


def test_put_invoice_computes_exclusive_gst_and_numbers_it(xero: XeroSandbox, api: XeroClient) -> None:
    # GIVEN an invoice for an existing contact with two lines
    body = {
        "Type": "ACCREC",
        "Contact": {"ContactID": globex_id(xero)},
        "LineItems": [_line(Quantity=3, UnitAmount="33.33"), _line(UnitAmount="0.05")],
        "Date": "2026-03-10",
        "DueDate": "2026-03-24",
        "Status": "AUTHORISED",
        "Reference": "DEAL-1",
    }
    # WHEN it is created
    response = api.put("/Invoices", json=body)
    # THEN money is exact: 99.99 + 0.05, tax per line rounded
    assert response.status_code == 200, response.text
    assert '"SubTotal":100.04' in response.text  # written as a number with two decimals
    invoice = response.json()["Invoices"][0]
    assert invoice["InvoiceNumber"] == "INV-0007"
    assert Decimal(str(invoice["TotalTax"])) == Decimal("15.01")  # 15.00 + 0.01 (0.0075 rounds half up)
    assert Decimal(str(invoice["Total"])) == Decimal("115.05")
    assert invoice["AmountDue"] == invoice["Total"]
    assert invoice["Status"] == "AUTHORISED"
    assert invoice["DueDate"] == "/Date(1774310400000+0000)/"
    assert invoice["DateString"] == "2026-03-10T00:00:00"
    assert invoice["StatusAttributeString"] == "OK"
    assert all(li["LineItemID"] for li in invoice["LineItems"])
    assert response.headers["X-MinLimit-Remaining"] == "59"


def test_inclusive_and_notax_line_amount_types(xero: XeroSandbox, api: XeroClient) -> None:
    contact = {"ContactID": globex_id(xero)}
    inclusive = api.put(
        "/Invoices",
        json={
            "Type": "ACCREC",
            "Contact": contact,
            "LineAmountTypes": "Inclusive",
            "LineItems": [_line(UnitAmount=115)],
        },
    ).json()["Invoices"][0]
    assert (inclusive["SubTotal"], inclusive["TotalTax"], inclusive["Total"]) == (100.0, 15.0, 115.0)
    notax = api.put(
        "/Invoices",
        json={"Type": "ACCREC", "Contact": contact, "LineAmountTypes": "NoTax", "LineItems": [_line(UnitAmount=115)]},
    ).json()["Invoices"][0]
    assert (notax["TotalTax"], notax["Total"]) == (0.0, 115.0)


def test_item_code_fills_price_account_and_tax(xero: XeroSandbox, api: XeroClient) -> None:
    response = api.put(
        "/Invoices",
        json={"Type": "ACCREC", "Contact": {"Name": "Globex Corporation"}, "LineItems": [{"ItemCode": "HOSTING-12M"}]},
    )
    line = response.json()["Invoices"][0]["LineItems"][0]
    assert (line["UnitAmount"], line["AccountCode"], line["TaxType"], line["TaxAmount"]) == (
        240.0,
        "260",
        "OUTPUT2",
        36.0,
    )


def test_summarize_errors_false_mixes_ok_and_error_elements(xero: XeroSandbox, api: XeroClient) -> None:
    good = {"Type": "ACCREC", "Contact": {"Name": "New Customer Ltd"}, "LineItems": [_line()], "Status": "AUTHORISED"}
    eur = {**good, "CurrencyCode": "EUR"}
    bad_account = {**good, "LineItems": [_line(AccountCode="999")]}
    dup = {**good, "InvoiceNumber": "INV-0001"}
    no_contact = {"Type": "ACCREC", "LineItems": [_line()]}
    response = api.put(
        "/Invoices", params={"summarizeErrors": "false"}, json={"Invoices": [good, eur, bad_account, dup, no_contact]}
    )
    assert response.status_code == 200
    results = response.json()["Invoices"]
    assert [r["StatusAttributeString"] for r in results] == ["OK", "ERROR", "ERROR", "ERROR", "ERROR"]
    messages = [[e["Message"] for e in r.get("ValidationErrors", [])] for r in results]
    assert "Organisation is not subscribed to currency EUR" in messages[1]
    assert "Account code '999' is not a valid code for this document." in messages[2]
    assert "Invoice # must be unique." in messages[3]
    assert any("Contact" in m for m in messages[4])
    assert results[1]["HasErrors"] is True
    # the unknown contact name was created once, by the valid element only
    assert [c["Name"] for c in xero.contacts()].count("New Customer Ltd") == 1


def test_default_summarize_errors_gives_400_validation_exception(api: XeroClient) -> None:
    response = api.put("/Invoices", json={"Type": "ACCREC", "Contact": {"Name": "X"}, "CurrencyCode": "EUR"})
    assert response.status_code == 400
    body = response.json()
    assert body["Type"] == "ValidationException" and body["ErrorNumber"] == 10
    assert body["Elements"][0]["ValidationErrors"][0]["Message"] == "Organisation is not subscribed to currency EUR"


def test_idempotency_key_replays_and_rejects_a_different_body(xero: XeroSandbox, api: XeroClient) -> None:
    body = {"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Globex Corporation"}, "LineItems": [_line()]}]}
    first = api.put("/Invoices", json=body, headers={"Idempotency-Key": "deal-42"})
    again = api.put("/Invoices", json=body, headers={"Idempotency-Key": "deal-42"})
    assert first.json()["Invoices"][0]["InvoiceID"] == again.json()["Invoices"][0]["InvoiceID"]
    assert len(xero.invoices()) == 7
    other = api.put(
        "/Invoices",
        json={"Invoices": [{**body["Invoices"][0], "Reference": "x"}]},
        headers={"Idempotency-Key": "deal-42"},
    )
    assert other.status_code == 400
    assert "is used with a different request" in other.json()["Message"]
    # after 6 minutes on the sandbox clock the key is free again
    xero.clock.advance(361)
    later = api.put("/Invoices", json=body, headers={"Idempotency-Key": "deal-42"})
    assert later.json()["Invoices"][0]["InvoiceID"] != first.json()["Invoices"][0]["InvoiceID"]
    too_long = api.put("/Invoices", json=body, headers={"Idempotency-Key": "k" * 129})
    assert too_long.status_code == 400


def test_status_transitions(xero: XeroSandbox, api: XeroClient) -> None:
    created = api.put(
        "/Invoices", json={"Type": "ACCREC", "Contact": {"Name": "Globex Corporation"}, "LineItems": [_line()]}
    ).json()["Invoices"][0]
    assert created["Status"] == "DRAFT"
    invoice_id = created["InvoiceID"]
    approved = api.post(f"/Invoices/{invoice_id}", json={"Status": "AUTHORISED"})
    assert approved.json()["Invoices"][0]["Status"] == "AUTHORISED"
    back = api.post(f"/Invoices/{invoice_id}", json={"Status": "DRAFT"})
    assert back.status_code == 400
    xero.apply_payment(invoice_id, Decimal("10.00"))
    cannot_void = api.post(f"/Invoices/{invoice_id}", json={"InvoiceID": invoice_id, "Status": "VOIDED"})
    assert cannot_void.status_code == 400
    change_total = api.post(f"/Invoices/{invoice_id}", json={"LineItems": [_line(UnitAmount=5)]})
    assert "payment or credit note allocated" in change_total.text
    reference_ok = api.post(f"/Invoices/{invoice_id}", json={"Reference": "PO-9"})
    assert reference_ok.json()["Invoices"][0]["Reference"] == "PO-9"


def test_post_invoices_upserts_by_invoice_id(xero: XeroSandbox, api: XeroClient) -> None:
    invoice = xero.create_invoice(contact_name="Globex Corporation", status="DRAFT")
    response = api.post("/Invoices", json={"Invoices": [{"InvoiceID": invoice["InvoiceID"], "Reference": "R-2"}]})
    assert response.json()["Invoices"][0]["Reference"] == "R-2"
    assert len(xero.invoices()) == 7


def test_get_invoices_filters_where_paging_and_modified_since(xero: XeroSandbox, api: XeroClient) -> None:
    contact = globex_id(xero)
    where = f'Type=="ACCREC" AND Contact.ContactID==guid("{contact}")'
    rows = api.get("/Invoices", params={"where": where}).json()["Invoices"]
    assert {r["InvoiceNumber"] for r in rows} == {"INV-0001", "INV-0004"}
    assert all(r["LineItems"] == [] for r in rows)  # unpaged: summaries
    by_status = api.get("/Invoices", params={"Statuses": "DRAFT,VOIDED"}).json()["Invoices"]
    assert {r["Status"] for r in by_status} == {"DRAFT", "VOIDED"}
    by_number = api.get("/Invoices", params={"InvoiceNumbers": "INV-0002"}).json()["Invoices"]
    assert by_number[0]["Reference"] == "Support March"
    assert api.get("/Invoices", params={"where": 'Reference=="Logo"'}).json()["Invoices"][0]["Status"] == "VOIDED"
    paged = api.get("/Invoices", params={"page": 2, "pageSize": 4}).json()
    assert paged["pagination"] == {"page": 2, "pageSize": 4, "pageCount": 2, "itemCount": 6}
    assert len(paged["Invoices"]) == 2 and paged["Invoices"][0]["LineItems"]
    # If-Modified-Since on UpdatedDateUTC
    xero.clock.advance(60)
    since = xero.clock.now().strftime("%Y-%m-%dT%H:%M:%S")
    xero.clock.advance(5)
    touched = xero.create_invoice(contact_name="Globex Corporation")
    modified = api.get("/Invoices", params={"page": 1}, headers={"If-Modified-Since": since}).json()["Invoices"]
    assert [r["InvoiceID"] for r in modified] == [touched["InvoiceID"]]
    bad = api.get("/Invoices", params={"where": "Status=="})
    assert bad.status_code == 400


def test_ordering_is_updated_date_then_id(xero: XeroSandbox, api: XeroClient) -> None:
    rows = api.get("/Invoices", params={"page": 1}).json()["Invoices"]
    keys = [(r["UpdatedDateUTC"], r["InvoiceID"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (int(k[0][6:-7]), k[1]))


def test_pdf_is_a_real_pdf(xero: XeroSandbox, api: XeroClient) -> None:
    invoice = next(i for i in xero.invoices() if i["InvoiceNumber"] == "INV-0002")
    response = api.get(f"/Invoices/{invoice['InvoiceID']}", headers={"Accept": "application/pdf"})
    assert response.headers["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert b"INV-0002" in pdf and b"Initech Ltd" in pdf and b"1092.50" in pdf
    # every xref offset points at its object
    xref_at = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref_at:].startswith(b"xref")
    entries = pdf[xref_at:].split(b"\n")[3:9]
    for number, entry in enumerate(entries, start=1):
        offset = int(entry[:10])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())


def test_online_invoice_and_draft_refusal(xero: XeroSandbox, api: XeroClient) -> None:
    invoices = {i["InvoiceNumber"]: i for i in xero.invoices()}
    ok = api.get(f"/Invoices/{invoices['INV-0002']['InvoiceID']}/OnlineInvoice").json()
    assert ok["OnlineInvoices"][0]["OnlineInvoiceUrl"].startswith("https://in.xero.com/")
    draft = api.get(f"/Invoices/{invoices['INV-0003']['InvoiceID']}/OnlineInvoice")
    assert draft.status_code == 400


def test_not_found_and_lookup_by_number(xero: XeroSandbox, api: XeroClient) -> None:
    assert api.get("/Invoices/00000000-0000-0000-0000-000000000001").status_code == 404
    assert api.get("/Invoices/INV-0001").json()["Invoices"][0]["Status"] == "PAID"
    assert api.get("/invoices/INV-0001").status_code == 200  # paths are case-insensitive
