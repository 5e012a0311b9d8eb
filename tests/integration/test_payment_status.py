"""Payment status over the real product path: payments, credits and voids made in the Xero sandbox reach the deals
through Xero's INVOICE webhooks (-> local API gateway -> XeroWebhookFunction -> SQS (moto) -> SyncWorkerFunction) or
through the sweep (PaymentSweepFunction, or ``run_sweep`` with the runtime's own clients when a test needs to control
its clock or crash it). Every test starts from the demo seed with invoices the product itself created for deals."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from kommo_xero_sync.config import load_config
from kommo_xero_sync.dal.secrets import fetch_parameter
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.logic.invoice_status import InvoiceStatusSync
from kommo_xero_sync.logic.sweep import WATERMARK, run_sweep
from kommo_xero_sync.runtime import Runtime
from local_stack.scheduler import scheduled_event
from local_stack.stack import LocalStack
from sandbox.xero.sandbox import XeroSandboxError
from tests.conftest import DEV_CREDENTIALS
from tests.integration.helpers import (
    F_STATUS,
    QUALIFIED,
    SALES,
    invoices_for,
    mapping_without_followups,
    move,
    notes_text,
    settle,
)

pytestmark = pytest.mark.integration

F_AMOUNT_DUE, F_AMOUNT_PAID, F_PAID_DATE = 8100004, 8100005, 8100009
PAID_STAGE = 7100005
VOIDED_STAGE = 143  # Closed - lost


@pytest.fixture(scope="module")
def stack():
    mapping = mapping_without_followups()
    mapping["kommo"]["voided_stage"] = {"pipeline_id": SALES, "status_id": VOIDED_STAGE}
    mapping["kommo"]["overdue_task"] = True
    with LocalStack(credentials=DEV_CREDENTIALS, start_scheduler=False, mapping=mapping, batching_window=1.0) as s:
        yield s


# -- helpers ---------------------------------------------------------------------------------------------------------


def invoiced(stack, *lead_ids):
    """Move the deals to "Payment agreed" and return their invoices (as the Xero sandbox holds them)."""
    move(stack, lead_ids)
    settle(stack)  # Xero's CREATE events for them are processed too
    out = []
    for lead_id in lead_ids:
        (invoice,) = invoices_for(stack, lead_id)
        out.append(invoice)
    return out


def sweep_handler(stack):
    """One scheduled run of PaymentSweepFunction, as EventBridge Scheduler would start it."""
    return stack.invoke("PaymentSweepFunction", scheduled_event("arn:aws:scheduler:eu-west-1:123456789012:schedule/s"))


def runtime():
    return Runtime(load_config(os.environ, fetch_parameter))  # the product's own clients and store


def sweep_on_clock(stack, **kwargs):
    """``run_sweep`` with the product's clients, deciding "today" by the sandboxes' clock (which tests move)."""
    rt = runtime()
    today = lambda: stack.clock.today().date()  # noqa: E731
    status = InvoiceStatusSync(mapping=rt.config.mapping, kommo=rt.kommo, xero=rt.xero, store=rt.store, today=today)
    return run_sweep(xero=kwargs.pop("xero", rt.xero), store=rt.store, status_sync=status, today=today, **kwargs)


def store():
    return SyncStore(os.environ["SYNC_TABLE"])


def field(stack, lead_id, field_id):
    return stack.kommo.lead_field_value(lead_id, field_id)


def money(value):
    return Decimal(str(value)) if value is not None else None


def payment_notes(stack, lead_id):
    return [t for t in notes_text(stack, lead_id) if "Payment of" in t]


def stage(stack, lead_id):
    return stack.kommo.get_lead(lead_id)["status_id"]


# -- payments by webhook ---------------------------------------------------------------------------------------------


def test_partial_then_full_payment(env):
    (invoice,) = invoiced(env, 1000003)  # 1,380.00 NZD
    env.xero.apply_payment(invoice["InvoiceID"], Decimal("500.00"), date="2026-01-05")
    settle(env)
    assert field(env, 1000003, F_STATUS) == "Partially paid"
    assert money(field(env, 1000003, F_AMOUNT_DUE)) == Decimal("880.00")
    assert money(field(env, 1000003, F_AMOUNT_PAID)) == Decimal("500.00")
    assert field(env, 1000003, F_PAID_DATE) is None
    assert stage(env, 1000003) != PAID_STAGE
    (first,) = payment_notes(env, 1000003)
    assert "Payment of 500.00 NZD received on 2026-01-05; 880.00 NZD remains due." in first

    env.xero.apply_payment(invoice["InvoiceID"], Decimal("880.00"), date="2026-01-20")
    settle(env)
    assert field(env, 1000003, F_STATUS) == "Paid"
    assert money(field(env, 1000003, F_AMOUNT_DUE)) == 0
    assert money(field(env, 1000003, F_AMOUNT_PAID)) == Decimal("1380.00")
    assert field(env, 1000003, F_PAID_DATE) is not None
    assert stage(env, 1000003) == PAID_STAGE
    notes = payment_notes(env, 1000003)
    assert (
        len(notes) == 2 and "Payment of 880.00 NZD received on 2026-01-20; the invoice is now fully paid." in notes[1]
    )
    assert "gsi1pk" not in store().get_deal_link(1000003)  # closed: out of the overdue index


def test_payment_deleted_gives_a_reversal_note_and_the_amounts_back(env):
    (invoice,) = invoiced(env, 1000003)
    payment = env.xero.apply_payment(invoice["InvoiceID"], Decimal("1380.00"))
    settle(env)
    assert field(env, 1000003, F_STATUS) == "Paid"
    env.xero.delete_payment(payment["PaymentID"])
    settle(env)
    assert field(env, 1000003, F_STATUS) == "Awaiting payment"
    assert money(field(env, 1000003, F_AMOUNT_DUE)) == Decimal("1380.00")
    assert money(field(env, 1000003, F_AMOUNT_PAID)) == 0
    reversals = [t for t in notes_text(env, 1000003) if "was removed in Xero" in t]
    assert len(reversals) == 1 and "A payment of 1,380.00 NZD was removed" in reversals[0]
    assert len(payment_notes(env, 1000003)) == 1  # the original payment is not announced again
    assert store().get_deal_link(1000003)["gsi1pk"] == "OPEN"  # open again: back in the overdue index


def test_overpayment_is_refused_by_xero_and_the_deal_shows_what_xero_recorded(env):
    # Xero refuses a payment above the amount due (the excess would be a separate Overpayment object, never part of
    # this invoice's AmountPaid), and so does the sandbox. The deal must not change on the refused attempt, and the
    # amount the accountant then records settles it.
    (invoice,) = invoiced(env, 1000003)
    with pytest.raises(XeroSandboxError, match="exceeds the amount outstanding"):
        env.xero.apply_payment(invoice["InvoiceID"], Decimal("1500.00"))
    settle(env)
    assert field(env, 1000003, F_STATUS) == "Awaiting payment" and payment_notes(env, 1000003) == []
    env.xero.apply_payment(invoice["InvoiceID"], Decimal("1380.00"))
    settle(env)
    assert field(env, 1000003, F_STATUS) == "Paid" and money(field(env, 1000003, F_AMOUNT_DUE)) == 0
    assert len(payment_notes(env, 1000003)) == 1


def test_credit_note_allocation(env):
    (invoice,) = invoiced(env, 1000003)
    env.xero.credit_invoice(invoice["InvoiceID"], "380.00")
    settle(env)
    # Xero: AUTHORISED, AmountCredited 380, AmountDue 1000 -> partly settled by credit.
    assert field(env, 1000003, F_STATUS) == "Partially paid"
    assert money(field(env, 1000003, F_AMOUNT_DUE)) == Decimal("1000.00")
    assert payment_notes(env, 1000003) == []  # a credit is not a payment
    env.xero.credit_invoice(invoice["InvoiceID"], "1000.00")
    settle(env)
    assert env.xero.get_invoice(invoice["InvoiceID"])["Status"] == "PAID"
    assert field(env, 1000003, F_STATUS) == "Credited"
    assert money(field(env, 1000003, F_AMOUNT_DUE)) == 0
    assert sum("is now Credited" in t for t in notes_text(env, 1000003)) == 1
    assert stage(env, 1000003) != PAID_STAGE  # only a paid invoice moves the deal to "Paid"


def test_voided_invoice_moves_the_deal_to_the_voided_stage(env):
    (invoice,) = invoiced(env, 1000003)
    env.xero.void_invoice(invoice["InvoiceID"])
    settle(env)
    assert field(env, 1000003, F_STATUS) == "Voided"
    assert stage(env, 1000003) == VOIDED_STAGE
    assert sum("is now Voided" in t for t in notes_text(env, 1000003)) == 1
    assert "gsi1pk" not in store().get_deal_link(1000003)


# -- the sweep ------------------------------------------------------------------------------------------------------


def test_same_payment_seen_by_webhook_and_sweep_gives_one_note(env):
    (invoice,) = invoiced(env, 1000003)
    env.xero.apply_payment(invoice["InvoiceID"], Decimal("300.00"))
    settle(env)
    assert len(payment_notes(env, 1000003)) == 1
    counts = sweep_handler(env)
    assert counts["invoices"] >= 1 and counts["updated"] == 0  # read again, nothing new to say
    settle(env)
    assert len(payment_notes(env, 1000003)) == 1
    assert field(env, 1000003, F_STATUS) == "Partially paid"


def test_thirty_percent_of_webhooks_dropped_and_one_sweep_converges(env):
    lead_ids = env.kommo.create_leads(
        20, pipeline_id=SALES, status_id=QUALIFIED, price=100, contact_id=6000004, company_id=6500004
    )
    invoices = dict(zip(lead_ids, invoiced(env, *lead_ids), strict=True))
    env.xero.drop_webhooks(0.3, seed=7)
    for invoice in invoices.values():
        env.xero.apply_payment(invoice["InvoiceID"], Decimal("50.00"))
    settle(env)
    dropped = {e["resourceId"] for e in env.xero.webhooks.events if e["fate"] == "dropped"}
    stale = {lead for lead in lead_ids if field(env, lead, F_STATUS) != "Partially paid"}
    assert stale and stale == {lead for lead, inv in invoices.items() if inv["InvoiceID"] in dropped}

    counts = sweep_handler(env)
    settle(env)
    assert counts["updated"] == len(stale)
    assert all(field(env, lead, F_STATUS) == "Partially paid" for lead in lead_ids)
    assert all(money(field(env, lead, F_AMOUNT_DUE)) == Decimal("65.00") for lead in lead_ids)  # 115.00 - 50.00
    assert all(len(payment_notes(env, lead)) == 1 for lead in lead_ids)


class KilledOnPage:
    """The product's Xero client, except that fetching page ``page`` kills the run (once)."""

    def __init__(self, xero, page):
        self.xero, self.page, self.pages = xero, page, []

    def invoices_modified_since(self, since, page, page_size=500):
        if page == self.page:
            self.page = None
            raise RuntimeError("sweep killed")
        self.pages.append(page)
        return self.xero.invoices_modified_since(since, page=page, page_size=page_size)


def test_sweep_killed_after_its_second_page_resumes_without_a_duplicate_note(env):
    lead_ids = env.kommo.create_leads(
        6, pipeline_id=SALES, status_id=QUALIFIED, price=100, contact_id=6000004, company_id=6500004
    )
    invoices = invoiced(env, *lead_ids)
    # The sweep has seen everything up to now; later, six payments arrive that no webhook reports.
    env.clock.advance(300)
    store().put_state(WATERMARK, {"since": env.clock.now().isoformat(), "page": 1})
    env.clock.advance(1)
    env.xero.drop_webhooks(1.0)
    for invoice in invoices:
        env.xero.apply_payment(invoice["InvoiceID"], Decimal("15.00"))
        env.clock.advance(1)  # distinct UpdatedDateUTC, so the pages are a stable order
    killer = KilledOnPage(runtime().xero, page=3)
    with pytest.raises(RuntimeError, match="sweep killed"):
        sweep_on_clock(env, xero=killer, page_size=2)
    assert killer.pages == [1, 2]
    assert store().get_state(WATERMARK)["page"] == 3
    noted = [lead for lead in lead_ids if payment_notes(env, lead)]
    assert len(noted) == 4

    resumed = KilledOnPage(runtime().xero, page=None)
    report = sweep_on_clock(env, xero=resumed, page_size=2)
    assert resumed.pages == [3] and report.pages == 1 and report.updated == 2
    assert all(len(payment_notes(env, lead)) == 1 for lead in lead_ids)
    assert all(field(env, lead, F_STATUS) == "Partially paid" for lead in lead_ids)
    assert store().get_state(WATERMARK)["page"] == 1


def test_overdue_by_clock_is_marked_from_the_link_table_once(env):
    (first, second) = invoiced(env, 1000003, 1000005)
    due = {i["InvoiceID"]: i["DueDateString"][:10] for i in (first, second)}
    links = {lead: store().get_deal_link(lead) for lead in (1000003, 1000005)}
    assert {link["gsi1pk"] for link in links.values()} == {"OPEN"}
    # Xero changes nothing on the due date: the sweep has nothing modified to read, only its clock moves.
    env.clock.advance(300)
    store().put_state(WATERMARK, {"since": env.clock.now().isoformat(), "page": 1})
    env.clock.advance(days=15)
    try:
        env.xero.counters.reset()
        env.kommo.counters.reset()
        report = sweep_on_clock(env)
        assert (report.invoices, report.updated, report.overdue_marked) == (0, 0, 2)
        xero_calls = env.xero.counters.snapshot()
        assert set(xero_calls) <= {"GET /Invoices", "POST /connect/token", "GET /connections"}, xero_calls
        kommo_calls = env.kommo.counters.snapshot()
        assert (
            kommo_calls["PATCH /api/v4/leads"]["calls"] == 1 and kommo_calls["POST /api/v4/leads/notes"]["calls"] == 1
        )
        assert report.overdue_tasks == 2 and kommo_calls["POST /api/v4/tasks"]["calls"] == 1
        for lead in (1000003, 1000005):
            (task,) = env.kommo.tasks_for_lead(lead)
            responsible = env.kommo.get_lead(lead)["responsible_user_id"]
            assert task["responsible_user_id"] == responsible and "is overdue since" in task["text"]
            assert field(env, lead, F_STATUS) == "Overdue"
            assert sum("is now Overdue" in t for t in notes_text(env, lead)) == 1
            assert store().get_deal_link(lead)["gsi1pk"] == "OVERDUE"
        assert due[first["InvoiceID"]] < env.clock.today().date().isoformat()

        # The next run finds nothing to mark and writes nothing.
        env.kommo.counters.reset()
        assert sweep_on_clock(env).overdue_marked == 0
        assert not {"PATCH /api/v4/leads", "POST /api/v4/tasks"} & set(env.kommo.counters.snapshot())

        # Paid later (webhook): the usual status path, and the invoice leaves the index.
        env.xero.apply_payment(first["InvoiceID"], Decimal(str(first["AmountDue"])))
        settle(env)
        assert field(env, 1000003, F_STATUS) == "Paid" and stage(env, 1000003) == PAID_STAGE
        assert "gsi1pk" not in store().get_deal_link(1000003)
        assert sum("is now Overdue" in t for t in notes_text(env, 1000003)) == 1
    finally:
        env.clock.advance(-300, days=-15)


def test_overdue_index_pages_and_conditional_move(env):
    s = store()
    for n in range(5):
        s.table.put_item(
            Item={
                "pk": f"DEAL#{900 + n}",
                "sk": "LINK",
                "lead_id": 900 + n,
                "state": "LINKED",
                "gsi1pk": "OPEN",
                "gsi1sk": f"2026-01-0{n + 1}#inv-{n}",
            }
        )
    seen = []
    for page in s.open_invoices_due_before("2026-01-05", page_size=2):
        assert len(page) <= 2
        for item in page:
            seen.append(item["lead_id"])
            assert s.mark_overdue(item["lead_id"], item["gsi1sk"], deal_state="Overdue")
    assert seen == [900, 901, 902, 903]  # due before the 5th, each once, while being moved out
    assert not s.mark_overdue(900, "2026-01-01#inv-0", deal_state="Overdue")  # no longer OPEN
    assert not s.mark_overdue(904, "2026-01-04#inv-4", deal_state="Overdue")  # OPEN under another key
    assert [item["lead_id"] for page in s.open_invoices_due_before("2026-02-01") for item in page] == [904]
    assert s.get_deal_link(901)["gsi1pk"] == "OVERDUE" and s.get_deal_link(901)["deal_state"] == "Overdue"
