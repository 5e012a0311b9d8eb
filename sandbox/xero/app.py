"""The WSGI app: routing, and the pipeline every Accounting request goes through.

Order for ``/api.xro/2.0/...``: fault decision (``fail_status`` answers at once, like a gateway error) ->
bearer token (401) -> ``xero-tenant-id`` (403) -> limits (429; the call now counts as in flight) -> injected latency /
hang -> ``Idempotency-Key`` replay or the handler -> limit headers -> ``drop_after_commit`` -> counters.

``drop_after_commit``: the write is done (and its idempotent answer stored), then the TCP connection is shut down
without an answer, so the client sees a dropped connection. A hang holds the connection ``timeout_s`` real seconds
and drops it the same way. Both are counted with status ``0`` ("no answer").
Identity routes (``/connect/token``, ``/connections``) get faults and counters too; control routes and the page do not.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.xero.api import AccountingApi, BadRequest
from sandbox.xero.auth import OAuthError
from sandbox.xero.idempotency import MAX_KEY_LENGTH, StoredResponse, fingerprint
from sandbox.xero.responses import json_response, not_found, problem, server_error, simple_error

if TYPE_CHECKING:
    from sandbox.xero.sandbox import XeroSandbox

API_PREFIX = "/api.xro/2.0"

# (method, path pattern under /api.xro/2.0, AccountingApi method)
API_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/Invoices", "get_invoices"),
    ("PUT", "/Invoices", "put_invoices"),
    ("POST", "/Invoices", "post_invoices"),
    ("GET", "/Invoices/{InvoiceID}", "get_invoice"),
    ("POST", "/Invoices/{InvoiceID}", "post_invoice"),
    ("GET", "/Invoices/{InvoiceID}/pdf", "get_invoice"),
    ("GET", "/Invoices/{InvoiceID}/OnlineInvoice", "online_invoice"),
    ("GET", "/Contacts", "get_contacts"),
    ("PUT", "/Contacts", "put_contacts"),
    ("POST", "/Contacts", "post_contacts"),
    ("GET", "/Contacts/{ContactID}", "get_contact"),
    ("POST", "/Contacts/{ContactID}", "post_contact"),
    ("GET", "/Payments", "get_payments"),
    ("PUT", "/Payments", "put_payments"),
    ("POST", "/Payments", "put_payments"),
    ("GET", "/Payments/{PaymentID}", "get_payment"),
    ("POST", "/Payments/{PaymentID}", "post_payment"),
    ("GET", "/CreditNotes", "get_credit_notes"),
    ("PUT", "/CreditNotes", "put_credit_notes"),
    ("POST", "/CreditNotes", "post_credit_notes"),
    ("GET", "/CreditNotes/{CreditNoteID}", "get_credit_note"),
    ("PUT", "/CreditNotes/{CreditNoteID}/Allocations", "put_allocations"),
    ("GET", "/Organisation", "get_organisation"),
    ("GET", "/Currencies", "get_currencies"),
    ("GET", "/Accounts", "get_accounts"),
    ("GET", "/TaxRates", "get_tax_rates"),
    ("GET", "/Items", "get_items"),
    ("GET", "/Items/{ItemID}", "get_item"),
)
ROUTE_NAMES = tuple(f"{m} {p}" for m, p, _ in API_ROUTES) + (
    "POST /connect/token",
    "GET /connections",
    "DELETE /connections/{id}",
)


@dataclass(frozen=True)
class _Match:
    name: str
    handler: Callable[..., Response]
    params: tuple[str, ...]


def _match(routes: list[tuple[str, tuple[str, ...], str, Callable[..., Response]]], method: str, path: str) -> Any:
    """Case-insensitive on literal segments (Xero's paths are); returns a _Match, "405" or None."""
    parts = tuple(p for p in path.split("/") if p)
    path_known = False
    for route_method, pattern, name, handler in routes:
        if len(pattern) != len(parts):
            continue
        params: list[str] = []
        for want, got in zip(pattern, parts, strict=True):
            if want.startswith("{"):
                params.append(got)
            elif want.lower() != got.lower():
                break
        else:
            path_known = True
            if route_method == method:
                return _Match(name, handler, tuple(params))
    return "405" if path_known else None


class XeroApp:
    def __init__(self, sandbox: XeroSandbox) -> None:
        self.sandbox = sandbox
        self.api = AccountingApi(sandbox.ledger, sandbox.provider_name)
        self.stopping = threading.Event()
        self.api_routes = [
            (m, tuple(p for p in pattern.split("/") if p), f"{m} {pattern}", getattr(self.api, attr))
            for m, pattern, attr in API_ROUTES
        ]
        self.identity_routes: list[tuple[str, tuple[str, ...], str, Callable[..., Response]]] = [
            ("POST", ("connect", "token"), "POST /connect/token", self.token),
            ("GET", ("connections",), "GET /connections", self.connections),
            ("DELETE", ("connections", "{id}"), "DELETE /connections/{id}", self.disconnect),
        ]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        from sandbox.xero import control, page

        path = request.path
        if path.lower().startswith(API_PREFIX.lower() + "/") or path.lower() == API_PREFIX.lower():
            sub = path[len(API_PREFIX) :]
            found = _match(self.api_routes, request.method, sub)
            if isinstance(found, _Match):
                return self._accounting(request, found)
            name = f"{request.method} {API_PREFIX}{sub} (unmatched)"
            response = not_found() if found is None else simple_error(405, "MethodNotAllowed", "Method not allowed")
            response.headers.update(self.sandbox.limiter.headers())
            self.sandbox.counters.record(name, response.status_code)
            return response
        found = _match(self.identity_routes, request.method, path)
        if isinstance(found, _Match):
            return self._identity(request, found)
        if path.startswith("/_sandbox/") or path == "/_sandbox":
            return control.dispatch(self.sandbox, request)
        if path in ("/", "/index.html"):
            return page.render(self.sandbox, request)
        return not_found()

    # ------------------------------------------------------------------ pipeline
    def _faults_before(self, request: Request, name: str) -> tuple[Any, Response | None]:
        decision = self.sandbox.faults.decide(name)
        if decision.fail_status is not None:
            return decision, server_error(decision.fail_status)
        return decision, None

    def _delay(self, request: Request, decision: Any) -> bool:
        """Apply latency; on a hang, hold the connection then drop it. Returns True when the request was dropped."""
        if decision.latency_ms:
            self.stopping.wait(decision.latency_ms / 1000)
        if decision.hang_s:
            self.stopping.wait(decision.hang_s)
            _drop_connection(request)
            return True
        return False

    def _accounting(self, request: Request, match: _Match) -> Response:
        sb = self.sandbox
        decision, failed = self._faults_before(request, match.name)
        if failed is not None:
            failed.headers.update(sb.limiter.headers())
            sb.counters.record(match.name, failed.status_code)
            return failed
        try:
            token = sb.identity.authenticate(request.headers.get("Authorization"))
        except OAuthError as exc:
            detail = "TokenExpired: token expired" if exc.error == "TokenExpired" else "AuthenticationUnsuccessful"
            response = problem(
                401, detail, {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{detail}"'}
            )
            response.headers.update(sb.limiter.headers())
            sb.counters.record(match.name, 401)
            return response
        tenant = request.headers.get("xero-tenant-id")
        tenant_ok = sb.identity.tenant_connected() and (
            (tenant is not None and tenant.strip().lower() == sb.tenant_id)
            or (tenant is None and token.custom_connection)
        )
        if not tenant_ok:
            response = problem(403, "AuthenticationUnsuccessful")
            response.headers.update(sb.limiter.headers())
            sb.counters.record(match.name, 403)
            return response
        limit = sb.limiter.acquire()
        if not limit.allowed:
            headers = dict(limit.headers or {})
            headers.update({"Retry-After": str(limit.retry_after), "X-Rate-Limit-Problem": str(limit.problem)})
            response = problem(429, f"Rate limit exceeded: {limit.problem}", headers)
            sb.counters.record(match.name, 429)
            return response
        try:
            if self._delay(request, decision):
                sb.counters.record(match.name, 0)
                return _dropped(request)
            response = self._handle(request, match, token.client_id)
        finally:
            sb.limiter.release()
        response.headers.update(sb.limiter.headers())
        if decision.drop_after_commit and _drop_connection(request):
            sb.counters.record(match.name, 0)
            raise ConnectionAbortedError("sandbox fault: response dropped after commit")
        if decision.drop_after_commit:
            response = Response("Bad Gateway (sandbox: response dropped after commit)", status=502)
        sb.counters.record(match.name, response.status_code)
        return response

    def _handle(self, request: Request, match: _Match, client_id: str) -> Response:
        key = request.headers.get("Idempotency-Key")
        if request.method not in ("PUT", "POST", "PATCH") or not key:
            return self._run(request, match)
        if len(key) > MAX_KEY_LENGTH:
            return simple_error(
                400, "ValidationException", f"Idempotency-Key must be {MAX_KEY_LENGTH} characters or fewer"
            )
        cache = self.sandbox.idempotency
        print_ = fingerprint(request.method, request.path, request.query_string.decode(), request.get_data(cache=True))
        found = cache.begin(client_id, key, print_)
        if found == "conflict":
            return simple_error(
                400, "ValidationException", f"Idempotency key {key} is used with a different request", 10
            )
        if isinstance(found, StoredResponse):
            replay = Response(found.body, status=found.status, content_type=found.content_type)
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        stored: StoredResponse | None = None
        try:
            response = self._run(request, match)
            if response.status_code < 500:
                stored = StoredResponse(response.status_code, response.get_data(), response.content_type or "")
            return response
        finally:
            cache.finish(client_id, key, stored)

    def _run(self, request: Request, match: _Match) -> Response:
        try:
            return match.handler(request, *match.params)
        except BadRequest as exc:
            return exc.response

    # ------------------------------------------------------------------ identity
    def _identity(self, request: Request, match: _Match) -> Response:
        decision, failed = self._faults_before(request, match.name)
        if failed is not None:
            self.sandbox.counters.record(match.name, failed.status_code)
            return failed
        if self._delay(request, decision):
            self.sandbox.counters.record(match.name, 0)
            return _dropped(request)
        response = match.handler(request, *match.params)
        if decision.drop_after_commit and _drop_connection(request):
            self.sandbox.counters.record(match.name, 0)
            raise ConnectionAbortedError("sandbox fault: response dropped after commit")
        self.sandbox.counters.record(match.name, response.status_code)
        return response

    def token(self, request: Request) -> Response:
        identity = self.sandbox.identity
        form = dict(request.form.items())
        try:
            identity.check_client(request.headers.get("Authorization"), form)
            body = identity.grant(form)
        except OAuthError as exc:
            return json_response(exc.body(), exc.status)
        return json_response(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def connections(self, request: Request) -> Response:
        try:
            self.sandbox.identity.authenticate(request.headers.get("Authorization"))
        except OAuthError as exc:
            detail = "TokenExpired: token expired" if exc.error == "TokenExpired" else "AuthenticationUnsuccessful"
            return problem(401, detail)
        return json_response(self.sandbox.identity.connections_json(request.args.get("authEventId")))

    def disconnect(self, request: Request, connection_id: str) -> Response:
        try:
            self.sandbox.identity.authenticate(request.headers.get("Authorization"))
        except OAuthError:
            return problem(401, "AuthenticationUnsuccessful")
        if not self.sandbox.identity.disconnect(connection_id):
            return not_found()
        return Response(status=204)


def _drop_connection(request: Request) -> bool:
    """Shut the client's TCP connection down without an answer (werkzeug's dev server exposes the socket)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    time.sleep(0)  # let the shutdown reach the peer before werkzeug tries to write
    return True


def _dropped(request: Request) -> Response:
    if request.environ.get("werkzeug.socket") is not None:
        raise ConnectionAbortedError("sandbox fault: connection held, then dropped")
    return Response("Gateway Timeout (sandbox: request hung)", status=504)
