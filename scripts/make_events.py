"""Regenerate events/*.json: API Gateway proxy events with real Kommo form bodies and correctly signed Xero bodies,
an SQS batch and a scheduled event. Signed with the development secrets in events/dev-credentials.json.

Run: .venv/bin/python scripts/make_events.py
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

EVENTS = Path(__file__).resolve().parents[1] / "events"
CREDS = json.loads((EVENTS / "dev-credentials.json").read_text())
TOKEN = CREDS["kommo_webhook_token"]
KEY = CREDS["xero_webhook_key"]
TENANT = "a3f1c6f0-8d44-4c1e-9a51-2b7d0c9e5f10"


def apigw(path: str, resource: str, body: str, headers: dict[str, str], path_params: dict[str, str] | None, b64=False):
    raw = base64.b64encode(body.encode()).decode() if b64 else body
    return {
        "resource": resource,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": "POST",
            "path": f"/dev{path}",
            "stage": "dev",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": headers.get("User-Agent", "")},
            "accountId": "123456789012",
            "apiId": "1234567890",
        },
        "body": raw,
        "isBase64Encoded": b64,
    }


def kommo_form(leads: list[dict[str, object]], account_id: str = "31000001") -> str:
    pairs: list[tuple[str, str]] = []
    for i, lead in enumerate(leads):
        for key, value in lead.items():
            pairs.append((f"leads[status][{i}][{key}]", str(value)))
    pairs += [
        ("account[subdomain]", "demo"),
        ("account[id]", account_id),
        ("account[_links][self]", "https://demo.kommo.com"),
    ]
    return urlencode(pairs)


def lead(lead_id: int, name: str, price: int, status=7100004, pipeline=7000001, old=7100003) -> dict[str, object]:
    return {
        "id": lead_id,
        "name": name,
        "status_id": status,
        "old_status_id": old,
        "price": price,
        "responsible_user_id": 5000001,
        "last_modified": 1763900000 + lead_id % 1000,
        "modified_user_id": 5000001,
        "created_user_id": 5000001,
        "date_create": 1763800000,
        "pipeline_id": pipeline,
        "account_id": 31000001,
        "created_at": 1763800000,
        "updated_at": 1763900000 + lead_id % 1000,
    }


KOMMO_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "amoCRM-Webhooks/3.0"}


def kommo(name: str, body: str, token: str = TOKEN) -> None:
    event = apigw(f"/webhooks/kommo/{token}", "/webhooks/kommo/{token}", body, KOMMO_HEADERS, {"token": token})
    write(name, event)


def xero(name: str, body: str, signature: str | None, b64: bool = False) -> None:
    headers = {"Content-Type": "application/json", "User-Agent": "Xero-Webhooks"}
    if signature is not None:
        headers["x-xero-signature"] = signature
    write(name, apigw("/webhooks/xero", "/webhooks/xero", body, headers, None, b64=b64))


def sign(body: str) -> str:
    return base64.b64encode(hmac.new(KEY.encode(), body.encode(), hashlib.sha256).digest()).decode()


def write(name: str, event: object) -> None:
    (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    kommo("kommo_webhook_stage_single", kommo_form([lead(1000001, "Website redesign - Globex", 4800)]))
    kommo(
        "kommo_webhook_stage_bulk",
        kommo_form([lead(1000001 + i, f"Deal {i + 1}", 1000 + 100 * i) for i in range(5)]),
    )
    kommo("kommo_webhook_other_stage", kommo_form([lead(1000004, "Logo", 900, status=7100002, old=7100001)]))
    kommo("kommo_webhook_bad_token", kommo_form([lead(1000001, "Website redesign", 4800)]), token="wrong-token")
    kommo("kommo_webhook_malformed", "leads[status][0][id]=not-a-number&account[id]=31000001&account[subdomain]=demo")

    itr = '{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}'
    xero("xero_webhook_itr_good", itr, sign(itr))
    xero("xero_webhook_itr_bad", itr, sign(itr + " "))
    xero("xero_webhook_missing_signature", itr, None)
    events = {
        "events": [
            {
                "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{iid}",
                "resourceId": iid,
                "eventDateUtc": "2026-11-23T10:15:39.902",
                "eventType": kind,
                "eventCategory": "INVOICE",
                "tenantId": TENANT,
                "tenantType": "ORGANISATION",
            }
            for iid, kind in (
                ("9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11", "CREATE"),
                ("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "UPDATE"),
            )
        ],
        "lastEventSequence": 2,
        "firstEventSequence": 1,
        "entropy": "QWERTYUIOPASDFGHJKLZ",
    }
    body = json.dumps(events, separators=(",", ":"))
    xero("xero_webhook_invoice_events", body, sign(body))
    xero("xero_webhook_invoice_events_base64", body, sign(body), b64=True)

    jobs = [
        {
            "kind": "kommo.lead_stage",
            "lead_id": 1000001,
            "pipeline_id": 7000001,
            "status_id": 7100004,
            "modified_at": 1763900001,
        },
        {
            "kind": "xero.invoice",
            "tenant_id": TENANT,
            "invoice_id": "9b0f4c55-8e0d-4d3a-a5b4-1f6a0e3c7a11",
            "event_type": "UPDATE",
            "event_date": "2026-11-23T10:15:39.902",
        },
        {"kind": "not.a.job"},
    ]
    records = [
        {
            "messageId": f"059f36b4-87a3-44ab-83d2-66197583000{i}",
            "receiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{i}",
            "body": json.dumps(job),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1763900000000",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1763900000500",
            },
            "messageAttributes": {
                "kind": {
                    "stringValue": job["kind"],
                    "dataType": "String",
                    "stringListValues": [],
                    "binaryListValues": [],
                }
            },
            "md5OfBody": hashlib.md5(json.dumps(job).encode()).hexdigest(),  # noqa: S324 (SQS's own checksum)
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:kommo-xero-sync-JobsQueue",
            "awsRegion": "eu-west-1",
        }
        for i, job in enumerate(jobs)
    ]
    write("sqs_jobs_batch", {"Records": records})
    write(
        "schedule_payment_sweep",
        {
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": "123456789012",
            "time": "2026-11-23T10:15:00Z",
            "region": "eu-west-1",
            "resources": ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/kommo-xero-sync-sweep"],
            "detail": {},
        },
    )


if __name__ == "__main__":
    main()
