"""The queue worker's routing: linked invoices to the status path, unlinked ones to invoice -> deal, waits requeued."""

from __future__ import annotations

from typing import Any

from kommo_xero_sync.logic.invoice_status import StatusReport
from kommo_xero_sync.logic.invoice_to_deal import InvoiceOutcome, InvoiceToDealReport
from kommo_xero_sync.logic.worker import QueueRecord, WorkerDeps, process_records
from kommo_xero_sync.models.jobs import XeroInvoiceJob

TENANT = "a3f1c6f0-8d44-4c1e-9a51-2b7d0c9e5f10"


class Queue:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[list[Any], int]] = []
        self.delayed: list[tuple[str, float]] = []

    def send(self, jobs: list[Any], *, delay_seconds: int = 0) -> int:
        if self.fail:
            raise RuntimeError("SQS unavailable")
        self.sent.append((list(jobs), delay_seconds))
        return 1

    def retry_later(self, receipt_handle: str, seconds: float) -> None:
        self.delayed.append((receipt_handle, seconds))


class Status:
    def __init__(self, linked: set[str]) -> None:
        self.linked = linked
        self.calls: list[list[str]] = []

    def run(self, ids: list[str]) -> StatusReport:
        self.calls.append(list(ids))
        return StatusReport(
            updated=len([i for i in ids if i in self.linked]), unlinked=[i for i in ids if i not in self.linked]
        )


class Deals:
    def __init__(self, outcomes: dict[str, InvoiceOutcome]) -> None:
        self.outcomes = outcomes
        self.calls: list[list[str]] = []

    def run(self, ids: list[str]) -> InvoiceToDealReport:
        self.calls.append(list(ids))
        return InvoiceToDealReport(outcomes={i: self.outcomes[i] for i in ids})


def record(invoice_id: str, n: int) -> QueueRecord:
    job = XeroInvoiceJob(
        tenant_id=TENANT, invoice_id=invoice_id, event_type="UPDATE", event_date=f"2026-11-24T00:00:0{n}"
    )
    return QueueRecord(message_id=f"m{n}", body=job.model_dump_json(), receipt_handle=f"r{n}")


def deps(status: Status, deals: Deals, queue: Queue) -> WorkerDeps:
    return WorkerDeps(
        deal_to_invoice=lambda: None,  # type: ignore[arg-type,return-value]
        invoice_status=lambda: status,  # type: ignore[arg-type,return-value]
        invoice_to_deal=lambda: deals,  # type: ignore[arg-type,return-value]
        followups=lambda jobs: None,
        queue=lambda: queue,  # type: ignore[arg-type,return-value]
    )


def test_only_unlinked_invoices_reach_invoice_to_deal_and_waits_are_requeued_as_new_messages():
    status = Status(linked={"inv-linked"})
    deals = Deals(
        {
            "inv-new": InvoiceOutcome("created", lead_id=7),
            "inv-busy": InvoiceOutcome("in_progress", "another worker holds it", retry_after=9.2),
        }
    )
    queue = Queue()
    report = process_records(
        [record("inv-linked", 1), record("inv-new", 2), record("inv-busy", 3)], deps(status, deals, queue)
    )
    assert deals.calls == [["inv-new", "inv-busy"]]
    assert report.failed == [] and report.processed == 3
    ((jobs, delay),) = queue.sent
    assert [j.invoice_id for j in jobs] == ["inv-busy"] and delay == 10  # rounded up, never early
    assert queue.delayed == []
    assert report.outcomes["invoice_created"] == 1 and report.outcomes["requeued"] == 1


def test_a_wait_that_cannot_be_requeued_is_reported_failed_and_delayed():
    status = Status(linked=set())
    deals = Deals({"inv-busy": InvoiceOutcome("in_progress", retry_after=4.0)})
    queue = Queue(fail=True)
    report = process_records([record("inv-busy", 1)], deps(status, deals, queue))
    assert report.failed == ["m1"]
    assert queue.delayed == [("r1", 4.0)]


def test_a_malformed_job_is_failed_not_dropped():
    queue = Queue()
    report = process_records(
        [QueueRecord(message_id="bad", body='{"kind": "xero.invoice"}')], deps(Status(set()), Deals({}), queue)
    )
    assert report.failed == ["bad"] and report.processed == 0
