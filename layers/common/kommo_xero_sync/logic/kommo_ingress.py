"""Kommo webhook ingress: authenticate the URL token, parse the form body completely, enqueue trigger-stage jobs.

Kommo signs nothing on account webhooks, so the unguessable ``{token}`` path segment is the authentication (compared
in constant time) and ``account[id]``/``account[subdomain]`` must match the configured account.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from kommo_xero_sync.config import Mapping
from kommo_xero_sync.dal.queue import JobQueue
from kommo_xero_sync.dal.store import WebhookDeduplicator
from kommo_xero_sync.exceptions import WebhookRejected
from kommo_xero_sync.logic.enqueue import enqueue_unique
from kommo_xero_sync.models.jobs import LeadStageJob
from kommo_xero_sync.models.kommo import StageChange
from kommo_xero_sync.observability import logger

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_BODY_BYTES = 5 * 1024 * 1024


@dataclass
class IngressResult:
    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0
    jobs: list[LeadStageJob] = field(default_factory=list)


def parse_form(body: str) -> dict[str, Any]:
    """Parse a PHP-style form body (``leads[status][0][id]=1``) into nested dicts; list indices stay dict keys."""
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body), errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, f"body is not form-encoded: {exc}") from None
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise WebhookRejected(400, f"malformed form key '{key[:60]}'")
        parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                part = str(sum(1 for k in node if k.isdigit())) if isinstance(node, dict) else "0"
            if last:
                if isinstance(node.get(part), dict):
                    raise WebhookRejected(400, f"form key '{key[:60]}' conflicts with a nested key")
                if part in node and node[part] != value:
                    raise WebhookRejected(400, f"form key '{key[:60]}' repeated with different values")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise WebhookRejected(400, f"form key '{key[:60]}' conflicts with a scalar value")
                node = child
    return root


def _int(value: Any, what: str) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise WebhookRejected(400, f"{what} is not an integer") from None
    if number <= 0:
        raise WebhookRejected(400, f"{what} must be positive")
    return number


def _opt_int(value: Any) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def extract_stage_changes(form: dict[str, Any]) -> list[StageChange]:
    """Every lead in ``leads[status]`` plus ``leads[add]``/``leads[update]`` items that carry a status."""
    leads = form.get("leads", {})
    if not isinstance(leads, dict):
        raise WebhookRejected(400, "'leads' is not a structure")
    changes: list[StageChange] = []
    for action in ("status", "add", "update"):
        items = leads.get(action, {})
        if not isinstance(items, dict):
            raise WebhookRejected(400, f"leads[{action}] is not a list")
        for index in sorted(items, key=lambda k: int(k) if k.isdigit() else 0):
            item = items[index]
            if not isinstance(item, dict):
                raise WebhookRejected(400, f"leads[{action}][{index}] is not an object")
            if action != "status" and not item.get("status_id"):
                continue
            where = f"leads[{action}][{index}]"
            changes.append(
                StageChange(
                    lead_id=_int(item.get("id"), f"{where}[id]"),
                    status_id=_int(item.get("status_id"), f"{where}[status_id]"),
                    pipeline_id=_int(item.get("pipeline_id"), f"{where}[pipeline_id]"),
                    old_status_id=_opt_int(item.get("old_status_id")),
                    modified_at=_opt_int(item.get("last_modified") or item.get("updated_at")),
                )
            )
    return changes


def check_token(path_token: str | None, expected: str) -> None:
    if not path_token or not hmac.compare_digest(path_token.encode(), expected.encode()):
        raise WebhookRejected(401, "wrong or missing webhook token")


def check_account(form: dict[str, Any], mapping: Mapping) -> None:
    account = form.get("account")
    if not isinstance(account, dict):
        raise WebhookRejected(400, "account block missing")
    account_id = _opt_int(account.get("id"))
    subdomain = account.get("subdomain")
    if account_id != mapping.kommo.account_id or subdomain != mapping.kommo.subdomain:
        raise WebhookRejected(403, "webhook from an account that is not configured")


def handle_kommo_webhook(
    *,
    path_token: str | None,
    body: str,
    webhook_token: str,
    mapping: Mapping,
    dedup: WebhookDeduplicator,
    queue: JobQueue,
) -> IngressResult:
    """Validate and enqueue. Raises WebhookRejected (4xx) or lets AWS errors escape (5xx: Kommo retries)."""
    check_token(path_token, webhook_token)
    if len(body.encode()) > MAX_BODY_BYTES:
        raise WebhookRejected(413, "body too large")
    form = parse_form(body)
    check_account(form, mapping)
    changes = extract_stage_changes(form)
    result = IngressResult()
    jobs: list[LeadStageJob] = []
    for change in changes:
        if not mapping.is_trigger(change.pipeline_id, change.status_id):
            result.ignored += 1
            continue
        jobs.append(
            LeadStageJob(
                lead_id=change.lead_id,
                pipeline_id=change.pipeline_id,
                status_id=change.status_id,
                modified_at=change.modified_at,
            )
        )
    enqueue_unique(jobs, dedup, queue, result)
    logger.info(
        "kommo webhook accepted",
        extra={
            "leads": len(changes),
            "enqueued": result.accepted,
            "duplicates": result.duplicates,
            "ignored": result.ignored,
        },
    )
    return result
