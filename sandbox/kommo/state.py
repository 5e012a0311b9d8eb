"""The account's data: users, pipelines, custom fields, leads, contacts, companies, notes, files, catalogs, webhooks.

Everything lives in one ``KommoState`` guarded by one re-entrant lock (``state.lock``). Handlers take the lock for a
whole request so a batch write is applied atomically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.kommo.fields import CustomFieldDef, StoredValues

WON_STATUS_ID = 142
LOST_STATUS_ID = 143
CLOSED_STATUSES = (WON_STATUS_ID, LOST_STATUS_ID)


@dataclass
class User:
    id: int
    name: str
    email: str
    is_admin: bool = False
    lang: str = "en"


@dataclass
class Status:
    id: int
    name: str
    sort: int
    pipeline_id: int
    type: int = 0  # 1 = incoming leads
    color: str = "#99ccff"
    is_editable: bool = True


@dataclass
class Pipeline:
    id: int
    name: str
    sort: int
    is_main: bool
    statuses: list[Status] = field(default_factory=list)
    is_unsorted_on: bool = True
    is_archive: bool = False

    def status(self, status_id: int) -> Status | None:
        return next((s for s in self.statuses if s.id == status_id), None)

    def first_regular_status(self) -> Status:
        regular = [s for s in self.statuses if s.type == 0 and s.id not in CLOSED_STATUSES]
        return min(regular or self.statuses, key=lambda s: s.sort)


@dataclass
class Tag:
    id: int
    name: str
    color: str | None = None


@dataclass
class LeadContact:
    id: int
    is_main: bool


@dataclass
class LinkedElement:
    id: int
    catalog_id: int
    quantity: float | int
    price_id: int | None = None


@dataclass
class Lead:
    id: int
    name: str
    price: int
    status_id: int
    pipeline_id: int
    responsible_user_id: int
    created_by: int
    updated_by: int
    created_at: int
    updated_at: int
    closed_at: int | None = None
    loss_reason_id: int | None = None
    group_id: int = 0
    custom_fields: StoredValues = field(default_factory=dict)
    tags: list[Tag] = field(default_factory=list)
    contacts: list[LeadContact] = field(default_factory=list)
    company_id: int | None = None
    catalog_elements: list[LinkedElement] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # file uuids
    is_deleted: bool = False


@dataclass
class Contact:
    id: int
    name: str
    first_name: str
    last_name: str
    responsible_user_id: int
    created_by: int
    updated_by: int
    created_at: int
    updated_at: int
    group_id: int = 0
    custom_fields: StoredValues = field(default_factory=dict)
    tags: list[Tag] = field(default_factory=list)
    company_id: int | None = None
    is_deleted: bool = False


@dataclass
class Company:
    id: int
    name: str
    responsible_user_id: int
    created_by: int
    updated_by: int
    created_at: int
    updated_at: int
    group_id: int = 0
    custom_fields: StoredValues = field(default_factory=dict)
    tags: list[Tag] = field(default_factory=list)
    is_deleted: bool = False


@dataclass
class Note:
    id: int
    entity_type: str  # leads | contacts | companies
    entity_id: int
    note_type: str
    params: dict[str, Any]
    created_by: int
    updated_by: int
    created_at: int
    updated_at: int
    responsible_user_id: int
    group_id: int = 0
    is_pinned: bool = False


@dataclass
class Task:
    id: int
    entity_type: str  # leads | contacts | companies
    entity_id: int
    text: str
    complete_till: int
    task_type_id: int
    responsible_user_id: int
    created_by: int
    created_at: int
    updated_at: int
    is_completed: bool = False


@dataclass
class DriveFile:
    uuid: str
    version_uuid: str
    name: str
    size: int
    content_type: str
    content: bytes
    created_at: int
    created_by: int


@dataclass
class UploadSession:
    id: int
    token: str
    file_name: str
    file_size: int
    content_type: str
    created_at: float
    file_uuid: str | None = None  # set when uploading a new version of an existing file
    received: bytearray = field(default_factory=bytearray)
    parts: int = 0
    done: bool = False


@dataclass
class Catalog:
    id: int
    name: str
    type: str = "products"
    sort: int = 10
    created_at: int = 0
    created_by: int = 0


@dataclass
class CatalogElement:
    id: int
    catalog_id: int
    name: str
    created_at: int
    updated_at: int
    created_by: int
    custom_fields: StoredValues = field(default_factory=dict)
    is_deleted: bool = False


@dataclass
class Webhook:
    id: int
    destination: str
    settings: list[str]
    sort: int
    created_at: int
    updated_at: int
    created_by: int
    disabled: bool = False


@dataclass
class Account:
    id: int
    subdomain: str
    name: str = "Demo account"
    currency: str = "NZD"
    currency_symbol: str = "$"
    country: str = "NZ"
    created_at: int = 0


class KommoState:
    def __init__(self, account: Account) -> None:
        self.lock = threading.RLock()
        self.account = account
        self.users: dict[int, User] = {}
        self.pipelines: dict[int, Pipeline] = {}
        self.custom_fields: dict[str, dict[int, CustomFieldDef]] = {"leads": {}, "contacts": {}, "companies": {}}
        self.catalog_fields: dict[int, dict[int, CustomFieldDef]] = {}
        self.leads: dict[int, Lead] = {}
        self.contacts: dict[int, Contact] = {}
        self.companies: dict[int, Company] = {}
        self.notes: dict[int, Note] = {}
        self.tasks: dict[int, Task] = {}
        self.files: dict[str, DriveFile] = {}
        self.upload_sessions: dict[str, UploadSession] = {}
        self.catalogs: dict[int, Catalog] = {}
        self.catalog_elements: dict[int, CatalogElement] = {}
        self.tags: dict[str, dict[str, Tag]] = {"leads": {}, "contacts": {}, "companies": {}}
        self.webhooks: dict[int, Webhook] = {}
        self.file_ids: dict[tuple[int, str], int] = {}  # (lead id, file uuid) -> attachment id
        self._next: dict[str, int] = {}
        self.snapshot: Callable[[], dict[str, Any]] | None = None  # set by KommoSandbox

    def __call__(self) -> dict[str, Any]:
        """``sandbox.state()``: everything in API shapes (``sandbox.state.leads`` etc. are the live objects)."""
        if self.snapshot is None:
            raise RuntimeError("state snapshot is only available through a KommoSandbox")
        return self.snapshot()

    # ids --------------------------------------------------------------------------------------------------------
    def next_id(self, kind: str, start: int) -> int:
        with self.lock:
            value = max(self._next.get(kind, start), start)
            self._next[kind] = value + 1
            return value

    def bump_ids(self, kind: str, used: int) -> None:
        with self.lock:
            self._next[kind] = max(self._next.get(kind, 0), used + 1)

    # lookups ----------------------------------------------------------------------------------------------------
    def main_pipeline(self) -> Pipeline:
        mains = [p for p in self.pipelines.values() if p.is_main]
        return mains[0] if mains else min(self.pipelines.values(), key=lambda p: p.sort)

    def pipeline_of_status(self, status_id: int) -> Pipeline | None:
        if status_id in CLOSED_STATUSES:
            return self.main_pipeline()
        return next((p for p in self.pipelines.values() if p.status(status_id)), None)

    def status_name(self, pipeline_id: int, status_id: int) -> str:
        p = self.pipelines.get(pipeline_id)
        s = p.status(status_id) if p else None
        return s.name if s else str(status_id)

    def field_defs(self, entity_type: str) -> dict[int, CustomFieldDef]:
        return self.custom_fields.get(entity_type, {})

    def tag(self, entity_type: str, name: str, tag_id: int | None = None) -> Tag:
        bucket = self.tags.setdefault(entity_type, {})
        existing = bucket.get(name.lower())
        if existing is None:
            existing = Tag(id=tag_id or self.next_id("tag", 300001), name=name)
            bucket[name.lower()] = existing
        return existing

    def tag_by_id(self, entity_type: str, tag_id: int) -> Tag | None:
        return next((t for t in self.tags.get(entity_type, {}).values() if t.id == tag_id), None)

    def leads_of_contact(self, contact_id: int) -> list[int]:
        return [lead.id for lead in self.leads.values() if any(c.id == contact_id for c in lead.contacts)]

    def leads_of_company(self, company_id: int) -> list[int]:
        return [lead.id for lead in self.leads.values() if lead.company_id == company_id]

    def contacts_of_company(self, company_id: int) -> list[int]:
        return [c.id for c in self.contacts.values() if c.company_id == company_id]
