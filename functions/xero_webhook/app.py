"""XeroWebhookFunction: POST /webhooks/xero -> verify signature, enqueue, answer 200/401 with an empty body."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from kommo_xero_sync.apigw import header, raw_body, response
from kommo_xero_sync.exceptions import ConfigError, WebhookRejected
from kommo_xero_sync.logic.xero_ingress import handle_xero_webhook
from kommo_xero_sync.observability import logger, metrics
from kommo_xero_sync.runtime import get_runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayProxyEvent)
def lambda_handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    try:
        runtime = get_runtime()
        result = handle_xero_webhook(
            raw_body=raw_body(event),
            signature=header(event, "x-xero-signature"),
            webhook_key=runtime.credentials.xero_webhook_key.get_secret_value(),
            tenant_id=runtime.config.mapping.xero.tenant_id,
            dedup=runtime.dedup,
            queue=runtime.queue,
        )
    except WebhookRejected as exc:
        logger.warning("xero webhook rejected", extra={"status": exc.status, "reason": exc.reason})
        metrics.add_metric(name="XeroWebhooksRejected", unit=MetricUnit.Count, value=1)
        return response(exc.status)  # Xero: no body, no cookies
    except ConfigError as exc:
        logger.error("configuration error", extra={"error": str(exc)})
        return response(500)
    except Exception:
        logger.exception("xero webhook could not be enqueued")
        return response(503)
    if result.unreadable:
        metrics.add_metric(name="XeroWebhooksUnreadable", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="XeroJobsEnqueued", unit=MetricUnit.Count, value=result.accepted)
    return response(200)
