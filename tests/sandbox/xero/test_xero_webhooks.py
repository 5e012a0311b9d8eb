"""Webhooks: signature, batching, Intent to Receive, retries, disabling, dropped events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from xero_support import CLIENT_ID, CLIENT_SECRET

from sandbox.common import Clock
from sandbox.xero import XeroSandbox, sign_webhook
from sandbox.xero.testing import WebhookReceiver, XeroClient

KEY = "TEST_WEBHOOK_KEY_abc123"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(KEY) as r:
        yield r


@pytest.fixture
def hooked(receiver: WebhookReceiver) -> Iterator[XeroSandbox]:
    sandbox = XeroSandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        webhook_url=receiver.url,
        webhook_key=KEY,
        clock=Clock(),
        webhook_batch_window=0.2,
    )
    with sandbox:
        yield sandbox


def _wait_for(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _events(receiver: WebhookReceiver) -> list[dict[str, object]]:
    return [e for r in receiver.event_posts() for e in json.loads(r.body)["events"]]


def test_signature_matches_reference_vectors() -> None:
    body = b'{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}'
    assert sign_webhook(KEY, body) == "sUMyeh6l+LWZ96JiIBF9f/GbOmt3x1wZ05m8IfDAu1o="


def test_manual_invoice_fires_signed_create_event(hooked: XeroSandbox, receiver: WebhookReceiver) -> None:
    invoice = hooked.create_invoice(contact_name="Globex Corporation")
    assert hooked.wait_for_deliveries(timeout=5)
    posts = receiver.event_posts()
    assert len(posts) == 1
    assert posts[0].headers["X-Xero-Signature"] == sign_webhook(KEY, posts[0].body)
    body = json.loads(posts[0].body)
    assert list(body) == ["events", "lastEventSequence", "firstEventSequence", "entropy"]
    (event,) = body["events"]
    assert event["resourceId"] == invoice["InvoiceID"]
    assert (event["eventCategory"], event["eventType"], event["tenantType"]) == ("INVOICE", "CREATE", "ORGANISATION")
    assert event["resourceUrl"] == f"{hooked.base_url}/api.xro/2.0/Invoices/{invoice['InvoiceID']}"
    assert not event["eventDateUtc"].endswith("Z") and len(event["eventDateUtc"]) == 23
    assert body["firstEventSequence"] == body["lastEventSequence"] >= 1


def test_events_within_the_window_share_one_post(hooked: XeroSandbox, receiver: WebhookReceiver) -> None:
    invoice = hooked.create_invoice(contact_name="Brand New Client")  # CONTACT CREATE + INVOICE CREATE
    hooked.apply_payment(invoice["InvoiceID"], "100.00")  # INVOICE UPDATE
    assert hooked.wait_for_deliveries(timeout=5, flush=False)
    posts = receiver.event_posts()
    assert len(posts) == 1
    body = json.loads(posts[0].body)
    kinds = [(e["eventCategory"], e["eventType"]) for e in body["events"]]
    assert kinds == [("CONTACT", "CREATE"), ("INVOICE", "CREATE"), ("INVOICE", "UPDATE")]
    assert body["lastEventSequence"] - body["firstEventSequence"] == 2


def test_api_changes_fire_events_too(hooked: XeroSandbox, receiver: WebhookReceiver) -> None:
    api = XeroClient(hooked.base_url, CLIENT_ID, CLIENT_SECRET, hooked.tenant_id)
    created = api.put(
        "/Invoices",
        json={"Type": "ACCREC", "Contact": {"Name": "Globex Corporation"}, "LineItems": [{"Description": "x"}]},
    ).json()["Invoices"][0]
    api.post(f"/Invoices/{created['InvoiceID']}", json={"Reference": "changed"})
    api.post(f"/Invoices/{created['InvoiceID']}", json={"Reference": "changed"})  # no change: no event
    assert hooked.wait_for_deliveries(timeout=5)
    kinds = [(e["eventType"], e["resourceId"]) for e in _events(receiver)]
    assert kinds == [("CREATE", created["InvoiceID"]), ("UPDATE", created["InvoiceID"])]


def test_fifty_events_cut_a_batch(receiver: WebhookReceiver) -> None:
    sandbox = XeroSandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        webhook_url=receiver.url,
        webhook_key=KEY,
        webhook_batch_window=30,
    )
    with sandbox:
        for _ in range(51):
            sandbox.create_invoice(contact_name="Globex Corporation", status="DRAFT")
        deadline = time.monotonic() + 5
        while not receiver.event_posts() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [len(json.loads(r.body)["events"]) for r in receiver.event_posts()] == [50]
        assert sandbox.wait_for_deliveries(timeout=5)
        assert [len(json.loads(r.body)["events"]) for r in receiver.event_posts()] == [50, 1]


def test_intent_to_receive_passes_and_fails(xero: XeroSandbox) -> None:
    with WebhookReceiver(KEY) as good:
        assert xero.configure_webhook(good.url, KEY) is True
        statuses = sorted((r.signature_valid, r.status) for r in good.received)
        assert statuses == [(False, 401), (False, 401), (True, 200), (True, 200)]
        assert all(json.loads(r.body)["events"] == [] for r in good.received)
    with WebhookReceiver("some-other-key") as wrong_key:  # answers 401 to correctly signed posts
        assert xero.configure_webhook(wrong_key.url, KEY) is False
    assert xero.webhooks.state()["enabled"] is False
    assert [d["kind"] for d in xero.deliveries].count("itr") == 8


def test_failed_delivery_retries_immediately_then_every_15_minutes() -> None:
    clock = Clock()
    with WebhookReceiver(KEY, respond=lambda n: 500 if n < 3 else 200) as flaky:
        sandbox = XeroSandbox(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, webhook_url=flaky.url, webhook_key=KEY, clock=clock
        )
        with sandbox:
            sandbox.create_invoice(contact_name="Globex Corporation")
            sandbox.webhooks.flush()
            assert _wait_for(lambda: len(sandbox.deliveries) == 2)  # attempt + immediate retry failed
            assert [d["status"] for d in sandbox.deliveries] == [500, 500]
            clock.advance(14 * 60)
            time.sleep(0.1)
            assert len(sandbox.deliveries) == 2
            clock.advance(61)
            assert _wait_for(lambda: len(sandbox.deliveries) == 3)  # third attempt fails
            clock.advance(15 * 60)
            assert sandbox.wait_for_deliveries(timeout=2) is True
            attempts = [(d["attempt"], d["status"]) for d in sandbox.deliveries]
            assert attempts == [(1, 500), (2, 500), (3, 500), (4, 200)]
            bodies = {d["body"] for d in sandbox.deliveries}
            assert len(bodies) == 1  # the same payload each time


def test_disabled_after_24_hours_and_replayed_on_enable() -> None:
    clock = Clock()
    with WebhookReceiver(KEY, respond=lambda n: 503) as down:
        sandbox = XeroSandbox(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, webhook_url=down.url, webhook_key=KEY, clock=clock
        )
        with sandbox:
            sandbox.create_invoice(contact_name="Globex Corporation")
            sandbox.webhooks.flush()
            assert _wait_for(lambda: len(sandbox.deliveries) == 2)
            for attempt in range(3, 100):
                clock.advance(15 * 60)
                assert _wait_for(lambda n=attempt: len(sandbox.deliveries) == n)
                if not sandbox.webhooks.state()["enabled"]:
                    break
            assert 24 * 4 <= len(sandbox.deliveries) <= 24 * 4 + 2
            assert sandbox.webhooks.state()["enabled"] is False
            assert sandbox.webhooks.state()["queued_batches"] == 1
        with WebhookReceiver(KEY) as back:
            sandbox = sandbox  # same state, new endpoint
            sandbox.start()
            assert sandbox.configure_webhook(back.url, KEY) is True
            assert sandbox.wait_for_deliveries(timeout=2)
            assert len(back.event_posts()) == 1
            sandbox.stop()


def test_dropped_webhooks_are_logged_not_sent(hooked: XeroSandbox, receiver: WebhookReceiver) -> None:
    hooked.drop_webhooks(1.0)
    hooked.create_invoice(contact_name="Globex Corporation")
    assert hooked.wait_for_deliveries(timeout=2)
    assert receiver.event_posts() == []
    assert [d["kind"] for d in hooked.deliveries] == ["dropped"]
    hooked.drop_webhooks(0.0)
    hooked.create_invoice(contact_name="Globex Corporation")
    assert hooked.wait_for_deliveries(timeout=2)
    assert len(receiver.event_posts()) == 1
