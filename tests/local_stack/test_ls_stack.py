"""LocalStack end to end on the fixture template: gateway -> handler -> SQS -> worker -> DynamoDB, schedule, env."""

from __future__ import annotations

import json
import os

import boto3
import pytest
import requests
from ls_support import FIXTURE_MAPPING, FIXTURE_TEMPLATE, FIXTURES

from local_stack.stack import LocalStack


def test_stack_end_to_end_and_cleanup() -> None:
    before = dict(os.environ)
    stack = LocalStack(
        template_path=FIXTURE_TEMPLATE,
        mapping=FIXTURE_MAPPING,
        start_sandboxes=False,
        visibility_timeout=1,
        batching_window=0.2,
        schedule_interval=0.3,
        extra_env={"LOCAL_STACK_TEST": "1"},
    )
    with stack:
        assert stack.code_root == FIXTURES and stack.layer_dirs == [FIXTURES / "layers/fake/"]
        env = stack.env
        assert os.environ["AWS_ENDPOINT_URL"] == stack.aws.endpoint_url
        assert env["ITEMS_TABLE"] == "ItemsTable-local" == stack.table_name("ItemsTable")
        assert env["JOBS_QUEUE_URL"] == stack.queue_url("JobsQueue")
        assert env["JOBS_QUEUE_ARN"].startswith("arn:aws:sqs:eu-west-1:")
        assert env["MAPPING_PARAMETER"] == "/fixture/mapping" and env["CREDENTIALS_SECRET"] == "fixture/credentials"
        assert env["LOCAL_STACK_TEST"] == "1" and env["AWS_ACCESS_KEY_ID"] == "testing"

        # secret and mapping reachable through plain boto3 (what the handlers do)
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=env["CREDENTIALS_SECRET"])
        assert json.loads(secret["SecretString"]) == stack.credentials
        parameter = boto3.client("ssm").get_parameter(Name=env["MAPPING_PARAMETER"])["Parameter"]["Value"]
        assert json.loads(parameter) == {"version": 1, "fixture": True}

        # webhook -> enqueue -> worker (one job fails and ends in the DLQ after maxReceiveCount 2)
        response = requests.post(stack.gateway.url("/enqueue"), data="job-1\njob-2\nfail-3\n", timeout=5)
        assert response.status_code == 202 and response.text == "3"
        assert stack.drain(timeout=15)
        table = boto3.resource("dynamodb").Table(env["ITEMS_TABLE"])
        assert table.get_item(Key={"pk": "job-1"})["Item"]["source"] == "aws:sqs"
        assert "Item" in table.get_item(Key={"pk": "job-2"})
        dlq = boto3.client("sqs").receive_message(QueueUrl=stack.queue_url("JobsDeadLetterQueue"))
        assert [m["Body"] for m in dlq["Messages"]] == ["fail-3"]
        assert stack.worker is not None and stack.worker.stats.deleted == 2

        # the schedule fires on its own (interval override) and on demand
        assert stack.scheduler is not None
        assert stack.scheduler.fire_now()["detail_type"] == "Scheduled Event"
        runs = table.get_item(Key={"pk": "sweep"})["Item"]
        assert runs["runs"] >= 1 and runs["last_source"] == "aws.scheduler"

        # direct invoke, urls
        assert stack.invoke("EchoBFunction", {"x": 1})["statusCode"] == 201
        assert stack.urls["moto"] == stack.aws.endpoint_url and "kommo_webhook" not in stack.urls
        assert stack.api_url("EchoAFunction", token="t") == stack.gateway.url("/hooks/a/t")
        gateway_url = stack.gateway.base_url
    assert dict(os.environ) == before  # environment restored
    assert not stack.aws.running and not stack.workers and not stack.schedulers
    with pytest.raises(requests.ConnectionError):
        requests.post(gateway_url + "/enqueue", data="x", timeout=2)


def test_stack_stops_everything_on_error() -> None:
    before = dict(os.environ)
    stack = LocalStack(template_path=FIXTURE_TEMPLATE, mapping=None, start_sandboxes=False, start_scheduler=False)
    with pytest.raises(KeyboardInterrupt), stack:
        assert stack.worker is not None and stack.worker.running
        raise KeyboardInterrupt
    assert not stack.aws.running and not stack.workers
    assert dict(os.environ) == before


def test_credentials_must_be_complete() -> None:
    with pytest.raises(ValueError, match="credentials lack"):
        LocalStack(template_path=FIXTURE_TEMPLATE, credentials={"kommo_webhook_token": "x"}, start_sandboxes=False)
