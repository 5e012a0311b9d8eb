"""Identity (grants, rotation, expiry, tenants), rate limits, faults and counters."""

from __future__ import annotations

import threading

import pytest
import requests
from xero_support import CLIENT_ID, CLIENT_SECRET

from sandbox.common import Clock, FaultRule
from sandbox.xero import DEMO_TENANT_ID, RateLimits, XeroSandbox
from sandbox.xero.testing import XeroClient


def test_client_credentials_token_and_tenant_rules(xero: XeroSandbox) -> None:
    client = XeroClient(xero.base_url, CLIENT_ID, CLIENT_SECRET)  # no tenant header: custom connection
    token = client.token_request(grant_type="client_credentials").json()
    assert token["expires_in"] == 1800 and token["token_type"] == "Bearer" and "refresh_token" not in token
    client.token = token["access_token"]
    assert client.get("/Organisation").status_code == 200
    wrong = client.get("/Organisation", headers={"xero-tenant-id": "00000000-0000-0000-0000-000000000000"})
    assert wrong.status_code == 403 and wrong.json()["Title"] == "Forbidden"
    connections = requests.get(
        xero.base_url + "/connections", headers={"Authorization": f"Bearer {client.token}"}, timeout=5
    ).json()
    assert connections[0]["tenantId"] == DEMO_TENANT_ID and connections[0]["tenantName"] == "Demo Company (NZ)"
    bad = XeroClient(xero.base_url, CLIENT_ID, "wrong").token_request(grant_type="client_credentials")
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_client"}


def test_missing_tenant_header_is_403_for_oauth_tokens(xero: XeroSandbox) -> None:
    tokens = xero.issue_tokens()
    response = requests.get(
        xero.api_url + "/Invoices", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=5
    )
    assert response.status_code == 403
    assert "X-MinLimit-Remaining" in response.headers


def test_access_token_expires_after_30_minutes(xero: XeroSandbox, api: XeroClient) -> None:
    assert api.get("/Organisation").status_code == 200
    xero.clock.advance(1801)
    expired = api.get("/Organisation")
    assert expired.status_code == 401
    assert expired.json()["Detail"].startswith("TokenExpired") and expired.json()["Title"] == "Unauthorized"
    api.token = "garbage"
    assert api.get("/Organisation").json()["Detail"] == "AuthenticationUnsuccessful"


def test_refresh_token_rotation_with_30_minute_grace(xero: XeroSandbox) -> None:
    client = XeroClient(xero.base_url, CLIENT_ID, CLIENT_SECRET, DEMO_TENANT_ID)
    code = xero.mint_authorization_code(redirect_uri="https://app.example/callback")
    first = client.token_request(
        grant_type="authorization_code", code=code, redirect_uri="https://app.example/callback"
    ).json()
    assert first["refresh_token"] and first["id_token"]
    reused_code = client.token_request(grant_type="authorization_code", code=code)
    assert reused_code.json() == {"error": "invalid_grant"}
    old = first["refresh_token"]
    second = client.token_request(grant_type="refresh_token", refresh_token=old).json()
    assert second["refresh_token"] != old
    xero.clock.advance(29 * 60)
    retry = client.token_request(grant_type="refresh_token", refresh_token=old)
    assert retry.status_code == 200 and retry.json()["refresh_token"] == second["refresh_token"]
    xero.clock.advance(2 * 60)
    late = client.token_request(grant_type="refresh_token", refresh_token=old)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    third = client.token_request(grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert third.status_code == 200
    client.token = third.json()["access_token"]
    assert client.get("/Organisation").status_code == 200


def test_minute_and_day_limits_with_headers() -> None:
    clock = Clock()
    sandbox = XeroSandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, limits=RateLimits(per_minute=3, per_day=5)
    )
    with sandbox:
        api = XeroClient(sandbox.base_url, CLIENT_ID, CLIENT_SECRET, DEMO_TENANT_ID)
        remaining = [api.get("/Currencies").headers["X-MinLimit-Remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        limited = api.get("/Currencies")
        assert limited.status_code == 429
        assert limited.headers["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-DayLimit-Remaining"] == "2"
        clock.advance(61)
        assert api.get("/Currencies").status_code == 200
        assert api.get("/Currencies").headers["X-DayLimit-Remaining"] == "0"
        clock.advance(61)
        day = api.get("/Currencies")
        assert day.status_code == 429 and day.headers["X-Rate-Limit-Problem"] == "day"
        assert int(day.headers["Retry-After"]) > 3600
        assert sandbox.counters.count("GET /Currencies", 429) == 2


def test_sixth_concurrent_call_gets_429(xero: XeroSandbox, api: XeroClient) -> None:
    xero.faults.add(FaultRule(route="GET /Organisation", latency_ms=400))
    results: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        client = XeroClient(xero.base_url, CLIENT_ID, CLIENT_SECRET, DEMO_TENANT_ID)
        client.token = api.token
        status = client.get("/Organisation").status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    deadline = threading.Event()
    for _ in range(100):
        if xero.limiter.in_flight == 5:
            break
        deadline.wait(0.01)
    sixth = api.get("/Currencies")
    for t in threads:
        t.join()
    assert sixth.status_code == 429 and sixth.headers["X-Rate-Limit-Problem"] == "concurrent"
    assert results == [200] * 5


def test_fail_status_fault_and_counters(xero: XeroSandbox, api: XeroClient) -> None:
    xero.faults.add(FaultRule(route="PUT /Invoices", error_rate=1.0, status=503, remaining=1))
    body = {"Type": "ACCREC", "Contact": {"Name": "Globex Corporation"}, "LineItems": [{"Description": "x"}]}
    assert api.put("/Invoices", json=body).status_code == 503
    assert api.put("/Invoices", json=body).status_code == 200
    snapshot = xero.counters.snapshot()["PUT /Invoices"]
    assert snapshot == {"calls": 2, "503": 1, "200": 1}


def test_drop_after_commit_really_commits(xero: XeroSandbox, api: XeroClient) -> None:
    xero.faults.add(FaultRule(route="PUT /Invoices", drop_after_commit_rate=1.0, remaining=1))
    body = {
        "Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Globex Corporation"}, "LineItems": [{"Description": "x"}]}]
    }
    with pytest.raises(requests.ConnectionError):
        api.put("/Invoices", json=body, headers={"Idempotency-Key": "drop-1"})
    assert len(xero.invoices()) == 7  # the write happened
    retried = api.put("/Invoices", json=body, headers={"Idempotency-Key": "drop-1"})
    assert retried.status_code == 200
    assert retried.headers.get("Idempotent-Replayed") == "true"
    assert len(xero.invoices()) == 7  # and the retry did not write again
    assert xero.counters.count("PUT /Invoices", 0) == 1


def test_hang_fault_drops_the_connection(xero: XeroSandbox, api: XeroClient) -> None:
    xero.faults.add(FaultRule(route="GET /Items", timeout_rate=1.0, timeout_s=0.2, remaining=1))
    with pytest.raises(requests.ConnectionError):
        api.get("/Items")
    assert api.get("/Items").status_code == 200
