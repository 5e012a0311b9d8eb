"""A clock that can run faster than real time, and be moved forward by hand.

Rate-limit windows, token expiry and due dates in the sandboxes all read this clock, so a benchmark can run a
day of Xero's daily limit in seconds and a test can jump past a due date.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._lock = threading.Lock()
        self._speed = speed
        self._real_origin = time.monotonic()
        self._virtual_origin = (start or datetime.now(UTC)).timestamp()
        self._offset = 0.0

    @property
    def speed(self) -> float:
        return self._speed

    def time(self) -> float:
        """Virtual seconds since the epoch."""
        with self._lock:
            elapsed = (time.monotonic() - self._real_origin) * self._speed
            return self._virtual_origin + elapsed + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def today(self) -> datetime:
        return self.now().replace(hour=0, minute=0, second=0, microsecond=0)

    def advance(self, seconds: float = 0.0, *, days: float = 0.0) -> None:
        with self._lock:
            self._offset += seconds + timedelta(days=days).total_seconds()

    def sleep(self, virtual_seconds: float) -> None:
        """Sleep for a span of virtual time (shorter in real time when the clock runs fast)."""
        if virtual_seconds > 0:
            time.sleep(virtual_seconds / self._speed)
