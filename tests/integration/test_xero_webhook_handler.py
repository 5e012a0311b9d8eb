"""XeroWebhookFunction in-process (as Lambda imports it), with the secret and the mapping read from moto: Xero's rules
for the answer (200 with an empty body and no cookies for a correctly signed body, exactly 401 otherwise) and what is
enqueued on the jobs queue."""

from __future__ import annotations

import base64
import copy
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from kommo_xero_sync.logic.xero_ingress import sign
from tests.conftest import DEV_CREDENTIALS, load_event
from tests.integration import test_events

FUNCTION = "XeroWebhookFunction"
KEY = DEV_CREDENTIALS["xero_webhook_key"]
TENANT = "a3f1c6f0-8d44-4c1e-9a51-2b7d0c9e5f10"  # config/mapping.demo.json
OTHER_TENANT = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
ITR = b'{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}'


def invoice_event(invoice_id: str, *, event_type: str = "CREATE", tenant: str = TENANT, when: str = "") -> dict:
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}",
        "resourceId": invoice_id,
        "eventDateUtc": when or "2026-11-23T10:15:39.902",
        "eventType": event_type,
        "eventCategory": "INVOICE",
        "tenantId": tenant,
        "tenantType": "ORGANISATION",
    }


def body_of(*events: dict) -> bytes:
    return json.dumps(
        {"events": list(events), "firstEventSequence": 1, "lastEventSequence": len(events), "entropy": "QWERTYUIOP"},
        separators=(",", ":"),
    ).encode()


def proxy_event(raw: bytes, signature: str | None, *, base64_encoded: bool = False, header: str = "x-xero-signature"):
    """An API Gateway (REST, v1 proxy) event like the ones in events/, for this body and signature."""
    event: dict[str, Any] = copy.deepcopy(load_event("xero_webhook_itr_good"))
    headers = {k: v for k, v in event["headers"].items() if k.lower() != "x-xero-signature"}
    if signature is not None:
        headers[header] = signature
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["body"] = base64.b64encode(raw).decode() if base64_encoded else raw.decode("utf-8")
    event["isBase64Encoded"] = base64_encoded
    return event


# test_events.py's fixtures: the same stack (moto, no sandboxes, no worker) and queue drain.
stack = test_events.stack
queue = test_events.queue


@pytest.fixture
def jobs(stack, queue):
    """``queue()`` returns (and deletes) every message on the jobs queue; the queue and the webhook de-duplication
    table start empty."""
    table = boto3.resource("dynamodb").Table(stack.table_name("IdempotencyTable"))
    for item in table.scan().get("Items", []):
        table.delete_item(Key={"id": item["id"]})
    return queue


def invoke(stack, event: dict[str, Any]) -> dict[str, Any]:
    return stack.invoke(FUNCTION, event)


def assert_xero_answer(result: dict[str, Any], status: int) -> None:
    assert result["statusCode"] == status
    assert result["body"] == ""
    headers = {k.lower() for k in (result.get("headers") or {})}
    multi = {k.lower() for k in (result.get("multiValueHeaders") or {})}
    assert "set-cookie" not in headers | multi
    assert not result.get("cookies")


def job_ids(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((m["invoice_id"], m["event_type"]) for m in messages)


# ---- intent to receive ---------------------------------------------------------------------------------------------


def test_correctly_signed_intent_to_receive_is_200_empty_and_without_cookies(stack, jobs):
    result = invoke(stack, proxy_event(ITR, sign(ITR, KEY)))
    assert_xero_answer(result, 200)
    assert jobs() == []


@pytest.mark.parametrize(
    "raw,signature",
    [
        pytest.param(ITR, sign(ITR, "not the webhook key"), id="bad key"),
        pytest.param(ITR.replace(b"S0m3", b"S0m4"), sign(ITR, KEY), id="one flipped byte"),
        pytest.param(ITR, None, id="missing header"),
        pytest.param(ITR, "", id="empty header"),
        pytest.param(ITR, sign(ITR, KEY)[:-2], id="truncated signature"),
    ],
)
def test_anything_else_is_exactly_401_with_an_empty_body(stack, jobs, raw, signature):
    assert_xero_answer(invoke(stack, proxy_event(raw, signature)), 401)
    assert jobs() == []


def test_an_event_body_with_a_bad_signature_enqueues_nothing(stack, jobs):
    raw = body_of(invoice_event("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11"))
    assert_xero_answer(invoke(stack, proxy_event(raw, sign(raw, "not the webhook key"))), 401)
    flipped = raw.replace(b"CREATE", b"CREATF")
    assert_xero_answer(invoke(stack, proxy_event(flipped, sign(raw, KEY))), 401)
    assert jobs() == []


def test_no_headers_and_no_body_at_all_is_401(stack, jobs):
    event = proxy_event(ITR, None)
    event.update(headers=None, multiValueHeaders=None, body=None)
    assert_xero_answer(invoke(stack, event), 401)
    assert jobs() == []


def test_the_header_name_is_case_insensitive(stack, jobs):
    result = invoke(stack, proxy_event(ITR, sign(ITR, KEY), header="X-Xero-Signature"))
    assert_xero_answer(result, 200)


# ---- bodies --------------------------------------------------------------------------------------------------------


def test_base64_body_signed_over_the_raw_bytes_is_200_and_one_job(stack, jobs):
    raw = body_of(invoice_event("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", event_type="UPDATE"))
    result = invoke(stack, proxy_event(raw, sign(raw, KEY), base64_encoded=True))
    assert_xero_answer(result, 200)
    assert job_ids(jobs()) == [("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "UPDATE")]


def test_base64_body_signed_over_its_base64_text_is_401(stack, jobs):
    raw = body_of(invoice_event("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"))
    wrong = sign(base64.b64encode(raw), KEY)
    assert_xero_answer(invoke(stack, proxy_event(raw, wrong, base64_encoded=True)), 401)
    assert jobs() == []


def test_non_ascii_body_is_verified_over_its_utf8_bytes(stack, jobs):
    event = invoice_event("7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d")
    raw = json.dumps({"events": [event], "entropy": "Ōtautahi – café"}, ensure_ascii=False).encode("utf-8")
    assert_xero_answer(invoke(stack, proxy_event(raw, sign(raw, KEY))), 200)
    assert len(jobs()) == 1


@pytest.mark.parametrize(
    "raw",
    [b"not json at all", b'{"events": [{"resourceId": 1}]}', b"{}", b'{"events": "nope"}'],
    ids=["not json", "event without fields", "no events", "events not a list"],
)
def test_signed_but_unreadable_body_is_200_and_enqueues_nothing(stack, jobs, raw):
    assert_xero_answer(invoke(stack, proxy_event(raw, sign(raw, KEY))), 200)
    assert jobs() == []


def test_event_for_another_tenant_is_200_and_ignored(stack, jobs):
    raw = body_of(invoice_event("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11", tenant=OTHER_TENANT))
    assert_xero_answer(invoke(stack, proxy_event(raw, sign(raw, KEY))), 200)
    assert jobs() == []


def test_only_the_configured_tenants_events_of_a_mixed_body_are_enqueued(stack, jobs):
    raw = body_of(
        invoice_event("11111111-1111-4111-8111-111111111111", tenant=OTHER_TENANT),
        invoice_event("22222222-2222-4222-8222-222222222222"),
    )
    assert_xero_answer(invoke(stack, proxy_event(raw, sign(raw, KEY))), 200)
    assert job_ids(jobs()) == [("22222222-2222-4222-8222-222222222222", "CREATE")]


# ---- de-duplication ------------------------------------------------------------------------------------------------


def test_the_same_event_delivered_twice_is_one_job(stack, jobs):
    raw = body_of(invoice_event("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11"))
    event = proxy_event(raw, sign(raw, KEY))
    assert_xero_answer(invoke(stack, event), 200)
    assert_xero_answer(invoke(stack, copy.deepcopy(event)), 200)
    assert job_ids(jobs()) == [("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11", "CREATE")]


def test_the_same_event_in_another_delivery_body_is_still_one_job(stack, jobs):
    event = invoice_event("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11")
    first = body_of(event)
    second = body_of(invoice_event("33333333-3333-4333-8333-333333333333"), event)  # another batch, other entropy
    for raw in (first, second):
        assert_xero_answer(invoke(stack, proxy_event(raw, sign(raw, KEY))), 200)
    assert job_ids(jobs()) == [
        ("33333333-3333-4333-8333-333333333333", "CREATE"),
        ("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11", "CREATE"),
    ]


def test_another_type_or_time_of_the_same_invoice_is_another_job(stack, jobs):
    invoice_id = "9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11"
    raw = body_of(
        invoice_event(invoice_id),
        invoice_event(invoice_id, event_type="UPDATE"),
        invoice_event(invoice_id, event_type="UPDATE", when="2026-11-23T10:16:02.117"),
        invoice_event(invoice_id, event_type="UPDATE"),  # repeated inside the body
    )
    assert_xero_answer(invoke(stack, proxy_event(raw, sign(raw, KEY))), 200)
    assert job_ids(jobs()) == [(invoice_id, "CREATE"), (invoice_id, "UPDATE"), (invoice_id, "UPDATE")]


def test_the_same_event_delivered_20_times_concurrently_is_one_job(stack, jobs):
    raw = body_of(invoice_event("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11", event_type="UPDATE"))
    # Warm first: Lambda initialises each concurrent container on its own, while here 20 threads would all build
    # the (per-test, cold) runtime at once in one process and can pass the function's 5 s timeout.
    assert_xero_answer(invoke(stack, proxy_event(ITR, sign(ITR, KEY))), 200)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: invoke(stack, proxy_event(raw, sign(raw, KEY))), range(20)))
    for result in results:
        assert_xero_answer(result, 200)
    assert job_ids(jobs()) == [("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11", "UPDATE")]
