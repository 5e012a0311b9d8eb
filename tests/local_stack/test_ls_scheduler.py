"""The scheduler: EventBridge's scheduled event, rate parsing, fire_now and the timed loop."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from local_stack.scheduler import Scheduler, UnsupportedSchedule, parse_rate, scheduled_event


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(15 minutes)", 900), ("rate(1 minute)", 60), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_parse_rate(expression: str, seconds: float) -> None:
    assert parse_rate(expression) == seconds


@pytest.mark.parametrize(
    "expression", ["cron(0/15 * * * ? *)", "at(2030-01-01T00:00:00)", "rate(1 minutes)", "rate(5 minute)", "every 5m"]
)
def test_rejected_expressions(expression: str) -> None:
    with pytest.raises(UnsupportedSchedule):
        parse_rate(expression)


def test_cron_needs_an_interval_override() -> None:
    with pytest.raises(UnsupportedSchedule, match="interval"):
        Scheduler(lambda e: None, "cron(0 * * * ? *)")
    assert Scheduler(lambda e: None, "cron(0 * * * ? *)", interval=5).interval == 5


def test_scheduled_event_shape() -> None:
    event = scheduled_event("arn:aws:scheduler:eu-west-1:123456789012:schedule/default/S")
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["version"] == "0" and event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.scheduler" and event["detail"] == {}
    assert event["account"] == "123456789012" and event["region"] == "eu-west-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert event["resources"] == ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/S"]


def test_fire_now_and_sources() -> None:
    events: list[dict[str, Any]] = []
    v2 = Scheduler(lambda e: events.append(e) or "done", "rate(15 minutes)", name="Sweep")
    assert v2.fire_now() == "done"
    assert events[-1]["source"] == "aws.scheduler"
    assert events[-1]["resources"] == ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/Sweep"]
    rule = Scheduler(events.append, "rate(1 minute)", schedule_type="Schedule", name="Rule")
    rule.fire_now()
    assert events[-1]["source"] == "aws.events"
    assert events[-1]["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/Rule"]
    assert v2.fires == 1 and events[0]["id"] != events[1]["id"]


def test_fire_now_reraises_and_counts() -> None:
    def boom(event: dict[str, Any]) -> None:
        raise RuntimeError("sweep failed")

    scheduler = Scheduler(boom, "rate(1 minute)")
    with pytest.raises(RuntimeError):
        scheduler.fire_now()
    assert scheduler.errors == 1 and "sweep failed" in (scheduler.last_error or "")


def test_timed_loop_with_interval_override() -> None:
    events: list[dict[str, Any]] = []
    scheduler = Scheduler(events.append, "rate(15 minutes)", interval=0.1)
    scheduler.start()
    try:
        time.sleep(0.45)
    finally:
        scheduler.stop()
    assert 3 <= len(events) <= 5
    count = len(events)
    time.sleep(0.2)
    assert len(events) == count  # stopped
