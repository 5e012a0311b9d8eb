"""The /_sandbox/ control interface, the HTML page and ``python -m sandbox.xero``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from sandbox.xero import XeroSandbox

ROOT = Path(__file__).resolve().parents[3]


def test_control_routes_drive_the_sandbox(xero: XeroSandbox) -> None:
    base = xero.base_url + "/_sandbox"
    created = requests.post(
        base + "/invoices",
        json={"contact_name": "Control Co", "line_items": [{"ItemCode": "LOGO"}], "reference": "ctl"},
        timeout=5,
    )
    assert created.status_code == 201, created.text
    invoice = created.json()
    assert invoice["Total"] == 517.5 and invoice["Status"] == "AUTHORISED"
    paid = requests.post(f"{base}/invoices/{invoice['InvoiceID']}/payments", json={"amount": "17.50"}, timeout=5)
    assert paid.status_code == 201 and paid.json()["Amount"] == 17.5
    removed = requests.delete(f"{base}/payments/{paid.json()['PaymentID']}", timeout=5)
    assert removed.json()["Status"] == "DELETED"
    voided = requests.post(f"{base}/invoices/{invoice['InvoiceID']}/void", timeout=5).json()
    assert voided["Status"] == "VOIDED"
    refused = requests.post(f"{base}/invoices/{invoice['InvoiceID']}/payments", json={"amount": "1"}, timeout=5)
    assert refused.status_code == 400 and refused.json()["messages"]
    assert requests.post(base + "/faults", json={"route": "GET /Items", "error_rate": 1}, timeout=5).status_code == 201
    assert len(requests.get(base + "/faults", timeout=5).json()) == 1
    before = xero.clock.time()
    requests.post(base + "/clock/advance", json={"seconds": 3600}, timeout=5)
    assert xero.clock.time() - before >= 3600
    state = requests.get(base + "/state", timeout=5).json()
    assert len(state["invoices"]) == 7 and state["tenant_id"] == xero.tenant_id
    assert requests.post(base + "/reset", timeout=5).json() == {"ok": True}
    assert len(xero.invoices()) == 6 and xero.faults.rules == []
    requests.post(base + "/seed", json={"name": None}, timeout=5)
    assert xero.invoices() == [] and xero.contacts() == []
    code = requests.post(base + "/auth/code", json={}, timeout=5).json()["code"]
    assert code
    assert requests.get(base + "/nothing", timeout=5).status_code == 404


def test_page_lists_invoices_and_forms_create_and_pay(xero: XeroSandbox) -> None:
    page = requests.get(xero.base_url + "/", timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "INV-0002" in page.text and "Initech Ltd" in page.text and 'action="/_sandbox/ui/pay"' in page.text
    made = requests.post(
        xero.base_url + "/_sandbox/ui/invoice",
        data={"contact_name": "Form Buyer", "item_code": "SEO-AUDIT", "quantity": "1", "currency": "NZD"},
        timeout=5,
    )
    assert made.status_code == 200 and "Form Buyer" in made.text  # followed the 303 back to the page
    invoice = next(i for i in xero.invoices() if i["Contact"]["Name"] == "Form Buyer")
    requests.post(xero.base_url + "/_sandbox/ui/pay", data={"invoice_id": invoice["InvoiceID"]}, timeout=5)
    assert xero.get_invoice(invoice["InvoiceID"])["Status"] == "PAID"


def test_cli_prints_ready_and_serves() -> None:
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sandbox.xero", "--port", "0", "--client-id", "CLI", "--client-secret", "s3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("ready http://127.0.0.1:")
        base = line.split(" ", 1)[1]
        token = requests.post(
            base + "/connect/token", data={"grant_type": "client_credentials"}, auth=("CLI", "s3"), timeout=5
        ).json()["access_token"]
        org = requests.get(
            base + "/api.xro/2.0/Organisation", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).json()
        assert org["Organisations"][0]["Name"] == "Demo Company (NZ)"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
