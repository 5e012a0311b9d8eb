"""The one place HTTP happens: a requests session with a client-side rate limiter, bounded retries, error mapping.

Why hand-written rather than urllib3's Retry or tenacity: a Lambda worker must never sleep through a long
``Retry-After`` (Kommo answers 429 with ``retry_after: 300``); short waits are absorbed here, long ones become a
``RateLimitedError`` so the job goes back to the queue with a delay. Retries also depend on whether a request is safe to
repeat (GET, PATCH, or a write carrying an ``Idempotency-Key``), which the caller knows and states per call.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests

from kommo_xero_sync.exceptions import (
    ApiError,
    AuthError,
    RateLimitedError,
    TransientApiError,
    ValidationFailed,
)
from kommo_xero_sync.observability import logger

Clock = Callable[[], float]
Sleeper = Callable[[float], None]


class RateLimiter:
    """Sliding-window limiter: at most ``max_calls`` starts within any ``period`` seconds (thread-safe)."""

    def __init__(self, max_calls: int, period: float, *, clock: Clock = time.monotonic, sleep: Sleeper = time.sleep):
        if max_calls < 1 or period <= 0:
            raise ValueError("max_calls must be >= 1 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and now - self._starts[0] >= self.period:
                    self._starts.popleft()
                if len(self._starts) < self.max_calls:
                    self._starts.append(now)
                    return
                wait = self.period - (now - self._starts[0])
            self.waited += wait
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Block new calls for ``seconds`` (after a 429) by filling the window."""
        with self._lock:
            until = self._clock() + seconds - self.period
            self._starts = deque([until] * self.max_calls)


@dataclass
class CallStats:
    calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


def parse_json(response: requests.Response) -> Any:
    """Decode JSON keeping money exact (floats become Decimal)."""
    if not response.content:
        return None
    return json.loads(response.content, parse_float=Decimal)


_DEC_MARK = "\u2063dec:"  # an invisible separator: cannot come from our own numbers, never sent as text


def dumps(payload: Any) -> str:
    """JSON-encode a payload, writing Decimal values as exact JSON numbers (never through float)."""
    text = json.dumps(_mark_decimals(payload), ensure_ascii=False, separators=(",", ":"))
    return _DEC_PATTERN.sub(lambda m: m.group(1), text)


_DEC_PATTERN = re.compile('"' + _DEC_MARK + r'(-?\d+(?:\.\d+)?)"')


def _mark_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send non-finite amount {value}")
        return _DEC_MARK + format(value, "f")
    if isinstance(value, Mapping):
        return {k: _mark_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_decimals(v) for v in value]
    return value


class HttpClient:
    """A JSON HTTP client for one service with rate limiting, bounded retries and typed errors."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 20.0),
        max_attempts: int = 4,
        max_inline_wait: float = 5.0,
        sleep: Sleeper = time.sleep,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_inline_wait = max_inline_wait
        self._sleep = sleep
        self.stats = CallStats()

    def request(
        self,
        method: str,
        path: str,
        *,
        route: str | None = None,
        params: Any = None,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        safe_to_retry: bool | None = None,
        url: str | None = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> requests.Response:
        """Send one request; retry transient failures when it is safe, raise a typed ``ApiError`` otherwise.

        ``route`` is the log/metric name (a path template with no ids or personal data).
        """
        target = url or f"{self.base_url}{path}"
        route = route or f"{method} {path}"
        retry_ok = method in ("GET", "HEAD", "PUT", "PATCH", "DELETE") if safe_to_retry is None else safe_to_retry
        body = data
        send_headers = dict(headers or {})
        if json_body is not None:
            body = dumps(json_body).encode()
            send_headers.setdefault("Content-Type", "application/json")
        send_headers.setdefault("Accept", "application/json")
        attempt = 0
        while True:
            attempt += 1
            if self.limiter:
                self.limiter.acquire()
            self.stats.calls += 1
            self.stats.by_route[route] = self.stats.by_route.get(route, 0) + 1
            started = time.monotonic()
            try:
                response = self.session.request(
                    method, target, params=params, data=body, headers=send_headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                # A connect error means nothing was sent; a read timeout may mean the server committed.
                committed_maybe = isinstance(exc, requests.ReadTimeout)
                logger.warning(
                    "http error", extra={"service": self.service, "route": route, "error": type(exc).__name__}
                )
                if attempt < self.max_attempts and (retry_ok or not committed_maybe):
                    self._backoff(attempt)
                    continue
                raise TransientApiError(self.service, 0, f"{type(exc).__name__} on {route}") from exc
            elapsed_ms = int((time.monotonic() - started) * 1000)
            logger.debug(
                "http call",
                extra={"service": self.service, "route": route, "status": response.status_code, "ms": elapsed_ms},
            )
            if response.status_code in ok:
                return response
            error = self._error_for(response, route)
            if isinstance(error, RateLimitedError):
                self.stats.rate_limited += 1
                wait = error.retry_after if error.retry_after is not None else 1.0
                if self.limiter:
                    self.limiter.pause(min(wait, 60.0))
                if wait <= self.max_inline_wait and attempt < self.max_attempts:
                    logger.info("rate limited, waiting", extra={"service": self.service, "route": route, "wait": wait})
                    self._sleep(wait)
                    self.stats.retries += 1
                    continue
                raise error
            if isinstance(error, TransientApiError) and retry_ok and attempt < self.max_attempts:
                self._backoff(attempt)
                continue
            raise error

    def _backoff(self, attempt: int) -> None:
        self.stats.retries += 1
        self._sleep(min(4.0, 0.2 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))

    def _error_for(self, response: requests.Response, route: str) -> ApiError:
        status = response.status_code
        try:
            body = parse_json(response)
        except ValueError:
            body = response.text[:500]
        message = _message_from(body) or response.reason or "error"
        if status == 429:
            retry_after = _retry_after(response, body)
            problem = response.headers.get("X-Rate-Limit-Problem")
            return RateLimitedError(self.service, f"{message} on {route}", retry_after=retry_after, problem=problem)
        if status >= 500 or status in (408, 409, 425):
            return TransientApiError(self.service, status, f"{message} on {route}", body=body)
        if status in (401, 403):
            return AuthError(self.service, status, f"{message} on {route}", body=body)
        if status in (400, 422):
            return ValidationFailed(self.service, status, message, body=body)
        return ApiError(self.service, status, f"{message} on {route}", body=body)


def _message_from(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("Detail", "detail", "Message", "message", "title", "Title", "error"):
            if body.get(key):
                return str(body[key])
    if isinstance(body, str) and body:
        return body[:200]
    return None


def _retry_after(response: requests.Response, body: Any) -> float | None:
    header = response.headers.get("Retry-After")
    if header:
        try:
            return float(header)
        except ValueError:
            return None
    if isinstance(body, dict) and body.get("retry_after") is not None:
        try:
            return float(body["retry_after"])
        except (TypeError, ValueError):
            return None
    return None
