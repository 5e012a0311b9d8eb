"""Fault injection per route: error rates, 5xx, latency, timeouts, and "commit, then drop the response".

A rule matches a route name (the sandbox's own name for an endpoint, e.g. ``"PUT /Invoices"``) or ``"*"``.
``decide(route)`` is called once per request and returns what to do; the sandbox applies it around its handler.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    route: str = "*"
    error_rate: float = 0.0  # probability that the request fails with `status` before it is handled
    status: int = 500
    latency_ms: int = 0  # extra latency on every matching request
    timeout_rate: float = 0.0  # probability the server holds the request `timeout_s` then closes without answering
    timeout_s: float = 30.0
    drop_after_commit_rate: float = 0.0  # probability the request is handled (state changes) and the answer is dropped
    remaining: int | None = None  # apply to this many more requests, then the rule expires (None: forever)


@dataclass
class FaultDecision:
    fail_status: int | None = None
    latency_ms: int = 0
    hang_s: float = 0.0
    drop_after_commit: bool = False

    @property
    def is_noop(self) -> bool:
        return self.fail_status is None and not self.latency_ms and not self.hang_s and not self.drop_after_commit


@dataclass
class FaultInjector:
    seed: int | None = None
    rules: list[FaultRule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def decide(self, route: str) -> FaultDecision:
        decision = FaultDecision()
        with self._lock:
            for rule in list(self.rules):
                if rule.route not in ("*", route):
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        self.rules.remove(rule)
                        continue
                    rule.remaining -= 1
                decision.latency_ms += rule.latency_ms
                if decision.fail_status is None and self._random.random() < rule.error_rate:
                    decision.fail_status = rule.status
                if not decision.hang_s and self._random.random() < rule.timeout_rate:
                    decision.hang_s = rule.timeout_s
                if self._random.random() < rule.drop_after_commit_rate:
                    decision.drop_after_commit = True
        return decision
