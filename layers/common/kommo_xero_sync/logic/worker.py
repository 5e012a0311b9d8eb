"""The queue worker: parse a batch of SQS records, group jobs so API calls are batched, report failures per message.

Hand-written rather than Powertools' BatchProcessor because that processes records one at a time, while the whole
point here is to read up to 250 deals and create up to 50 invoices per API call across the records of one batch.
A record whose job fails is reported in ``batchItemFailures``; the others are deleted by Lambda.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kommo_xero_sync.dal.queue import JobQueue
from kommo_xero_sync.exceptions import RetryableError
from kommo_xero_sync.logic.deal_to_invoice import DealToInvoice
from kommo_xero_sync.logic.invoice_status import InvoiceStatusSync
from kommo_xero_sync.logic.invoice_to_deal import InvoiceToDeal
from kommo_xero_sync.models.jobs import AnyJob, InvoiceFollowUpJob, LeadStageJob, XeroInvoiceJob, parse_job
from kommo_xero_sync.observability import logger


@dataclass(frozen=True)
class QueueRecord:
    message_id: str
    body: str
    receipt_handle: str = ""


@dataclass
class WorkerReport:
    failed: list[str] = field(default_factory=list)
    processed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass
class WorkerDeps:
    deal_to_invoice: Callable[[], DealToInvoice]
    invoice_status: Callable[[], InvoiceStatusSync]
    invoice_to_deal: Callable[[], InvoiceToDeal]
    followups: Callable[[Sequence[InvoiceFollowUpJob]], None]
    queue: Callable[[], JobQueue]


def process_records(records: Sequence[QueueRecord], deps: WorkerDeps) -> WorkerReport:
    report = WorkerReport()
    groups: dict[str, list[tuple[QueueRecord, AnyJob]]] = {}
    for record in records:
        try:
            job = parse_job(record.body)
        except ValidationError as exc:
            # Never dropped: reported as failed, it reaches the dead-letter queue after maxReceiveCount.
            logger.error("malformed job", extra={"message_id": record.message_id, "errors": exc.error_count()})
            report.failed.append(record.message_id)
            continue
        groups.setdefault(job.kind, []).append((record, job))

    _run_group(groups.get("kommo.lead_stage", []), report, deps, _lead_stage)
    _run_group(groups.get("xero.invoice", []), report, deps, _xero_invoice)
    _run_group(groups.get("xero.invoice_followup", []), report, deps, _followup)
    return report


def _run_group(
    items: list[tuple[QueueRecord, AnyJob]],
    report: WorkerReport,
    deps: WorkerDeps,
    run: Callable[[list[AnyJob], WorkerDeps, WorkerReport], dict[int, float] | None],
) -> None:
    """Run one kind of job; ``run`` may return {index: seconds} for jobs to look at again later."""
    if not items:
        return
    try:
        later = run([job for _, job in items], deps, report) or {}
        report.processed += len(items) - len(later)
        for index, seconds in later.items():
            _requeue(deps, report, *items[index], seconds)
    except RetryableError as exc:
        logger.warning("jobs will be retried", extra={"jobs": len(items), "error": str(exc)})
        for record, _ in items:
            report.failed.append(record.message_id)
            if exc.retry_after:
                _delay(deps, record, exc.retry_after)
    except Exception:
        logger.exception("jobs failed", extra={"jobs": len(items)})
        report.failed.extend(record.message_id for record, _ in items)


def _requeue(deps: WorkerDeps, report: WorkerReport, record: QueueRecord, job: AnyJob, seconds: float) -> None:
    """Another worker holds this job's claim: look again later as a new, delayed message.

    A new message rather than a failed one, so waiting for a live claim never uses up the receive count that sends
    a message to the dead-letter queue. If the send fails, the record is reported failed and comes back anyway.
    """
    try:
        deps.queue().send([job], delay_seconds=math.ceil(seconds))
    except Exception:
        logger.exception("could not requeue a job; it is retried instead")
        report.failed.append(record.message_id)
        _delay(deps, record, seconds)
        return
    report.processed += 1
    _count(report, "requeued", 1)


def _delay(deps: WorkerDeps, record: QueueRecord, seconds: float) -> None:
    if not record.receipt_handle:
        return
    try:
        deps.queue().retry_later(record.receipt_handle, seconds)
    except Exception:  # the message still comes back after the visibility timeout
        logger.exception("could not delay the retry")


def _lead_stage(jobs: list[AnyJob], deps: WorkerDeps, report: WorkerReport) -> dict[int, float]:
    result = deps.deal_to_invoice().run([j for j in jobs if isinstance(j, LeadStageJob)])
    return _tally(jobs, result.outcomes, lambda job: job.lead_id if isinstance(job, LeadStageJob) else None, report)


def _xero_invoice(jobs: list[AnyJob], deps: WorkerDeps, report: WorkerReport) -> dict[int, float]:
    """Linked invoices go to the status path; the others (hand-made in Xero) to invoice -> deal."""
    ids = [j.invoice_id for j in jobs if isinstance(j, XeroInvoiceJob)]
    result = deps.invoice_status().run(ids)
    _count(report, "status_updated", result.updated)
    if not result.unlinked:
        return {}
    made = deps.invoice_to_deal().run(result.unlinked)
    invoice_of = lambda job: job.invoice_id if isinstance(job, XeroInvoiceJob) else None  # noqa: E731
    return _tally(jobs, made.outcomes, invoice_of, report, prefix="invoice_")


def _tally(
    jobs: list[AnyJob],
    outcomes: Mapping[Any, Any],
    key: Callable[[AnyJob], Any],
    report: WorkerReport,
    prefix: str = "",
) -> dict[int, float]:
    """Count the outcomes by status; return {job index: seconds} for the jobs waiting on another worker's claim."""
    for done in outcomes.values():
        _count(report, f"{prefix}{done.status}", 1)
    later: dict[int, float] = {}
    for index, job in enumerate(jobs):
        outcome = outcomes.get(key(job))
        if outcome is not None and outcome.status == "in_progress" and outcome.retry_after:
            later[index] = outcome.retry_after
    return later


def _count(report: WorkerReport, name: str, value: int) -> None:
    report.outcomes[name] = report.outcomes.get(name, 0) + value


def _followup(jobs: list[AnyJob], deps: WorkerDeps, report: WorkerReport) -> None:
    deps.followups([j for j in jobs if isinstance(j, InvoiceFollowUpJob)])
    _count(report, "followups", len(jobs))
