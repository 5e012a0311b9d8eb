"""Invoice -> deal status: keep every linked deal showing its invoice's real state; announce each payment once.

Invoices are read in batches (``IDs=``). The link item remembers the last state written and the payments already
announced, so a payment seen by a webhook and again by the sweep gives one note, and a deleted payment one reversal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.clients.xero import XeroClient
from kommo_xero_sync.config import Mapping
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.logic.deal_to_invoice import invoice_snapshot
from kommo_xero_sync.mapping import notes
from kommo_xero_sync.mapping.deal_fields import invoice_field_values
from kommo_xero_sync.mapping.status import OPEN_STATES, InvoiceState, invoice_state, receipts
from kommo_xero_sync.models.xero import XeroInvoice
from kommo_xero_sync.observability import logger


@dataclass
class StatusReport:
    updated: int = 0
    unchanged: int = 0
    unlinked: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    notes: int = 0


class InvoiceStatusSync:
    def __init__(
        self,
        *,
        mapping: Mapping,
        kommo: KommoClient,
        xero: XeroClient,
        store: SyncStore,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.mapping = mapping
        self.kommo = kommo
        self.xero = xero
        self.store = store
        self.today = today

    def run(self, invoice_ids: Sequence[str], invoices: Sequence[XeroInvoice] | None = None) -> StatusReport:
        report = StatusReport()
        links = self.store.get_invoice_links(invoice_ids)
        report.unlinked = [i for i in dict.fromkeys(invoice_ids) if i not in links]
        linked_ids = [i for i in dict.fromkeys(invoice_ids) if i in links]
        if not linked_ids:
            return report
        if invoices is None:
            invoices = self.xero.get_invoices(linked_ids)
        by_id = {inv.InvoiceID: inv for inv in invoices if inv.InvoiceID in links}
        report.not_found = [i for i in linked_ids if i not in by_id]
        deal_links = self.store.get_deal_links(int(links[i]["lead_id"]) for i in by_id)
        patches: list[dict[str, Any]] = []
        new_notes: list[dict[str, Any]] = []
        snapshots: list[tuple[int, dict[str, Any], bool]] = []
        for invoice_id, invoice in by_id.items():
            lead_id = int(links[invoice_id]["lead_id"])
            previous = deal_links.get(lead_id) or {}
            change = self.compare(lead_id, previous, invoice)
            if change is None:
                report.unchanged += 1
                continue
            patch, deal_notes, snapshot, still_open = change
            patches.append(patch)
            new_notes += deal_notes
            snapshots.append((lead_id, snapshot, still_open))
        if patches:
            self.kommo.update_leads(patches)
        if new_notes:
            self.kommo.add_notes(new_notes)
        # Snapshots are saved after Kommo was written: a crash in between repeats the writes (fields are idempotent;
        # a note could repeat once), never loses them.
        for lead_id, snapshot, still_open in snapshots:
            self.store.update_invoice_snapshot(lead_id, snapshot, open_invoice=still_open)
        report.updated = len(patches)
        report.notes = len(new_notes)
        logger.info("invoice statuses synced", extra={"updated": report.updated, "unchanged": report.unchanged})
        return report

    def compare(
        self, lead_id: int, previous: dict[str, Any], invoice: XeroInvoice
    ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], bool] | None:
        state = invoice_state(invoice, self.today())
        snapshot = invoice_snapshot(invoice, state)
        snapshot.pop("state", None)
        seen = set(previous.get("payments_seen") or [])
        current = receipts(invoice)
        unchanged = (
            previous.get("deal_state") == state.value
            and _same_amount(previous.get("amount_due"), invoice.AmountDue)
            and seen == set(current)
            and previous.get("invoice_number") == invoice.InvoiceNumber
        )
        if unchanged:
            return None
        service = self.mapping.kommo.note_service_name
        deal_notes = []
        for payment_id in sorted(set(current) - seen):
            receipt = current[payment_id]
            when = receipt.when.date().isoformat() if receipt.when else self.today().isoformat()
            text = notes.payment_text(receipt.amount, invoice.CurrencyCode, when, invoice.AmountDue, receipt.source)
            deal_notes.append(notes.note(lead_id, text, service))
        reversed_ids = seen - set(current)
        for _ in sorted(reversed_ids):
            amount = _reversed_amount(previous, invoice)
            deal_notes.append(notes.note(lead_id, notes.payment_reversed_text(amount, invoice.CurrencyCode), service))
        if previous.get("deal_state") != state.value and state in (
            InvoiceState.VOIDED,
            InvoiceState.DELETED,
            InvoiceState.CREDITED,
            InvoiceState.OVERDUE,
        ):
            deal_notes.append(notes.note(lead_id, notes.status_text(invoice.InvoiceNumber, state.value), service))
        patch: dict[str, Any] = {
            "id": lead_id,
            "custom_fields_values": invoice_field_values(self.mapping.kommo.fields, invoice, state),
        }
        stage = None
        if state == InvoiceState.PAID and previous.get("deal_state") != state.value:
            stage = self.mapping.kommo.paid_stage
        elif state == InvoiceState.VOIDED and previous.get("deal_state") != state.value:
            stage = self.mapping.kommo.voided_stage
        if stage is not None:
            patch["pipeline_id"] = stage.pipeline_id
            patch["status_id"] = stage.status_id
        return patch, deal_notes, snapshot, state in OPEN_STATES


def _same_amount(stored: Any, current: Decimal | None) -> bool:
    """Compare as numbers: DynamoDB normalises 1380.00 to 1380, so text comparison would always differ."""
    if stored is None or current is None:
        return stored is None and current is None
    return Decimal(str(stored)) == current


def _reversed_amount(previous: dict[str, Any], invoice: XeroInvoice) -> Decimal:
    before = Decimal(str(previous.get("amount_paid") or 0))
    now = invoice.AmountPaid or Decimal(0)
    return max(before - now, Decimal(0))
