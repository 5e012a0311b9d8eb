"""The scheduled sweep: read invoices modified since a stored watermark, page by page, and repair linked deals; then
mark open linked invoices whose due date passed as Overdue (``logic.overdue``, from the link table).

The watermark is saved after each page, so a crashed run resumes where it stopped. Invoices without a deal link are
handed on (``invoice_to_deal``) before their page's watermark is saved, so none is skipped. Calls grow with the pages
read and the deals changed, not with the number of linked invoices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from kommo_xero_sync.clients.xero import XeroClient
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.logic.invoice_status import InvoiceStatusSync
from kommo_xero_sync.logic.overdue import mark_overdue
from kommo_xero_sync.models.xero import XeroInvoice
from kommo_xero_sync.observability import logger

WATERMARK = "sweep-watermark"
OVERLAP = timedelta(minutes=2)  # re-read a little before the watermark: clocks and commit order are not exact


@dataclass
class SweepReport:
    pages: int = 0
    invoices: int = 0
    updated: int = 0  # linked deals whose fields changed
    unlinked: int = 0  # invoices read that have no deal link
    handed_on: int = 0  # of those, passed to invoice -> deal
    overdue_marked: int = 0
    overdue_tasks: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run_sweep(
    *,
    xero: XeroClient,
    store: SyncStore,
    status_sync: InvoiceStatusSync,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    today: Callable[[], date] | None = None,
    page_size: int = 500,
    max_pages: int = 50,
    invoice_to_deal: Callable[[Sequence[XeroInvoice]], int] | None = None,
) -> SweepReport:
    """``today`` (default: the status sync's) decides which invoices are overdue."""
    report = SweepReport()
    state = store.get_state(WATERMARK) or {}
    since_text = state.get("since")
    since = datetime.fromisoformat(since_text) if since_text else now() - timedelta(days=30)
    # A page number means something only with the page size it was counted in.
    page = int(state.get("page") or 1) if state.get("page_size") in (None, page_size) else 1
    while report.pages < max_pages:
        invoices, page_count = xero.invoices_modified_since(since - OVERLAP, page=page, page_size=page_size)
        report.pages += 1
        report.invoices += len(invoices)
        if invoices:
            result = status_sync.run([i.InvoiceID for i in invoices if i.InvoiceID], invoices=invoices)
            report.updated += result.updated
            report.unlinked += len(result.unlinked)
            unlinked = set(result.unlinked)
            if unlinked and invoice_to_deal is not None:
                # Returns how many it took on (e.g. queued as jobs); must be durable before the watermark moves.
                report.handed_on += invoice_to_deal([i for i in invoices if i.InvoiceID in unlinked])
        last = max((i.UpdatedDateUTC for i in invoices if i.UpdatedDateUTC), default=None)
        done = not invoices or len(invoices) < page_size or (page_count is not None and page >= page_count)
        if done:
            new_since = max(since, last) if last else since
            store.put_state(WATERMARK, {"since": new_since.isoformat(), "page": 1, "page_size": page_size})
            break
        page += 1
        store.put_state(WATERMARK, {"since": since.isoformat(), "page": page, "page_size": page_size})
    overdue = mark_overdue(
        store=store, kommo=status_sync.kommo, mapping=status_sync.mapping, today=today or status_sync.today
    )
    report.overdue_marked = overdue.marked
    report.overdue_tasks = overdue.tasks
    logger.info("sweep done", extra=report.as_dict())
    return report
