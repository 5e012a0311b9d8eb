"""Helpers for the integration tests, which drive LocalStack (moto + both sandboxes + the four functions)."""

from __future__ import annotations

import json

import boto3
import requests

from tests.conftest import ROOT

SALES, PAYMENT_AGREED, QUALIFIED = 7000001, 7100004, 7100002
F_NUMBER, F_STATUS, F_TOTAL, F_LINK, F_DESCRIPTION = 8100001, 8100002, 8100003, 8100006, 8100011
DEMO_MAPPING = json.loads((ROOT / "config" / "mapping.demo.json").read_text())


def mapping_without_followups() -> dict:
    doc = json.loads(json.dumps(DEMO_MAPPING))
    doc["xero"]["attach_pdf"] = False
    doc["kommo"]["fields"].pop("online_invoice_link")
    return doc


def reset_stack(stack):
    """Fresh sandboxes, empty tables and queue, counters at zero."""
    stack.drain(timeout=20)
    stack.kommo.reset()
    stack.xero.reset()
    for logical_id, key in (("SyncTable", ("pk", "sk")), ("IdempotencyTable", ("id",))):
        table = boto3.resource("dynamodb").Table(stack.table_name(logical_id))
        for item in table.scan().get("Items", []):
            table.delete_item(Key={k: item[k] for k in key})
    stack.kommo.counters.reset()
    stack.xero.counters.reset()
    return stack


def kommo_api(stack, method, path, body=None):
    response = requests.request(
        method,
        f"{stack.kommo.base_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {stack.credentials['kommo_access_token']}"},
        timeout=10,
    )
    response.raise_for_status()
    return response


def invoices_for(stack, lead_id):
    return [
        i
        for i in stack.xero.invoices()
        if i.get("Reference") == f"Kommo deal {lead_id}" and i.get("Status") not in ("DELETED",)
    ]


def move(stack, lead_ids, status=PAYMENT_AGREED, pipeline=SALES):
    stack.kommo.move_leads(list(lead_ids), status_id=status, pipeline_id=pipeline)
    assert stack.kommo.wait_for_deliveries(timeout=20)
    assert stack.drain(timeout=60)


def notes_text(stack, lead_id):
    return [json.dumps(n.get("params", {})) for n in stack.kommo.notes_for_lead(lead_id)]


def settle(stack):
    """Both sandboxes' webhooks delivered and the jobs they became processed."""
    assert stack.xero.wait_for_deliveries(timeout=20)
    assert stack.kommo.wait_for_deliveries(timeout=20)
    assert stack.drain(timeout=60)
