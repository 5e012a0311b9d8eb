"""SyncWorkerFunction: consumes the jobs queue (ReportBatchItemFailures) and does all the API work."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from kommo_xero_sync.logic.worker import QueueRecord, process_records
from kommo_xero_sync.observability import logger, metrics
from kommo_xero_sync.runtime import get_runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=SQSEvent)
def lambda_handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    records = [
        QueueRecord(message_id=r.message_id, body=r.body, receipt_handle=r.receipt_handle) for r in event.records
    ]
    report = process_records(records, get_runtime().worker_deps())
    metrics.add_metric(name="JobsProcessed", unit=MetricUnit.Count, value=report.processed)
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=len(report.failed))
    logger.info("batch done", extra={"records": len(records), "failed": len(report.failed), **report.outcomes})
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in report.failed]}
