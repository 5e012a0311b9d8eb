"""Deal -> invoice over the real HTTP path: Kommo sandbox webhook -> local API gateway -> KommoWebhookFunction -> SQS
(moto) -> SyncWorkerFunction -> Xero sandbox and back to Kommo. Every test starts from the demo seed."""

from __future__ import annotations

import threading
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import requests

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
    kommo_api,
    mapping_without_followups,
    move,
    notes_text,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack():
    with LocalStack(
        credentials=DEV_CREDENTIALS, start_scheduler=False, mapping=mapping_without_followups(), batching_window=1.0
    ) as running:
        yield running


def test_one_deal_gets_one_invoice_written_back(env):
    move(env, [1000003])
    (invoice,) = invoices_for(env, 1000003)
    assert invoice["Type"] == "ACCREC" and invoice["Status"] == "AUTHORISED"
    assert invoice["Contact"]["Name"] == "Initech NZ"
    assert Decimal(str(invoice["Total"])) == Decimal("1380.00")  # 1200 + 15 % GST
    assert env.kommo.lead_field_value(1000003, F_NUMBER) == invoice["InvoiceNumber"]
    assert env.kommo.lead_field_value(1000003, F_STATUS) == "Awaiting payment"
    assert Decimal(str(env.kommo.lead_field_value(1000003, F_TOTAL))) == Decimal("1380.00")
    link = env.kommo.lead_field_value(1000003, F_LINK)
    assert "shortcode=!DemoNZ" in link and invoice["InvoiceID"] in link
    assert any(invoice["InvoiceNumber"] in text for text in notes_text(env, 1000003))


def test_bulk_move_of_120_deals_costs_a_handful_of_calls(env):
    lead_ids = env.kommo.create_leads(
        120, pipeline_id=SALES, status_id=QUALIFIED, price=990, contact_id=6000004, company_id=6500004
    )
    env.kommo.counters.reset()
    env.xero.counters.reset()
    move(env, lead_ids)
    linked = [lead_id for lead_id in lead_ids if len(invoices_for(env, lead_id)) == 1]
    assert len(linked) == 120
    xero = env.xero.counters.snapshot()
    kommo = env.kommo.counters.snapshot()
    # 120 jobs reach the worker in one or two batches (up to 100 each): 3 or 4 PUTs of at most 50 invoices.
    assert xero["PUT /Invoices"]["calls"] in (3, 4), xero
    assert sum(r["calls"] for r in xero.values()) <= 20, xero
    assert sum(r["calls"] for r in kommo.values()) <= 20, kommo
    assert env.xero.counters.count(status=429) == 0 and env.kommo.counters.count(status=429) == 0


def test_deal_without_contact_gets_a_note_and_no_invoice(env):
    move(env, [1000010])
    assert invoices_for(env, 1000010) == []
    assert env.kommo.lead_field_value(1000010, F_STATUS) == "Needs attention"
    assert any("no contact or company to bill" in text for text in notes_text(env, 1000010))
    # Fixed and moved again: it proceeds.
    kommo_api(env, "POST", "/api/v4/leads/1000010/link", [{"to_entity_id": 6000011, "to_entity_type": "contacts"}])
    move(env, [1000010], status=QUALIFIED)
    move(env, [1000010])
    assert len(invoices_for(env, 1000010)) == 1


def test_currency_the_organisation_does_not_have(env):
    move(env, [1000011])
    assert invoices_for(env, 1000011) == []
    assert any("currency EUR is not enabled" in text for text in notes_text(env, 1000011))


def test_same_delivery_three_times_gives_one_invoice(env):
    pairs = [
        ("leads[status][0][id]", "1000001"),
        ("leads[status][0][status_id]", str(PAYMENT_AGREED)),
        ("leads[status][0][pipeline_id]", str(SALES)),
        ("leads[status][0][old_status_id]", "7100003"),
        ("leads[status][0][last_modified]", "1763900001"),
        ("account[subdomain]", "demo"),
        ("account[id]", "31000001"),
    ]
    body = urlencode(pairs)
    url = env.kommo_webhook_url
    statuses = [
        requests.post(
            url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    assert env.drain(timeout=30)
    assert len(invoices_for(env, 1000001)) == 1


def test_deal_moved_out_and_back_keeps_its_one_invoice(env):
    move(env, [1000005])
    move(env, [1000005], status=QUALIFIED)
    move(env, [1000005])
    assert len(invoices_for(env, 1000005)) == 1
    created_notes = [t for t in notes_text(env, 1000005) if "created" in t]
    assert len(created_notes) == 1


def test_two_workers_racing_on_one_deal_create_one_invoice(env):
    import os

    from kommo_xero_sync.config import load_config
    from kommo_xero_sync.dal.secrets import fetch_parameter
    from kommo_xero_sync.models.jobs import LeadStageJob
    from kommo_xero_sync.runtime import Runtime

    job = LeadStageJob(lead_id=1000014, pipeline_id=SALES, status_id=PAYMENT_AGREED, modified_at=1)
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        runtime = Runtime(load_config(os.environ, fetch_parameter))  # its own clients, like a second container
        barrier.wait()
        outcomes.append(runtime.deal_to_invoice().run([job]).outcomes[1000014].status)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) in (["in_progress", "invoiced"], ["already_linked", "invoiced"])
    assert len(invoices_for(env, 1000014)) == 1


def test_one_invalid_invoice_among_50_does_not_block_the_others(env):
    lead_ids = env.kommo.create_leads(
        50, pipeline_id=SALES, status_id=QUALIFIED, price=500, contact_id=6000005, company_id=6500005
    )
    bad = lead_ids[17]
    kommo_api(
        env,
        "PATCH",
        f"/api/v4/leads/{bad}",
        {"custom_fields_values": [{"field_id": F_DESCRIPTION, "values": [{"value": "x" * 4100}]}]},
    )
    move(env, lead_ids)
    assert invoices_for(env, bad) == []
    assert sum(1 for lead_id in lead_ids if len(invoices_for(env, lead_id)) == 1) == 49
    assert env.xero.counters.snapshot()["PUT /Invoices"]["calls"] <= 2  # one or two worker batches
    assert env.kommo.lead_field_value(bad, F_STATUS) == "Needs attention"
    assert any("4000 characters" in text for text in notes_text(env, bad))


def test_unique_name_clash_reuses_or_disambiguates_never_duplicates(env):
    # Xero already has "Globex Corporation" with another e-mail: the Kommo company gets a disambiguated contact.
    move(env, [1000002])
    (invoice,) = invoices_for(env, 1000002)
    assert invoice["Contact"]["Name"] == "Globex Corporation (98-765-432)"
    # A second deal of the same company reuses the recorded contact; no "Globex Corporation 1" anywhere.
    move(env, [1000013])
    (second,) = invoices_for(env, 1000013)
    assert second["Contact"]["ContactID"] == invoice["Contact"]["ContactID"]
    names = [c["Name"] for c in env.xero.contacts()]
    assert names.count("Globex Corporation") == 1 and names.count("Globex Corporation (98-765-432)") == 1
    # Two Kommo companies named "Harbour Cafe" become two distinct Xero contacts.
    move(env, [1000007, 1000008])
    (first,), (other,) = invoices_for(env, 1000007), invoices_for(env, 1000008)
    assert first["Contact"]["ContactID"] != other["Contact"]["ContactID"]
    assert {first["Contact"]["Name"], other["Contact"]["Name"]} == {"Harbour Cafe", "Harbour Cafe (82-345-678)"}
