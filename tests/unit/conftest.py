"""Unit-test helpers: a demo mapping, in-memory fakes of the de-duplicator and the queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kommo_xero_sync.config import Mapping, parse_mapping

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mapping() -> Mapping:
    return parse_mapping((ROOT / "config" / "mapping.demo.json").read_text())


class FakeDedup:
    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.released: list[str] = []

    def claim_many(self, keys: list[str]) -> list[bool]:
        out = []
        for key in keys:
            out.append(key not in self.keys)
            self.keys.add(key)
        return out

    def release_many(self, keys: list[str]) -> None:
        self.released += keys
        self.keys -= set(keys)


class FakeQueue:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Any] = []
        self.fail = fail

    def send(self, jobs: list[Any], delay_seconds: int = 0) -> int:
        if self.fail:
            raise RuntimeError("SQS unavailable")
        self.sent += jobs
        return (len(jobs) + 9) // 10


@pytest.fixture
def dedup() -> FakeDedup:
    return FakeDedup()


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()
