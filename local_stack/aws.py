"""moto in server mode on 127.0.0.1, and the template's tables, queues, secret and mapping parameter inside it.

The handlers talk to moto over real HTTP through boto3 (``AWS_ENDPOINT_URL``), exactly as they talk to AWS; nothing
is patched in-process. moto's state is process-global, so :meth:`LocalAws.start` resets it first (one local stack
per process at a time).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from local_stack.template import DEFAULT_ACCOUNT_ID, QueueSpec, TableSpec, Template

log = logging.getLogger("local_stack.aws")

# Fake credentials: moto accepts anything, and these can never reach real AWS (the endpoint is loopback).
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

SECRET_KEYS = ("kommo_webhook_token", "kommo_access_token", "xero_client_id", "xero_client_secret", "xero_webhook_key")


def generate_credentials() -> dict[str, str]:
    """Random local values for every key of the credentials secret (never real credentials)."""
    return {
        "kommo_webhook_token": secrets.token_urlsafe(24),
        "kommo_access_token": secrets.token_urlsafe(48),
        "xero_client_id": secrets.token_hex(16).upper(),
        "xero_client_secret": secrets.token_urlsafe(36),
        # Xero webhook keys are long base64 strings; the signature is HMAC-SHA256 over the raw body with this key.
        "xero_webhook_key": secrets.token_urlsafe(64),
    }


@dataclass
class QueueInfo:
    logical_id: str
    name: str
    url: str
    arn: str
    spec: QueueSpec
    visibility_timeout: int  # effective (maybe overridden for local speed)


@dataclass
class Resources:
    """What was created in moto, by logical id, plus the maps :meth:`Template.resolve` needs."""

    region: str = "eu-west-1"
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    queues: dict[str, QueueInfo] = field(default_factory=dict)

    @property
    def refs(self) -> dict[str, str]:
        refs = dict(self.tables)
        refs.update({logical_id: queue.url for logical_id, queue in self.queues.items()})
        return refs

    @property
    def attrs(self) -> dict[tuple[str, str], str]:
        attrs: dict[tuple[str, str], str] = {}
        for logical_id, name in self.tables.items():
            attrs[(logical_id, "Arn")] = f"arn:aws:dynamodb:{self.region}:{DEFAULT_ACCOUNT_ID}:table/{name}"
        for logical_id, queue in self.queues.items():
            attrs[(logical_id, "Arn")] = queue.arn
            attrs[(logical_id, "QueueName")] = queue.name
            attrs[(logical_id, "QueueUrl")] = queue.url
        return attrs


class LocalAws:
    """A moto server on 127.0.0.1 plus helpers to create the template's resources in it."""

    def __init__(self, region: str = "eu-west-1", port: int = 0) -> None:
        self.region = region
        self._port = port
        self._server: Any = None
        self.endpoint_url: str | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        if self._server is not None:
            raise RuntimeError("moto already started")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.reset()
        log.info("moto listening on %s", self.endpoint_url)
        return self.endpoint_url

    def reset(self) -> None:
        """moto's backends are process-global: start from a clean account."""
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._server.stop()
            finally:
                self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def client(self, service: str) -> Any:
        if self.endpoint_url is None:
            raise RuntimeError("moto not started")
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    # ---- resources ----------------------------------------------------------------------------------------------

    def create_table(self, spec: TableSpec) -> str:
        ddb = self.client("dynamodb")
        kwargs: dict[str, Any] = {
            "TableName": spec.physical_name,
            "KeySchema": spec.key_schema,
            "AttributeDefinitions": spec.attribute_definitions,
            "BillingMode": spec.billing_mode,
        }
        provisioned = spec.billing_mode == "PROVISIONED"
        if provisioned:
            kwargs["ProvisionedThroughput"] = _throughput(spec.provisioned_throughput)
        if spec.global_secondary_indexes:
            gsis = []
            for index in spec.global_secondary_indexes:
                index = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")} | (
                    {"ProvisionedThroughput": _throughput(index.get("ProvisionedThroughput"))} if provisioned else {}
                )
                gsis.append(index)
            kwargs["GlobalSecondaryIndexes"] = gsis
        if spec.local_secondary_indexes:
            kwargs["LocalSecondaryIndexes"] = [
                {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                for index in spec.local_secondary_indexes
            ]
        if spec.stream_view_type:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view_type}
        ddb.create_table(**kwargs)
        if spec.ttl_attribute:
            # Note: moto stores the TTL setting but never expires items (reliability.md c.3).
            ddb.update_time_to_live(
                TableName=spec.physical_name,
                TimeToLiveSpecification={"AttributeName": spec.ttl_attribute, "Enabled": True},
            )
        return spec.physical_name

    def create_queue(self, spec: QueueSpec, dlq_arn: str | None, visibility_timeout: int | None = None) -> QueueInfo:
        sqs = self.client("sqs")
        visibility = spec.visibility_timeout if visibility_timeout is None else visibility_timeout
        attributes: dict[str, str] = {"VisibilityTimeout": str(visibility)}
        if spec.message_retention_period is not None:
            attributes["MessageRetentionPeriod"] = str(spec.message_retention_period)
        if spec.delay_seconds is not None:
            attributes["DelaySeconds"] = str(spec.delay_seconds)
        if spec.receive_message_wait_time is not None:
            attributes["ReceiveMessageWaitTimeSeconds"] = str(spec.receive_message_wait_time)
        if spec.fifo:
            attributes["FifoQueue"] = "true"
            if spec.content_based_deduplication:
                attributes["ContentBasedDeduplication"] = "true"
        if spec.dead_letter_target is not None:
            if dlq_arn is None:
                raise RuntimeError(f"{spec.logical_id}: dead-letter queue {spec.dead_letter_target} not created")
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count or 10}
            )
        url = sqs.create_queue(QueueName=spec.physical_name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return QueueInfo(spec.logical_id, spec.physical_name, url, arn, spec, visibility)

    def create_resources(self, template: Template, visibility_timeouts: Mapping[str, int] | None = None) -> Resources:
        """Create every table and queue of the template (dead-letter queues first).

        ``visibility_timeouts`` overrides a queue's VisibilityTimeout by logical id: locally a failed job should be
        retried after a couple of seconds, not after the template's 360 s.
        """
        resources = Resources(region=self.region)
        for table in template.tables:
            resources.tables[table.logical_id] = self.create_table(table)
        pending = {queue.logical_id: queue for queue in template.queues}
        while pending:
            ready = [
                q for q in pending.values() if q.dead_letter_target is None or q.dead_letter_target in resources.queues
            ]
            if not ready:
                raise RuntimeError(f"queues with unresolvable dead-letter targets: {sorted(pending)}")
            for queue in ready:
                dlq = resources.queues.get(queue.dead_letter_target or "")
                override = (visibility_timeouts or {}).get(queue.logical_id)
                resources.queues[queue.logical_id] = self.create_queue(queue, dlq.arn if dlq else None, override)
                del pending[queue.logical_id]
        return resources

    def seed_secret(self, name: str, values: Mapping[str, str]) -> str:
        response = self.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(dict(values)))
        return str(response["ARN"])

    def seed_parameter(self, name: str, value: str) -> None:
        self.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

    def seed_mapping(self, parameter_name: str, document: Path | Mapping[str, Any]) -> bool:
        """Put the mapping document (a JSON file or a dict) in SSM. False (and a warning) when the file is missing."""
        if isinstance(document, Path):
            if not document.is_file():
                log.warning("mapping document %s not found: SSM parameter %s not created", document, parameter_name)
                return False
            text = document.read_text(encoding="utf-8")
            json.loads(text)  # fail early on a broken document
        else:
            text = json.dumps(dict(document))
        self.seed_parameter(parameter_name, text)
        return True

    # ---- environment --------------------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The AWS part of the handlers' environment: endpoint, region, fake credentials."""
        if self.endpoint_url is None:
            raise RuntimeError("moto not started")
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **FAKE_CREDENTIALS,
        }


def _throughput(value: Mapping[str, Any] | None) -> dict[str, int]:
    value = value or {}
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }
