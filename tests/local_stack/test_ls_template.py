"""Reading the SAM template: short tags, parameters, resources, events, environment."""

from __future__ import annotations

import pytest
from ls_support import FIXTURE_TEMPLATE, REPO_TEMPLATE

from local_stack.template import ApiEvent, ScheduleEvent, SqsEvent, Template, TemplateError, load_yaml


def test_short_tags_load_as_long_form() -> None:
    data = load_yaml(REPO_TEMPLATE)
    env = data["Globals"]["Function"]["Environment"]["Variables"]
    assert env["SYNC_TABLE"] == {"Ref": "SyncTable"}
    assert env["MAPPING_PARAMETER"] == {"Fn::Sub": "/${MappingParameterPath}"}
    redrive = data["Resources"]["JobsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    assert data["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}


def test_real_template_resources() -> None:
    template = Template(REPO_TEMPLATE)
    tables = {t.logical_id: t for t in template.tables}
    assert set(tables) == {"SyncTable", "IdempotencyTable"}
    sync = tables["SyncTable"]
    assert sync.billing_mode == "PAY_PER_REQUEST"
    assert sync.key_schema == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert [i["IndexName"] for i in sync.global_secondary_indexes] == ["gsi1"]
    assert sync.ttl_attribute == "expires_at"
    assert tables["IdempotencyTable"].ttl_attribute == "expiration"

    queues = {q.logical_id: q for q in template.queues}
    assert set(queues) == {"JobsQueue", "JobsDeadLetterQueue"}
    assert queues["JobsQueue"].visibility_timeout == 360
    assert queues["JobsQueue"].dead_letter_target == "JobsDeadLetterQueue"
    assert queues["JobsQueue"].max_receive_count == 8

    functions = {f.logical_id: f for f in template.functions}
    assert set(functions) == {
        "KommoWebhookFunction",
        "XeroWebhookFunction",
        "SyncWorkerFunction",
        "PaymentSweepFunction",
    }
    kommo = functions["KommoWebhookFunction"]
    assert (kommo.code_uri, kommo.handler, kommo.timeout, kommo.memory_size) == (
        "functions/kommo_webhook/",
        "app.lambda_handler",
        5,
        256,
    )
    assert kommo.events == [ApiEvent("Webhook", "/webhooks/kommo/{token}", "POST", "SyncApi")]
    assert functions["XeroWebhookFunction"].events_of(ApiEvent)[0].path == "/webhooks/xero"
    (jobs,) = functions["SyncWorkerFunction"].events_of(SqsEvent)
    assert (jobs.queue, jobs.batch_size, jobs.maximum_batching_window) == ("JobsQueue", 100, 5.0)
    assert jobs.reports_batch_item_failures and jobs.maximum_concurrency == 2
    assert functions["SyncWorkerFunction"].timeout == 60 and functions["SyncWorkerFunction"].memory_size == 512
    (schedule,) = functions["PaymentSweepFunction"].events_of(ScheduleEvent)
    assert (schedule.type, schedule.expression, schedule.maximum_retry_attempts) == (
        "ScheduleV2",
        "rate(15 minutes)",
        0,
    )
    assert template.api_stage() == "dev"
    assert template.condition("HasAlarmTopic") is False


def test_real_template_environment_resolves_to_local_names() -> None:
    template = Template(REPO_TEMPLATE, {"KommoBaseUrl": "http://127.0.0.1:1234", "Stage": "prod"})
    env = template.environment({"SyncTable": "SyncTable-local", "IdempotencyTable": "I", "JobsQueue": "http://q/1/J"})
    assert env["SYNC_TABLE"] == "SyncTable-local"
    assert env["JOBS_QUEUE_URL"] == "http://q/1/J"
    assert env["KOMMO_BASE_URL"] == "http://127.0.0.1:1234"
    assert env["STAGE"] == "prod"
    assert env["CREDENTIALS_SECRET"] == "kommo-xero-sync/credentials"
    assert env["MAPPING_PARAMETER"] == "/kommo-xero-sync/mapping"
    assert env["XERO_API_URL"] == "https://api.xero.com/api.xro/2.0"


def test_intrinsics_and_conditions() -> None:
    template = Template(FIXTURE_TEMPLATE)
    env = template.environment(
        {"ItemsTable": "T", "JobsQueue": "U"}, {("JobsQueue", "Arn"): "arn:aws:sqs:eu-west-1:1:J"}
    )
    assert env["REGION_AND_STAGE"] == "eu-west-1-test-${Literal}"
    assert env["JOINED"] == "a-y"
    assert env["CHOSEN"] == "no"
    assert env["JOBS_QUEUE_ARN"] == "arn:aws:sqs:eu-west-1:1:J"
    assert "OptionalQueue" not in {q.logical_id for q in template.queues}  # Condition false
    assert "OptionalQueue" in {q.logical_id for q in Template(FIXTURE_TEMPLATE, {"Empty": "x"}).queues}
    assert (
        Template(FIXTURE_TEMPLATE, {"Empty": "x"}).environment(
            {"ItemsTable": "T", "JobsQueue": "U"}, {("JobsQueue", "Arn"): "a"}
        )["CHOSEN"]
        == "yes"
    )


def test_parameter_validation() -> None:
    with pytest.raises(TemplateError, match="not one of"):
        Template(FIXTURE_TEMPLATE, {"Stage": "prod"})
    with pytest.raises(TemplateError, match="undeclared"):
        Template(FIXTURE_TEMPLATE, {"Nope": "x"})
    with pytest.raises(TemplateError, match="cannot resolve"):
        Template(FIXTURE_TEMPLATE).environment()  # resources not created yet


def test_fixture_function_defaults_from_globals() -> None:
    template = Template(FIXTURE_TEMPLATE)
    a = template.function("EchoAFunction")
    b = template.function("EchoBFunction")
    assert (a.timeout, a.memory_size) == (4, 192)
    assert (b.timeout, b.memory_size) == (2, 512)
    assert b.events_of(ApiEvent)[0].method == "ANY"
