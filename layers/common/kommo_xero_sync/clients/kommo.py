"""Kommo API v4 client: batched reads (<=250 per call), batched writes (<=50 per call), 204 as "nothing".

Kommo allows 7 requests per second per integration; the limiter keeps this process at 6 so a second worker and the
sweep still fit. Reads follow ``_links.next`` page by page.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from kommo_xero_sync.clients.http import HttpClient, RateLimiter, parse_json
from kommo_xero_sync.models.kommo import CatalogElement, Company, Contact, Lead

T = TypeVar("T")

READ_BATCH = 250  # Kommo's maximum per request
WRITE_BATCH = 50  # Kommo recommends at most 50 per write


def chunks[T](items: Sequence[T] | Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class KommoClient:
    def __init__(self, origin: str, access_token: str, *, http: HttpClient | None = None) -> None:
        self.origin = origin.rstrip("/")
        self.http = http or HttpClient("kommo", self.origin, limiter=RateLimiter(6, 1.0))
        self._auth = {"Authorization": f"Bearer {access_token}"}

    # -- reads -------------------------------------------------------------------------------------------------
    def _get_list(self, path: str, key: str, params: list[tuple[str, Any]], route: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = None
        query: list[tuple[str, Any]] | None = params
        while True:
            response = self.http.request("GET", path, url=url, params=query, headers=self._auth, route=route)
            if response.status_code == 204:
                return out
            body = parse_json(response) or {}
            out.extend(body.get("_embedded", {}).get(key, []))
            next_href = body.get("_links", {}).get("next", {}).get("href")
            if not next_href:
                return out
            url, query = next_href, None

    def get_leads(self, lead_ids: Iterable[int]) -> list[Lead]:
        leads: list[Lead] = []
        for batch in chunks(sorted(set(lead_ids)), READ_BATCH):
            params: list[tuple[str, Any]] = [("with", "contacts,catalog_elements"), ("limit", READ_BATCH)]
            params += [("filter[id][]", i) for i in batch]
            rows = self._get_list("/api/v4/leads", "leads", params, "GET /api/v4/leads")
            leads.extend(Lead.model_validate(r) for r in rows)
        return leads

    def find_leads(
        self,
        *,
        pipeline_ids: Sequence[int] = (),
        query: str | None = None,
        price_between: tuple[int, int] | None = None,
    ) -> list[Lead]:
        """Deals of the given pipelines, optionally by full-text ``query`` and budget range (all pages)."""
        params: list[tuple[str, Any]] = [("with", "contacts"), ("limit", READ_BATCH)]
        params += [("filter[pipeline_id][]", p) for p in pipeline_ids]
        if price_between is not None:
            params += [("filter[price][from]", price_between[0]), ("filter[price][to]", price_between[1])]
        if query:
            params.append(("query", query))
        rows = self._get_list("/api/v4/leads", "leads", params, "GET /api/v4/leads?query")
        return [Lead.model_validate(r) for r in rows]

    def get_contacts(self, ids: Iterable[int]) -> list[Contact]:
        return [Contact.model_validate(r) for r in self._get_by_ids("contacts", ids)]

    def get_companies(self, ids: Iterable[int]) -> list[Company]:
        return [Company.model_validate(r) for r in self._get_by_ids("companies", ids)]

    def _get_by_ids(self, entity: str, ids: Iterable[int]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for batch in chunks(sorted(set(ids)), READ_BATCH):
            params: list[tuple[str, Any]] = [("limit", READ_BATCH)] + [("filter[id][]", i) for i in batch]
            rows += self._get_list(f"/api/v4/{entity}", entity, params, f"GET /api/v4/{entity}")
        return rows

    def search_contacts(self, query: str) -> list[Contact]:
        """Full-text search of contacts (names, e-mails, phones); the caller checks which field matched."""
        return [Contact.model_validate(r) for r in self._search("contacts", query)]

    def search_companies(self, query: str) -> list[Company]:
        return [Company.model_validate(r) for r in self._search("companies", query)]

    def _search(self, entity: str, query: str) -> list[dict[str, Any]]:
        params: list[tuple[str, Any]] = [("query", query), ("limit", 50)]
        return self._get_list(f"/api/v4/{entity}", entity, params, f"GET /api/v4/{entity}?query")

    def get_catalog_elements(self, catalog_id: int, ids: Iterable[int]) -> list[CatalogElement]:
        rows: list[dict[str, Any]] = []
        path = f"/api/v4/catalogs/{catalog_id}/elements"
        for batch in chunks(sorted(set(ids)), READ_BATCH):
            params: list[tuple[str, Any]] = [("limit", READ_BATCH)] + [("filter[id][]", i) for i in batch]
            rows += self._get_list(path, "elements", params, "GET /api/v4/catalogs/{id}/elements")
        return [CatalogElement.model_validate(r) for r in rows]

    def get_account(self, with_drive_url: bool = False) -> dict[str, Any]:
        params = {"with": "drive_url"} if with_drive_url else None
        response = self.http.request("GET", "/api/v4/account", params=params, headers=self._auth)
        return parse_json(response) or {}

    # -- writes ------------------------------------------------------------------------------------------------
    def update_leads(self, patches: Sequence[dict[str, Any]]) -> int:
        """Batch PATCH (each patch has ``id``); returns the number of calls made."""
        return len(self._send_batches("PATCH", "/api/v4/leads", patches))

    def add_notes(self, notes: Sequence[dict[str, Any]], entity: str = "leads") -> int:
        """Batch add notes (each has ``entity_id``, ``note_type``, ``params``); returns the number of calls."""
        return len(self._send_batches("POST", f"/api/v4/{entity}/notes", notes, safe_to_retry=False))

    def add_tasks(self, tasks: Sequence[dict[str, Any]]) -> int:
        """Batch add tasks (each has ``entity_id``, ``entity_type``, ``text``, ``complete_till``, optionally
        ``responsible_user_id`` and ``task_type_id``); returns the number of calls."""
        return len(self._send_batches("POST", "/api/v4/tasks", tasks, safe_to_retry=False))

    def create_leads_complex(self, leads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        created: list[dict[str, Any]] = []
        for response in self._send_batches("POST", "/api/v4/leads/complex", leads, safe_to_retry=False):
            created += parse_json(response) or []
        return created

    def _send_batches(
        self, method: str, path: str, items: Sequence[dict[str, Any]], *, safe_to_retry: bool | None = None
    ) -> list[Any]:
        """Send ``items`` in requests of at most WRITE_BATCH. A POST that creates things is not idempotent: its callers
        pass ``safe_to_retry=False`` so it is retried only when the request cannot have been committed."""
        return [
            self.http.request(method, path, json_body=batch, headers=self._auth, safe_to_retry=safe_to_retry)
            for batch in chunks(items, WRITE_BATCH)
        ]

    def upload_file(self, drive_url: str, file_name: str, content: bytes, content_type: str) -> str:
        """Upload through a Drive session (chunked) and return the file uuid."""
        session = self.http.request(
            "POST",
            "/v1.0/sessions",
            url=f"{drive_url.rstrip('/')}/v1.0/sessions",
            json_body={"file_name": file_name, "file_size": len(content), "content_type": content_type},
            headers=self._auth,
            route="POST drive/v1.0/sessions",
        )
        info = parse_json(session) or {}
        part = int(info.get("max_part_size") or 524288)
        upload_url = info["upload_url"]
        result: dict[str, Any] = {}
        for offset in range(0, max(len(content), 1), part):
            response = self.http.request(
                "POST",
                "upload",
                url=upload_url,
                data=content[offset : offset + part],
                headers={**self._auth, "Content-Type": "application/octet-stream"},
                route="POST drive/upload",
                safe_to_retry=False,
            )
            result = parse_json(response) or {}
            upload_url = result.get("next_url") or upload_url
        return str(result["uuid"])

    def attach_files(self, lead_id: int, file_uuids: Sequence[str]) -> None:
        self.http.request(
            "PUT",
            f"/api/v4/leads/{lead_id}/files",
            json_body=[{"file_uuid": u} for u in file_uuids],
            headers=self._auth,
            route="PUT /api/v4/leads/{id}/files",
        )
