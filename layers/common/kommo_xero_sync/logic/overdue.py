"""Overdue marking: open linked invoices whose due date has passed become "Overdue" on their deals.

Xero changes nothing on the due date (no webhook, no new ``UpdatedDateUTC``), so the modified-since sweep never sees
it. The link table indexes every open linked invoice by due date (gsi1, ``OPEN``); this pass reads the part of that
index that fell due, writes the deals in batches (status field, one note, optionally a task), and moves each item to
the ``OVERDUE`` partition so it is never read or announced again. No Xero call is made, and the work grows with the
invoices that became overdue since the last run, not with the number of linked invoices.

A payment, credit or void seen later (webhook or sweep) goes through ``InvoiceStatusSync`` as usual, which rewrites
the item and takes it out of the index when the invoice is closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.config import Mapping
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.mapping import notes
from kommo_xero_sync.mapping.deal_fields import field_values
from kommo_xero_sync.mapping.status import InvoiceState
from kommo_xero_sync.observability import logger

OVERDUE = InvoiceState.OVERDUE


@dataclass
class OverdueReport:
    marked: int = 0  # deals newly shown as Overdue (one note each)
    tasks: int = 0
    raced: int = 0  # the invoice changed while the deal was written; the recorded state was put back


def mark_overdue(
    *,
    store: SyncStore,
    kommo: KommoClient,
    mapping: Mapping,
    today: Callable[[], date],
    page_size: int = 100,
) -> OverdueReport:
    report = OverdueReport()
    day = today()
    for page in store.open_invoices_due_before(day.isoformat(), page_size=page_size):
        fresh = [item for item in page if item.get("deal_state") != OVERDUE.value]
        if fresh:
            _write_deals(fresh, kommo, mapping, day, report)
        raced = [
            int(item["lead_id"])
            for item in page
            if not store.mark_overdue(int(item["lead_id"]), str(item["gsi1sk"]), deal_state=OVERDUE.value)
        ]
        if raced:
            report.raced += len(raced)
            _put_back(raced, store, kommo, mapping)
        report.marked += len(fresh) - len(set(raced) & {int(i["lead_id"]) for i in fresh})
    logger.info("overdue invoices marked", extra=report.__dict__)
    return report


def _write_deals(
    items: list[dict[str, Any]], kommo: KommoClient, mapping: Mapping, day: date, report: OverdueReport
) -> None:
    """Status field and note for every deal (batched); a task for the responsible user when configured."""
    service = mapping.kommo.note_service_name
    fields = field_values(mapping.kommo.fields, state=OVERDUE)
    lead_ids = [int(item["lead_id"]) for item in items]
    if fields:
        kommo.update_leads([{"id": lead_id, "custom_fields_values": fields} for lead_id in lead_ids])
    kommo.add_notes(
        [
            notes.note(int(item["lead_id"]), notes.status_text(item.get("invoice_number"), OVERDUE.value), service)
            for item in items
        ]
    )
    if mapping.kommo.overdue_task:
        tasks = overdue_tasks(items, kommo, mapping, day)
        kommo.add_tasks(tasks)
        report.tasks += len(tasks)


def overdue_tasks(items: list[dict[str, Any]], kommo: KommoClient, mapping: Mapping, day: date) -> list[dict[str, Any]]:
    settings = mapping.kommo
    # The responsible user is read from Kommo (250 deals per call): the link table does not keep it.
    responsible = {lead.id: lead.responsible_user_id for lead in kommo.get_leads(int(i["lead_id"]) for i in items)}
    until = datetime.combine(day + timedelta(days=settings.overdue_task_days), time(23, 59, 59), tzinfo=UTC)
    tasks = []
    for item in items:
        lead_id = int(item["lead_id"])
        amount = Decimal(str(item["amount_due"])) if item.get("amount_due") is not None else None
        task: dict[str, Any] = {
            "entity_id": lead_id,
            "entity_type": "leads",
            "task_type_id": settings.overdue_task_type_id,
            "complete_till": int(until.timestamp()),
            "text": settings.overdue_task_text.format(
                number=item.get("invoice_number") or "",
                amount_due=f"{amount:,.2f}" if amount is not None else "",
                currency=item.get("currency") or "",
                due_date=item.get("due_date") or "",
            )[:1000],
        }
        if responsible.get(lead_id):
            task["responsible_user_id"] = responsible[lead_id]
        tasks.append(task)
    return tasks


def _put_back(lead_ids: list[int], store: SyncStore, kommo: KommoClient, mapping: Mapping) -> None:
    """The status path closed or moved these invoices while we wrote "Overdue": show its recorded state again."""
    patches = []
    for lead_id, link in store.get_deal_links(lead_ids).items():
        try:
            state = InvoiceState(str(link.get("deal_state")))
        except ValueError:
            continue
        fields = field_values(mapping.kommo.fields, state=state)
        if fields and state != OVERDUE:
            patches.append({"id": lead_id, "custom_fields_values": fields})
    if patches:
        kommo.update_leads(patches)
    logger.warning("invoices changed while marked overdue", extra={"count": len(lead_ids)})
