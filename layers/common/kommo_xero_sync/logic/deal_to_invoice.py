"""Deal -> invoice: every deal that entered a trigger stage gets exactly one Xero invoice, attached back to the deal.

Steps for a batch of jobs (one worker invocation):
 1. claim each deal's link item (conditional write); deals already linked or being processed by another worker stop here;
 2. read the deals, their contacts, companies and products from Kommo in batches;
 3. pre-flight: a deal that cannot be invoiced gets a note saying what to fix, its claim is released (no retry);
 4. a claim taken over from a crashed worker first looks in Xero for the invoice that worker may have created;
 5. find or create the Xero contacts, then create the invoices, up to 50 per call, with an Idempotency-Key derived from
    the request body and ``summarizeErrors=false`` (one invalid invoice does not block the others);
 6. complete the links, then write number, status, totals, due date and link to the deals and add notes, in batches;
 7. queue a follow-up per invoice for the online link and the PDF (one Xero call each, so they are rate-limited apart).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kommo_xero_sync.clients.http import dumps
from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.clients.xero import XeroClient
from kommo_xero_sync.config import Mapping
from kommo_xero_sync.dal.queue import JobQueue
from kommo_xero_sync.dal.store import INDEX_OPEN, INDEX_OVERDUE, STATE_CLAIMED, SyncStore
from kommo_xero_sync.exceptions import PermanentError, RateLimitedError
from kommo_xero_sync.logic.writeback import write_to_deals
from kommo_xero_sync.logic.xero_contacts import party_from, resolve_contacts
from kommo_xero_sync.mapping import notes
from kommo_xero_sync.mapping.deal import made_from_invoice
from kommo_xero_sync.mapping.deal_fields import deep_link, field_values, invoice_field_values
from kommo_xero_sync.mapping.invoice import (
    DealBundle,
    Product,
    build_invoice,
    deal_currency,
    lead_id_from_reference,
    preflight,
    reference_for,
)
from kommo_xero_sync.mapping.status import OPEN_STATES, InvoiceState, invoice_state, receipts
from kommo_xero_sync.models.jobs import InvoiceFollowUpJob, LeadStageJob
from kommo_xero_sync.models.kommo import CatalogElement, Lead
from kommo_xero_sync.models.xero import XeroInvoice
from kommo_xero_sync.observability import logger

LOST_STATUS = 143


@dataclass
class Outcome:
    status: str  # invoiced | already_linked | in_progress | blocked | rejected | skipped
    detail: str = ""
    invoice_id: str | None = None
    retry_after: float | None = None  # in_progress: look again once the other worker's claim has expired


@dataclass
class BatchReport:
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    xero_create_calls: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)


@dataclass
class Org:
    currencies: set[str]
    base_currency: str
    short_code: str | None


class DealToInvoice:
    def __init__(
        self,
        *,
        mapping: Mapping,
        kommo: KommoClient,
        xero: XeroClient,
        store: SyncStore,
        queue: JobQueue,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.mapping = mapping
        self.kommo = kommo
        self.xero = xero
        self.store = store
        self.queue = queue
        self.today = today
        self._org: Org | None = None

    def org(self) -> Org:
        if self._org is None:
            organisation = self.xero.organisation()
            self._org = Org(
                currencies=self.xero.currencies(),
                base_currency=organisation.BaseCurrency or "USD",
                short_code=organisation.ShortCode,
            )
        return self._org

    # ------------------------------------------------------------------------------------------------------------
    def run(self, jobs: Sequence[LeadStageJob]) -> BatchReport:
        """Process a batch. Raises RetryableError for transient failures (the caller returns the jobs to the queue)."""
        report = BatchReport()
        claims: dict[int, str] = {}
        took_over: set[int] = set()
        for job in {j.lead_id: j for j in jobs}.values():
            if not self.mapping.is_trigger(job.pipeline_id, job.status_id):
                report.outcomes[job.lead_id] = Outcome("skipped", "not a trigger stage")
                continue
            claim = self.store.claim_deal(job.lead_id, job_key=job.dedup_key)
            if claim.claimed:
                assert claim.token is not None
                claims[job.lead_id] = claim.token
                if claim.took_over:
                    took_over.add(job.lead_id)
            elif claim.existing and claim.existing.get("state") == STATE_CLAIMED:
                # Not acknowledged: if the holder fails after creating the invoice, this job takes the claim over
                # once it expires and links the invoice found by its Reference.
                report.outcomes[job.lead_id] = Outcome(
                    "in_progress", "another worker holds the claim", retry_after=self.store.claim_wait(claim.existing)
                )
            else:
                invoice_id = (claim.existing or {}).get("invoice_id")
                report.outcomes[job.lead_id] = Outcome("already_linked", "deal already has an invoice", invoice_id)
        if not claims:
            return report
        try:
            self._invoice_claimed(claims, took_over, report)
        except (RateLimitedError, PermanentError):
            # Nothing reached Xero for the deals still claimed and unresolved: let them be claimed again soon.
            self._release_unresolved(claims, report)
            raise
        return report

    def _release_unresolved(self, claims: dict[int, str], report: BatchReport) -> None:
        for lead_id, token in claims.items():
            if lead_id not in report.outcomes:
                self.store.release_claim(lead_id, token)

    def _invoice_claimed(self, claims: dict[int, str], took_over: set[int], report: BatchReport) -> None:
        bundles = self._read_deals(list(claims))
        org = self.org()
        fields_patch: list[dict[str, Any]] = []
        deal_notes: list[dict[str, Any]] = []
        service = self.mapping.kommo.note_service_name

        ready: list[DealBundle] = []
        for lead_id, token in claims.items():
            bundle = bundles.get(lead_id)
            if bundle is None or bundle.lead.is_deleted:
                self.store.release_claim(lead_id, token)
                report.outcomes[lead_id] = Outcome("skipped", "deal not found in Kommo (deleted?)")
                continue
            if bundle.lead.status_id == LOST_STATUS:
                self.store.release_claim(lead_id, token)
                report.outcomes[lead_id] = Outcome("skipped", "deal is closed as lost")
                continue
            if made_from_invoice(bundle.lead, self.mapping):
                # Created by invoice -> deal, which stores its link right after creating it: never a second invoice.
                self.store.release_claim(lead_id, token)
                report.outcomes[lead_id] = Outcome("skipped", "deal was created from a Xero invoice")
                continue
            problems = preflight(bundle, self.mapping, currencies=org.currencies, base_currency=org.base_currency)
            if problems:
                self.store.release_claim(lead_id, token)
                report.outcomes[lead_id] = Outcome("blocked", "; ".join(problems))
                fields_patch.append(self._needs_attention(lead_id))
                deal_notes.append(notes.note(lead_id, notes.blocked_text(problems), service))
                continue
            ready.append(bundle)

        # A crashed worker may have created the invoice already: look for it before creating another.
        for bundle in [b for b in ready if b.lead.id in took_over]:
            existing = [
                inv
                for inv in self.xero.find_invoices_by_reference(reference_for(bundle.lead.id))
                if lead_id_from_reference(inv.Reference) == bundle.lead.id and inv.Status != "DELETED"
            ]
            if existing:
                ready.remove(bundle)
                self._linked(bundle, existing[0], claims[bundle.lead.id], org, report, fields_patch, deal_notes)

        parties = {}
        for bundle in ready:
            billing = bundle.billing_entity
            assert billing is not None
            parties[bundle.lead.id] = party_from(
                billing[0],
                billing[1],
                self.mapping.kommo.company_tax_number_field,
                self.mapping.kommo.company_city_field,
            )
        contact_ids, contact_errors = resolve_contacts(list(parties.values()), store=self.store, xero=self.xero)

        payloads: list[tuple[DealBundle, dict[str, Any]]] = []
        for bundle in ready:
            party = parties[bundle.lead.id]
            if party.key in contact_errors:
                self._reject(bundle.lead.id, claims, contact_errors[party.key], report, fields_patch, deal_notes)
                continue
            currency = deal_currency(bundle.lead, self.mapping, org.base_currency)
            payload = build_invoice(
                bundle, self.mapping, contact_id=contact_ids[party.key], currency=currency, today=self.today()
            )
            payloads.append((bundle, payload))

        size = self.mapping.xero.invoice_batch_size
        for start in range(0, len(payloads), size):
            chunk = payloads[start : start + size]
            body = [p for _, p in chunk]
            key = "invoices-" + hashlib.sha256(dumps(body).encode()).hexdigest()
            results = self.xero.create_invoices(body, idempotency_key=key)
            report.xero_create_calls += 1
            if len(results) != len(chunk):
                raise PermanentError(f"Xero returned {len(results)} results for {len(chunk)} invoices")
            for (bundle, _), invoice in zip(chunk, results, strict=True):
                if invoice.failed or not invoice.InvoiceID:
                    self._reject(bundle.lead.id, claims, invoice.error_text, report, fields_patch, deal_notes)
                else:
                    self._linked(bundle, invoice, claims[bundle.lead.id], org, report, fields_patch, deal_notes)

        linked = [lead_id for lead_id, o in report.outcomes.items() if o.status == "invoiced"]
        write_to_deals(self.kommo, self.store, fields_patch, deal_notes, linked=linked)
        followups = [
            InvoiceFollowUpJob(lead_id=lead_id, invoice_id=o.invoice_id)
            for lead_id, o in report.outcomes.items()
            if o.status == "invoiced" and o.invoice_id
        ]
        if followups and (self.mapping.kommo.fields.online_invoice_link or self.mapping.xero.attach_pdf):
            self.queue.send(followups)

    # ------------------------------------------------------------------------------------------------------------
    def _read_deals(self, lead_ids: list[int]) -> dict[int, DealBundle]:
        leads = {lead.id: lead for lead in self.kommo.get_leads(lead_ids)}
        contact_ids = {lead.main_contact_id for lead in leads.values() if lead.main_contact_id}
        company_ids = {lead.company_id for lead in leads.values() if lead.company_id}
        contacts = {c.id: c for c in self.kommo.get_contacts(contact_ids)} if contact_ids else {}
        companies = {c.id: c for c in self.kommo.get_companies(company_ids)} if company_ids else {}
        elements = self._read_products(leads.values())
        bundles = {}
        for lead in leads.values():
            bundle = DealBundle(
                lead=lead,
                contact=contacts.get(lead.main_contact_id) if lead.main_contact_id else None,
                company=companies.get(lead.company_id) if lead.company_id else None,
            )
            for link in lead.embedded.catalog_elements:
                element = elements.get((link.catalog_id, link.id))
                if element is None:
                    bundle.missing_products.append(link.id)
                else:
                    bundle.products.append(Product(element=element, link=link))
            bundles[lead.id] = bundle
        return bundles

    def _read_products(self, leads: Any) -> dict[tuple[int | None, int], CatalogElement]:
        wanted: dict[int, set[int]] = {}
        for lead in leads:
            for link in lead.embedded.catalog_elements:
                if link.catalog_id is not None:
                    wanted.setdefault(link.catalog_id, set()).add(link.id)
        elements: dict[tuple[int | None, int], CatalogElement] = {}
        for catalog_id, ids in wanted.items():
            for element in self.kommo.get_catalog_elements(catalog_id, ids):
                elements[(catalog_id, element.id)] = element
        return elements

    def _needs_attention(self, lead_id: int) -> dict[str, Any]:
        values = field_values(self.mapping.kommo.fields, state=InvoiceState.NEEDS_ATTENTION)
        return {"id": lead_id, "custom_fields_values": values}

    def _reject(
        self,
        lead_id: int,
        claims: dict[int, str],
        message: str,
        report: BatchReport,
        fields_patch: list[dict[str, Any]],
        deal_notes: list[dict[str, Any]],
    ) -> None:
        self.store.release_claim(lead_id, claims[lead_id])
        report.outcomes[lead_id] = Outcome("rejected", message)
        fields_patch.append(self._needs_attention(lead_id))
        deal_notes.append(notes.note(lead_id, notes.rejected_text(message), self.mapping.kommo.note_service_name))
        logger.warning("invoice rejected by Xero", extra={"lead_id": lead_id})

    def _linked(
        self,
        bundle: DealBundle,
        invoice: XeroInvoice,
        token: str,
        org: Org,
        report: BatchReport,
        fields_patch: list[dict[str, Any]],
        deal_notes: list[dict[str, Any]],
    ) -> None:
        lead: Lead = bundle.lead
        assert invoice.InvoiceID is not None
        state = invoice_state(invoice, self.today())
        snapshot = invoice_snapshot(invoice, state)
        if not self.store.complete_link(lead.id, token, snapshot, origin="kommo"):
            # Our claim was taken over (we were too slow): the invoice exists; the other worker links the same one
            # because it searches by Reference first. Leave a trace for the operator.
            logger.error("claim lost before completing the link", extra={"lead_id": lead.id})
        link = deep_link(invoice.InvoiceID, org.short_code)
        report.outcomes[lead.id] = Outcome("invoiced", invoice.InvoiceNumber or "", invoice.InvoiceID)
        fields_patch.append(
            {
                "id": lead.id,
                "custom_fields_values": invoice_field_values(self.mapping.kommo.fields, invoice, state, link=link),
            }
        )
        deal_notes.append(
            notes.note(lead.id, notes.invoice_created_text(invoice, link), self.mapping.kommo.note_service_name)
        )


def invoice_snapshot(invoice: XeroInvoice, state: InvoiceState) -> dict[str, Any]:
    """What the link item remembers about the invoice (also drives the overdue index)."""
    due = invoice.DueDate.date().isoformat() if invoice.DueDate else None
    snapshot: dict[str, Any] = {
        "invoice_id": invoice.InvoiceID,
        "invoice_number": invoice.InvoiceNumber,
        "invoice_status": invoice.Status,
        "state": "LINKED",
        "deal_state": state.value,
        "currency": invoice.CurrencyCode,
        "total": invoice.Total,
        "amount_due": invoice.AmountDue,
        "amount_paid": invoice.AmountPaid,
        "due_date": due,
        "payments_seen": sorted(receipts(invoice)),
    }
    if state in OPEN_STATES and due:
        # An invoice already shown as Overdue waits in the OVERDUE partition, so the overdue sweep never marks it
        # (and notes it) twice; closed invoices leave the index (``SyncStore.update_invoice_snapshot``).
        snapshot["gsi1pk"] = INDEX_OVERDUE if state == InvoiceState.OVERDUE else INDEX_OPEN
        snapshot["gsi1sk"] = f"{due}#{invoice.InvoiceID}"
    return snapshot
