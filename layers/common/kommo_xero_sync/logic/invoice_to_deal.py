"""Invoice -> deal: a hand-made Xero invoice becomes (or is matched to) exactly one Kommo deal, never looping.

Reached with the invoices the status path found no link for (webhook jobs and the sweep). Steps for a batch:
 1. keep sales invoices (ACCREC) in an accepted status, dated on or after the cut-over day (see ``create_deals_from``);
 2. claim each invoice's link item (conditional write): concurrent jobs for one invoice (CREATE and UPDATE events, a
    redelivery, the sweep) give one deal; a claim taken over from a crashed worker first looks in Kommo for the deal
    that worker may have created;
 3. a Kommo deal id in the Reference ("Kommo deal 123", also what the product writes on its own invoices) links that
    deal, or, when the deal already has another invoice, leaves it a note and records the invoice as ignored:
    such an invoice never creates a deal (no loops);
 4. otherwise an open deal of the match pipelines with the same client, amount and currency is linked;
 5. otherwise a deal is created in the configured stage (``/leads/complex``, up to 50 per call) with the invoice's
    number, client, total, currency, lines, due date, the Xero tag and the responsible user; the client's company or
    contact is found in Kommo (Xero's link to a Kommo id, e-mail, phone, then name) or created with the deal;
 6. the link is completed (deal item + invoice item, one transaction), fields and a note written in batches.

Deals created here carry the configured tag; deal -> invoice never invoices a tagged deal, so a deal created in the
trigger stage does not get a second invoice even if its stage webhook arrives before the link is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR
from typing import Any

from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.clients.xero import XeroClient
from kommo_xero_sync.config import Mapping
from kommo_xero_sync.dal.queue import JobQueue
from kommo_xero_sync.dal.store import CLAIM_SECONDS, STATE_CLAIMED, STATE_LINKED, SyncStore
from kommo_xero_sync.exceptions import ApiError, ValidationFailed
from kommo_xero_sync.logic.deal_to_invoice import invoice_snapshot
from kommo_xero_sync.logic.kommo_parties import find_parties, remember_contact_links
from kommo_xero_sync.logic.writeback import write_to_deals
from kommo_xero_sync.mapping import notes
from kommo_xero_sync.mapping.deal import (
    CLOSED_STATUSES,
    Party,
    amount_matches,
    client_score,
    deal_payload,
    invoice_date,
    kommo_price,
    made_from_invoice,
)
from kommo_xero_sync.mapping.deal_fields import deep_link, invoice_field_values
from kommo_xero_sync.mapping.invoice import deal_currency, lead_id_from_reference
from kommo_xero_sync.mapping.status import invoice_state
from kommo_xero_sync.models.jobs import InvoiceFollowUpJob, XeroInvoiceJob
from kommo_xero_sync.models.kommo import Company, Contact, Lead
from kommo_xero_sync.models.xero import XeroContact, XeroInvoice
from kommo_xero_sync.observability import logger

CUTOVER_STATE = "invoice-to-deal-cutover"
RECHECK_SECONDS = 10.0  # a live claim on the same invoice is usually released within seconds: look again soon
MAX_PER_RUN = 25  # invoices turned into deals per worker run: ~5 Kommo calls each at 6/s fits the 60 s timeout
LINKING_SECONDS = 2.0  # the product's own invoice arrived before its deal stored the link (milliseconds later)


@dataclass
class InvoiceOutcome:
    status: str  # created | matched | already_linked | in_progress | ignored | not_eligible | unmatched
    detail: str = ""
    lead_id: int | None = None
    retry_after: float | None = None


@dataclass
class InvoiceToDealReport:
    outcomes: dict[str, InvoiceOutcome] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)


@dataclass
class _Claim:
    invoice: XeroInvoice
    token: str
    took_over: bool

    @property
    def contact_id(self) -> str | None:
        """The Xero ContactID the invoice bills."""
        return self.invoice.Contact.ContactID if self.invoice.Contact else None


class InvoiceToDeal:
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
        self._attempted: set[str] = set()  # invoices a deal creation was sent for in the current run

    # ------------------------------------------------------------------------------------------------------------
    def run(self, invoice_ids: Sequence[str], invoices: Sequence[XeroInvoice] | None = None) -> InvoiceToDealReport:
        """Turn unlinked invoices into deals. ``invoices`` (already read, e.g. by the sweep) saves the Xero read."""
        report = InvoiceToDealReport()
        wanted = list(dict.fromkeys(invoice_ids))
        if not wanted:
            return report
        if invoices is None:
            invoices = self.xero.get_invoices(wanted)
        by_id = {inv.InvoiceID: inv for inv in invoices if inv.InvoiceID in wanted}
        cutover = self._cutover()
        claims: dict[str, _Claim] = {}
        for invoice_id in wanted:
            invoice = by_id.get(invoice_id)
            reason = "not found in Xero" if invoice is None else self._ineligible(invoice, cutover)
            if reason:
                report.outcomes[invoice_id] = InvoiceOutcome("not_eligible", reason)
                continue
            assert invoice is not None
            if len(claims) >= MAX_PER_RUN:
                report.outcomes[invoice_id] = InvoiceOutcome("in_progress", "deferred to the next run", retry_after=1.0)
                continue
            claim = self.store.claim_invoice(invoice_id, job_key=f"invoice:{invoice_id}")
            if claim.claimed:
                assert claim.token is not None
                claims[invoice_id] = _Claim(invoice, claim.token, claim.took_over)
                continue
            existing = claim.existing or {}
            if existing.get("state") == STATE_CLAIMED:
                wait = min(self.store.claim_wait(existing), RECHECK_SECONDS)
                report.outcomes[invoice_id] = InvoiceOutcome("in_progress", "another worker holds it", retry_after=wait)
            elif existing.get("lead_id") is not None:
                report.outcomes[invoice_id] = InvoiceOutcome("already_linked", lead_id=int(existing["lead_id"]))
            else:
                report.outcomes[invoice_id] = InvoiceOutcome("ignored", str(existing.get("reason") or ""))
        if claims:
            self._attempted = set()
            try:
                self._process(claims, report)
            except Exception as exc:
                # Claims of invoices no deal was sent for are released, and so are all of them when Kommo refused the
                # request (a 4xx saves nothing, and the job must be able to fail its way to the dead-letter queue).
                # After a timeout or 5xx a deal may exist: those claims stay until they expire, and the retry then
                # looks in Kommo for the deal the failed call may have created.
                refused = isinstance(exc, ApiError) and 400 <= exc.status < 500
                for invoice_id, held in claims.items():
                    if invoice_id not in report.outcomes and (refused or invoice_id not in self._attempted):
                        self.store.release_invoice_claim(invoice_id, held.token)
                raise
        logger.info(
            "invoices to deals",
            extra={
                f"deals_{s}": report.count(s) for s in ("created", "matched", "in_progress", "ignored", "not_eligible")
            },
        )
        return report

    def hand_on(self, invoices: Sequence[XeroInvoice]) -> int:
        """The sweep's unlinked invoices: queue a job for each that may become a deal; returns how many.

        Queued rather than processed inline, so a page's watermark moves only once its work is durable in SQS and the
        worker does it in batches, under its own rate limits and retries.
        """
        cutover = self._cutover()
        wanted = [i for i in invoices if i.InvoiceID and self._ineligible(i, cutover) is None]
        if wanted:
            tenant = self.xero.tenant_id
            self.queue.send(
                [
                    XeroInvoiceJob(
                        tenant_id=tenant,
                        invoice_id=str(i.InvoiceID),
                        event_type="SWEEP",
                        event_date=i.UpdatedDateUTC.isoformat() if i.UpdatedDateUTC else None,
                    )
                    for i in wanted
                ]
            )
        return len(wanted)

    def _cutover(self) -> date:
        if self.mapping.xero.create_deals_from is not None:
            return self.mapping.xero.create_deals_from
        state = self.store.get_state(CUTOVER_STATE)
        if state and state.get("date"):
            return date.fromisoformat(str(state["date"]))
        today = self.today()
        self.store.put_state(CUTOVER_STATE, {"date": today.isoformat()})
        return today

    def _ineligible(self, invoice: XeroInvoice, cutover: date) -> str | None:
        if invoice.Type != "ACCREC":
            return "not a sales invoice"
        accepted: set[str] = set(self.mapping.xero.accepted_manual_statuses)
        if "AUTHORISED" in accepted:
            accepted.add("PAID")
        if (invoice.Status or "") not in accepted:
            return f"status {invoice.Status} is not turned into deals"
        if lead_id_from_reference(invoice.Reference) is None and invoice_date(invoice, self.today()) < cutover:
            return f"dated before {cutover.isoformat()}"
        return None

    # ------------------------------------------------------------------------------------------------------------
    def _process(self, claims: dict[str, _Claim], report: InvoiceToDealReport) -> None:
        patches: list[dict[str, Any]] = []
        deal_notes: list[dict[str, Any]] = []
        for claim in claims.values():
            if claim.took_over and (lead := self._deal_created_before(claim.invoice)) is not None:
                # A crashed worker created the deal but did not store the link: link that deal, create none.
                self._complete(lead.id, claim, "created", report, deal_notes, new_deal=True)
        pending = {i: c for i, c in claims.items() if i not in report.outcomes}
        by_reference = {i: lead_id_from_reference(c.invoice.Reference) for i, c in pending.items()}
        referenced = {i: lead for i, lead in by_reference.items() if lead is not None}
        self._by_reference(referenced, pending, report, patches, deal_notes)

        rest = {i: c for i, c in pending.items() if i not in report.outcomes}
        if rest:
            contact_ids = {c.contact_id for c in rest.values() if c.contact_id}
            contacts = {x.ContactID: x for x in self.xero.get_contacts(contact_ids)}
            self._match_open_deals(rest, contacts, report, patches, deal_notes)
            to_create = {i: c for i, c in rest.items() if i not in report.outcomes}
            if to_create:
                self._create_deals(to_create, contacts, report, deal_notes)

        linked = [o.lead_id for o in report.outcomes.values() if o.status in ("created", "matched") and o.lead_id]
        write_to_deals(self.kommo, self.store, patches, deal_notes, linked=linked)
        followups = [
            InvoiceFollowUpJob(lead_id=o.lead_id, invoice_id=invoice_id)
            for invoice_id, o in report.outcomes.items()
            if o.status in ("created", "matched") and o.lead_id and claims[invoice_id].invoice.Status != "DRAFT"
        ]
        if followups and (self.mapping.kommo.fields.online_invoice_link or self.mapping.xero.attach_pdf):
            self.queue.send(followups)

    def _by_reference(
        self,
        referenced: dict[str, int],
        claims: dict[str, _Claim],
        report: InvoiceToDealReport,
        patches: list[dict[str, Any]],
        deal_notes: list[dict[str, Any]],
    ) -> None:
        if not referenced:
            return
        leads = {lead.id: lead for lead in self.kommo.get_leads(set(referenced.values()))}
        links = self.store.get_deal_links(referenced.values())
        for invoice_id, lead_id in referenced.items():
            claim = claims[invoice_id]
            lead = leads.get(lead_id)
            link = links.get(lead_id) or {}
            if lead is None or lead.is_deleted:
                self._ignore(
                    invoice_id, claim, f"its Reference names Kommo deal {lead_id}, which does not exist", report
                )
            elif link.get("state") == STATE_LINKED:
                if link.get("invoice_id") == invoice_id:
                    report.outcomes[invoice_id] = InvoiceOutcome("already_linked", lead_id=lead_id)
                    self.store.release_invoice_claim(invoice_id, claim.token)
                    continue
                text = notes.reference_conflict_text(claim.invoice, link.get("invoice_number"))
                if self._ignore(invoice_id, claim, f"Kommo deal {lead_id} already has another invoice", report):
                    deal_notes.append(notes.note(lead_id, text, self.mapping.kommo.note_service_name))
            elif link.get("state") == STATE_CLAIMED and float(link.get("claim_expires", 0)) >= self.store.now():
                # The deal is being invoiced right now (very likely this very invoice): look again once it is linked.
                self.store.release_invoice_claim(invoice_id, claim.token)
                wait = min(self.store.claim_wait(link), LINKING_SECONDS)
                report.outcomes[invoice_id] = InvoiceOutcome(
                    "in_progress", "the deal is being invoiced", retry_after=wait
                )
            else:
                self._complete(lead.id, claim, "by the deal number in its Reference", report, deal_notes, patches)

    def _ignore(self, invoice_id: str, claim: _Claim, reason: str, report: InvoiceToDealReport) -> bool:
        recorded = self.store.ignore_invoice(invoice_id, claim.token, reason)
        report.outcomes[invoice_id] = InvoiceOutcome("ignored", reason)
        logger.warning("invoice not turned into a deal", extra={"invoice_id": invoice_id, "reason": reason})
        return recorded

    # ------------------------------------------------------------------------------------------------------------
    def _match_open_deals(
        self,
        claims: dict[str, _Claim],
        contacts: dict[str | None, XeroContact],
        report: InvoiceToDealReport,
        patches: list[dict[str, Any]],
        deal_notes: list[dict[str, Any]],
    ) -> None:
        pipelines = self.mapping.kommo.match_pipelines
        if not pipelines:
            return
        base_currency = self.xero.organisation().BaseCurrency or "USD"
        taken: set[int] = set()
        for claim in claims.values():
            invoice = claim.invoice
            if invoice.Total is None or invoice.Total <= 0:
                continue
            low = int(invoice.Total.to_integral_value(rounding=ROUND_FLOOR))
            high = max(low, kommo_price(invoice.Total), int(invoice.Total.to_integral_value(rounding=ROUND_CEILING)))
            candidates = [
                lead
                for lead in self.kommo.find_leads(pipeline_ids=pipelines, price_between=(low, high))
                if lead.status_id not in CLOSED_STATUSES
                and not lead.is_deleted
                and lead.id not in taken
                and amount_matches(lead, invoice.Total)
                and deal_currency(lead, self.mapping, base_currency) == invoice.CurrencyCode
            ]
            if not candidates:
                continue
            linked = self.store.get_deal_links(lead.id for lead in candidates)
            candidates = [lead for lead in candidates if lead.id not in linked]
            contact = contacts.get(claim.contact_id)
            best = self._best_client_match(candidates, contact)
            if best is None:
                continue
            taken.add(best.id)
            self._complete(best.id, claim, "same client, amount and currency", report, deal_notes, patches)

    def _best_client_match(self, candidates: list[Lead], contact: XeroContact | None) -> Lead | None:
        if not candidates or contact is None:
            return None
        company_ids = {lead.company_id for lead in candidates if lead.company_id}
        contact_ids = {c.id for lead in candidates for c in lead.embedded.contacts}
        companies = {c.id: c for c in self.kommo.get_companies(company_ids)} if company_ids else {}
        people = {c.id: c for c in self.kommo.get_contacts(contact_ids)} if contact_ids else {}
        scored: list[tuple[int, int, Lead]] = []
        for lead in candidates:
            entities: list[Contact | Company] = []
            if lead.company_id and lead.company_id in companies:
                entities.append(companies[lead.company_id])
            entities += [people[c.id] for c in lead.embedded.contacts if c.id in people]
            linked_contacts = {
                str(link["contact_id"])
                for entity in entities
                if (link := self.store.get_contact_link(entity.kind, entity.id))
            }
            score = client_score(contact, entities, linked_contacts)
            if score:
                scored.append((score, lead.updated_at or 0, lead))
        if not scored:
            return None
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        return scored[0][2]

    # ------------------------------------------------------------------------------------------------------------
    def _create_deals(
        self,
        claims: dict[str, _Claim],
        contacts: dict[str | None, XeroContact],
        report: InvoiceToDealReport,
        deal_notes: list[dict[str, Any]],
    ) -> None:
        stage = self.mapping.kommo.invoice_deal_stage
        if stage is None:
            for invoice_id, claim in claims.items():
                self.store.release_invoice_claim(invoice_id, claim.token)
                report.outcomes[invoice_id] = InvoiceOutcome("unmatched", "no open deal matches; creating is off")
            return
        # The full Xero contact (e-mail, phones) when it could be read, else the invoice's summary of it.
        wanted = [
            contacts.get(c.invoice.Contact.ContactID) or c.invoice.Contact for c in claims.values() if c.invoice.Contact
        ]
        parties = find_parties(wanted, kommo=self.kommo, store=self.store)
        short_code = self.xero.organisation().ShortCode
        # A client new to Kommo is created with its first deal; its other deals in this batch wait for its id.
        first: dict[str, _Claim] = {}
        later: dict[str, _Claim] = {}
        seen_new: set[str] = set()
        for invoice_id, claim in claims.items():
            contact_id = claim.contact_id
            party = parties.get(contact_id or "") or Party()
            if party.company_id is None and party.contact_id is None and contact_id:
                if contact_id in seen_new:
                    later[invoice_id] = claim
                    continue
                seen_new.add(contact_id)
            first[invoice_id] = claim
        created_parties: dict[str, tuple[Party, str]] = {}
        for group in (first, later):
            if not group:
                continue
            payloads = []
            for index, claim in enumerate(group.values()):
                invoice = claim.invoice
                party = parties.get(claim.contact_id or "") or Party()
                assert invoice.InvoiceID is not None
                payloads.append(
                    deal_payload(
                        invoice,
                        self.mapping,
                        state=invoice_state(invoice, self.today()),
                        link=deep_link(invoice.InvoiceID, short_code),
                        party=party,
                        request_id=str(index),
                    )
                )
            self._attempted.update(group)
            results = self._create(payloads)
            for claim, result in zip(group.values(), results, strict=True):
                if claim.contact_id and claim.invoice.Contact:
                    party = Party(
                        company_id=int(result["company_id"]) if result.get("company_id") else None,
                        contact_id=int(result["contact_id"]) if result.get("contact_id") else None,
                    )
                    parties[claim.contact_id] = party
                    created_parties[claim.contact_id] = (party, claim.invoice.Contact.Name or "")
                self._complete(int(result["id"]), claim, "created", report, deal_notes, new_deal=True)
        remember_contact_links(created_parties, self.store)

    def _create(self, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            results = self.kommo.create_leads_complex(payloads)
        except ValidationFailed:
            currency_field = self.mapping.kommo.fields.currency
            if currency_field is None:
                raise
            # Kommo validates the whole request and saves nothing on 400: the usual cause is a currency the select
            # field has no option for. Create the deals without it (the currency is in the note and the lines).
            logger.warning("deal creation rejected; retrying without the currency field")
            for payload in payloads:
                payload["custom_fields_values"] = [
                    f for f in payload["custom_fields_values"] if f["field_id"] != currency_field
                ]
            results = self.kommo.create_leads_complex(payloads)
        if len(results) != len(payloads):
            raise ValidationFailed("kommo", 200, f"Kommo returned {len(results)} results for {len(payloads)} deals")
        return sorted(results, key=lambda r: int((r.get("request_id") or ["0"])[0]))

    def _deal_created_before(self, invoice: XeroInvoice) -> Lead | None:
        if not invoice.InvoiceNumber or self.mapping.kommo.invoice_deal_stage is None:
            return None
        pipeline = self.mapping.kommo.invoice_deal_stage.pipeline_id
        for lead in self.kommo.find_leads(pipeline_ids=[pipeline], query=invoice.InvoiceNumber):
            named = lead.name.startswith(f"{invoice.InvoiceNumber} - ")
            if named and made_from_invoice(lead, self.mapping) and not lead.is_deleted:
                return lead
        return None

    # ------------------------------------------------------------------------------------------------------------
    def _complete(
        self,
        lead_id: int,
        claim: _Claim,
        how: str,
        report: InvoiceToDealReport,
        deal_notes: list[dict[str, Any]],
        patches: list[dict[str, Any]] | None = None,
        *,
        new_deal: bool = False,
    ) -> None:
        """Store the link, then queue the note and, for an existing deal (``patches`` given), the invoice's fields
        (a deal created here got them with its creation)."""
        invoice = claim.invoice
        assert invoice.InvoiceID is not None
        state = invoice_state(invoice, self.today())
        if not self.store.complete_link(
            lead_id, None, invoice_snapshot(invoice, state), origin="xero", invoice_token=claim.token, new_deal=new_deal
        ):
            # A matched deal was claimed or linked meanwhile (someone moved it to the trigger stage): look again.
            # For a deal created here only an expired claim explains it; keep the claim so a retry finds that deal.
            if not new_deal:
                self.store.release_invoice_claim(invoice.InvoiceID, claim.token)
            wait = RECHECK_SECONDS if not new_deal else float(CLAIM_SECONDS + 1)
            report.outcomes[invoice.InvoiceID] = InvoiceOutcome(
                "in_progress", "deal changed meanwhile", retry_after=wait
            )
            logger.warning("invoice link not stored; will look again", extra={"lead_id": lead_id})
            return
        status = "created" if how == "created" else "matched"
        report.outcomes[invoice.InvoiceID] = InvoiceOutcome(status, how, lead_id=lead_id)
        link = deep_link(invoice.InvoiceID, self.xero.organisation().ShortCode)
        if patches is not None:
            values = invoice_field_values(self.mapping.kommo.fields, invoice, state, link=link)
            if values:
                patches.append({"id": lead_id, "custom_fields_values": values})
        deal_notes.append(
            notes.note(lead_id, notes.invoice_linked_text(invoice, link, how), self.mapping.kommo.note_service_name)
        )
