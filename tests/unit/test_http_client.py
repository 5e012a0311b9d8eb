from decimal import Decimal

import pytest
import responses

from kommo_xero_sync.clients.http import HttpClient, RateLimiter, dumps, parse_json
from kommo_xero_sync.exceptions import AuthError, RateLimitedError, TransientApiError, ValidationFailed

BASE = "http://127.0.0.1:9/api"


def client(**kw):
    sleeps = []
    c = HttpClient("test", BASE, sleep=sleeps.append, **kw)
    return c, sleeps


def test_decimals_are_sent_as_exact_numbers():
    assert (
        dumps({"a": Decimal("0.10"), "b": [Decimal("12345678901234567.89")]}) == '{"a":0.10,"b":[12345678901234567.89]}'
    )


def test_money_is_read_as_decimal():
    class R:
        content = b'{"Total": 0.1}'

    assert parse_json(R()) == {"Total": Decimal("0.1")}


def test_rate_limiter_sliding_window():
    now = [0.0]
    waits = []

    def sleep(s):
        waits.append(s)
        now[0] += s

    limiter = RateLimiter(3, 1.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(7):
        limiter.acquire()
    assert waits == [1.0, 1.0]  # 3 per second: calls 4 and 7 had to wait


@responses.activate
def test_short_retry_after_is_waited_then_succeeds():
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "2"}, json={"Title": "Too many"})
    responses.get(f"{BASE}/x", status=200, json={"ok": True})
    c, sleeps = client()
    assert c.request("GET", "/x").json() == {"ok": True}
    assert sleeps == [2.0] and c.stats.rate_limited == 1


@responses.activate
def test_long_retry_after_goes_back_to_the_queue():
    responses.get(f"{BASE}/x", status=429, json={"title": "Too Many Requests", "retry_after": 300})
    c, sleeps = client()
    with pytest.raises(RateLimitedError) as info:
        c.request("GET", "/x")
    assert info.value.retry_after == 300 and sleeps == []


@responses.activate
def test_5xx_retried_for_safe_requests_only():
    responses.get(f"{BASE}/x", status=503)
    responses.get(f"{BASE}/x", status=200, json={})
    c, _ = client()
    c.request("GET", "/x")
    assert len(responses.calls) == 2
    responses.post(f"{BASE}/y", status=500)
    with pytest.raises(TransientApiError):
        c.request("POST", "/y", json_body={}, safe_to_retry=False)
    assert len([r for r in responses.calls if r.request.method == "POST"]) == 1


@responses.activate
def test_error_mapping():
    responses.get(f"{BASE}/a", status=401, json={"Title": "Unauthorized", "Detail": "TokenExpired: token expired"})
    responses.get(f"{BASE}/b", status=400, json={"Message": "A validation exception occurred"})
    c, _ = client()
    with pytest.raises(AuthError, match="TokenExpired"):
        c.request("GET", "/a")
    with pytest.raises(ValidationFailed) as info:
        c.request("GET", "/b")
    assert info.value.body == {"Message": "A validation exception occurred"}
