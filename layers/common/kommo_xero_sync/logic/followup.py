"""After an invoice is created: put its online link and PDF on the deal (one Xero call each, so separate jobs).

Idempotent: what was done is recorded on the deal's link item, so a retried job never attaches the PDF twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.clients.xero import XeroClient
from kommo_xero_sync.config import Mapping
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.mapping.deal_fields import field_values
from kommo_xero_sync.models.jobs import InvoiceFollowUpJob


def run_followups(
    jobs: Sequence[InvoiceFollowUpJob], *, mapping: Mapping, kommo: KommoClient, xero: XeroClient, store: SyncStore
) -> None:
    jobs = list({(j.lead_id, j.invoice_id): j for j in jobs}.values())
    links = store.get_deal_links(j.lead_id for j in jobs)
    pending = [
        j
        for j in jobs
        if links.get(j.lead_id, {}).get("invoice_id") == j.invoice_id
        and not (links[j.lead_id].get("online_link_done") and links[j.lead_id].get("pdf_done"))
    ]
    if not pending:
        return
    invoices = {inv.InvoiceID: inv for inv in xero.get_invoices([j.invoice_id for j in pending])}
    drive_url: str | None = None
    for job in pending:
        link = links[job.lead_id]
        invoice = invoices.get(job.invoice_id)
        if invoice is None or invoice.Status in ("DRAFT", "DELETED", "VOIDED"):
            continue  # no online invoice for drafts; nothing to attach for void or deleted ones
        if (
            mapping.kommo.fields.online_invoice_link
            and not link.get("online_link_done")
            and store.claim_step(job.lead_id, "online_link")
        ):
            url = xero.online_invoice_url(job.invoice_id)
            if url:
                values: list[dict[str, Any]] = field_values(mapping.kommo.fields, online_link=url)
                kommo.update_leads([{"id": job.lead_id, "custom_fields_values": values}])
            store.update_invoice_snapshot(job.lead_id, {"online_link_done": True})
        # Claimed first: two deliveries of the same follow-up must not attach the PDF twice.
        if mapping.xero.attach_pdf and not link.get("pdf_done") and store.claim_step(job.lead_id, "pdf"):
            pdf = xero.invoice_pdf(job.invoice_id)
            if drive_url is None:
                drive_url = str(kommo.get_account(with_drive_url=True).get("drive_url") or "")
            if drive_url:
                name = f"Invoice {invoice.InvoiceNumber or job.invoice_id}.pdf"
                uuid = kommo.upload_file(drive_url, name, pdf, "application/pdf")
                kommo.attach_files(job.lead_id, [uuid])
                store.update_invoice_snapshot(job.lead_id, {"pdf_done": True, "pdf_file_uuid": uuid})
