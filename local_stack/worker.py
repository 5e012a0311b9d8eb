"""An SQS event source mapping, done by hand: poll the jobs queue, invoke the worker with real SQS batch events, and
honour the partial-batch response exactly as Lambda does.

moto's own SQS -> Lambda mapping is synthetic (one invocation per message, ``batchItemFailures`` ignored, receive
count always "1", needs Docker: reliability.md c.3), so the local stack runs this loop instead:

* long-poll ``ReceiveMessage`` (``MaxNumberOfMessages`` 10) and collect up to the event's ``BatchSize`` within
  ``MaximumBatchingWindowInSeconds`` (overridable: locally a 5 s window only makes the demo slow);
* build the event Lambda builds (``Records`` with messageId, receiptHandle, body, attributes, messageAttributes in
  Lambda's camelCase shape, md5OfBody, eventSource, eventSourceARN, awsRegion);
* with ``ReportBatchItemFailures``: delete only the records NOT listed in ``batchItemFailures``; when the handler
  raises, or answers with an invalid response (not an object, ``batchItemFailures`` not a list, an item without a
  string ``itemIdentifier``, an empty one, or one that is not in the batch) the WHOLE batch failed and nothing is
  deleted. Without ``ReportBatchItemFailures`` the response is ignored and the batch succeeds or fails as a whole;
* failed messages are simply not deleted: they become visible after the queue's visibility timeout and moto moves
  them to the dead-letter queue once ``maxReceiveCount`` is reached (moto does that while receiving).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("local_stack.worker")

LAMBDA_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


class InvalidBatchResponse(ValueError):
    """The handler's partial-batch response is not valid: Lambda treats the whole batch as failed."""


def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS ``ReceiveMessage`` message (boto3 shape) -> one record of Lambda's SQS event."""
    attributes = message.get("Attributes") or {}
    record_attributes = {name: attributes[name] for name in LAMBDA_RECORD_ATTRIBUTES if name in attributes}
    message_attributes: dict[str, Any] = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = _b64(value["BinaryValue"])
        entry["stringListValues"] = list(value.get("StringListValues") or [])
        entry["binaryListValues"] = [_b64(item) for item in value.get("BinaryListValues") or []]
        entry["dataType"] = value.get("DataType", "String")
        message_attributes[name] = entry
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": record_attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _b64(value: bytes | str) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def failed_message_ids(response: Any, message_ids: Iterable[str]) -> set[str]:
    """The message ids a partial-batch response reports as failed (Lambda's rules).

    ``None``, ``{}``, ``{"batchItemFailures": None}`` and ``{"batchItemFailures": []}`` mean all succeeded.
    Anything malformed raises :class:`InvalidBatchResponse` (the whole batch failed).
    """
    ids = set(message_ids)
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise InvalidBatchResponse(f"response is {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    failed: set[str] = set()
    for item in failures:
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            raise InvalidBatchResponse(f"batch item failure without itemIdentifier: {item!r}")
        identifier = item["itemIdentifier"]
        if not isinstance(identifier, str) or not identifier:
            raise InvalidBatchResponse(f"itemIdentifier {identifier!r} is null, empty or not a string")
        if identifier not in ids:
            raise InvalidBatchResponse(f"itemIdentifier {identifier!r} is not a message of this batch")
        failed.add(identifier)
    return failed


@dataclass
class WorkerStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    failed_records: int = 0  # records left on the queue (reported, or part of a failed batch)
    failed_batches: int = 0  # whole batch failed: handler raised or invalid response
    partial_batches: int = 0  # batches with some batchItemFailures
    last_error: str | None = None
    batch_sizes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "records": self.records,
            "deleted": self.deleted,
            "failed_records": self.failed_records,
            "failed_batches": self.failed_batches,
            "partial_batches": self.partial_batches,
            "last_error": self.last_error,
        }


class SqsWorker:
    """Polls one queue and invokes one function, like an SQS event source mapping.

    ``invoke(event) -> response``. ``batching_window`` overrides ``MaximumBatchingWindowInSeconds``;
    ``poll_wait_seconds`` is the long-poll wait used while idle (short, so ``stop()`` is quick).
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Callable[[dict[str, Any]], Any],
        *,
        batch_size: int = 10,
        batching_window: float = 0.0,
        report_batch_item_failures: bool = True,
        region: str = "eu-west-1",
        concurrency: int = 1,
        poll_wait_seconds: int = 1,
        name: str = "worker",
    ) -> None:
        if not 1 <= batch_size <= 10000:
            raise ValueError("batch_size must be 1..10000")
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._invoke = invoke
        self.batch_size = batch_size
        self.batching_window = max(0.0, batching_window)
        self.report_batch_item_failures = report_batch_item_failures
        self.region = region
        self.concurrency = max(1, concurrency)
        self.poll_wait_seconds = max(0, min(20, int(poll_wait_seconds)))
        self.name = name
        self.stats = WorkerStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._run, name=f"{self.name}-poller-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads = []

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # keep polling, like the real poller
                if self._stop.is_set():
                    break
                log.exception("%s: polling failed: %s", self.name, exc)
                self._stop.wait(0.5)

    # ---- one batch ----------------------------------------------------------------------------------------------

    def poll_once(self, wait_seconds: int | None = None) -> int:
        """Collect one batch and process it. Returns the number of records processed (0 when nothing came)."""
        messages = self._collect(self.poll_wait_seconds if wait_seconds is None else wait_seconds)
        if messages:
            self.process(messages)
        return len(messages)

    def _receive(self, max_messages: int, wait: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages") or [])

    def _collect(self, first_wait: int) -> list[dict[str, Any]]:
        messages = self._receive(self.batch_size, first_wait)
        if not messages:
            return []
        deadline = time.monotonic() + self.batching_window
        while len(messages) < self.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(20, int(remaining))  # whole seconds only; sub-second rest is done with short sleeps
            more = self._receive(self.batch_size - len(messages), wait)
            messages.extend(more)
            if not more and wait == 0:
                self._stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return messages

    def process(self, messages: list[dict[str, Any]]) -> set[str]:
        """Invoke the function with these messages and delete the ones that succeeded. Returns the failed ids."""
        records = [to_lambda_record(message, self.queue_arn, self.region) for message in messages]
        event = {"Records": records}
        ids = [record["messageId"] for record in records]
        failed: set[str]
        error: str | None = None
        try:
            response = self._invoke(event)
        except Exception as exc:
            failed, error = set(ids), f"handler raised {type(exc).__name__}: {exc}"
            log.warning("%s: batch of %d failed (%s); nothing deleted", self.name, len(ids), error)
        else:
            if not self.report_batch_item_failures:
                failed = set()  # the response is ignored: the whole batch succeeded
            else:
                try:
                    failed = failed_message_ids(response, ids)
                except InvalidBatchResponse as exc:
                    failed, error = set(ids), f"invalid partial batch response: {exc}"
                    log.warning("%s: %s; whole batch of %d failed", self.name, error, len(ids))
        receipts = [(m["MessageId"], m["ReceiptHandle"]) for m in messages if m["MessageId"] not in failed]
        deleted = self._delete(receipts)
        with self._lock:
            self.stats.batches += 1
            self.stats.records += len(ids)
            self.stats.deleted += deleted
            self.stats.failed_records += len(failed)
            self.stats.batch_sizes.append(len(ids))
            if error is not None:
                self.stats.failed_batches += 1
                self.stats.last_error = error
            elif failed:
                self.stats.partial_batches += 1
        return failed

    def _delete(self, receipts: list[tuple[str, str]]) -> int:
        deleted = 0
        for start in range(0, len(receipts), 10):
            chunk = receipts[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": handle} for i, (_, handle) in enumerate(chunk)]
            response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            deleted += len(response.get("Successful") or [])
            for failure in response.get("Failed") or []:
                log.warning("%s: delete failed: %s", self.name, failure)
        return deleted

    # ---- waiting ------------------------------------------------------------------------------------------------

    def queue_counts(self) -> dict[str, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {
            "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        }

    def is_idle(self) -> bool:
        counts = self.queue_counts()
        return not any(counts.values())

    def drain(self, timeout: float = 30.0, settle: float = 0.2, busy: Callable[[], bool] | None = None) -> bool:
        """Wait until the queue has no visible, in-flight or delayed message for ``settle`` seconds.

        ``busy()`` (optional) adds another condition, e.g. the gateway still answering a webhook.
        Returns False on timeout. Messages that keep failing count as in flight until they reach the DLQ.
        """
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            idle = self.is_idle() and not (busy is not None and busy())
            now = time.monotonic()
            if idle:
                quiet_since = quiet_since if quiet_since is not None else now
                if now - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.05)
        return False
