"""Composition root: builds configuration, stores and clients from the environment, once per cold start.

Handlers call ``get_runtime()``; nothing here runs at import time. Tests call ``reset_runtime()`` between cases.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cached_property

from kommo_xero_sync.clients.http import HttpClient, RateLimiter
from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.clients.xero import ClientCredentialsAuth, XeroClient
from kommo_xero_sync.config import AppConfig, load_config
from kommo_xero_sync.dal.queue import JobQueue
from kommo_xero_sync.dal.secrets import Credentials, fetch_parameter, load_credentials
from kommo_xero_sync.dal.store import SyncStore, WebhookDeduplicator
from kommo_xero_sync.logic.deal_to_invoice import DealToInvoice
from kommo_xero_sync.logic.followup import run_followups
from kommo_xero_sync.logic.invoice_status import InvoiceStatusSync
from kommo_xero_sync.logic.invoice_to_deal import InvoiceToDeal
from kommo_xero_sync.logic.worker import WorkerDeps


@dataclass
class Runtime:
    config: AppConfig

    @cached_property
    def credentials(self) -> Credentials:
        return load_credentials(self.config.settings.credentials_secret)

    @cached_property
    def store(self) -> SyncStore:
        return SyncStore(self.config.settings.sync_table)

    @cached_property
    def dedup(self) -> WebhookDeduplicator:
        return WebhookDeduplicator(self.config.settings.idempotency_table)

    @cached_property
    def queue(self) -> JobQueue:
        return JobQueue(str(self.config.settings.jobs_queue_url))

    @cached_property
    def kommo(self) -> KommoClient:
        return KommoClient(self.config.settings.kommo_origin, self.credentials.kommo_access_token.get_secret_value())

    @cached_property
    def xero(self) -> XeroClient:
        settings = self.config.settings
        identity_http = HttpClient("xero-identity", str(settings.xero_identity_url))
        auth = ClientCredentialsAuth(
            settings.xero_token_url,
            self.credentials.xero_client_id.get_secret_value(),
            self.credentials.xero_client_secret.get_secret_value(),
            http=identity_http,
        )
        http = HttpClient("xero", settings.xero_api_base, limiter=RateLimiter(50, 60.0))
        return XeroClient(
            settings.xero_api_base,
            auth,
            self.config.mapping.xero.tenant_id,
            http=http,
            connections_url=settings.xero_connections_url,
        )

    @cached_property
    def _deal_to_invoice(self) -> DealToInvoice:
        # One per container: the organisation's currencies and ShortCode are read once per cold start.
        return DealToInvoice(
            mapping=self.config.mapping, kommo=self.kommo, xero=self.xero, store=self.store, queue=self.queue
        )

    def deal_to_invoice(self) -> DealToInvoice:
        return self._deal_to_invoice

    def invoice_status(self) -> InvoiceStatusSync:
        return InvoiceStatusSync(mapping=self.config.mapping, kommo=self.kommo, xero=self.xero, store=self.store)

    def invoice_to_deal(self) -> InvoiceToDeal:
        return InvoiceToDeal(
            mapping=self.config.mapping, kommo=self.kommo, xero=self.xero, store=self.store, queue=self.queue
        )

    def worker_deps(self) -> WorkerDeps:
        return WorkerDeps(
            deal_to_invoice=self.deal_to_invoice,
            invoice_status=self.invoice_status,
            invoice_to_deal=self.invoice_to_deal,
            followups=lambda jobs: run_followups(
                jobs, mapping=self.config.mapping, kommo=self.kommo, xero=self.xero, store=self.store
            ),
            queue=lambda: self.queue,
        )


_runtime: Runtime | None = None


_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The container's runtime, built on first use (once, even when a local stack runs handlers in threads)."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = Runtime(load_config(os.environ, fetch_parameter))
    return _runtime


def reset_runtime() -> None:
    global _runtime
    _runtime = None
