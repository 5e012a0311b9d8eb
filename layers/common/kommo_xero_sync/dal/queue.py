"""SQS: the jobs queue is both the buffer between webhooks and the worker, and the retry mechanism."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3

from kommo_xero_sync.models.jobs import AnyJob

MAX_DELAY = 900  # SQS's maximum DelaySeconds / sensible visibility extension for a rate-limited job


class EnqueueError(Exception):
    """Some jobs could not be enqueued; the caller must answer non-2xx so the sender retries."""


class JobQueue:
    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self.queue_url = queue_url
        self._client = client or boto3.client("sqs")

    def send(self, jobs: Sequence[AnyJob], *, delay_seconds: int = 0) -> int:
        """Send jobs in batches of 10; returns the number of SendMessageBatch calls. Raises EnqueueError."""
        calls = 0
        for start in range(0, len(jobs), 10):
            batch = jobs[start : start + 10]
            entries: list[Any] = [
                {
                    "Id": str(i),
                    "MessageBody": job.model_dump_json(),
                    "DelaySeconds": max(0, min(delay_seconds, MAX_DELAY)),
                    "MessageAttributes": {"kind": {"DataType": "String", "StringValue": job.kind}},
                }
                for i, job in enumerate(batch)
            ]
            response = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            calls += 1
            failed = response.get("Failed") or []
            if failed:
                codes = sorted({f.get("Code", "?") for f in failed})
                raise EnqueueError(f"{len(failed)} of {len(batch)} jobs not enqueued ({', '.join(codes)})")
        return calls

    def retry_later(self, receipt_handle: str, seconds: float) -> None:
        """Make a received message visible again after ``seconds`` (used after a long rate-limit wait)."""
        self._client.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=int(max(1, min(seconds, MAX_DELAY))),
        )
