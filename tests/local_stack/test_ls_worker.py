"""The SQS worker loop: Lambda's event shape and its partial-batch semantics, over moto."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest

from local_stack.aws import LocalAws, QueueInfo
from local_stack.template import QueueSpec
from local_stack.worker import InvalidBatchResponse, SqsWorker, failed_message_ids


@pytest.fixture
def queues(moto: LocalAws) -> tuple[QueueInfo, QueueInfo]:
    dlq = moto.create_queue(QueueSpec("DLQ"), None)
    main = moto.create_queue(QueueSpec("Jobs", dead_letter_target="DLQ", max_receive_count=2), dlq.arn, 1)
    return main, dlq


class Handler:
    def __init__(self, behaviour: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.behaviour = behaviour  # callable(event) -> response, or an exception to raise

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if isinstance(self.behaviour, Exception):
            raise self.behaviour
        return self.behaviour(event) if callable(self.behaviour) else self.behaviour


def _send(moto: LocalAws, queue: QueueInfo, bodies: list[str]) -> None:
    sqs = moto.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)


def _worker(moto: LocalAws, queue: QueueInfo, handler: Handler, **kwargs: Any) -> SqsWorker:
    kwargs.setdefault("batch_size", 10)
    return SqsWorker(moto.client("sqs"), queue.url, queue.arn, handler, poll_wait_seconds=0, **kwargs)


def _bodies(moto: LocalAws, queue: QueueInfo) -> list[str]:
    sqs = moto.client("sqs")
    found: list[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages")
        if not messages:
            break
        found.extend(m["Body"] for m in messages)
    return sorted(found)


def test_event_shape(moto: LocalAws, queues: tuple[QueueInfo, QueueInfo]) -> None:
    main, _ = queues
    moto.client("sqs").send_message(
        QueueUrl=main.url,
        MessageBody='{"kind": "kommo.lead_stage"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "kommo.lead_stage"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    handler = Handler()
    worker = _worker(moto, main, handler, region="eu-west-1")
    assert worker.poll_once() == 1
    (record,) = handler.events[0]["Records"]
    assert record["body"] == '{"kind": "kommo.lead_stage"}'
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == main.arn
    assert record["awsRegion"] == "eu-west-1"
    assert record["messageId"] and record["receiptHandle"]
    attributes = record["attributes"]
    assert set(attributes) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "kommo.lead_stage",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    assert worker.stats.deleted == 1 and worker.is_idle()


def test_partial_batch_failure_deletes_only_successes(moto: LocalAws, queues: tuple[QueueInfo, QueueInfo]) -> None:
    main, _ = queues
    _send(moto, main, ["ok-1", "fail-2", "ok-3", "fail-4"])

    def respond(event: dict[str, Any]) -> dict[str, Any]:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("fail")
            ]
        }

    handler = Handler(respond)
    worker = _worker(moto, main, handler, batch_size=4, batching_window=0.5)
    assert worker.poll_once() == 4  # collected within the batching window
    assert worker.stats.deleted == 2 and worker.stats.failed_records == 2 and worker.stats.partial_batches == 1
    time.sleep(1.1)  # visibility timeout 1 s
    assert _bodies(moto, main) == ["fail-2", "fail-4"]


@pytest.mark.parametrize(
    "behaviour",
    [
        RuntimeError("handler crashed"),
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "wrong-key"}]},
        {"batchItemFailures": "not a list"},
        "a string response",
    ],
    ids=["raises", "unknown-id", "empty-id", "null-id", "wrong-key", "not-a-list", "not-an-object"],
)
def test_whole_batch_failure_keeps_all(moto: LocalAws, queues: tuple[QueueInfo, QueueInfo], behaviour: Any) -> None:
    main, _ = queues
    _send(moto, main, ["a", "b", "c"])
    worker = _worker(moto, main, Handler(behaviour), batch_size=3, batching_window=0.5)
    assert worker.poll_once() == 3
    assert worker.stats.deleted == 0 and worker.stats.failed_batches == 1 and worker.stats.failed_records == 3
    assert worker.queue_counts()["in_flight"] == 3  # nothing deleted: all come back after the visibility timeout


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"x": 1}])
def test_success_responses(response: Any) -> None:
    assert failed_message_ids(response, ["m1"]) == set()


def test_failed_ids_validation() -> None:
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "m1"}]}, ["m1", "m2"]) == {"m1"}
    with pytest.raises(InvalidBatchResponse):
        failed_message_ids({"batchItemFailures": [{"itemIdentifier": "m3"}]}, ["m1"])


def test_without_report_batch_item_failures_response_is_ignored(
    moto: LocalAws, queues: tuple[QueueInfo, QueueInfo]
) -> None:
    main, _ = queues
    _send(moto, main, ["a", "b"])
    handler = Handler(lambda e: {"batchItemFailures": [{"itemIdentifier": e["Records"][0]["messageId"]}]})
    worker = _worker(moto, main, handler, report_batch_item_failures=False, batch_size=2, batching_window=0.5)
    worker.poll_once()
    assert worker.stats.deleted == 2  # Lambda deletes everything (the pitfall of a missing FunctionResponseTypes)


def test_batch_size_limits_collection(moto: LocalAws, queues: tuple[QueueInfo, QueueInfo]) -> None:
    main, _ = queues
    _send(moto, main, [f"m{i}" for i in range(5)])
    handler = Handler()
    worker = _worker(moto, main, handler, batch_size=3, batching_window=0.5)
    assert worker.poll_once() == 3
    assert worker.poll_once() == 2


def test_redrive_to_dlq_after_max_receive_count(moto: LocalAws, queues: tuple[QueueInfo, QueueInfo]) -> None:
    main, dlq = queues
    _send(moto, main, [json.dumps({"job": "poison"}), "fine"])

    def respond(event: dict[str, Any]) -> dict[str, Any]:
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "poison" in r["body"]]
        }

    handler = Handler(respond)
    worker = _worker(moto, main, handler, batching_window=0.2)
    worker.poll_wait_seconds = 1
    worker.start()
    try:
        assert worker.drain(timeout=10)
    finally:
        worker.stop()
    receive_counts = [
        r["attributes"]["ApproximateReceiveCount"]
        for e in handler.events
        for r in e["Records"]
        if "poison" in r["body"]
    ]
    assert receive_counts == ["1", "2"]  # maxReceiveCount 2, then moto moves it to the DLQ
    assert _bodies(moto, dlq) == ['{"job": "poison"}']
    assert worker.stats.deleted == 1


def test_drain_times_out_while_messages_wait(moto: LocalAws, queues: tuple[QueueInfo, QueueInfo]) -> None:
    main, _ = queues
    _send(moto, main, ["x"])
    worker = _worker(moto, main, Handler())  # not started
    assert worker.drain(timeout=0.3) is False
    assert worker.queue_counts()["visible"] == 1
