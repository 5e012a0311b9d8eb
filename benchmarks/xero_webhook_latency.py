"""Benchmark: how fast XeroWebhookFunction answers signed Xero webhook deliveries on the local stack. Prints figures.

    .venv/bin/python -m benchmarks.xero_webhook_latency [--sequential 200] [--concurrent 20]

Deliveries go over HTTP to the local API gateway (a new connection each, as Xero connects), are verified, de-duplicated
in DynamoDB and enqueued on SQS (moto). Figures: the answer's latency (first delivery, cold, on its own; then p50, p95
and max of the sequential run and of one burst of concurrent deliveries), how many got 200, how many jobs were enqueued,
and a burst of the same event delivered concurrently (Xero retries) with the number of jobs it made. The worker is not
started, so nothing but the webhook competes for the CPU. Xero gives up after 5 seconds.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import io
import json
import logging
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from local_stack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
CREDENTIALS = json.loads((ROOT / "events" / "dev-credentials.json").read_text())
TENANT = json.loads((ROOT / "config" / "mapping.demo.json").read_text())["xero"]["tenant_id"]


def sign(raw: bytes, key: str) -> str:
    """x-xero-signature as Xero computes it: base64(HMAC-SHA256(webhook key, raw body))."""
    return base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()


def delivery(invoice_id: str, sequence: int) -> bytes:
    event = {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}",
        "resourceId": invoice_id,
        "eventDateUtc": "2026-11-23T10:15:39.902",
        "eventType": "CREATE",
        "eventCategory": "INVOICE",
        "tenantId": TENANT,
        "tenantType": "ORGANISATION",
    }
    body = {
        "events": [event],
        "firstEventSequence": sequence,
        "lastEventSequence": sequence,
        "entropy": uuid.uuid4().hex,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def post(url: str, raw: bytes, key: str) -> tuple[float, int]:
    """(seconds until the answer, status)."""
    headers = {"Content-Type": "application/json", "User-Agent": "Xero-Webhooks", "x-xero-signature": sign(raw, key)}
    started = time.perf_counter()
    response = requests.post(url, data=raw, headers=headers, timeout=30)
    return time.perf_counter() - started, response.status_code


def concurrently(count: int, work: Callable[[int], tuple[float, int]]) -> list[tuple[float, int]]:
    results: list[tuple[float, int]] = [(0.0, 0)] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class JobsQueue:
    """How many jobs arrived on the jobs queue since the last look (nothing consumes them: no worker runs)."""

    def __init__(self, stack: LocalStack) -> None:
        self.sqs, self.url, self.seen = stack.aws.client("sqs"), stack.queue_url("JobsQueue"), 0

    def new(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=names)["Attributes"]
        total = sum(int(attributes[name]) for name in names)
        new, self.seen = total - self.seen, total
        return new


def report(label: str, results: list[tuple[float, int]], jobs: int) -> str:
    ms = sorted(seconds * 1000 for seconds, _ in results)
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]
    ok = sum(1 for _, status in results if status == 200)
    return (
        f"{label:<34}: n={len(ms):<4} p50={statistics.median(ms):7.1f} ms  p95={p95:7.1f} ms  max={ms[-1]:7.1f} ms"
        f"  200s={ok}/{len(ms)}  jobs enqueued={jobs}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    lines: list[str] = []
    # The handler prints its metrics (EMF) to stdout on every answer, as in Lambda: kept out of the figures.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        LocalStack(credentials=CREDENTIALS, start_sandboxes=False, start_worker=False, start_scheduler=False) as stack,
    ):
        url, key = stack.xero_webhook_url, stack.credentials["xero_webhook_key"]
        assert url is not None
        queue = JobsQueue(stack)

        first = [post(url, delivery(str(uuid.uuid4()), 0), key)]
        lines.append(report("first delivery (cold start)", first, queue.new()))

        sequential = [post(url, delivery(str(uuid.uuid4()), i + 1), key) for i in range(args.sequential)]
        lines.append(report(f"{args.sequential} sequential deliveries", sequential, queue.new()))

        ids = [str(uuid.uuid4()) for _ in range(args.concurrent)]
        burst = concurrently(args.concurrent, lambda i: post(url, delivery(ids[i], i + 1), key))
        lines.append(report(f"{args.concurrent} concurrent deliveries", burst, queue.new()))

        same = delivery(str(uuid.uuid4()), 1)
        repeated = concurrently(args.concurrent, lambda _: post(url, same, key))
        lines.append(report(f"same event x{args.concurrent} concurrently", repeated, queue.new()))

        bad = delivery(str(uuid.uuid4()), 1)
        rejected = [post(url, bad, "not the webhook key") for _ in range(20)]
        statuses = sorted({status for _, status in rejected})
        lines.append(report(f"20 badly signed (statuses {statuses})", rejected, queue.new()))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
