"""Invoice -> deal over the real HTTP path: an invoice made by hand in the Xero sandbox -> signed webhook -> local API
gateway -> XeroWebhookFunction -> SQS (moto) -> SyncWorkerFunction -> Kommo sandbox. Every test starts from the demo
seed (see docs/ARCHITECTURE.md for its ids)."""

from __future__ import annotations

import json
import os
import threading
import time
from decimal import Decimal

import boto3
import pytest
import requests

from kommo_xero_sync.logic.xero_ingress import sign
from local_stack.stack import LocalStack
from tests.conftest import DEV_CREDENTIALS
from tests.integration.helpers import (
    F_DESCRIPTION,
    F_LINK,
    F_NUMBER,
    F_STATUS,
    F_TOTAL,
    PAYMENT_AGREED,
    QUALIFIED,
    SALES,
    invoices_for,
    mapping_without_followups,
    move,
    notes_text,
    settle,
)

pytestmark = pytest.mark.integration

F_CURRENCY = 8100010
TENANT = "a3f1c6f0-8d44-4c1e-9a51-2b7d0c9e5f10"
NO_TAX = {"line_amount_types": "NoTax"}


@pytest.fixture(scope="module")
def stack():
    with LocalStack(
        credentials=DEV_CREDENTIALS, start_scheduler=False, mapping=mapping_without_followups(), batching_window=1.0
    ) as running:
        yield running


def xero_deals(stack):
    """Deals carrying the Xero tag (made from invoices)."""
    return [lead for lead in stack.kommo.list_leads() if any(t["name"] == "Xero" for t in lead["_embedded"]["tags"])]


def invoice_item(stack, invoice_id):
    table = boto3.resource("dynamodb").Table(stack.table_name("SyncTable"))
    return table.get_item(Key={"pk": f"INVOICE#{invoice_id}", "sk": "LINK"}).get("Item")


def hand_made(stack, contact="Tui Brewing Supplies", amount="480.00", **kwargs):
    lines = [{"Description": "Brewing kit consulting", "Quantity": 2, "UnitAmount": amount, "AccountCode": "200"}]
    return stack.xero.create_invoice(contact_name=contact, line_items=lines, **kwargs)


def test_hand_made_invoice_becomes_one_deal_with_its_data(env):
    invoice = hand_made(env)
    settle(env)
    (deal,) = xero_deals(env)
    number = invoice["InvoiceNumber"]
    assert deal["name"] == f"{number} - Tui Brewing Supplies"
    assert (deal["pipeline_id"], deal["status_id"], deal["responsible_user_id"]) == (SALES, PAYMENT_AGREED, 5000001)
    assert deal["price"] == 1104  # 2 x 480.00 + 15 % GST = 1104.00
    lead_id = deal["id"]
    assert env.kommo.lead_field_value(lead_id, F_NUMBER) == number
    assert env.kommo.lead_field_value(lead_id, F_STATUS) == "Awaiting payment"
    assert Decimal(str(env.kommo.lead_field_value(lead_id, F_TOTAL))) == Decimal("1104.00")
    assert env.kommo.lead_field_value(lead_id, F_CURRENCY) == "NZD"
    assert "Brewing kit consulting" in env.kommo.lead_field_value(lead_id, F_DESCRIPTION)
    assert invoice["InvoiceID"] in env.kommo.lead_field_value(lead_id, F_LINK)
    # The client did not exist in Kommo: a company with Xero's e-mail was created with the deal.
    company = env.kommo.get_company(deal["_embedded"]["companies"][0]["id"])
    assert company["name"] == "Tui Brewing Supplies"
    assert "finance@tuibrewing.example" in json.dumps(company["custom_fields_values"])
    assert any("created from Xero invoice" in t and number in t for t in notes_text(env, lead_id))
    item = invoice_item(env, invoice["InvoiceID"])
    assert (item["state"], int(item["lead_id"]), item["origin"]) == ("LINKED", lead_id, "xero")
    # No loop: the deal in the trigger stage got no invoice of its own.
    assert [i["InvoiceID"] for i in env.xero.invoices() if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED"][
        -1
    ] == invoice["InvoiceID"]
    assert invoices_for(env, lead_id) == []


def test_existing_client_is_reused_not_duplicated(env):
    # Xero's "Wayne Enterprises NZ" has no Kommo company, but its e-mail is not in Kommo either: a company and its
    # contact person (Bruce Wayne) are created once; a second invoice of the same client in the same batch reuses them.
    wayne = next(c for c in env.xero.contacts() if c["Name"] == "Wayne Enterprises NZ")
    lines = [{"Description": "Logistics audit", "Quantity": 1, "UnitAmount": "300.00", "AccountCode": "200"}]
    env.xero.create_invoice(contact_id=wayne["ContactID"], line_items=lines)
    env.xero.create_invoice(contact_id=wayne["ContactID"], line_items=lines)
    settle(env)
    deals = xero_deals(env)
    assert len(deals) == 2
    assert len({d["_embedded"]["companies"][0]["id"] for d in deals}) == 1
    companies = [c for c in env.kommo.snapshot()["companies"] if c["name"] == "Wayne Enterprises NZ"]
    assert len(companies) == 1


def test_open_deal_with_same_client_amount_and_currency_is_matched_not_created(env):
    # Deal 1000007 "Menu website - Harbour Cafe Nelson": budget 2400 NZD, open, company "Harbour Cafe" (6500007).
    lines = [{"Description": "Menu website", "Quantity": 1, "UnitAmount": "2400.00", "AccountCode": "200"}]
    invoice = env.xero.create_invoice(contact_name="Harbour Cafe", line_items=lines, **NO_TAX)
    settle(env)
    assert xero_deals(env) == []
    assert env.kommo.lead_field_value(1000007, F_NUMBER) == invoice["InvoiceNumber"]
    assert env.kommo.lead_field_value(1000008, F_NUMBER) is None  # the other Harbour Cafe (3200) is untouched
    assert any("same client, amount and currency" in t for t in notes_text(env, 1000007))
    assert int(invoice_item(env, invoice["InvoiceID"])["lead_id"]) == 1000007


def test_same_client_other_amount_creates_a_deal(env):
    lines = [{"Description": "Menu website", "Quantity": 1, "UnitAmount": "2399.00", "AccountCode": "200"}]
    env.xero.create_invoice(contact_name="Harbour Cafe", line_items=lines, **NO_TAX)
    settle(env)
    assert env.kommo.lead_field_value(1000007, F_NUMBER) is None
    (deal,) = xero_deals(env)
    # "Harbour Cafe" exists twice in Kommo: the first found by name is reused, no third company is created.
    assert deal["_embedded"]["companies"][0]["id"] in (6500007, 6500008)


def test_reference_to_a_deal_links_that_deal(env):
    invoice = hand_made(env, contact="Umbrella Trading", reference="Kommo deal 1000004")
    settle(env)
    assert xero_deals(env) == []
    assert env.kommo.lead_field_value(1000004, F_NUMBER) == invoice["InvoiceNumber"]
    assert int(invoice_item(env, invoice["InvoiceID"])["lead_id"]) == 1000004


def test_reference_to_a_deal_with_another_invoice_leaves_a_note_and_creates_nothing(env):
    move(env, [1000003])
    (first,) = invoices_for(env, 1000003)
    second = hand_made(env, contact="Initech NZ", reference="Kommo deal 1000003")
    settle(env)
    assert xero_deals(env) == []
    assert env.kommo.lead_field_value(1000003, F_NUMBER) == first["InvoiceNumber"]
    conflict = [t for t in notes_text(env, 1000003) if second["InvoiceNumber"] in t and "already linked" in t]
    assert len(conflict) == 1
    assert invoice_item(env, second["InvoiceID"])["state"] == "IGNORED"
    # Another update of that invoice does not repeat the note.
    env.xero.update_invoice(second["InvoiceID"], Reference="Kommo deal 1000003 ")
    settle(env)
    assert len([t for t in notes_text(env, 1000003) if second["InvoiceNumber"] in t]) == 1


def test_draft_is_not_a_deal_until_approved(env):
    invoice = hand_made(env, status="DRAFT")
    settle(env)
    assert xero_deals(env) == []
    env.xero.update_invoice(invoice["InvoiceID"], Status="AUTHORISED")
    settle(env)
    assert len(xero_deals(env)) == 1


def test_missed_create_still_gives_exactly_one_deal(env):
    env.xero.drop_webhooks(1.0)
    try:
        invoice = hand_made(env)
        settle(env)
        assert xero_deals(env) == []
    finally:
        env.xero.drop_webhooks(0.0)
    env.xero.update_invoice(invoice["InvoiceID"], Reference="PO 4711")  # only an UPDATE arrives
    settle(env)
    env.xero.update_invoice(invoice["InvoiceID"], Reference="PO 4712")
    settle(env)
    (deal,) = xero_deals(env)
    assert env.kommo.lead_field_value(deal["id"], F_NUMBER) == invoice["InvoiceNumber"]


def test_twenty_concurrent_deliveries_give_one_deal(env):
    env.xero.drop_webhooks(1.0)
    try:
        invoice = hand_made(env)
        settle(env)
    finally:
        env.xero.drop_webhooks(0.0)
    key = env.credentials["xero_webhook_key"]

    def body(i: int, kind: str) -> bytes:
        event = {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice['InvoiceID']}",
            "resourceId": invoice["InvoiceID"],
            "eventDateUtc": f"2026-11-24T10:00:{i:02d}.000",
            "eventType": kind,
            "eventCategory": "INVOICE",
            "tenantId": TENANT,
            "tenantType": "ORGANISATION",
        }
        return json.dumps({"events": [event], "firstEventSequence": i, "lastEventSequence": i, "entropy": "E"}).encode()

    # Ten identical redeliveries of one event plus ten distinct UPDATE events, all at once.
    bodies = [body(0, "CREATE")] * 10 + [body(i, "UPDATE") for i in range(1, 11)]
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def post(raw: bytes) -> None:
        barrier.wait()
        for _ in range(3):  # like Xero, a delivery that failed (the local stack can be slow under load) is resent
            response = requests.post(
                env.xero_webhook_url, data=raw, headers={"x-xero-signature": sign(raw, key)}, timeout=10
            )
            if response.status_code == 200:
                break
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(raw,)) for raw in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert statuses == [200] * 20
    settle(env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not xero_deals(env):
        time.sleep(0.5)
    settle(env)
    assert len(xero_deals(env)) == 1


def test_both_webhooks_against_each_other_stay_bounded(env):
    """The product's own invoice comes back as a Xero webhook; the deal made from a hand-made invoice goes through
    the trigger stage again. Neither creates anything more, and once settled no more calls are made."""
    # The local stack hears "Lead added" too, so the deal made in the trigger stage comes back as a Kommo webhook.
    move(env, [1000003])
    hand_made(env)
    settle(env)
    (deal,) = xero_deals(env)
    move(env, [deal["id"]], status=QUALIFIED)
    move(env, [deal["id"]])
    settle(env)
    before = (env.xero.counters.snapshot(), env.kommo.counters.snapshot())
    time.sleep(3)
    settle(env)
    after = (env.xero.counters.snapshot(), env.kommo.counters.snapshot())
    accrec = [i for i in env.xero.invoices() if i["Type"] == "ACCREC"]
    assert len(invoices_for(env, 1000003)) == 1 and invoices_for(env, deal["id"]) == []
    assert len(xero_deals(env)) == 1
    assert sum(1 for i in accrec if i["Status"] == "AUTHORISED") >= 2
    assert before == after  # nothing ping-pongs
    xero_calls = sum(r["calls"] for r in after[0].values())
    kommo_calls = sum(r["calls"] for r in after[1].values())
    assert xero_calls <= 25 and kommo_calls <= 40, (after[0], after[1])


def test_voided_invoice_of_a_deal_made_from_it_is_noted(env):
    invoice = hand_made(env)
    settle(env)
    (deal,) = xero_deals(env)
    env.xero.void_invoice(invoice["InvoiceID"])
    settle(env)
    assert env.kommo.lead_field_value(deal["id"], F_STATUS) == "Voided"
    assert any("is now Voided" in t for t in notes_text(env, deal["id"]))
    assert len(xero_deals(env)) == 1


def test_deal_made_from_an_invoice_is_never_invoiced_even_before_its_link_is_stored(env):
    """The race the tag closes: the deal's stage webhook is processed before invoice -> deal stored the link."""
    from kommo_xero_sync.config import load_config
    from kommo_xero_sync.dal.secrets import fetch_parameter
    from kommo_xero_sync.models.jobs import LeadStageJob
    from kommo_xero_sync.runtime import Runtime

    (lead_id,) = env.kommo.create_leads(1, pipeline_id=SALES, status_id=PAYMENT_AGREED, price=500, company_id=6500004)
    requests.patch(
        f"{env.kommo.base_url}/api/v4/leads/{lead_id}",
        json={"_embedded": {"tags": [{"name": "Xero"}]}},
        headers={"Authorization": f"Bearer {env.credentials['kommo_access_token']}"},
        timeout=10,
    ).raise_for_status()
    runtime = Runtime(load_config(os.environ, fetch_parameter))
    job = LeadStageJob(lead_id=lead_id, pipeline_id=SALES, status_id=PAYMENT_AGREED, modified_at=1)
    outcome = runtime.deal_to_invoice().run([job]).outcomes[lead_id]
    assert (outcome.status, outcome.detail) == ("skipped", "deal was created from a Xero invoice")
    assert invoices_for(env, lead_id) == []


def test_worker_crash_after_creating_the_deal_does_not_create_a_second(env, monkeypatch):
    from kommo_xero_sync.config import load_config
    from kommo_xero_sync.dal.secrets import fetch_parameter
    from kommo_xero_sync.dal.store import SyncStore
    from kommo_xero_sync.runtime import Runtime

    env.xero.drop_webhooks(1.0)
    try:
        invoice = hand_made(env)
    finally:
        env.xero.drop_webhooks(0.0)
    runtime = Runtime(load_config(os.environ, fetch_parameter))
    original = SyncStore.complete_link

    def crash(self, *args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(SyncStore, "complete_link", crash)
    with pytest.raises(RuntimeError):
        runtime.invoice_to_deal().run([invoice["InvoiceID"]])
    monkeypatch.setattr(SyncStore, "complete_link", original)
    assert len(xero_deals(env)) == 1  # the deal exists, its link does not
    # A retry while the claim is live waits; after it expires, the retry finds the deal instead of making another.
    assert runtime.invoice_to_deal().run([invoice["InvoiceID"]]).outcomes[invoice["InvoiceID"]].status == "in_progress"
    table = boto3.resource("dynamodb").Table(env.table_name("SyncTable"))
    table.update_item(
        Key={"pk": f"INVOICE#{invoice['InvoiceID']}", "sk": "LINK"},
        UpdateExpression="SET claim_expires = :past",
        ExpressionAttributeValues={":past": 1},
    )
    outcome = runtime.invoice_to_deal().run([invoice["InvoiceID"]]).outcomes[invoice["InvoiceID"]]
    (deal,) = xero_deals(env)
    assert (outcome.status, outcome.lead_id) == ("created", deal["id"])
    assert int(invoice_item(env, invoice["InvoiceID"])["lead_id"]) == deal["id"]


def test_invoice_the_sweep_finds_first_becomes_one_deal(env):
    from local_stack.scheduler import scheduled_event

    env.xero.drop_webhooks(1.0)
    try:
        invoice = hand_made(env)
        settle(env)
        assert xero_deals(env) == []
        first = env.invoke(
            "PaymentSweepFunction", scheduled_event("arn:aws:scheduler:eu-west-1:123456789012:schedule/s")
        )
        env.invoke("PaymentSweepFunction", scheduled_event("arn:aws:scheduler:eu-west-1:123456789012:schedule/s"))
    finally:
        env.xero.drop_webhooks(0.0)
    assert first["handed_on"] >= 1
    settle(env)  # the sweep queued a job; the worker made the deal
    (deal,) = xero_deals(env)
    assert env.kommo.lead_field_value(deal["id"], F_NUMBER) == invoice["InvoiceNumber"]
    env.xero.update_invoice(invoice["InvoiceID"], Reference="PO 99")  # the webhook finally arrives
    settle(env)
    assert len(xero_deals(env)) == 1


def test_thirty_invoices_the_sweep_finds_become_thirty_deals_in_capped_runs(env):
    from kommo_xero_sync.logic.invoice_to_deal import MAX_PER_RUN
    from local_stack.scheduler import scheduled_event

    env.xero.drop_webhooks(1.0)
    try:
        made = [hand_made(env, contact="Umbrella Trading", amount=str(100 + n)) for n in range(30)]
        settle(env)
        result = env.invoke(
            "PaymentSweepFunction", scheduled_event("arn:aws:scheduler:eu-west-1:123456789012:schedule/s")
        )
    finally:
        env.xero.drop_webhooks(0.0)
    assert result["handed_on"] == 30 > MAX_PER_RUN
    settle(env)
    deals = xero_deals(env)
    assert sorted(env.kommo.lead_field_value(d["id"], F_NUMBER) for d in deals) == sorted(
        i["InvoiceNumber"] for i in made
    )
    # The existing Kommo company was found (by name) and reused; none was created.
    assert {d["_embedded"]["companies"][0]["id"] for d in deals} == {6500004}


def test_a_failed_write_to_the_matched_deal_is_repaired_by_the_retry(env):
    from sandbox.common.faults import FaultRule

    # Kommo refuses the first PATCH after the link is stored; nothing may be left half-done.
    env.kommo.faults.add(FaultRule(route="PATCH /api/v4/leads", error_rate=1.0, status=400, remaining=1))
    lines = [{"Description": "Menu website", "Quantity": 1, "UnitAmount": "2400.00", "AccountCode": "200"}]
    invoice = env.xero.create_invoice(contact_name="Harbour Cafe", line_items=lines, **NO_TAX)
    settle(env)
    assert env.kommo.counters.count(status=400) == 1
    assert int(invoice_item(env, invoice["InvoiceID"])["lead_id"]) == 1000007
    assert env.kommo.lead_field_value(1000007, F_NUMBER) == invoice["InvoiceNumber"]
    assert env.kommo.lead_field_value(1000007, F_STATUS) == "Awaiting payment"


def test_deal_creation_refused_by_kommo_is_retried_soon_not_held_for_the_claim(env):
    from sandbox.common.faults import FaultRule

    # Both attempts of the first run are refused (with and without the currency field): nothing was saved, so the
    # claim is released and the queue's retry creates the deal (it would otherwise wait for the claim to expire).
    env.kommo.faults.add(FaultRule(route="POST /api/v4/leads/complex", error_rate=1.0, status=400, remaining=2))
    invoice = hand_made(env)
    settle(env)
    assert env.kommo.counters.count(route="POST /api/v4/leads/complex", status=400) == 2
    (deal,) = xero_deals(env)
    assert env.kommo.lead_field_value(deal["id"], F_NUMBER) == invoice["InvoiceNumber"]
