"""Xero Accounting API client.

* Auth: a custom connection (``client_credentials``) token cached until shortly before it expires; a 401 refreshes once.
* Every Accounting call sends ``xero-tenant-id``.
* Creates use ``summarizeErrors=false`` (per-element results) and a deterministic ``Idempotency-Key``, so a retried or
  redelivered batch returns the first response instead of creating a second invoice.
* Xero allows 60 calls per minute per tenant; the limiter keeps this process at 50.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from kommo_xero_sync.clients.http import HttpClient, RateLimiter, parse_json
from kommo_xero_sync.clients.kommo import chunks
from kommo_xero_sync.exceptions import ApiError, AuthError, ValidationFailed
from kommo_xero_sync.models.xero import XeroContact, XeroInvoice, XeroOrganisation

IDS_PER_GET = 40  # keeps the URL comfortably short


class ClientCredentialsAuth:
    """Custom-connection token (``grant_type=client_credentials``), cached in memory per container."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, http: HttpClient) -> None:
        self.token_url = token_url
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._http = http
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self, force: bool = False) -> str:
        if force or self._token is None or time.time() > self._expires_at - 60:
            response = self._http.request(
                "POST",
                "/connect/token",
                url=self.token_url,
                data="grant_type=client_credentials",
                headers={"Authorization": f"Basic {self._basic}", "Content-Type": "application/x-www-form-urlencoded"},
                route="POST /connect/token",
                safe_to_retry=True,
            )
            body = parse_json(response) or {}
            self._token = str(body["access_token"])
            self._expires_at = time.time() + float(body.get("expires_in", 1800))
        return self._token


class XeroClient:
    def __init__(
        self,
        api_base: str,
        auth: ClientCredentialsAuth,
        tenant_id: str | None,
        *,
        http: HttpClient | None = None,
        connections_url: str | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.http = http or HttpClient("xero", self.api_base, limiter=RateLimiter(50, 60.0))
        self.auth = auth
        self._tenant_id = tenant_id
        self._connections_url = connections_url
        self._organisation: XeroOrganisation | None = None

    @property
    def tenant_id(self) -> str:
        if self._tenant_id is None:
            self._tenant_id = self._discover_tenant()
        return self._tenant_id

    def _discover_tenant(self) -> str:
        if not self._connections_url:
            raise AuthError("xero", 403, "no tenant id configured and no connections URL to discover it")
        response = self.http.request(
            "GET",
            "/connections",
            url=self._connections_url,
            headers={"Authorization": f"Bearer {self.auth.token()}"},
            route="GET /connections",
        )
        connections = parse_json(response) or []
        if len(connections) != 1:
            raise AuthError("xero", 403, f"expected exactly one connected organisation, found {len(connections)}")
        return str(connections[0]["tenantId"])

    def _call(
        self,
        method: str,
        path: str,
        *,
        route: str,
        params: Any = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        safe_to_retry: bool | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> requests.Response:
        for attempt in (1, 2):
            send = {"Authorization": f"Bearer {self.auth.token(force=attempt == 2)}", "xero-tenant-id": self.tenant_id}
            send.update(headers or {})
            try:
                return self.http.request(
                    method,
                    path,
                    route=route,
                    params=params,
                    json_body=json_body,
                    headers=send,
                    safe_to_retry=safe_to_retry,
                    ok=ok,
                )
            except AuthError as exc:
                if exc.status == 401 and attempt == 1:
                    continue  # the token expired early or was revoked: fetch a new one once
                raise
        raise AssertionError("unreachable")

    # -- organisation ------------------------------------------------------------------------------------------
    def organisation(self) -> XeroOrganisation:
        if self._organisation is None:
            body = parse_json(self._call("GET", "/Organisation", route="GET /Organisation")) or {}
            self._organisation = XeroOrganisation.model_validate((body.get("Organisations") or [{}])[0])
        return self._organisation

    def currencies(self) -> set[str]:
        body = parse_json(self._call("GET", "/Currencies", route="GET /Currencies")) or {}
        return {str(c["Code"]) for c in body.get("Currencies", [])}

    # -- invoices ----------------------------------------------------------------------------------------------
    def _get_by_ids(self, collection: str, ids: Iterable[str], params: dict[str, Any]) -> list[dict[str, Any]]:
        """GET ``/{collection}?IDs=`` in chunks short enough for a URL."""
        rows: list[dict[str, Any]] = []
        for batch in chunks(sorted(set(ids)), IDS_PER_GET):
            response = self._call(
                "GET", f"/{collection}", params={"IDs": ",".join(batch), **params}, route=f"GET /{collection}?IDs"
            )
            rows += (parse_json(response) or {}).get(collection, [])
        return rows

    def _create(self, collection: str, items: Sequence[dict[str, Any]], idempotency_key: str) -> list[dict[str, Any]]:
        """PUT many items in one call with per-element results (``summarizeErrors=false``)."""
        response = self._call(
            "PUT",
            f"/{collection}",
            params={"summarizeErrors": "false"},
            json_body={collection: list(items)},
            headers={"Idempotency-Key": idempotency_key[:128]},
            route=f"PUT /{collection}",
            safe_to_retry=True,  # the Idempotency-Key makes a repeat return the first response
        )
        return list((parse_json(response) or {}).get(collection, []))

    def get_invoices(self, invoice_ids: Iterable[str]) -> list[XeroInvoice]:
        # page=1: paged results carry line items and payments; unpaged multi-invoice GETs are summaries.
        return [XeroInvoice.model_validate(i) for i in self._get_by_ids("Invoices", invoice_ids, {"page": 1})]

    def find_invoices_by_reference(self, reference: str) -> list[XeroInvoice]:
        where = f'Type=="ACCREC" AND Reference=="{_quote(reference)}"'
        body = parse_json(self._call("GET", "/Invoices", params={"where": where}, route="GET /Invoices?where"))
        return [XeroInvoice.model_validate(i) for i in (body or {}).get("Invoices", [])]

    def invoices_modified_since(
        self, since: datetime, page: int, page_size: int = 500
    ) -> tuple[list[XeroInvoice], int | None]:
        """One page of ACCREC invoices changed since ``since``; returns (invoices, page_count or None)."""
        headers = {"If-Modified-Since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")}
        params = {"where": 'Type=="ACCREC"', "page": page, "pageSize": page_size, "order": "UpdatedDateUTC ASC"}
        response = self._call("GET", "/Invoices", params=params, headers=headers, route="GET /Invoices?modified")
        if response.status_code == 304:
            return [], 0
        body = parse_json(response) or {}
        pages = (body.get("pagination") or {}).get("pageCount")
        return [XeroInvoice.model_validate(i) for i in body.get("Invoices", [])], pages

    def create_invoices(self, invoices: Sequence[dict[str, Any]], idempotency_key: str) -> list[XeroInvoice]:
        return [XeroInvoice.model_validate(i) for i in self._create("Invoices", invoices, idempotency_key)]

    def online_invoice_url(self, invoice_id: str) -> str | None:
        try:
            response = self._call(
                "GET", f"/Invoices/{invoice_id}/OnlineInvoice", route="GET /Invoices/{id}/OnlineInvoice"
            )
        except ValidationFailed:
            return None  # DRAFT invoices have no online invoice
        rows = (parse_json(response) or {}).get("OnlineInvoices") or []
        return str(rows[0]["OnlineInvoiceUrl"]) if rows else None

    def invoice_pdf(self, invoice_id: str) -> bytes:
        response = self._call(
            "GET", f"/Invoices/{invoice_id}", headers={"Accept": "application/pdf"}, route="GET /Invoices/{id} (pdf)"
        )
        if not response.content.startswith(b"%PDF"):
            raise ApiError("xero", response.status_code, "expected a PDF")
        return response.content

    # -- contacts ----------------------------------------------------------------------------------------------
    def find_contacts(self, where: str) -> list[XeroContact]:
        body = parse_json(self._call("GET", "/Contacts", params={"where": where}, route="GET /Contacts?where"))
        return [XeroContact.model_validate(c) for c in (body or {}).get("Contacts", [])]

    def get_contacts(self, contact_ids: Iterable[str]) -> list[XeroContact]:
        return [XeroContact.model_validate(c) for c in self._get_by_ids("Contacts", contact_ids, {})]

    def create_contacts(self, contacts: Sequence[dict[str, Any]], idempotency_key: str) -> list[XeroContact]:
        return [XeroContact.model_validate(c) for c in self._create("Contacts", contacts, idempotency_key)]


def _quote(value: str) -> str:
    """Escape a value for a Xero ``where`` string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def where_equals(field: str, value: str) -> str:
    return f'{field}=="{_quote(value)}"'
