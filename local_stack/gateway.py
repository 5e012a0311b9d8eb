"""A local API Gateway (REST API, Lambda proxy integration, payload format 1.0) on 127.0.0.1.

Routes come from the template's ``Api`` events. A request becomes the proxy event API Gateway would send:
``resource`` (the template path, e.g. ``/webhooks/kommo/{token}``), ``path``, ``httpMethod``, single- and multi-value
headers and query string, ``pathParameters``, ``requestContext`` and the body. The RAW body is preserved: when the
content type is text-like it is the exact bytes decoded as UTF-8; otherwise (``application/octet-stream``, images...,
or bytes that are not UTF-8) it is base64 with ``isBase64Encoded: true``. URLs work with and without the stage
prefix (``/webhooks/xero`` and ``/dev/webhooks/xero``).

The handler's proxy response (statusCode, headers, multiValueHeaders, body, isBase64Encoded) becomes the HTTP
response. A handler that raises, or answers with something that is not a proxy response, gives 502
``{"message": "Internal server error"}`` and a log line, as API Gateway does. Unknown routes give 404 (API Gateway
itself answers 403 "Missing Authentication Token"; 404 is clearer locally).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from local_stack.template import DEFAULT_ACCOUNT_ID, ApiEvent

log = logging.getLogger("local_stack.gateway")

TEXT_TYPES = (
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/x-yaml",
    "application/yaml",
    "application/graphql",
)

API_ID = "local"


def is_text_content_type(content_type: str | None) -> bool:
    """Whether API Gateway would pass a body of this type as text (no binary media types configured)."""
    if not content_type:
        return True
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith("+json") or mime.endswith("+xml")


@dataclass(frozen=True)
class Route:
    function_id: str
    resource: str  # the template path, with {param} / {param+}
    method: str  # upper case or ANY
    pattern: re.Pattern[str]

    @classmethod
    def build(cls, function_id: str, event: ApiEvent) -> Route:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", event.path):
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                if name.endswith("+"):
                    regex += f"(?P<{_group(name[:-1])}>.+)"
                else:
                    regex += f"(?P<{_group(name)}>[^/]+)"
            else:
                regex += re.escape(part)
        return cls(function_id, event.path, event.method.upper(), re.compile(f"^{regex}/?$"))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if found is None:
            return None
        names = [part[1:-1].rstrip("+") for part in re.findall(r"\{[^}]+\}", self.resource)]
        return {name: found.group(_group(name)) for name in names}


def _group(name: str) -> str:
    return "p_" + "".join(ch if ch.isalnum() else "_" for ch in name)


Invoker = Callable[[str, dict[str, Any]], Any]


class ApiGateway:
    """WSGI app + threaded loopback server. ``invoke(function_logical_id, event) -> result``."""

    def __init__(
        self,
        routes: Iterable[Route],
        invoke: Invoker,
        stage: str = "dev",
        region: str = "eu-west-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the local gateway binds to loopback only")
        self.routes = list(routes)
        self._invoke = invoke
        self.stage = stage
        self.region = region
        self.account_id = account_id
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) for the demo and tests

    @classmethod
    def from_functions(cls, functions: Iterable[Any], invoke: Invoker, **kwargs: Any) -> ApiGateway:
        routes = [Route.build(spec.logical_id, event) for spec in functions for event in spec.events_of(ApiEvent)]
        return cls(routes, invoke, **kwargs)

    # ---- server -------------------------------------------------------------------------------------------------

    def bind(self) -> str:
        """Open the socket (port 0: a free one) so the URL is known before serving starts."""
        if self._server is None:
            self._server = make_server(self._host, self._port, self.wsgi_app, threaded=True)
            self._server.daemon_threads = True  # type: ignore[attr-defined]
        return self.base_url

    def start(self) -> str:
        self.bind()
        assert self._server is not None
        if self._thread is None:
            server = self._server
            self._thread = threading.Thread(
                target=lambda: server.serve_forever(poll_interval=0.05), name="local-api-gateway", daemon=True
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            if thread is not None:
                server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("gateway not started")
        return f"http://{self._host}:{self._server.server_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    # ---- request -> event -> response ---------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str], str] | None:
        """(route, path parameters, path without the stage prefix) or None."""
        for candidate in (path, _strip_stage(path, self.stage)):
            if candidate is None:
                continue
            for route in self.routes:
                if route.method not in ("ANY", method.upper()):
                    continue
                params = route.match(candidate)
                if params is not None:
                    return route, params, candidate
        return None

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self._in_flight += 1
        try:
            response = self.handle(request)
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self.requests.append((request.method, request.path, response.status_code))
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        path = request.path
        found = self.match(request.method, path)
        if found is None:
            return _json_response(404, {"message": "Not Found"})
        route, params, event_path = found
        event = self.build_event(request, route, params, event_path)
        try:
            result = self._invoke(route.function_id, event)
        except Exception as exc:
            log.error(
                "Execution failed due to an error: %s %s -> %s raised %s: %s",
                request.method,
                path,
                route.function_id,
                type(exc).__name__,
                exc,
            )
            return _json_response(502, {"message": "Internal server error"})
        try:
            return proxy_response(result)
        except ValueError as exc:
            log.error("Execution failed due to configuration error: malformed Lambda proxy response (%s)", exc)
            return _json_response(502, {"message": "Internal server error"})

    def build_event(
        self, request: Request, route: Route, params: dict[str, str], event_path: str | None = None
    ) -> dict[str, Any]:
        raw = request.get_data(cache=True, as_text=False, parse_form_data=False)
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        source_ip = request.remote_addr or "127.0.0.1"
        for name, value in (
            ("X-Forwarded-For", source_ip),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Port", str(request.environ.get("SERVER_PORT", ""))),
            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"),
        ):
            if name not in headers:
                headers[name] = value
                multi_headers[name] = [value]
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for name, values in request.args.lists():
            multi_query[name] = list(values)
            query[name] = values[-1]
        body: str | None
        if not raw:
            body, is_base64 = None, False
        elif is_text_content_type(request.headers.get("Content-Type")):
            try:
                body, is_base64 = raw.decode("utf-8"), False
            except UnicodeDecodeError:
                body, is_base64 = base64.b64encode(raw).decode("ascii"), True
        else:
            body, is_base64 = base64.b64encode(raw).decode("ascii"), True
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        event_path = event_path or request.path
        return {
            "resource": route.resource,
            "path": event_path,
            "httpMethod": request.method.upper(),
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": uuid.uuid4().hex[:6],
                "resourcePath": route.resource,
                "httpMethod": request.method.upper(),
                "extendedRequestId": uuid.uuid4().hex[:16] + "=",
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.stage}{event_path}",
                "accountId": self.account_id,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": self.stage,
                "domainPrefix": API_ID,
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": request.headers.get("User-Agent"),
                    "user": None,
                },
                "domainName": request.host,
                "apiId": API_ID,
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }


def _strip_stage(path: str, stage: str) -> str | None:
    prefix = f"/{stage}/"
    return path[len(prefix) - 1 :] if path.startswith(prefix) else None


def _json_response(status: int, payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def proxy_response(result: Any) -> Response:
    """Lambda proxy response -> HTTP response (ValueError when it is malformed)."""
    if not isinstance(result, dict):
        raise ValueError(f"response is {type(result).__name__}, not an object")
    allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    extra = set(result) - allowed
    if extra:
        raise ValueError(f"unexpected keys {sorted(extra)}")
    status = result.get("statusCode")
    try:
        status_code = int(status) if status is not None else 200
    except (TypeError, ValueError):
        raise ValueError(f"statusCode {status!r} is not an integer") from None
    if not 100 <= status_code <= 599:
        raise ValueError(f"statusCode {status_code} out of range")
    headers = Headers()
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise ValueError("headers and multiValueHeaders must be objects")
    # API Gateway merges both; for a name present in multiValueHeaders, those values win.
    multi_lower = {name.lower() for name in multi}
    for name, value in single.items():
        if name.lower() not in multi_lower:
            headers.add(name, str(value))
    for name, values in multi.items():
        if not isinstance(values, list):
            raise ValueError(f"multiValueHeaders[{name!r}] must be a list")
        for value in values:
            headers.add(name, str(value))
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise ValueError("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise ValueError(f"isBase64Encoded body is not base64: {exc}") from None
    else:
        data = body.encode("utf-8")
    if "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    return Response(data, status=status_code, headers=headers)
