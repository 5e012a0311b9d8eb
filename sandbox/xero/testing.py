"""Helpers for tests that talk to the sandbox over real HTTP: an API client and a webhook receiver."""

from __future__ import annotations

import base64
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from sandbox.common.server import ServerThread
from sandbox.xero.webhooks import sign


class XeroClient:
    """A thin ``requests`` client: custom-connection token, tenant header, JSON."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        tenant_id: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + "/api.xro/2.0"
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant_id = tenant_id
        self.timeout = timeout
        self.session = requests.Session()
        self.token: str | None = None

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()

    def token_request(self, **form: str) -> requests.Response:
        return self.session.post(
            self.base_url + "/connect/token",
            data=form,
            headers={"Authorization": self.basic()},
            timeout=self.timeout,
        )

    def authenticate(self) -> str:
        response = self.token_request(grant_type="client_credentials")
        response.raise_for_status()
        self.token = str(response.json()["access_token"])
        return self.token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        if self.token is None:
            self.authenticate()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if self.tenant_id:
            headers["xero-tenant-id"] = self.tenant_id
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | str | None = None,
    ) -> requests.Response:
        return self.session.request(
            method,
            self.api_url + path,
            json=json,
            params=params,
            data=data,
            headers=self.headers(headers),
            timeout=self.timeout,
        )

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    status: int


@dataclass
class WebhookReceiver:
    """A Xero webhook endpoint on 127.0.0.1: checks the signature (401 when wrong, 200 and no body when right).

    ``respond`` may override the status for correctly signed requests (e.g. ``lambda n: 500 if n < 3 else 200``,
    where ``n`` counts correctly signed requests from 0).
    """

    key: str
    respond: Callable[[int], int] | None = None
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._good = 0
        self._server = ServerThread(self._app)
        self.url = ""

    def start(self) -> str:
        from sandbox.xero.sandbox import serve_quick

        self.url = serve_quick(self._server, "xero-webhook-receiver") + "/webhooks/xero"
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        body = request.get_data()
        expected = sign(self.key, body)
        valid = hmac.compare_digest(expected, request.headers.get("x-xero-signature", ""))
        with self._lock:
            if valid:
                status = self.respond(self._good) if self.respond else 200
                self._good += 1
            else:
                status = 401
            self.received.append(Received(dict(request.headers), body, valid, status))
        return Response(b"", status=status)(environ, start_response)

    def event_posts(self) -> list[Received]:
        """Correctly signed posts that carried events (not Intent to Receive)."""
        import json

        with self._lock:
            return [r for r in self.received if r.signature_valid and json.loads(r.body)["events"]]
