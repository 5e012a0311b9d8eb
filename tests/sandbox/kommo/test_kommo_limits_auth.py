"""Rate limit (429 with retry_after), the 403 block after repeated abuse, long-lived tokens, OAuth with rotation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from kommo_support import TOKEN, Api

from sandbox.common import Clock
from sandbox.kommo import KommoSandbox


@pytest.fixture(scope="module")
def limited() -> Iterator[KommoSandbox]:
    # a nearly frozen clock: the 1-second window only slides when the test advances it
    sandbox = KommoSandbox(token=TOKEN, clock=Clock(speed=0.001), rate_limit_rps=7, block_after_429s=5)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def test_defaults_are_kommo_limits() -> None:
    sandbox = KommoSandbox(token="x")
    assert sandbox.limiter.rps == 7 and sandbox.limiter.block_after == 100 and sandbox.limiter.block_window_s == 60


def test_eighth_request_in_a_second_gets_429_with_retry_after(limited: KommoSandbox) -> None:
    limited.reset()
    api = Api(limited.base_url)
    statuses = [api.get("/api/v4/leads/1000001").status_code for _ in range(7)]
    assert statuses == [200] * 7
    r = api.get("/api/v4/leads")
    assert r.status_code == 429
    assert r.headers["Content-Type"] == "application/problem+json"
    body = r.json()
    assert {k: v for k, v in body.items() if k != "retry_after"} == {
        "title": "Too Many Requests",
        "type": "https://httpstatus.es/429",
        "status": 429,
        "detail": "You have sent too many requests in a given amount of time. Please try again later.",
    }
    assert isinstance(body["retry_after"], int) and 1 <= body["retry_after"] <= 1
    assert limited.counters.count("GET /api/v4/leads", 429) == 1
    limited.clock.advance(1.0)
    assert api.get("/api/v4/leads/1000001").status_code == 200


def test_repeated_429s_block_every_request_with_403_until_reset(limited: KommoSandbox) -> None:
    limited.reset()
    api = Api(limited.base_url)
    statuses = [api.get("/api/v4/account").status_code for _ in range(7 + 6)]
    assert statuses == [200] * 7 + [429] * 6  # the 6th 429 is more than block_after=5
    r = api.get("/api/v4/leads")
    assert r.status_code == 403
    assert r.json()["title"] == "Forbidden" and r.json()["status"] == 403
    limited.clock.advance(3600)
    assert api.get("/api/v4/users").status_code == 403  # no automatic unblock
    limited.reset()
    assert api.get("/api/v4/users").status_code == 200


def test_oauth_code_exchange_and_refresh_rotation_with_grace(kommo: KommoSandbox) -> None:
    client = kommo.register_oauth_client(redirect_uri="https://sync.example.com/oauth/kommo")
    url = kommo.base_url + "/oauth2/access_token"
    base = {"client_id": client.client_id, "client_secret": client.client_secret, "redirect_uri": client.redirect_uri}

    def token(**body: str) -> requests.Response:
        return requests.post(url, json=base | body, timeout=5)

    code = kommo.authorization_code(client.client_id)
    r = token(grant_type="authorization_code", code=code)
    assert r.status_code == 200
    pair1 = r.json()
    assert set(pair1) == {"token_type", "expires_in", "server_time", "access_token", "refresh_token"}
    assert pair1["token_type"] == "Bearer" and pair1["expires_in"] == 86400
    assert token(grant_type="authorization_code", code=code).status_code == 400  # single use
    assert Api(kommo.base_url, pair1["access_token"]).get("/api/v4/account").json()["current_user_id"] == 5000001

    pair2 = token(grant_type="refresh_token", refresh_token=pair1["refresh_token"]).json()
    assert pair2["refresh_token"] != pair1["refresh_token"] and pair2["access_token"] != pair1["access_token"]
    # grace: the old refresh token still works until the new one is used (e.g. the first answer was lost)
    retry = token(grant_type="refresh_token", refresh_token=pair1["refresh_token"])
    assert retry.status_code == 200
    pair3 = token(grant_type="refresh_token", refresh_token=pair2["refresh_token"]).json()
    old = token(grant_type="refresh_token", refresh_token=pair1["refresh_token"])
    assert old.status_code == 400
    assert old.headers["Content-Type"] == "application/problem+json" and old.json()["status"] == 400
    # pair2's refresh token is itself in grace until pair3's is used
    assert token(grant_type="refresh_token", refresh_token=pair2["refresh_token"]).status_code == 200
    assert token(grant_type="refresh_token", refresh_token=pair3["refresh_token"]).status_code == 200
    assert token(grant_type="refresh_token", refresh_token=pair2["refresh_token"]).status_code == 400

    # access tokens live 24 hours on the sandbox clock; the long-lived token does not expire
    access = Api(kommo.base_url, pair3["access_token"])
    assert access.get("/api/v4/leads/1000001").status_code == 200
    kommo.clock.advance(86400 - 10)
    assert access.get("/api/v4/leads/1000001").status_code == 200
    kommo.clock.advance(11)
    assert access.get("/api/v4/leads/1000001").status_code == 401
    assert Api(kommo.base_url).get("/api/v4/leads/1000001").status_code == 200


def test_oauth_rejections(kommo: KommoSandbox) -> None:
    client = kommo.register_oauth_client(redirect_uri="https://sync.example.com/cb")
    url = kommo.base_url + "/oauth2/access_token"
    code = kommo.authorization_code(client.client_id)
    good = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "redirect_uri": client.redirect_uri,
        "grant_type": "authorization_code",
        "code": code,
    }
    assert requests.post(url, json=good | {"client_secret": "wrong"}, timeout=5).status_code == 401
    assert requests.post(url, json=good | {"redirect_uri": "https://evil.example.com"}, timeout=5).status_code == 400
    assert requests.post(url, json=good | {"grant_type": "password"}, timeout=5).status_code == 400
    kommo.clock.advance(20 * 60 + 1)  # codes expire after 20 minutes
    assert requests.post(url, json=good, timeout=5).status_code == 400
