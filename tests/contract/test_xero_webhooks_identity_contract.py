"""Webhook bodies and identity responses against xero-webhooks.yaml / xero-identity.yaml; signature test vectors."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import requests
from openapi_schema_validator import OAS30ReadValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

from sandbox.xero import sign_webhook
from sandbox.xero.testing import WebhookReceiver

KEY = "TEST_WEBHOOK_KEY_abc123"  # the reference's test key (X8), not a real key
VECTORS = [
    (
        b'{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}',
        "sUMyeh6l+LWZ96JiIBF9f/GbOmt3x1wZ05m8IfDAu1o=",
    ),
    (
        b'{"events":[{"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",'
        b'"resourceId":"717f2bfc-c6d4-41fd-b238-3f2f0c0cf777","eventDateUtc":"2024-06-21T01:15:39.902",'
        b'"eventType":"UPDATE","eventCategory":"INVOICE","tenantId":"c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",'
        b'"tenantType":"ORGANISATION"}],"lastEventSequence":1,"firstEventSequence":1,"entropy":"S0m3r4Nd0mt3xt"}',
        "oHv0RqKN8oVhO3c/bqmc1jOC5RvMu9hUz6tmyBVy5Ys=",
    ),
]
# Xero's own eventDateUtc has milliseconds and no zone ("2024-06-21T01:15:39.902"), which RFC 3339 date-time
# format checking would reject; so only uuid formats are checked by the validator, and the date shape and the
# resourceUrl (``uri``; its checker needs a package we do not install) are asserted here.
EVENT_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")


def test_signature_matches_both_reference_vectors() -> None:
    for body, expected in VECTORS:
        assert sign_webhook(KEY, body) == expected


def _webhook_validator(spec: dict[str, Any], name: str) -> jsonschema.protocols.Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:xero-webhooks", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    checker = jsonschema.FormatChecker(formats=("uuid",))
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:xero-webhooks#/components/schemas/{name}"}, registry=registry, format_checker=checker
    )


def test_delivered_bodies_match_webhook_event_schema(xero_sandbox: Any, webhooks_spec: dict[str, Any]) -> None:
    xero_sandbox.webhooks.categories = ("INVOICE", "CONTACT", "CREDITNOTE")
    with WebhookReceiver(KEY) as receiver:
        assert xero_sandbox.configure_webhook(receiver.url, KEY) is True
        invoice = xero_sandbox.create_invoice(contact_name="Schema Check Ltd")
        xero_sandbox.apply_payment(invoice["InvoiceID"], "10.00")
        xero_sandbox.credit_invoice(invoice["InvoiceID"], "5.00")
        assert xero_sandbox.wait_for_deliveries(timeout=5)
        posts = receiver.event_posts()
    assert posts
    plain = _webhook_validator(webhooks_spec, "WebhookEvent")
    credit = _webhook_validator(webhooks_spec, "CreditNoteWebhookEvent")
    categories = set()
    for post in posts:
        body = json.loads(post.body)
        assert post.headers["X-Xero-Signature"] == sign_webhook(KEY, post.body)
        errors = [e.message for e in plain.iter_errors(body)]
        assert not errors, errors
        for event in body["events"]:
            categories.add(event["eventCategory"])
            assert EVENT_DATE.match(event["eventDateUtc"])
            url = urlsplit(event["resourceUrl"])
            assert url.scheme == "http" and url.path.endswith("/" + event["resourceId"])
            if event["eventCategory"] == "CREDITNOTE":
                one = {**body, "events": [event]}
                assert not [e.message for e in credit.iter_errors(one)]
    assert categories == {"INVOICE", "CONTACT", "CREDITNOTE"}


def test_intent_to_receive_bodies_are_xero_shaped(xero_sandbox: Any) -> None:
    with WebhookReceiver(KEY) as receiver:
        xero_sandbox.configure_webhook(receiver.url, KEY)
    for received in receiver.received:
        body = json.loads(received.body)
        assert list(body) == ["events", "lastEventSequence", "firstEventSequence", "entropy"]
        assert (body["events"], body["firstEventSequence"], body["lastEventSequence"]) == ([], 0, 0)
        assert re.fullmatch(r"[A-Z]{20}", body["entropy"])


def test_identity_responses(xero_sandbox: Any, xero_api: Any, identity_spec: dict[str, Any]) -> None:
    registry: Registry[Any] = Registry().with_resource(
        "urn:xero-identity", Resource.from_contents(identity_spec, default_specification=DRAFT4)
    )

    def check(body: Any, schema: dict[str, Any]) -> None:
        errors = [e.message for e in OAS30ReadValidator(schema, registry=registry).iter_errors(body)]
        assert not errors, errors

    token = xero_api.token_request(grant_type="client_credentials").json()
    check(token, {"$ref": "urn:xero-identity#/components/schemas/AccessToken"})
    code = xero_sandbox.mint_authorization_code()
    check(
        xero_api.token_request(grant_type="authorization_code", code=code).json(),
        {"$ref": "urn:xero-identity#/components/schemas/AccessToken"},
    )
    connections = requests.get(
        xero_sandbox.base_url + "/connections", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    ).json()
    check(connections, {"type": "array", "items": {"$ref": "urn:xero-identity#/components/schemas/Connection"}})
    assert connections[0]["tenantId"] == xero_sandbox.tenant_id and connections[0]["tenantType"] == "ORGANISATION"
