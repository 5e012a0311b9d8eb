import json

import pytest

from kommo_xero_sync.exceptions import WebhookRejected
from kommo_xero_sync.logic.xero_ingress import handle_xero_webhook, sign, signature_ok

KEY = "TEST_WEBHOOK_KEY_abc123"
TENANT = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
# Test vectors from kommo-xero-api.md X8 (computed with Python hmac/base64).
ITR_BODY = b'{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}'
ITR_SIG = "sUMyeh6l+LWZ96JiIBF9f/GbOmt3x1wZ05m8IfDAu1o="
EVENT_BODY = (
    b'{"events":[{"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",'
    b'"resourceId":"717f2bfc-c6d4-41fd-b238-3f2f0c0cf777","eventDateUtc":"2024-06-21T01:15:39.902","eventType":"UPDATE",'
    b'"eventCategory":"INVOICE","tenantId":"c2cc9b6e-9458-4c7d-93cc-f02b81b0594f","tenantType":"ORGANISATION"}],'
    b'"lastEventSequence":1,"firstEventSequence":1,"entropy":"S0m3r4Nd0mt3xt"}'
)
EVENT_SIG = "oHv0RqKN8oVhO3c/bqmc1jOC5RvMu9hUz6tmyBVy5Ys="


def call(raw, sig, dedup, queue, tenant=TENANT):
    return handle_xero_webhook(raw_body=raw, signature=sig, webhook_key=KEY, tenant_id=tenant, dedup=dedup, queue=queue)


def test_reference_vectors():
    assert sign(ITR_BODY, KEY) == ITR_SIG
    assert sign(EVENT_BODY, KEY) == EVENT_SIG


def test_intent_to_receive_good_signature_accepted_nothing_enqueued(dedup, queue):
    result = call(ITR_BODY, ITR_SIG, dedup, queue)
    assert result.accepted == 0 and queue.sent == []


@pytest.mark.parametrize(
    "raw,sig",
    [
        (ITR_BODY, "sUMyeh6l+LWZ96JiIBF9f/GbOmt3x1wZ05m8IfDAu1o"),  # truncated
        (ITR_BODY, None),
        (ITR_BODY, ""),
        (ITR_BODY.replace(b"S0m3", b"S0m4"), ITR_SIG),  # one flipped byte
        (EVENT_BODY, sign(EVENT_BODY, "another key")),
        (b"", ITR_SIG),
    ],
)
def test_anything_not_correctly_signed_is_401_and_nothing_enqueued(dedup, queue, raw, sig):
    with pytest.raises(WebhookRejected) as info:
        call(raw, sig, dedup, queue)
    assert info.value.status == 401
    assert queue.sent == [] and dedup.keys == set()


def test_invoice_event_becomes_a_job_once(dedup, queue):
    assert call(EVENT_BODY, EVENT_SIG, dedup, queue).accepted == 1
    assert call(EVENT_BODY, EVENT_SIG, dedup, queue).accepted == 0
    (job,) = queue.sent
    assert (job.invoice_id, job.event_type, job.tenant_id) == ("717f2bfc-c6d4-41fd-b238-3f2f0c0cf777", "UPDATE", TENANT)


def test_unconfigured_tenant_is_acknowledged_and_ignored(dedup, queue):
    result = call(EVENT_BODY, EVENT_SIG, dedup, queue, tenant="a3f1c6f0-8d44-4c1e-9a51-2b7d0c9e5f10")
    assert (result.accepted, result.ignored) == (0, 1) and queue.sent == []


def test_contact_events_are_ignored(dedup, queue):
    raw = EVENT_BODY.replace(b'"eventCategory":"INVOICE"', b'"eventCategory":"CONTACT"')
    result = call(raw, sign(raw, KEY), dedup, queue)
    assert result.ignored == 1 and queue.sent == []


@pytest.mark.parametrize("raw", [json.dumps({"events": [{"nope": 1}]}).encode(), b"not json", b"{}"])
def test_signed_but_unreadable_body_is_acknowledged_logged_and_enqueues_nothing(dedup, queue, raw):
    result = call(raw, sign(raw, KEY), dedup, queue)
    assert result.unreadable and result.accepted == 0
    assert queue.sent == [] and dedup.keys == set()


def test_empty_events_list_is_accepted_and_enqueues_nothing(dedup, queue):
    raw = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"X"}'
    result = call(raw, sign(raw, KEY), dedup, queue)
    assert (result.accepted, result.unreadable) == (0, False) and queue.sent == []


def test_signature_compare_is_constant_time():
    import inspect

    from kommo_xero_sync.logic import xero_ingress

    assert "hmac.compare_digest" in inspect.getsource(xero_ingress.signature_ok)
    assert signature_ok(ITR_BODY, " " + ITR_SIG + " ", KEY)
