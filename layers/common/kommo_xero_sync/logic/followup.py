"""After an invoice is created: put its online link and PDF on the deal (one Xero call each, so done as separate jobs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.clients.xero import XeroClient
from kommo_xero_sync.config import Mapping
from kommo_xero_sync.mapping.deal_fields import field_values
from kommo_xero_sync.models.jobs import InvoiceFollowUpJob


def run_followups(
    jobs: Sequence[InvoiceFollowUpJob], *, mapping: Mapping, kommo: KommoClient, xero: XeroClient
) -> None:
    invoices = {inv.InvoiceID: inv for inv in xero.get_invoices([j.invoice_id for j in jobs])}
    patches: list[dict[str, Any]] = []
    drive_url: str | None = None
    for job in jobs:
        invoice = invoices.get(job.invoice_id)
        if invoice is None or invoice.Status in ("DRAFT", "DELETED", "VOIDED"):
            continue
        if mapping.kommo.fields.online_invoice_link:
            url = xero.online_invoice_url(job.invoice_id)
            if url:
                patches.append(
                    {"id": job.lead_id, "custom_fields_values": field_values(mapping.kommo.fields, online_link=url)}
                )
        if mapping.xero.attach_pdf:
            pdf = xero.invoice_pdf(job.invoice_id)
            if drive_url is None:
                drive_url = str(kommo.get_account(with_drive_url=True).get("drive_url") or "")
            if drive_url:
                name = f"Invoice {invoice.InvoiceNumber or job.invoice_id}.pdf"
                uuid = kommo.upload_file(drive_url, name, pdf, "application/pdf")
                kommo.attach_files(job.lead_id, [uuid])
    if patches:
        kommo.update_leads(patches)
