"""Per-route call counters, read by the demo table, the tests and the benchmarks."""

from __future__ import annotations

import threading
from collections import Counter


class CallCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._status: Counter[tuple[str, int]] = Counter()

    def record(self, route: str, status: int) -> None:
        with self._lock:
            self._calls[route] += 1
            self._status[(route, status)] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    def count(self, route: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (r, s), n in self._status.items()
                if (route is None or r == route) and (status is None or s == status)
            )

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{route: {"calls": n, "429": m, "<status>": k, ...}}``."""
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (route, status), n in sorted(self._status.items()):
                entry = out.setdefault(route, {"calls": 0})
                entry["calls"] += n
                entry[str(status)] = entry.get(str(status), 0) + n
            return out

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._status.clear()
