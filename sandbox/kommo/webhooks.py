"""Outgoing webhooks: Kommo's form-encoded bodies (K11.3), background delivery, retries on the sandbox clock (K11.4).

* One stage change of many leads (a bulk move) produces ONE body per subscribed destination, with every lead under
  ``leads[status][0..n-1]`` (capped at ``MAX_LEADS_PER_BODY`` = 500 leads; a bigger move is split into several bodies).
  Subscribers with ``update_lead`` get ``leads[update][...]`` in the same body, ``add_lead`` gets ``leads[add][...]``.
* An attempt fails on timeout (2 s), connection error or a status outside 100-299. Retries follow the reported table:
  attempt 2 after 5 min, attempt 3 after 15 min; when the last failure was 499 or 5xx also attempt 4 after 15 min and
  attempt 5 after 1 h. Times are on the sandbox clock; a scheduler thread starts retries that are due.
* A webhook is disabled when more than 100 attempts failed in the last 2 hours and the latest one failed.
"""

from __future__ import annotations

import http.client
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from sandbox.common import Clock
from sandbox.kommo.fields import custom_fields_to_webhook
from sandbox.kommo.query import flatten_php
from sandbox.kommo.state import KommoState, Lead, Webhook
from sandbox.kommo.writes import LeadEvent

MAX_LEADS_PER_BODY = 500
RETRY_DELAYS = [300.0, 900.0, 900.0, 3600.0]  # before attempt 2, 3, 4, 5
USER_AGENT = "amoCRM-Webhooks/3.0"
EVENT_SETTING = {"status": "status_lead", "update": "update_lead", "add": "add_lead"}
SECTION_ORDER = ("add", "update", "status")


def max_attempts_after(status_code: int) -> int:
    """How many attempts in total, given the status code of the latest failed attempt (0 = no HTTP answer)."""
    return 5 if status_code == 499 or 500 <= status_code <= 599 else 3


def lead_webhook_fields(state: KommoState, lead: Lead, event: LeadEvent) -> dict[str, Any]:
    """One lead of a webhook, in Kommo's order; values become strings when form-encoded."""
    item: dict[str, Any] = {
        "id": lead.id,
        "name": lead.name,
        "status_id": lead.status_id,
    }
    if event.kind != "add":
        item["old_status_id"] = event.old_status_id if event.old_status_id is not None else lead.status_id
    item.update(
        {
            "price": lead.price,
            "responsible_user_id": lead.responsible_user_id,
            "last_modified": lead.updated_at,
            "modified_user_id": event.modified_user_id,
            "created_user_id": lead.created_by,
            "date_create": lead.created_at,
            "pipeline_id": lead.pipeline_id,
        }
    )
    if event.kind != "add" and event.old_pipeline_id is not None and event.old_pipeline_id != lead.pipeline_id:
        item["old_pipeline_id"] = event.old_pipeline_id
    if lead.tags:
        item["tags"] = [{"id": t.id, "name": t.name} for t in lead.tags]
    item["account_id"] = state.account.id
    custom = custom_fields_to_webhook(state.field_defs("leads"), lead.custom_fields)
    if custom:
        item["custom_fields"] = custom
    item["created_at"] = lead.created_at
    item["updated_at"] = lead.updated_at
    return item


def build_body(
    state: KommoState, sections: dict[str, list[tuple[Lead, LeadEvent]]], account_link: str
) -> list[tuple[str, str]]:
    """Form pairs: ``leads[<section>][N][field]=...`` then the account block."""
    pairs: list[tuple[str, str]] = []
    for section in SECTION_ORDER:
        for n, (lead, event) in enumerate(sections.get(section, [])):
            pairs.extend(flatten_php(f"leads[{section}][{n}]", lead_webhook_fields(state, lead, event)))
    pairs.append(("account[subdomain]", state.account.subdomain))
    pairs.append(("account[id]", str(state.account.id)))
    pairs.append(("account[_links][self]", account_link))
    return pairs


@dataclass
class DeliveryAttempt:
    delivery_id: int
    webhook_id: int
    destination: str
    attempt: int
    at: float  # sandbox clock
    status_code: int | None  # None: no HTTP answer (timeout, refused)
    ok: bool
    error: str | None
    lead_ids: list[int]
    events: list[str]
    next_attempt_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Delivery:
    id: int
    webhook_id: int
    destination: str
    body: str
    lead_ids: list[int]
    events: list[str]
    attempts: int = 0
    due_at: float | None = None  # next attempt (sandbox clock); None: nothing scheduled
    in_flight: bool = False
    generation: int = 0
    done: bool = False
    delivered: bool = False
    attempt_log: list[DeliveryAttempt] = field(default_factory=list)


class WebhookDispatcher:
    def __init__(
        self,
        clock: Clock,
        timeout_s: float = 2.0,
        allow_external: bool = False,
        poll_interval_s: float = 0.01,
        on_attempt: Callable[[DeliveryAttempt], None] | None = None,
    ) -> None:
        self.clock = clock
        self.timeout_s = timeout_s
        self.allow_external = allow_external
        self.poll_interval_s = poll_interval_s
        self.on_attempt = on_attempt
        self._lock = threading.Condition()
        self._deliveries: dict[int, Delivery] = {}
        self._attempts: list[DeliveryAttempt] = []
        self._failures: dict[int, list[float]] = {}
        self._webhooks: dict[int, Webhook] = {}
        self._next_id = 1
        self._generation = 0
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._scheduler is None or not self._scheduler.is_alive():
            self._stop.clear()
            self._scheduler = threading.Thread(target=self._run_scheduler, name="kommo-webhook-retries", daemon=True)
            self._scheduler.start()

    def stop(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join(timeout=2)
        self._scheduler = None

    def clear(self) -> None:
        with self._lock:
            self._generation += 1  # attempts still in flight from before are not recorded
            self._deliveries.clear()
            self._attempts.clear()
            self._failures.clear()
            self._lock.notify_all()

    # reading ------------------------------------------------------------------------------------------------------
    @property
    def attempts(self) -> list[DeliveryAttempt]:
        with self._lock:
            return list(self._attempts)

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries.values())

    def pending_retries(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries.values() if not d.done and d.due_at is not None]

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until no attempt is in flight and no retry is due now (future retries do not count)."""
        import time

        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                now = self.clock.time()
                busy = any(
                    d.in_flight or (not d.done and d.due_at is not None and d.due_at <= now)
                    for d in self._deliveries.values()
                )
                if not busy:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.05))

    # sending --------------------------------------------------------------------------------------------------------
    def dispatch(self, state: KommoState, events: list[LeadEvent], account_link: str) -> list[int]:
        """Build bodies for ``events`` (one per subscribed destination, <= 500 leads each) and send them now.

        Must be called with ``state.lock`` held (it snapshots the leads)."""
        if not events:
            return []
        started: list[int] = []
        for hook in sorted(state.webhooks.values(), key=lambda h: (h.sort, h.id)):
            if hook.disabled:
                continue
            per_section: dict[str, list[tuple[Lead, LeadEvent]]] = {}
            for ev in events:
                if EVENT_SETTING[ev.kind] in hook.settings and ev.lead_id in state.leads:
                    per_section.setdefault(ev.kind, []).append((state.leads[ev.lead_id], ev))
            if not per_section:
                continue
            for chunk in _chunks(per_section, MAX_LEADS_PER_BODY):
                pairs = build_body(state, chunk, account_link)
                lead_ids = sorted({lead.id for items in chunk.values() for lead, _ in items})
                started.append(self._enqueue(hook, urlencode(pairs), lead_ids, sorted(chunk)))
        return started

    def _enqueue(self, hook: Webhook, body: str, lead_ids: list[int], events: list[str]) -> int:
        with self._lock:
            delivery = Delivery(self._next_id, hook.id, hook.destination, body, lead_ids, events)
            delivery.generation = self._generation
            self._webhooks[hook.id] = hook
            self._next_id += 1
            self._deliveries[delivery.id] = delivery
            delivery.in_flight = True
        self._start_attempt(delivery)
        return delivery.id

    def _start_attempt(self, delivery: Delivery) -> None:
        threading.Thread(
            target=self._attempt, args=(delivery,), name=f"kommo-webhook-{delivery.id}", daemon=True
        ).start()

    def _run_scheduler(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            now = self.clock.time()
            due: list[Delivery] = []
            with self._lock:
                for d in self._deliveries.values():
                    if not d.done and not d.in_flight and d.due_at is not None and d.due_at <= now:
                        hook = self._webhooks.get(d.webhook_id)
                        if hook is not None and hook.disabled:
                            d.done, d.due_at = True, None
                            continue
                        d.in_flight = True
                        due.append(d)
            for d in due:
                self._start_attempt(d)

    def _attempt(self, delivery: Delivery) -> None:
        attempt_no = delivery.attempts + 1
        started_at = self.clock.time()
        status, error = self._post(delivery.destination, delivery.body)
        ok = status is not None and 100 <= status <= 299
        with self._lock:
            if delivery.generation != self._generation:
                return
            delivery.attempts = attempt_no
            delivery.in_flight = False
            next_at: float | None = None
            if ok:
                delivery.done, delivery.delivered, delivery.due_at = True, True, None
            else:
                now = self.clock.time()
                failures = self._failures.setdefault(delivery.webhook_id, [])
                failures.append(now)
                failures[:] = [t for t in failures if t > now - 7200]
                hook = self._webhooks.get(delivery.webhook_id)
                if hook is not None and len(failures) > 100:
                    hook.disabled = True
                if attempt_no < max_attempts_after(status or 0) and not (hook is not None and hook.disabled):
                    next_at = started_at + RETRY_DELAYS[attempt_no - 1]
                    delivery.due_at = next_at
                else:
                    delivery.done, delivery.due_at = True, None
            record = DeliveryAttempt(
                delivery.id,
                delivery.webhook_id,
                delivery.destination,
                attempt_no,
                started_at,
                status,
                ok,
                error,
                list(delivery.lead_ids),
                list(delivery.events),
                next_at,
            )
            delivery.attempt_log.append(record)
            self._attempts.append(record)
            self._lock.notify_all()
        if self.on_attempt is not None:
            self.on_attempt(record)

    def _post(self, destination: str, body: str) -> tuple[int | None, str | None]:
        parts = urlsplit(destination)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None, f"invalid destination {destination!r}"
        if not self.allow_external and not _is_loopback(parts.hostname):
            return None, "refused: the sandbox only delivers to loopback destinations"
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(parts.hostname, parts.port, timeout=self.timeout_s)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            conn.request(
                "POST",
                path,
                body=body.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
            )
            response = conn.getresponse()
            response.read()
            return response.status, None
        except TimeoutError:
            return None, "timeout"
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _chunks(
    sections: dict[str, list[tuple[Lead, LeadEvent]]], size: int
) -> list[dict[str, list[tuple[Lead, LeadEvent]]]]:
    """Split per-section lead lists so that no body carries more than ``size`` leads in any section."""
    longest = max(len(v) for v in sections.values())
    return [{k: v[i : i + size] for k, v in sections.items() if v[i : i + size]} for i in range(0, longest, size)]
