"""Xero's API limits per tenant, on the sandbox clock.

* concurrent: requests in progress (the 6th simultaneous call gets 429, ``X-Rate-Limit-Problem: concurrent``);
* minute: a sliding 60-second window of accepted calls (429 ``minute``, ``Retry-After`` = seconds until a slot frees);
* day: a fixed 24-hour window starting when the sandbox started (429 ``day``, ``Retry-After`` = seconds to the reset);
* app minute: all tenants together (one tenant here), reported in ``X-AppMinLimit-Remaining``.

Only accepted calls use up the minute and day allowances; refused (429) calls do not. Idempotent replays do count,
as Xero says retries count against the limits.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from sandbox.common.clock import Clock


@dataclass(frozen=True)
class RateLimits:
    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10000


@dataclass
class LimitDecision:
    allowed: bool
    problem: str | None = None
    retry_after: int = 0
    headers: dict[str, str] | None = None


class RateLimiter:
    def __init__(self, clock: Clock, limits: RateLimits | None = None) -> None:
        self.clock = clock
        self.limits = limits or RateLimits()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._minute: deque[float] = deque()
            self._app_minute: deque[float] = deque()
            self._day_start = self.clock.time()
            self._day_count = 0
            self._in_flight = 0

    def _expire(self, now: float) -> None:
        while self._minute and self._minute[0] <= now - 60:
            self._minute.popleft()
        while self._app_minute and self._app_minute[0] <= now - 60:
            self._app_minute.popleft()
        if now - self._day_start >= 86400:
            periods = int((now - self._day_start) // 86400)
            self._day_start += periods * 86400
            self._day_count = 0

    def _headers(self) -> dict[str, str]:
        return {
            "X-MinLimit-Remaining": str(max(0, self.limits.per_minute - len(self._minute))),
            "X-DayLimit-Remaining": str(max(0, self.limits.per_day - self._day_count)),
            "X-AppMinLimit-Remaining": str(max(0, self.limits.app_per_minute - len(self._app_minute))),
        }

    def headers(self) -> dict[str, str]:
        with self._lock:
            self._expire(self.clock.time())
            return self._headers()

    def acquire(self) -> LimitDecision:
        """Admit one call (then call :meth:`release` when it ends) or say which limit it hit."""
        with self._lock:
            now = self.clock.time()
            self._expire(now)
            if self._in_flight >= self.limits.concurrent:
                return LimitDecision(False, "concurrent", 1, self._headers())
            if self._day_count >= self.limits.per_day:
                wait = self._day_start + 86400 - now
                return LimitDecision(False, "day", max(1, math.ceil(wait)), self._headers())
            if len(self._minute) >= self.limits.per_minute:
                wait = self._minute[0] + 60 - now
                return LimitDecision(False, "minute", max(1, math.ceil(wait)), self._headers())
            if len(self._app_minute) >= self.limits.app_per_minute:
                wait = self._app_minute[0] + 60 - now
                return LimitDecision(False, "appminute", max(1, math.ceil(wait)), self._headers())
            self._minute.append(now)
            self._app_minute.append(now)
            self._day_count += 1
            self._in_flight += 1
            return LimitDecision(True, headers=self._headers())

    def release(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight
