"""The scheduled sweep: read invoices modified since a stored watermark, page by page, and repair linked deals.

The watermark is saved after each page, so a crashed run resumes where it stopped. Calls grow with the pages read and
the deals changed, not with the number of linked invoices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kommo_xero_sync.clients.xero import XeroClient
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.logic.invoice_status import InvoiceStatusSync
from kommo_xero_sync.observability import logger

WATERMARK = "sweep-watermark"
OVERLAP = timedelta(minutes=2)  # re-read a little before the watermark: clocks and commit order are not exact


@dataclass
class SweepReport:
    pages: int = 0
    invoices: int = 0
    updated: int = 0
    unlinked: int = 0


def run_sweep(
    *,
    xero: XeroClient,
    store: SyncStore,
    status_sync: InvoiceStatusSync,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    page_size: int = 500,
    max_pages: int = 50,
) -> SweepReport:
    report = SweepReport()
    state = store.get_state(WATERMARK) or {}
    since_text = state.get("since")
    since = datetime.fromisoformat(since_text) if since_text else now() - timedelta(days=30)
    page = int(state.get("page") or 1)
    while report.pages < max_pages:
        invoices, page_count = xero.invoices_modified_since(since - OVERLAP, page=page, page_size=page_size)
        report.pages += 1
        report.invoices += len(invoices)
        if invoices:
            result = status_sync.run([i.InvoiceID for i in invoices if i.InvoiceID], invoices=invoices)
            report.updated += result.updated
            report.unlinked += len(result.unlinked)
        last = max((i.UpdatedDateUTC for i in invoices if i.UpdatedDateUTC), default=None)
        done = not invoices or len(invoices) < page_size or (page_count is not None and page >= page_count)
        if done:
            new_since = max(since, last) if last else since
            store.put_state(WATERMARK, {"since": new_since.isoformat(), "page": 1})
            break
        page += 1
        store.put_state(WATERMARK, {"since": since.isoformat(), "page": page})
    logger.info("sweep done", extra=report.__dict__)
    return report
