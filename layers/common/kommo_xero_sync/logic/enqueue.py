"""Enqueue webhook jobs exactly once, shared by both webhook ingresses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kommo_xero_sync.dal.queue import JobQueue
from kommo_xero_sync.dal.store import WebhookDeduplicator


def enqueue_unique(jobs: Sequence[Any], dedup: WebhookDeduplicator, queue: JobQueue, result: Any) -> None:
    """Claim each job's de-duplication key, enqueue the new ones; release the claims if enqueueing fails.

    The same event twice in one delivery, or already enqueued by an earlier one, counts in ``result.duplicates``.
    """
    unique = list({job.dedup_key: job for job in jobs}.values())
    result.duplicates += len(jobs) - len(unique)
    if not unique:
        return
    claimed = dedup.claim_many([job.dedup_key for job in unique])
    fresh = [job for job, ok in zip(unique, claimed, strict=True) if ok]
    result.duplicates += len(unique) - len(fresh)
    try:
        queue.send(fresh)
    except Exception:
        dedup.release_many([job.dedup_key for job in fresh])
        raise
    result.accepted += len(fresh)
    result.jobs.extend(fresh)
