"""``XeroSandbox``: a local Xero (Accounting API, identity, webhooks) for the demo, the tests and the benchmarks."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.common.clock import Clock
from sandbox.common.counters import CallCounters
from sandbox.common.faults import FaultInjector
from sandbox.common.server import ServerThread
from sandbox.xero.app import API_PREFIX, XeroApp
from sandbox.xero.auth import DEFAULT_SCOPE, IdentityService
from sandbox.xero.formats import money
from sandbox.xero.idempotency import IdempotencyCache
from sandbox.xero.ledger import Invalid, Ledger, NotFound
from sandbox.xero.limits import RateLimiter, RateLimits
from sandbox.xero.seed import DEMO_ORG_NAME, DEMO_TENANT_ID, apply_seed
from sandbox.xero.webhooks import WebhookDispatcher

_SNAKE_TO_XERO = {
    "description": "Description",
    "quantity": "Quantity",
    "unit_amount": "UnitAmount",
    "item_code": "ItemCode",
    "account_code": "AccountCode",
    "tax_type": "TaxType",
    "line_amount": "LineAmount",
    "discount_rate": "DiscountRate",
    "tax_amount": "TaxAmount",
}


class XeroSandboxError(ValueError):
    """A Python-API operation was refused with Xero's validation messages."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def serve_quick(server: ServerThread, name: str = "xero-sandbox") -> str:
    """Like ``ServerThread.start`` but polling for shutdown every 50 ms instead of 500 ms, so ``stop`` is quick.

    ServerThread has no poll-interval option; its ``stop`` joins ``_thread``, which is set here the same way.
    """
    base_url = server.bind()
    inner = server._server  # noqa: SLF001
    assert inner is not None
    thread = threading.Thread(target=inner.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    server._thread = thread  # noqa: SLF001
    thread.start()
    return base_url


def _line(raw: dict[str, Any]) -> dict[str, Any]:
    return {_SNAKE_TO_XERO.get(k, k): (str(v) if isinstance(v, Decimal) else v) for k, v in raw.items()}


class XeroSandbox:
    """A Xero organisation served on 127.0.0.1.

    Parameters
    ----------
    client_id, client_secret
        The app's credentials for ``POST /connect/token`` (HTTP Basic).
    webhook_url, webhook_key
        A subscription that is already verified (no Intent to Receive); use :meth:`configure_webhook` to run ITR.
    seed
        ``"demo"`` or ``None`` (organisation, currencies, accounts and tax rates only).
    clock
        Shared :class:`~sandbox.common.Clock`; token expiry, limits, idempotency and webhook retries read it.
    limits
        :class:`RateLimits` (default 5 concurrent, 60/minute, 5,000/day).
    webhook_batch_window, webhook_max_batch
        Batching of webhook events (real seconds; events per POST).
    webhook_categories
        Event categories delivered (``INVOICE``, ``CONTACT``, ``CREDITNOTE``).
    webhook_resource_origin
        Origin used in ``resourceUrl`` (default: this sandbox's own base URL, so the URL can be followed).
    """

    def __init__(
        self,
        client_id: str = "SANDBOXCLIENTID",
        client_secret: str = "sandbox-client-secret",  # noqa: S107 (a sandbox default, not a secret)
        webhook_url: str | None = None,
        webhook_key: str | None = None,
        seed: str | None = "demo",
        clock: Clock | None = None,
        *,
        limits: RateLimits | None = None,
        faults: FaultInjector | None = None,
        counters: CallCounters | None = None,
        webhook_batch_window: float = 1.0,
        webhook_max_batch: int = 50,
        webhook_categories: tuple[str, ...] = ("INVOICE", "CONTACT"),
        webhook_resource_origin: str | None = None,
        provider_name: str = "Kommo Xero Sync",
        random_seed: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.clock = clock or Clock()
        self.counters = counters or CallCounters()
        self.faults = faults or FaultInjector(seed=random_seed)
        self.provider_name = provider_name
        self.tenant_id = DEMO_TENANT_ID
        self._seed_name = seed
        self._host = host
        self._resource_origin = webhook_resource_origin
        self.webhooks = WebhookDispatcher(
            clock=self.clock,
            tenant_id=self.tenant_id,
            url=webhook_url,
            key=webhook_key,
            categories=tuple(webhook_categories),
            batch_window=webhook_batch_window,
            max_batch=webhook_max_batch,
            seed=random_seed,
        )
        self.ledger = Ledger(self.clock, on_event=self.webhooks.add)
        apply_seed(self.ledger, seed)
        self.identity = IdentityService(self.clock, client_id, client_secret, self.tenant_id, DEMO_ORG_NAME)
        self.limiter = RateLimiter(self.clock, limits)
        self.idempotency = IdempotencyCache(self.clock)
        self.app = XeroApp(self)
        self._server: ServerThread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (``port=0``: a free port) and return the base URL."""
        with self._lock:
            if self._server is None:
                self._server = ServerThread(self.app, host=self._host, port=port)
                serve_quick(self._server)
                if self._resource_origin is None:
                    self.webhooks.resource_origin = self._server.base_url
                self.webhooks.start()
        return self.base_url

    def stop(self) -> None:
        with self._lock:
            self.app.stopping.set()
            self.webhooks.stop()
            if self._server is not None:
                self._server.stop()
                self._server = None
            self.app.stopping.clear()

    def __enter__(self) -> XeroSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return self._server.base_url

    @property
    def api_url(self) -> str:
        """``XERO_API_URL`` for the product: ``{base}/api.xro/2.0``."""
        return self.base_url + API_PREFIX

    @property
    def identity_url(self) -> str:
        """``XERO_IDENTITY_URL``: the token endpoint is ``{identity_url}/connect/token``."""
        return self.base_url

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Back to the current seed; clears counters, faults, idempotency, limit windows and the webhook log."""
        self.seed(self._seed_name)
        self.counters.reset()
        self.faults.clear()
        self.idempotency.clear()
        self.limiter.reset()
        self.webhooks.clear()
        self.webhooks.drop_rate = 0.0

    def seed(self, name: str | None) -> None:
        apply_seed(self.ledger, name)
        self._seed_name = name

    def state(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "now": self.clock.now().isoformat(),
            "invoices": self.invoices(),
            "contacts": self.contacts(),
            "payments": self.payments(),
            "credit_notes": self.credit_notes(),
            "webhooks": self.webhooks.state(),
            "limits": self.limiter.headers(),
            "counters": self.counters.snapshot(),
        }

    def invoices(self) -> list[dict[str, Any]]:
        with self.ledger.lock:
            return [self.ledger.invoice_json(d) for d in self.ledger.invoices.values()]

    def contacts(self) -> list[dict[str, Any]]:
        with self.ledger.lock:
            return [c.to_json() for c in self.ledger.contacts.values()]

    def payments(self) -> list[dict[str, Any]]:
        with self.ledger.lock:
            return [self.ledger.payment_json(p) for p in self.ledger.payments.values()]

    def credit_notes(self) -> list[dict[str, Any]]:
        with self.ledger.lock:
            return [self.ledger.credit_note_json(d) for d in self.ledger.credit_notes.values()]

    def get_invoice(self, invoice_id: str) -> dict[str, Any]:
        """The invoice as ``GET /Invoices/{id}`` returns it (``KeyError`` if unknown)."""
        with self.ledger.lock:
            try:
                return self.ledger.invoice_json(self.ledger.find_invoice(invoice_id))
            except NotFound as exc:
                raise KeyError(invoice_id) from exc

    # ------------------------------------------------------------------ what a person does in Xero
    def create_invoice(
        self,
        contact_name: str | None = None,
        line_items: list[dict[str, Any]] | None = None,
        currency: str = "NZD",
        status: str = "AUTHORISED",
        reference: str | None = None,
        due_date: date | str | None = None,
        *,
        date: date | str | None = None,
        contact_id: str | None = None,
        invoice_number: str | None = None,
        line_amount_types: str = "Exclusive",
        type: str = "ACCREC",
    ) -> dict[str, Any]:
        """Create an invoice as a person in Xero would; fires INVOICE CREATE (and CONTACT CREATE for a new name).

        ``line_items`` take Xero's keys (``ItemCode``, ``Quantity``, ``UnitAmount``...) or snake_case ones;
        the default is one ``WEB-DESIGN`` line.
        """
        contact: dict[str, Any] = {"ContactID": contact_id} if contact_id else {"Name": contact_name or "Cash Customer"}
        data: dict[str, Any] = {
            "Type": type,
            "Contact": contact,
            "LineItems": [_line(li) for li in (line_items or [{"ItemCode": "WEB-DESIGN", "Quantity": 1}])],
            "CurrencyCode": currency,
            "Status": status,
            "LineAmountTypes": line_amount_types,
        }
        if reference is not None:
            data["Reference"] = reference
        if due_date is not None:
            data["DueDate"] = str(due_date)
        if date is not None:
            data["Date"] = str(date)
        if invoice_number is not None:
            data["InvoiceNumber"] = invoice_number
        with self.ledger.lock:
            try:
                doc, _ = self.ledger.save_invoice(data, mode="create")
            except Invalid as exc:
                raise XeroSandboxError(exc.messages) from exc
            return self.ledger.invoice_json(doc)

    def update_invoice(self, invoice_id: str, **fields: Any) -> dict[str, Any]:
        """Edit an invoice as a person would (Xero field names, e.g. ``Status="AUTHORISED"``); fires INVOICE UPDATE."""
        with self.ledger.lock:
            try:
                doc, _ = self.ledger.save_invoice(fields, mode="update", target=invoice_id)
            except Invalid as exc:
                raise XeroSandboxError(exc.messages) from exc
            except NotFound as exc:
                raise KeyError(invoice_id) from exc
            return self.ledger.invoice_json(doc)

    def apply_payment(
        self,
        invoice_id: str,
        amount: Decimal | str | int,
        date: date | str | None = None,
        account_code: str = "090",
        reference: str = "",
    ) -> dict[str, Any]:
        """Record a payment (fires INVOICE UPDATE); returns the payment as ``GET /Payments/{id}`` shows it."""
        data: dict[str, Any] = {
            "Invoice": {"InvoiceID": invoice_id},
            "Account": {"Code": account_code},
            "Amount": str(money(amount)),
            "Reference": reference,
        }
        if date is not None:
            data["Date"] = str(date)
        with self.ledger.lock:
            try:
                return self.ledger.payment_json(self.ledger.create_payment(data))
            except Invalid as exc:
                raise XeroSandboxError(exc.messages) from exc

    def delete_payment(self, payment_id: str) -> dict[str, Any]:
        """Delete a payment; the invoice goes back to AUTHORISED (fires INVOICE UPDATE)."""
        with self.ledger.lock:
            try:
                return self.ledger.payment_json(self.ledger.delete_payment(payment_id))
            except NotFound as exc:
                raise KeyError(payment_id) from exc
            except Invalid as exc:
                raise XeroSandboxError(exc.messages) from exc

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Void an AUTHORISED invoice without payments (a DRAFT/SUBMITTED one is deleted); fires INVOICE UPDATE."""
        with self.ledger.lock:
            try:
                return self.ledger.invoice_json(self.ledger.void_invoice(invoice_id))
            except NotFound as exc:
                raise KeyError(invoice_id) from exc
            except Invalid as exc:
                raise XeroSandboxError(exc.messages) from exc

    def create_credit_note(
        self,
        contact_id: str,
        line_items: list[dict[str, Any]],
        currency: str = "NZD",
        status: str = "AUTHORISED",
        line_amount_types: str = "Exclusive",
        reference: str | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "Type": "ACCRECCREDIT",
            "Contact": {"ContactID": contact_id},
            "LineItems": [_line(li) for li in line_items],
            "CurrencyCode": currency,
            "Status": status,
            "LineAmountTypes": line_amount_types,
        }
        if reference is not None:
            data["Reference"] = reference
        with self.ledger.lock:
            try:
                doc, _ = self.ledger.save_credit_note(data, mode="create")
            except Invalid as exc:
                raise XeroSandboxError(exc.messages) from exc
            return self.ledger.credit_note_json(doc)

    def allocate_credit_note(
        self, credit_note_id: str, invoice_id: str, amount: Decimal | str | int, date: date | str | None = None
    ) -> dict[str, Any]:
        """Allocate credit to an invoice (reduces AmountDue, raises AmountCredited; fires INVOICE UPDATE)."""
        data: dict[str, Any] = {"Invoice": {"InvoiceID": invoice_id}, "Amount": str(money(amount))}
        if date is not None:
            data["Date"] = str(date)
        with self.ledger.lock:
            try:
                return self.ledger.allocation_json(self.ledger.allocate(credit_note_id, data))
            except NotFound as exc:
                raise KeyError(credit_note_id) from exc
            except Invalid as exc:
                raise XeroSandboxError(exc.messages) from exc

    def credit_invoice(self, invoice_id: str, amount: Decimal | str | int) -> dict[str, Any]:
        """Create an AUTHORISED credit note of ``amount`` (tax inclusive) for the invoice's contact, and allocate it."""
        invoice = self.get_invoice(invoice_id)
        tax_type = "OUTPUT2" if invoice["LineAmountTypes"] != "NoTax" else "NONE"
        note = self.create_credit_note(
            invoice["Contact"]["ContactID"],
            [
                {
                    "Description": f"Credit for {invoice['InvoiceNumber']}",
                    "Quantity": 1,
                    "UnitAmount": str(money(amount)),
                    "AccountCode": "200",
                    "TaxType": tax_type,
                }
            ],
            currency=invoice["CurrencyCode"],
            line_amount_types="Inclusive",
        )
        self.allocate_credit_note(note["CreditNoteID"], invoice_id, amount)
        return self.ledger.credit_note_json(self.ledger.find_credit_note(note["CreditNoteID"]))

    # ------------------------------------------------------------------ webhooks
    def configure_webhook(self, url: str, key: str, verify: bool = True) -> bool:
        """Subscribe ``url``; runs Intent to Receive (when ``verify``) and returns whether it passed."""
        return self.webhooks.configure(url, key, verify=verify)

    def wait_for_deliveries(self, timeout: float = 10.0, flush: bool = True) -> bool:
        """Wait until every event is delivered (``flush``: do not wait for the batch window). False on timeout."""
        if flush:
            self.webhooks.flush()
        return self.webhooks.wait_idle(timeout)

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """The webhook log: every POST attempt (events and Intent to Receive) and every dropped event."""
        return [d.to_json() for d in list(self.webhooks.deliveries)]

    def drop_webhooks(self, rate: float, seed: int | None = None) -> None:
        """Lose this fraction of future events on purpose (0 to 1); ``seed`` makes the choice repeatable."""
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        self.webhooks.drop_rate = rate
        if seed is not None:
            self.webhooks.reseed(seed)

    # ------------------------------------------------------------------ auth helpers
    def mint_authorization_code(self, scope: str = DEFAULT_SCOPE, redirect_uri: str | None = None) -> str:
        """A code for ``grant_type=authorization_code`` (as if a user consented); single use, 5 minutes."""
        return self.identity.mint_code(scope, redirect_uri)

    def issue_tokens(self, scope: str = DEFAULT_SCOPE) -> dict[str, Any]:
        """An access token and a refresh token, as the end of the consent flow would give."""
        return dict(self.identity.issue_tokens(scope))
