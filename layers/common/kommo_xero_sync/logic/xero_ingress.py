"""Xero webhook ingress: verify ``x-xero-signature`` over the exact raw body, then enqueue invoice jobs.

Xero's rules (configuring-your-server): answer 200 with an empty body and no cookies for a correctly signed payload,
exactly 401 otherwise, within 5 seconds. Intent-to-receive payloads (``events: []``) follow the same rule.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, ValidationError

from kommo_xero_sync.dal.queue import JobQueue
from kommo_xero_sync.dal.store import WebhookDeduplicator
from kommo_xero_sync.exceptions import WebhookRejected
from kommo_xero_sync.logic.enqueue import enqueue_unique
from kommo_xero_sync.models.jobs import XeroInvoiceJob
from kommo_xero_sync.observability import logger


class XeroEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resourceUrl: str | None = None
    resourceId: str
    eventDateUtc: str
    eventType: str
    eventCategory: str
    tenantId: str
    tenantType: str | None = None


class XeroWebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    events: list[XeroEvent]
    firstEventSequence: int | None = None
    lastEventSequence: int | None = None
    entropy: str | None = None


@dataclass
class XeroIngressResult:
    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0
    unreadable: bool = False
    jobs: list[XeroInvoiceJob] = field(default_factory=list)


def sign(raw_body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), raw_body, hashlib.sha256).digest()).decode()


def signature_ok(raw_body: bytes, header: str | None, key: str) -> bool:
    if not header:
        return False
    return hmac.compare_digest(sign(raw_body, key).encode(), header.strip().encode())


def handle_xero_webhook(
    *,
    raw_body: bytes,
    signature: str | None,
    webhook_key: str,
    tenant_id: str | None,
    dedup: WebhookDeduplicator,
    queue: JobQueue,
) -> XeroIngressResult:
    if not signature_ok(raw_body, signature, webhook_key):
        raise WebhookRejected(401, "invalid or missing x-xero-signature")
    result = XeroIngressResult()
    try:
        body = XeroWebhookBody.model_validate(json.loads(raw_body))
    except (ValueError, ValidationError) as exc:
        # Correctly signed, so Xero sent it: Xero expects 200 for every signed payload (anything else counts as a
        # failed delivery and ends with the subscription disabled). Logged loudly; the sweep repairs what it held.
        logger.error("signed xero webhook body is unreadable", extra={"error": type(exc).__name__})
        result.unreadable = True
        return result
    jobs: list[XeroInvoiceJob] = []
    for event in body.events:
        if tenant_id and event.tenantId != tenant_id:
            result.ignored += 1
            logger.warning("xero event for an unconfigured tenant ignored", extra={"category": event.eventCategory})
            continue
        if event.eventCategory != "INVOICE" or event.eventType not in ("CREATE", "UPDATE"):
            result.ignored += 1
            continue
        jobs.append(
            XeroInvoiceJob(
                tenant_id=event.tenantId,
                invoice_id=event.resourceId,
                event_type=event.eventType,
                event_date=event.eventDateUtc,
            )
        )
    enqueue_unique(jobs, dedup, queue, result)
    logger.info(
        "xero webhook accepted",
        extra={
            "events": len(body.events),
            "enqueued": result.accepted,
            "duplicates": result.duplicates,
            "ignored": result.ignored,
        },
    )
    return result
