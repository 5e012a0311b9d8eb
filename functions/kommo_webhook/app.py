"""KommoWebhookFunction: POST /webhooks/kommo/{token} -> authenticate, parse, enqueue, answer (Kommo waits 2 s)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from kommo_xero_sync.apigw import raw_body, response
from kommo_xero_sync.exceptions import ConfigError, WebhookRejected
from kommo_xero_sync.logic.kommo_ingress import handle_kommo_webhook
from kommo_xero_sync.observability import logger, metrics
from kommo_xero_sync.runtime import get_runtime


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayProxyEvent)
def lambda_handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    try:
        runtime = get_runtime()
        result = handle_kommo_webhook(
            path_token=(event.path_parameters or {}).get("token"),
            body=raw_body(event).decode("utf-8", errors="strict"),
            webhook_token=runtime.credentials.kommo_webhook_token.get_secret_value(),
            mapping=runtime.config.mapping,
            dedup=runtime.dedup,
            queue=runtime.queue,
        )
    except WebhookRejected as exc:
        logger.warning("kommo webhook rejected", extra={"status": exc.status, "reason": exc.reason})
        metrics.add_metric(name="KommoWebhooksRejected", unit=MetricUnit.Count, value=1)
        return response(exc.status, {"error": exc.reason})
    except UnicodeDecodeError:
        logger.warning("kommo webhook rejected", extra={"status": 400, "reason": "body is not UTF-8"})
        return response(400, {"error": "body is not UTF-8"})
    except ConfigError as exc:
        logger.error("configuration error", extra={"error": str(exc)})
        return response(500, {"error": "the sync is misconfigured; see the function log"})
    except Exception:
        # Not acknowledged, so Kommo retries the delivery; nothing was half-enqueued (claims were released).
        logger.exception("kommo webhook could not be enqueued")
        return response(503, {"error": "temporarily unavailable"})
    metrics.add_metric(name="KommoJobsEnqueued", unit=MetricUnit.Count, value=result.accepted)
    return response(200, {"enqueued": result.accepted, "duplicates": result.duplicates, "ignored": result.ignored})
