"""Tables, queues, secret and mapping created in moto exactly as template.yaml declares them."""

from __future__ import annotations

import json

from ls_support import FIXTURE_MAPPING, REPO_TEMPLATE

from local_stack.aws import SECRET_KEYS, LocalAws, generate_credentials
from local_stack.template import Template


def _key_schema(items: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(item["AttributeName"], item["KeyType"]) for item in items]


def test_real_template_tables_and_queues_match_declarations(moto: LocalAws) -> None:
    template = Template(REPO_TEMPLATE)
    resources = moto.create_resources(template)
    ddb = moto.client("dynamodb")
    assert set(resources.tables) == {t.logical_id for t in template.tables}
    for spec in template.tables:
        table = ddb.describe_table(TableName=resources.tables[spec.logical_id])["Table"]
        assert table["TableName"] == f"{spec.logical_id}-local"
        assert _key_schema(table["KeySchema"]) == _key_schema(spec.key_schema)
        assert sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]) == sorted(
            (a["AttributeName"], a["AttributeType"]) for a in spec.attribute_definitions
        )
        assert table["BillingModeSummary"]["BillingMode"] == spec.billing_mode == "PAY_PER_REQUEST"
        declared_gsis = {g["IndexName"]: _key_schema(g["KeySchema"]) for g in spec.global_secondary_indexes}
        created_gsis = {g["IndexName"]: _key_schema(g["KeySchema"]) for g in table.get("GlobalSecondaryIndexes", [])}
        assert created_gsis == declared_gsis
        ttl = ddb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
        assert ttl["AttributeName"] == spec.ttl_attribute
    sync = ddb.describe_table(TableName=resources.tables["SyncTable"])["Table"]
    assert {g["IndexName"] for g in sync["GlobalSecondaryIndexes"]} == {"gsi1"}

    sqs = moto.client("sqs")
    assert set(resources.queues) == {"JobsQueue", "JobsDeadLetterQueue"}
    jobs = sqs.get_queue_attributes(QueueUrl=resources.queues["JobsQueue"].url, AttributeNames=["All"])["Attributes"]
    assert jobs["VisibilityTimeout"] == "360"
    assert jobs["MessageRetentionPeriod"] == "1209600"
    redrive = json.loads(jobs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == resources.queues["JobsDeadLetterQueue"].arn
    assert int(redrive["maxReceiveCount"]) == 8
    assert resources.queues["JobsQueue"].url.endswith("/JobsQueue-local")

    env = template.environment(resources.refs, resources.attrs)
    assert env["SYNC_TABLE"] == "SyncTable-local"
    assert env["IDEMPOTENCY_TABLE"] == "IdempotencyTable-local"
    assert env["JOBS_QUEUE_URL"] == resources.queues["JobsQueue"].url


def test_visibility_override(moto: LocalAws) -> None:
    resources = moto.create_resources(Template(REPO_TEMPLATE), {"JobsQueue": 2})
    sqs = moto.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=resources.queues["JobsQueue"].url, AttributeNames=["VisibilityTimeout"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "2"
    assert resources.queues["JobsQueue"].visibility_timeout == 2


def test_secret_and_mapping_seeded(moto: LocalAws) -> None:
    credentials = generate_credentials()
    assert set(credentials) == set(SECRET_KEYS)
    assert generate_credentials() != credentials  # random every time
    moto.seed_secret("kommo-xero-sync/credentials", credentials)
    assert moto.seed_mapping("/kommo-xero-sync/mapping", FIXTURE_MAPPING)
    assert not moto.seed_mapping("/missing", FIXTURE_MAPPING.with_name("nope.json"))
    secret = moto.client("secretsmanager").get_secret_value(SecretId="kommo-xero-sync/credentials")
    assert json.loads(secret["SecretString"]) == credentials
    value = moto.client("ssm").get_parameter(Name="/kommo-xero-sync/mapping")["Parameter"]["Value"]
    assert json.loads(value) == json.loads(FIXTURE_MAPPING.read_text())
    env = moto.environment()
    assert env["AWS_ENDPOINT_URL"] == moto.endpoint_url and env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
