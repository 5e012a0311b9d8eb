"""PaymentSweepFunction: on its schedule, repairs deals whose invoices changed without a webhook reaching us."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from kommo_xero_sync.logic.sweep import run_sweep
from kommo_xero_sync.observability import logger, metrics
from kommo_xero_sync.runtime import get_runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    runtime = get_runtime()
    logger.info("sweep started", extra={"scheduled_time": event.get("time")})
    report = run_sweep(
        xero=runtime.xero,
        store=runtime.store,
        status_sync=runtime.invoice_status(),
        invoice_to_deal=runtime.invoice_to_deal().hand_on,  # hand-made invoices the webhooks missed, as jobs
    )
    counts = report.as_dict()
    for name, key in METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[key])
    return counts


METRICS = {
    "SweepPagesRead": "pages",
    "SweepInvoicesRead": "invoices",
    "SweepDealsUpdated": "updated",
    "SweepUnlinkedInvoices": "unlinked",
    "SweepInvoicesHandedOn": "handed_on",
    "SweepOverdueMarked": "overdue_marked",
    "SweepOverdueTasks": "overdue_tasks",
}
