"""Webhook delivery as Xero does it: thin events, batched, signed, retried; plus Intent to Receive.

Batching: events wait in a pending list and go out in one POST when the oldest has waited ``batch_window`` real
seconds (default 1 s) or ``max_batch`` (default 50) are pending. Each event gets the next sequence number; a batch
carries ``firstEventSequence``/``lastEventSequence`` and a random ``entropy``. Body key order and compact
separators are those of Xero's examples, and ``x-xero-signature`` is base64(HMAC-SHA256(key, raw body)).

Delivery: a batch succeeds on any 2xx. On failure it is retried once at once, then every 15 minutes on the sandbox
clock; after 24 hours of failures the subscription is disabled (events are kept and replayed, in order, when it is
re-enabled by a passing Intent to Receive or :meth:`enable`). Batches go out one at a time, in order, so a failing
batch holds back later ones (at-least-once, ordered).

``drop_rate`` loses that fraction of events on purpose (they are logged as dropped and never sent), to let the
product's sweep prove it recovers from lost webhooks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from sandbox.common.clock import Clock
from sandbox.xero.formats import event_date

RETRY_INTERVAL = 15 * 60
RETRY_HORIZON = 24 * 3600
RESPONSE_TIMEOUT = 5.0


def sign(key: str | bytes, body: bytes) -> str:
    """``x-xero-signature``: base64(HMAC-SHA256(webhook key, raw body))."""
    secret = key.encode() if isinstance(key, str) else key
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


def payload(events: list[dict[str, Any]], first: int, last: int, entropy_text: str) -> bytes:
    body = {"events": events, "lastEventSequence": last, "firstEventSequence": first, "entropy": entropy_text}
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class _Batch:
    events: list[dict[str, Any]]
    first: int
    last: int
    body: bytes
    attempts: int = 0
    first_attempt_at: float | None = None
    next_attempt_at: float = 0.0


@dataclass
class Delivery:
    kind: str  # "events" | "itr" | "dropped"
    url: str | None
    status: int | None
    ok: bool
    attempt: int
    first_sequence: int
    last_sequence: int
    event_count: int
    body: bytes
    signature: str | None
    at: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "url": self.url,
            "status": self.status,
            "ok": self.ok,
            "attempt": self.attempt,
            "firstEventSequence": self.first_sequence,
            "lastEventSequence": self.last_sequence,
            "events": self.event_count,
            "at": self.at,
            "error": self.error,
            "body": self.body.decode(),
        }


@dataclass
class WebhookDispatcher:
    clock: Clock
    tenant_id: str
    resource_origin: str = "https://api.xero.com"
    url: str | None = None
    key: str | None = None
    categories: tuple[str, ...] = ("INVOICE", "CONTACT")
    batch_window: float = 1.0
    max_batch: int = 50
    retry_interval: float = RETRY_INTERVAL
    retry_horizon: float = RETRY_HORIZON
    drop_rate: float = 0.0
    seed: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._random = random.Random(self.seed)
        self._pending: list[tuple[float, dict[str, Any]]] = []
        self._queue: list[_Batch] = []
        self._sequence = 0
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.enabled = bool(self.url and self.key)
        self.disabled_reason: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="xero-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=RESPONSE_TIMEOUT + 1)
        self._thread = None

    def clear(self) -> None:
        with self._cond:
            self._pending.clear()
            self._queue.clear()
            self.deliveries.clear()
            self.events.clear()

    # ------------------------------------------------------------------ events
    def add(self, category: str, event_type: str, resource_id: str, data: dict[str, Any] | None = None) -> None:
        if category not in self.categories:
            return
        path = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}.get(category, category)
        event: dict[str, Any] = {
            "resourceUrl": f"{self.resource_origin.rstrip('/')}/api.xro/2.0/{path}/{resource_id}",
            "resourceId": resource_id,
            "eventDateUtc": event_date(self.clock.now()),
            "eventType": event_type,
            "eventCategory": category,
            "tenantId": self.tenant_id,
            "tenantType": "ORGANISATION",
        }
        if category == "CREDITNOTE" and data:
            event["data"] = {"Type": data.get("Type"), "Status": data.get("Status")}
        with self._cond:
            self._sequence += 1
            record = {"sequence": self._sequence, **event}
            if self.url is None:
                self.events.append({**record, "fate": "no-subscription"})
                return
            if self.drop_rate and self._random.random() < self.drop_rate:
                self.events.append({**record, "fate": "dropped"})
                body = json.dumps(event, separators=(",", ":")).encode()
                self.deliveries.append(
                    Delivery(
                        "dropped", self.url, None, False, 0, self._sequence, self._sequence, 1, body, None, _stamp(self)
                    )
                )
                return
            self.events.append({**record, "fate": "queued"})
            self._pending.append((time.monotonic(), {"sequence": self._sequence, "event": event}))
            self._cond.notify_all()

    def reseed(self, seed: int) -> None:
        with self._cond:
            self._random.seed(seed)

    def flush(self) -> None:
        """Send pending events now instead of waiting for the batch window."""
        with self._cond:
            self._cut_batches(force=True)
            self._cond.notify_all()

    def _cut_batches(self, force: bool = False) -> None:
        while self._pending and (
            force or len(self._pending) >= self.max_batch or time.monotonic() - self._pending[0][0] >= self.batch_window
        ):
            chunk, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            events = [c[1]["event"] for c in chunk]
            first, last = chunk[0][1]["sequence"], chunk[-1][1]["sequence"]
            self._queue.append(_Batch(events, first, last, payload(events, first, last, entropy())))

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                self._cut_batches()
                batch = self._queue[0] if self._queue and self.enabled else None
                if batch is None or batch.next_attempt_at > self.clock.time():
                    self._cond.wait(timeout=0.02)
                    continue
                url, key = self.url, self.key
                self._busy = True
            try:
                self._attempt(batch, url, key)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _attempt(self, batch: _Batch, url: str | None, key: str | None) -> None:
        assert url and key
        now = self.clock.time()
        if batch.first_attempt_at is None:
            batch.first_attempt_at = now
        batch.attempts += 1
        signature = sign(key, batch.body)
        status, _, error, _ = post(url, batch.body, signature)
        ok = status is not None and 200 <= status < 300
        with self._cond:
            self.deliveries.append(
                Delivery(
                    "events",
                    url,
                    status,
                    ok,
                    batch.attempts,
                    batch.first,
                    batch.last,
                    len(batch.events),
                    batch.body,
                    signature,
                    _stamp(self),
                    error,
                )
            )
            if ok:
                if self._queue and self._queue[0] is batch:
                    self._queue.pop(0)
                return
            if batch.attempts == 1:
                batch.next_attempt_at = now  # immediate retry
            else:
                batch.next_attempt_at = now + self.retry_interval
            if now - batch.first_attempt_at >= self.retry_horizon:
                self.enabled = False
                self.disabled_reason = f"deliveries failed for {self.retry_horizon / 3600:g} hours"

    # ------------------------------------------------------------------ configuration
    def configure(self, url: str, key: str, *, verify: bool = True, rounds: int = 2) -> bool:
        """Set the delivery URL and key; with ``verify`` run Intent to Receive and enable only if it passes."""
        passed = self.intent_to_receive(url, key, rounds=rounds) if verify else True
        with self._cond:
            self.url, self.key = url, key
            self.enabled = passed
            self.disabled_reason = None if passed else "Intent to Receive failed"
            for batch in self._queue:
                batch.next_attempt_at = 0.0
                batch.attempts = 0
                batch.first_attempt_at = None
            self._cond.notify_all()
        return passed

    def enable(self) -> None:
        with self._cond:
            self.enabled = bool(self.url and self.key)
            self.disabled_reason = None
            for batch in self._queue:
                batch.next_attempt_at = 0.0
            self._cond.notify_all()

    def intent_to_receive(self, url: str, key: str, rounds: int = 2) -> bool:
        """Post correctly and incorrectly signed empty-event payloads (in random order).

        Passes only when every correctly signed one gets 200 with an empty body and no cookies, and every
        incorrectly signed one gets 401.
        """
        kinds = [True, False] * rounds
        self._random.shuffle(kinds)
        passed = True
        for good in kinds:
            body = payload([], 0, 0, entropy())
            signature = sign(key, body) if good else sign(key + "-wrong", body)
            status, content, error, cookies = post(url, body, signature)
            if good:
                ok = status == 200 and not content and not cookies
            else:
                ok = status == 401
            passed = passed and ok
            with self._cond:
                self.deliveries.append(
                    Delivery("itr", url, status, ok, 1, 0, 0, 0, body, signature, _stamp(self), error)
                )
        return passed

    # ------------------------------------------------------------------ waiting and state
    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self._queue and not self._busy

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=min(remaining, 0.02))
            return True

    def state(self) -> dict[str, Any]:
        with self._cond:
            return {
                "url": self.url,
                "enabled": self.enabled,
                "disabled_reason": self.disabled_reason,
                "pending_events": len(self._pending),
                "queued_batches": len(self._queue),
                "next_attempt_at": self._queue[0].next_attempt_at if self._queue else None,
                "last_sequence": self._sequence,
                "drop_rate": self.drop_rate,
            }


def _stamp(dispatcher: WebhookDispatcher) -> str:
    return event_date(dispatcher.clock.now())


def post(url: str, body: bytes, signature: str) -> tuple[int | None, bytes, str | None, bool]:
    """POST one payload; returns ``(status, response body, error, set_cookie_present)``."""
    request = urllib.request.Request(  # noqa: S310 (the URL is the configured delivery endpoint)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "x-xero-signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT) as response:  # noqa: S310
            return response.status, response.read(), None, bool(response.headers.get("Set-Cookie"))
    except urllib.error.HTTPError as exc:
        content = exc.read() if exc.fp else b""
        return exc.code, content, None, bool(exc.headers.get("Set-Cookie"))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        return None, b"", str(exc), False
