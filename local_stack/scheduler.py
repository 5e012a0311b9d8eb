"""Fire a scheduled function with the event EventBridge sends, on the template's rate (or a local override).

``ScheduleV2`` (EventBridge Scheduler) events come from ``aws.scheduler``, ``Schedule`` (EventBridge rule) events
from ``aws.events``; both have ``detail-type: "Scheduled Event"`` and an empty ``detail``. Only ``rate(...)``
expressions are timed locally; ``cron(...)``/``at(...)`` raise :class:`UnsupportedSchedule` unless an override
interval is given (``fire_now()`` always works). Runs never overlap (the sweep has reserved concurrency 1).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local_stack.template import DEFAULT_ACCOUNT_ID

log = logging.getLogger("local_stack.scheduler")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class UnsupportedSchedule(ValueError):
    pass


def parse_rate(expression: str) -> float:
    """``rate(15 minutes)`` -> 900.0 seconds. AWS wants the singular unit for 1 and the plural otherwise."""
    text = expression.strip()
    if text.startswith(("cron(", "at(")):
        raise UnsupportedSchedule(
            f"{text!r}: only rate(...) schedules are timed by the local stack; pass an interval override "
            "(python -m local_stack up --sweep-interval SECONDS) or call fire_now()"
        )
    match = _RATE.match(text)
    if match is None:
        raise UnsupportedSchedule(f"{text!r} is not a schedule expression (expected e.g. rate(15 minutes))")
    value, unit = int(match.group(1)), match.group(2)
    if value <= 0:
        raise UnsupportedSchedule(f"{text!r}: the rate must be a positive integer")
    singular = unit.rstrip("s")
    if (value == 1) != (unit == singular):
        raise UnsupportedSchedule(f"{text!r}: use '{value} {singular if value == 1 else singular + 's'}'")
    return float(value * _UNIT_SECONDS[singular])


def scheduled_event(
    schedule_arn: str,
    region: str = "eu-west-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
    source: str = "aws.scheduler",
    time: datetime | None = None,
) -> dict[str, Any]:
    moment = (time or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": source,
        "account": account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [schedule_arn],
        "detail": {},
    }


class Scheduler:
    """Invokes ``invoke(event)`` every ``interval`` seconds (first run one interval after start)."""

    def __init__(
        self,
        invoke: Callable[[dict[str, Any]], Any],
        expression: str,
        *,
        schedule_type: str = "ScheduleV2",
        name: str = "schedule",
        interval: float | None = None,
        region: str = "eu-west-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        input: str | None = None,
    ) -> None:
        self._invoke = invoke
        self.expression = expression
        self.schedule_type = schedule_type
        self.name = name
        self.region = region
        self.account_id = account_id
        self.input = input
        self.interval = float(interval) if interval is not None else parse_rate(expression)
        if self.interval <= 0:
            raise ValueError("interval must be positive")
        self.fires = 0
        self.errors = 0
        self.last_result: Any = None
        self.last_error: str | None = None
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def source(self) -> str:
        return "aws.scheduler" if self.schedule_type == "ScheduleV2" else "aws.events"

    @property
    def arn(self) -> str:
        if self.schedule_type == "ScheduleV2":
            return f"arn:aws:scheduler:{self.region}:{self.account_id}:schedule/default/{self.name}"
        return f"arn:aws:events:{self.region}:{self.account_id}:rule/{self.name}"

    def event(self) -> Any:
        if self.input is not None:  # a target Input replaces the default event
            return json.loads(self.input)
        return scheduled_event(self.arn, self.region, self.account_id, self.source)

    def fire_now(self) -> Any:
        """Invoke once now (waits for a run in progress to finish). Returns the result; re-raises errors."""
        with self._run_lock:
            self.fires += 1
            try:
                self.last_result = self._invoke(self.event())
                return self.last_result
            except Exception as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                raise

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"scheduler-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.fire_now()
            except Exception as exc:  # RetryPolicy MaximumRetryAttempts 0: log and wait for the next tick
                log.error("%s: scheduled invocation failed: %s", self.name, exc)
