"""Helpers for the Kommo sandbox tests: an authorised HTTP client and a tiny webhook receiver on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

TOKEN = "test-long-lived-token"


class Api:
    """requests against the sandbox with the long-lived token."""

    def __init__(self, base: str, token: str = TOKEN) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json=json, **kwargs)


@dataclass
class Captured:
    path: str
    content_type: str
    body: str
    user_agent: str


@dataclass
class Receiver:
    """Records every POST; answers with ``statuses`` in turn (the last one repeats), after ``delay_s``."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay_s: float = 0.0
    requests: list[Captured] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        with self._lock:
            self.requests.append(
                Captured(
                    request.path,
                    request.headers.get("Content-Type", ""),
                    request.get_data(as_text=True),
                    request.headers.get("User-Agent", ""),
                )
            )
            status = self.statuses[min(len(self.requests) - 1, len(self.statuses) - 1)]
        if self.delay_s:
            time.sleep(self.delay_s)
        return Response("ok", status=status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return True
            time.sleep(0.01)
        return len(self.requests) >= count
