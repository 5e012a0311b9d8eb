"""Fault injection on API routes: error status, latency, hang, drop-after-commit; counters per route and status."""

from __future__ import annotations

import time

import pytest
import requests
from kommo_support import Api, Receiver

from sandbox.common import FaultRule
from sandbox.kommo import KommoSandbox


def test_error_rate_one_fails_every_matching_request_before_handling(api: Api, kommo: KommoSandbox) -> None:
    kommo.faults.add(FaultRule(route="PATCH /api/v4/leads", error_rate=1.0, status=503))
    for _ in range(3):
        r = api.patch("/api/v4/leads", json=[{"id": 1000001, "price": 1}])
        assert r.status_code == 503
        assert r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["status"] == 503 and r.json()["type"] == "https://httpstatus.es/503"
    assert kommo.leads[1000001].price == 5160  # never handled
    assert api.get("/api/v4/leads/1000001").status_code == 200  # other routes unaffected
    assert kommo.counters.count("PATCH /api/v4/leads", 503) == 3
    assert kommo.counters.snapshot()["PATCH /api/v4/leads"] == {"calls": 3, "503": 3}


def test_500_body_is_kommos_with_trace_id_and_remaining_expires_the_rule(api: Api, kommo: KommoSandbox) -> None:
    kommo.faults.add(FaultRule(route="*", error_rate=1.0, status=500, remaining=1))
    r = api.get("/api/v4/account")
    assert r.status_code == 500
    body = r.json()
    assert body["title"] == "ErrInternalServer" and body["status"] == 500 and body["trace_id"]
    assert api.get("/api/v4/account").status_code == 200


def test_drop_after_commit_really_commits_then_answers_nothing(
    api: Api, kommo: KommoSandbox, receiver: Receiver
) -> None:
    kommo.add_webhook(receiver.url)
    kommo.faults.add(FaultRule(route="PATCH /api/v4/leads", drop_after_commit_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        api.patch("/api/v4/leads", json=[{"id": 1000002, "status_id": 7100004, "pipeline_id": 7000001}])
    lead = kommo.leads[1000002]
    assert lead.status_id == 7100004  # committed
    assert kommo.wait_for_deliveries(5) and receiver.wait_for(1)  # and the stage change was announced
    assert kommo.counters.count("PATCH /api/v4/leads", 0) == 1


def test_hang_holds_the_request_past_the_client_timeout(api: Api, kommo: KommoSandbox) -> None:
    kommo.faults.add(FaultRule(route="GET /api/v4/leads", timeout_rate=1.0, timeout_s=0.5))
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        api.get("/api/v4/leads", timeout=0.15)
    assert time.monotonic() - started < 0.5
    kommo.faults.clear()
    time.sleep(0.4)  # let the held request finish
    assert kommo.counters.count("GET /api/v4/leads", 0) == 1


def test_latency_is_added(api: Api, kommo: KommoSandbox) -> None:
    kommo.faults.add(FaultRule(route="GET /api/v4/users", latency_ms=150))
    started = time.monotonic()
    assert api.get("/api/v4/users").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_counters_use_route_names(api: Api, kommo: KommoSandbox) -> None:
    api.get("/api/v4/leads/1000001")
    api.get("/api/v4/leads/424242")
    api.get("/api/v4/leads", params={"limit": 5})
    api.post("/api/v4/leads/1000001/notes", json=[{"note_type": "common", "params": {"text": "x"}}])
    api.get("/api/v4/nothing-here")
    snap = kommo.counters.snapshot()
    assert snap["GET /api/v4/leads/{id}"] == {"calls": 2, "200": 1, "204": 1}
    assert snap["GET /api/v4/leads"] == {"calls": 1, "200": 1}
    assert snap["POST /api/v4/leads/{id}/notes"] == {"calls": 1, "200": 1}
    assert snap["GET (unmatched)"] == {"calls": 1, "404": 1}
    assert kommo.counters.total() == 5
