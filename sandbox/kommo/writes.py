"""Validated writes: leads, contacts, companies, complex add, notes, links, files.

Every function validates the whole batch first (collecting K10 ``validation-errors``) and only then applies it, so a
request either commits completely or not at all. Lead changes are returned as ``LeadEvent``s for the webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from sandbox.kommo.fields import apply_custom_fields, validate_custom_fields
from sandbox.kommo.problems import ApiError, ValidationErrors
from sandbox.kommo.state import (
    CLOSED_STATUSES,
    Company,
    Contact,
    KommoState,
    Lead,
    LeadContact,
    LinkedElement,
    Note,
    Tag,
    Task,
)

MAX_BATCH = 250
MAX_COMPLEX = 50

NOTE_TYPES = {
    "common",
    "call_in",
    "call_out",
    "service_message",
    "extended_service_message",
    "geolocation",
    "sms_in",
    "sms_out",
    "attachment",
    "invoice_paid",
}


@dataclass
class LeadEvent:
    kind: str  # "add" | "update" | "status"
    lead_id: int
    old_status_id: int | None = None
    old_pipeline_id: int | None = None
    modified_user_id: int = 0


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def request_id_of(item: Any, index: int) -> str:
    if isinstance(item, dict) and item.get("request_id") is not None:
        return str(item["request_id"])
    return str(index)


def require_batch(body: Any, limit: int = MAX_BATCH) -> list[Any]:
    """A write body must be a non-empty JSON array of at most ``limit`` items."""
    if body is None or body == [] or body == {}:
        raise ApiError(400, "Request data can not be empty")
    if not isinstance(body, list):
        errors = ValidationErrors()
        errors.add("0", "InvalidType", "", "This value should be of type array.")
        errors.raise_if_any()
    if len(body) > limit:
        raise ApiError(422, f"Limit {limit} per page")
    return body


def _embedded(item: dict[str, Any]) -> dict[str, Any]:
    emb = item.get("_embedded")
    return emb if isinstance(emb, dict) else {}


def _validate_tags(
    state: KommoState, entity_type: str, item: dict[str, Any], rid: str, prefix: str, errors: ValidationErrors
) -> list[Tag | dict[str, Any]] | None | bool:
    """False = not given; None = detach all; otherwise the tags (existing Tag or {"name": ...} to create)."""
    emb = _embedded(item)
    if "tags" not in emb:
        return False
    tags = emb["tags"]
    if tags is None:
        return None
    if not isinstance(tags, list):
        errors.add(rid, "InvalidType", f"{prefix}_embedded.tags", "This value should be of type array.")
        return False
    out: list[Tag | dict[str, Any]] = []
    for i, t in enumerate(tags):
        if isinstance(t, dict) and _is_int(t.get("id")):
            found = state.tag_by_id(entity_type, t["id"])
            if found is None:
                errors.add(rid, "NotSupportedChoice", f"{prefix}_embedded.tags.{i}.id", "The tag does not exist.")
            else:
                out.append(found)
        elif isinstance(t, dict) and isinstance(t.get("name"), str) and t["name"].strip():
            out.append({"name": t["name"].strip(), "color": t.get("color")})
        else:
            errors.add(rid, "InvalidType", f"{prefix}_embedded.tags.{i}", "A tag needs an id or a name.")
    return out


def _resolve_tags(state: KommoState, entity_type: str, tags: list[Tag | dict[str, Any]]) -> list[Tag]:
    out: list[Tag] = []
    for t in tags:
        tag = t if isinstance(t, Tag) else state.tag(entity_type, t["name"])
        if all(x.id != tag.id for x in out):
            out.append(tag)
    return out


def _validate_common_ints(
    item: dict[str, Any], names: tuple[str, ...], rid: str, prefix: str, errors: ValidationErrors
) -> dict[str, Any]:
    plan: dict[str, Any] = {}
    for name in names:
        if name not in item:
            continue
        v = item[name]
        if v is None and name in ("closed_at", "loss_reason_id"):
            plan[name] = None
        elif not _is_int(v):
            errors.add(rid, "InvalidType", f"{prefix}{name}", "This value should be of type int.")
        else:
            plan[name] = v
    return plan


def _check_user(state: KommoState, plan: dict[str, Any], rid: str, prefix: str, errors: ValidationErrors) -> None:
    uid = plan.get("responsible_user_id")
    if uid is not None and uid not in state.users:
        errors.add(
            rid, "NotSupportedChoice", f"{prefix}responsible_user_id", "The value you selected is not a valid choice."
        )


# leads ---------------------------------------------------------------------------------------------------------------

LEAD_INTS = (
    "price",
    "responsible_user_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "closed_at",
    "loss_reason_id",
)


def validate_lead(
    state: KommoState,
    item: Any,
    index: int,
    errors: ValidationErrors,
    *,
    existing: Lead | None,
    prefix: str = "",
    rid: str | None = None,
) -> dict[str, Any] | None:
    rid = rid if rid is not None else request_id_of(item, index)
    if not isinstance(item, dict):
        errors.add(rid, "InvalidType", prefix.rstrip(".") or str(index), "This value should be of type object.")
        return None
    before = errors.count()
    plan = _validate_common_ints(item, LEAD_INTS, rid, prefix, errors)
    if "name" in item:
        if isinstance(item["name"], str):
            plan["name"] = item["name"]
        else:
            errors.add(rid, "InvalidType", f"{prefix}name", "This value should be of type string.")
    if plan.get("price") is not None and plan["price"] < 0:
        errors.add(rid, "GreaterThanOrEqual", f"{prefix}price", "This value should be greater than or equal to 0.")
    _check_user(state, plan, rid, prefix, errors)

    pid, sid = item.get("pipeline_id"), item.get("status_id")
    if pid is not None and not _is_int(pid):
        errors.add(rid, "InvalidType", f"{prefix}pipeline_id", "This value should be of type int.")
        pid = None
    if sid is not None and not _is_int(sid):
        errors.add(rid, "InvalidType", f"{prefix}status_id", "This value should be of type int.")
        sid = None
    if pid is not None and pid not in state.pipelines:
        errors.add(rid, "NotSupportedChoice", f"{prefix}pipeline_id", "The value you selected is not a valid choice.")
    elif pid is not None or sid is not None or existing is None:
        if pid is None:
            if sid is None:
                pipeline = state.main_pipeline()
            elif existing is not None and state.pipelines[existing.pipeline_id].status(sid):
                pipeline = state.pipelines[existing.pipeline_id]
            else:
                found = state.pipeline_of_status(sid)
                pipeline = found if found is not None else state.main_pipeline()
        else:
            pipeline = state.pipelines[pid]
        if sid is None:
            if existing is not None and existing.pipeline_id == pipeline.id:
                sid = existing.status_id
            else:
                sid = pipeline.first_regular_status().id
        if pipeline.status(sid) is None:
            errors.add(rid, "NotSupportedChoice", f"{prefix}status_id", "The value you selected is not a valid choice.")
        else:
            plan["pipeline_id"], plan["status_id"] = pipeline.id, sid

    if "custom_fields_values" in item:
        cf = validate_custom_fields(
            state.field_defs("leads"), item["custom_fields_values"], rid, errors, f"{prefix}custom_fields_values"
        )
        if cf is not None:
            plan["custom_fields"] = cf
    tags = _validate_tags(state, "leads", item, rid, prefix, errors)
    if tags is not False:
        plan["tags"] = tags
    emb = _embedded(item)
    for key, store in (("contacts", state.contacts), ("companies", state.companies)):
        refs = emb.get(key)
        if refs is None:
            continue
        if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
            errors.add(rid, "InvalidType", f"{prefix}_embedded.{key}", "This value should be of type array.")
            continue
        if all("id" in r for r in refs):
            ids = []
            for i, r in enumerate(refs):
                if not _is_int(r["id"]) or r["id"] not in store:
                    errors.add(rid, "NotFound", f"{prefix}_embedded.{key}.{i}.id", "Entity not found.")
                else:
                    ids.append((r["id"], bool(r.get("is_main", i == 0))))
            plan[f"link_{key}"] = ids
    return plan if errors.count() == before else None


def apply_lead(state: KommoState, lead: Lead, plan: dict[str, Any], now: int, user_id: int) -> list[LeadEvent]:
    old_status, old_pipeline = lead.status_id, lead.pipeline_id
    changed = False
    for name in ("name", *LEAD_INTS, "pipeline_id", "status_id"):
        if name in plan and getattr(lead, name) != plan[name]:
            setattr(lead, name, plan[name])
            changed = True
    if "custom_fields" in plan and apply_custom_fields(lead.custom_fields, plan["custom_fields"]):
        changed = True
    if "tags" in plan:
        tags = _resolve_tags(state, "leads", plan["tags"] or [])
        if [t.id for t in tags] != [t.id for t in lead.tags]:
            lead.tags = tags
            changed = True
    if "link_contacts" in plan:
        link_contacts(lead, plan["link_contacts"])
        changed = True
    if "link_companies" in plan and plan["link_companies"]:
        lead.company_id = plan["link_companies"][0][0]
        changed = True
    status_changed = (lead.status_id, lead.pipeline_id) != (old_status, old_pipeline)
    if status_changed and "closed_at" not in plan:
        lead.closed_at = now if lead.status_id in CLOSED_STATUSES else None
    if changed:
        if "updated_at" not in plan:
            lead.updated_at = now
        if "updated_by" not in plan:
            lead.updated_by = user_id
    events: list[LeadEvent] = []
    if changed:
        events.append(LeadEvent("update", lead.id, old_status, old_pipeline, user_id))
    if status_changed:
        events.append(LeadEvent("status", lead.id, old_status, old_pipeline, user_id))
    return events


def link_contacts(lead: Lead, ids: list[tuple[int, bool]]) -> None:
    for cid, is_main in ids:
        existing = next((c for c in lead.contacts if c.id == cid), None)
        if existing is None:
            lead.contacts.append(LeadContact(cid, False))
        if is_main or not any(c.is_main for c in lead.contacts):
            for c in lead.contacts:
                c.is_main = c.id == cid


def new_lead(state: KommoState, plan: dict[str, Any], now: int, user_id: int) -> tuple[Lead, list[LeadEvent]]:
    lead = Lead(
        id=state.next_id("lead", 1000001),
        name=plan.get("name", ""),
        price=plan.get("price") or 0,
        status_id=plan["status_id"],
        pipeline_id=plan["pipeline_id"],
        responsible_user_id=plan.get("responsible_user_id") or user_id,
        created_by=plan.get("created_by") or user_id,
        updated_by=plan.get("updated_by") or user_id,
        created_at=plan.get("created_at") or now,
        updated_at=plan.get("updated_at") or now,
        closed_at=plan.get("closed_at", now if plan["status_id"] in CLOSED_STATUSES else None),
        loss_reason_id=plan.get("loss_reason_id"),
    )
    apply_custom_fields(lead.custom_fields, plan.get("custom_fields", {}))
    lead.tags = _resolve_tags(state, "leads", plan.get("tags") or [])
    if plan.get("link_contacts"):
        link_contacts(lead, plan["link_contacts"])
    if plan.get("link_companies"):
        lead.company_id = plan["link_companies"][0][0]
    state.leads[lead.id] = lead
    return lead, [LeadEvent("add", lead.id, None, None, user_id)]


def add_leads(state: KommoState, body: Any, now: int, user_id: int) -> tuple[list[tuple[Lead, str]], list[LeadEvent]]:
    items = require_batch(body)
    errors = ValidationErrors()
    plans = [validate_lead(state, item, i, errors, existing=None) for i, item in enumerate(items)]
    errors.raise_if_any()
    out: list[tuple[Lead, str]] = []
    events: list[LeadEvent] = []
    for i, (item, plan) in enumerate(zip(items, plans, strict=True)):
        assert plan is not None
        lead, evs = new_lead(state, plan, now, user_id)
        out.append((lead, request_id_of(item, i)))
        events.extend(evs)
    return out, events


def update_leads(
    state: KommoState, body: Any, now: int, user_id: int, *, lead_id: int | None = None
) -> tuple[list[tuple[Lead, str]], list[LeadEvent]]:
    if lead_id is not None:
        if not isinstance(body, dict) or not body:
            raise ApiError(400, "Request data can not be empty")
        items: list[Any] = [{**body, "id": lead_id}]
    else:
        items = require_batch(body)
    errors = ValidationErrors()
    targets: list[tuple[Lead, dict[str, Any], str]] = []
    for i, item in enumerate(items):
        rid = request_id_of(item, i)
        if not isinstance(item, dict):
            errors.add(rid, "InvalidType", str(i), "This value should be of type object.")
            continue
        lid = item.get("id")
        if lid is None:
            errors.add(rid, "NotBlank", "id", "This value should not be blank.")
            continue
        if not _is_int(lid):
            errors.add(rid, "InvalidType", "id", "This value should be of type int.")
            continue
        lead = state.leads.get(lid)
        if lead is None:
            if lead_id is not None:
                raise ApiError(404, "Lead not found")
            errors.add(rid, "NotFound", "id", "Entity not found.")
            continue
        plan = validate_lead(state, item, i, errors, existing=lead)
        if plan is not None:
            targets.append((lead, plan, rid))
    errors.raise_if_any()
    events: list[LeadEvent] = []
    for lead, plan, _ in targets:
        events.extend(apply_lead(state, lead, plan, now, user_id))
    return [(lead, rid) for lead, _, rid in targets], events


def move_leads(
    state: KommoState, lead_ids: list[int], status_id: int, pipeline_id: int | None, now: int, user_id: int
) -> list[LeadEvent]:
    """A person's bulk stage change (the control interface): all leads move, or ValueError and nothing moves."""
    if pipeline_id is not None and pipeline_id not in state.pipelines:
        raise ValueError(f"unknown pipeline {pipeline_id}")
    missing = [lid for lid in lead_ids if lid not in state.leads]
    if missing:
        raise ValueError(f"unknown leads {missing}")
    plans = []
    for lid in lead_ids:
        lead = state.leads[lid]
        pipeline = state.pipelines[pipeline_id] if pipeline_id is not None else None
        if pipeline is None:
            pipeline = (
                state.pipelines[lead.pipeline_id]
                if state.pipelines[lead.pipeline_id].status(status_id)
                else state.pipeline_of_status(status_id)
            )
        if pipeline is None or pipeline.status(status_id) is None:
            raise ValueError(f"status {status_id} is not in pipeline {pipeline_id or lead.pipeline_id}")
        plans.append((lead, {"status_id": status_id, "pipeline_id": pipeline.id}))
    events: list[LeadEvent] = []
    for lead, plan in plans:
        events.extend(apply_lead(state, lead, plan, now, user_id))
    return events


# contacts and companies --------------------------------------------------------------------------------------------

CONTACT_INTS = ("responsible_user_id", "created_by", "updated_by", "created_at", "updated_at")


def validate_contact(
    state: KommoState,
    item: Any,
    index: int,
    errors: ValidationErrors,
    *,
    entity_type: str,
    prefix: str = "",
    rid: str | None = None,
) -> dict[str, Any] | None:
    rid = rid if rid is not None else request_id_of(item, index)
    if not isinstance(item, dict):
        errors.add(rid, "InvalidType", prefix.rstrip(".") or str(index), "This value should be of type object.")
        return None
    before = errors.count()
    plan = _validate_common_ints(item, CONTACT_INTS, rid, prefix, errors)
    names = ("name", "first_name", "last_name") if entity_type == "contacts" else ("name",)
    for name in names:
        if name in item:
            if isinstance(item[name], str):
                plan[name] = item[name]
            else:
                errors.add(rid, "InvalidType", f"{prefix}{name}", "This value should be of type string.")
    _check_user(state, plan, rid, prefix, errors)
    if "custom_fields_values" in item:
        cf = validate_custom_fields(
            state.field_defs(entity_type), item["custom_fields_values"], rid, errors, f"{prefix}custom_fields_values"
        )
        if cf is not None:
            plan["custom_fields"] = cf
    tags = _validate_tags(state, entity_type, item, rid, prefix, errors)
    if tags is not False:
        plan["tags"] = tags
    if entity_type == "contacts":
        companies = _embedded(item).get("companies")
        if isinstance(companies, list) and companies:
            first = companies[0]
            cid = first.get("id") if isinstance(first, dict) else None
            if not _is_int(cid) or cid not in state.companies:
                errors.add(rid, "NotFound", f"{prefix}_embedded.companies.0.id", "Entity not found.")
            else:
                plan["company_id"] = cid
    return plan if errors.count() == before else None


def _apply_contact_like(
    state: KommoState, entity: Contact | Company, plan: dict[str, Any], entity_type: str, now: int, user_id: int
) -> None:
    for name in ("name", "first_name", "last_name", *CONTACT_INTS, "company_id"):
        if name in plan and hasattr(entity, name):
            setattr(entity, name, plan[name])
    if isinstance(entity, Contact) and ("first_name" in plan or "last_name" in plan) and "name" not in plan:
        entity.name = f"{entity.first_name} {entity.last_name}".strip()
    apply_custom_fields(entity.custom_fields, plan.get("custom_fields", {}))
    if "tags" in plan:
        entity.tags = _resolve_tags(state, entity_type, plan["tags"] or [])
    if "updated_at" not in plan:
        entity.updated_at = now
    if "updated_by" not in plan:
        entity.updated_by = user_id


def new_contact_like(state: KommoState, entity_type: str, plan: dict[str, Any], now: int, user_id: int) -> Any:
    common: dict[str, Any] = {
        "responsible_user_id": plan.get("responsible_user_id") or user_id,
        "created_by": plan.get("created_by") or user_id,
        "updated_by": plan.get("updated_by") or user_id,
        "created_at": plan.get("created_at") or now,
        "updated_at": plan.get("updated_at") or now,
    }
    entity: Contact | Company
    if entity_type == "contacts":
        first, last = plan.get("first_name", ""), plan.get("last_name", "")
        name = plan.get("name") or f"{first} {last}".strip()
        entity = Contact(state.next_id("contact", 6000001), name, first, last, **common)
        entity.company_id = plan.get("company_id")
        state.contacts[entity.id] = entity
    else:
        entity = Company(state.next_id("company", 6500001), plan.get("name", ""), **common)
        state.companies[entity.id] = entity
    apply_custom_fields(entity.custom_fields, plan.get("custom_fields", {}))
    entity.tags = _resolve_tags(state, entity_type, plan.get("tags") or [])
    return entity


def add_contacts(
    state: KommoState, entity_type: str, body: Any, now: int, user_id: int
) -> list[tuple[Contact | Company, str]]:
    items = require_batch(body)
    errors = ValidationErrors()
    plans = [validate_contact(state, item, i, errors, entity_type=entity_type) for i, item in enumerate(items)]
    errors.raise_if_any()
    return [
        (new_contact_like(state, entity_type, plan or {}, now, user_id), request_id_of(item, i))
        for i, (item, plan) in enumerate(zip(items, plans, strict=True))
    ]


def update_contacts(
    state: KommoState, entity_type: str, body: Any, now: int, user_id: int, *, entity_id: int | None = None
) -> list[tuple[Contact | Company, str]]:
    store: dict[int, Any] = state.contacts if entity_type == "contacts" else state.companies
    if entity_id is not None:
        if not isinstance(body, dict) or not body:
            raise ApiError(400, "Request data can not be empty")
        items: list[Any] = [{**body, "id": entity_id}]
    else:
        items = require_batch(body)
    errors = ValidationErrors()
    targets: list[tuple[Any, dict[str, Any], str]] = []
    for i, item in enumerate(items):
        rid = request_id_of(item, i)
        eid = item.get("id") if isinstance(item, dict) else None
        if not _is_int(eid):
            errors.add(rid, "NotBlank", "id", "This value should not be blank.")
            continue
        entity = store.get(eid)
        if entity is None:
            if entity_id is not None:
                raise ApiError(404, "Entity not found")
            errors.add(rid, "NotFound", "id", "Entity not found.")
            continue
        plan = validate_contact(state, item, i, errors, entity_type=entity_type)
        if plan is not None:
            targets.append((entity, plan, rid))
    errors.raise_if_any()
    for entity, plan, _ in targets:
        _apply_contact_like(state, entity, plan, entity_type, now, user_id)
    return [(entity, rid) for entity, _, rid in targets]


# complex ------------------------------------------------------------------------------------------------------------


def add_complex(state: KommoState, body: Any, now: int, user_id: int) -> tuple[list[dict[str, Any]], list[LeadEvent]]:
    """POST /api/v4/leads/complex: a lead with (at most) one new-or-existing contact and company each (K4.4).

    Duplicate control is off (as in a fresh account): ``merged`` is always false."""
    items = require_batch(body, MAX_COMPLEX)
    errors = ValidationErrors()
    prepared: list[tuple[dict[str, Any], Any, Any, str]] = []
    for i, item in enumerate(items):
        rid = request_id_of(item, i)
        stripped = dict(item) if isinstance(item, dict) else item
        emb = _embedded(stripped) if isinstance(stripped, dict) else {}
        contact_part: Any = None
        company_part: Any = None
        for key in ("contacts", "companies"):
            refs = emb.get(key)
            if refs is None:
                continue
            if not isinstance(refs, list) or len(refs) > 1:
                errors.add(rid, "InvalidValue", f"_embedded.{key}", "Only one entity can be linked.")
                continue
            if not refs:
                continue
            ref = refs[0]
            if isinstance(ref, dict) and "id" in ref:
                store: dict[int, Any] = state.contacts if key == "contacts" else state.companies
                if not _is_int(ref["id"]) or ref["id"] not in store:
                    errors.add(rid, "NotFound", f"_embedded.{key}.0.id", "Entity not found.")
                    continue
                part: Any = ("existing", ref["id"])
            else:
                cplan = validate_contact(state, ref, i, errors, entity_type=key, prefix=f"_embedded.{key}.0.", rid=rid)
                part = ("new", cplan)
            if key == "contacts":
                contact_part = part
            else:
                company_part = part
        if isinstance(stripped, dict):
            lead_emb = {k: v for k, v in emb.items() if k not in ("contacts", "companies")}
            stripped["_embedded"] = lead_emb
        plan = validate_lead(state, stripped, i, errors, existing=None, rid=rid)
        if plan is not None:
            prepared.append((plan, contact_part, company_part, rid))
    errors.raise_if_any()
    results: list[dict[str, Any]] = []
    events: list[LeadEvent] = []
    for plan, contact_part, company_part, rid in prepared:
        company_id = None
        contact_id = None
        if company_part is not None:
            if company_part[0] == "existing":
                company_id = company_part[1]
            else:
                company_id = new_contact_like(state, "companies", company_part[1] or {}, now, user_id).id
        if contact_part is not None:
            if contact_part[0] == "existing":
                contact_id = contact_part[1]
            else:
                contact = new_contact_like(state, "contacts", contact_part[1] or {}, now, user_id)
                contact_id = contact.id
                if company_id is not None:
                    contact.company_id = company_id
        if contact_id is not None:
            plan["link_contacts"] = [(contact_id, True)]
        if company_id is not None:
            plan["link_companies"] = [(company_id, False)]
        lead, evs = new_lead(state, plan, now, user_id)
        events.extend(evs)
        results.append(
            {"id": lead.id, "contact_id": contact_id, "company_id": company_id, "request_id": [rid], "merged": False}
        )
    return results, events


# notes --------------------------------------------------------------------------------------------------------------


def _validate_note_params(
    state: KommoState, note_type: str, params: Any, rid: str, errors: ValidationErrors
) -> dict[str, Any] | None:
    if not isinstance(params, dict):
        errors.add(rid, "InvalidType", "params", "This value should be of type object.")
        return None
    required: dict[str, tuple[str, ...]] = {
        "common": ("text",),
        "service_message": ("service", "text"),
        "extended_service_message": ("service", "text"),
        "invoice_paid": ("service", "text"),
        "attachment": ("file_uuid", "file_name"),
        "sms_in": ("text", "phone"),
        "sms_out": ("text", "phone"),
        "call_in": ("uniq", "duration", "source", "phone"),
        "call_out": ("uniq", "duration", "source", "phone"),
        "geolocation": ("text", "address", "longitude", "latitude"),
    }
    ok = True
    for key in required.get(note_type, ()):
        value = params.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.add(rid, "NotBlank", f"params.{key}", "This value should not be blank.")
            ok = False
        elif key != "duration" and not isinstance(value, str):
            errors.add(rid, "InvalidType", f"params.{key}", "This value should be of type string.")
            ok = False
    if note_type == "attachment" and ok and params["file_uuid"] not in state.files:
        errors.add(rid, "NotFound", "params.file_uuid", "File not found.")
        ok = False
    return dict(params) if ok else None


def add_notes(
    state: KommoState, entity_type: str, body: Any, now: int, user_id: int, *, entity_id: int | None = None
) -> list[tuple[Note, str]]:
    items = require_batch(body)
    stores: dict[str, dict[int, Any]] = {"leads": state.leads, "contacts": state.contacts, "companies": state.companies}
    store = stores[entity_type]
    errors = ValidationErrors()
    plans: list[tuple[int, str, dict[str, Any], str]] = []
    for i, item in enumerate(items):
        rid = request_id_of(item, i)
        if not isinstance(item, dict):
            errors.add(rid, "InvalidType", str(i), "This value should be of type object.")
            continue
        eid = entity_id if entity_id is not None else item.get("entity_id")
        before = errors.count()
        if not _is_int(eid):
            errors.add(rid, "NotBlank", "entity_id", "This value should not be blank.")
        elif eid not in store:
            errors.add(rid, "NotFound", "entity_id", "Entity not found.")
        note_type = item.get("note_type")
        if note_type not in NOTE_TYPES:
            errors.add(rid, "NotSupportedChoice", "note_type", "The value you selected is not a valid choice.")
            continue
        params = _validate_note_params(state, note_type, item.get("params"), rid, errors)
        if params is not None and errors.count() == before and _is_int(eid):
            plans.append((eid, note_type, params, rid))
    errors.raise_if_any()
    out: list[tuple[Note, str]] = []
    for eid, note_type, params, rid in plans:
        note = Note(
            id=state.next_id("note", 40000001),
            entity_type=entity_type,
            entity_id=eid,
            note_type=note_type,
            params=params,
            created_by=user_id,
            updated_by=user_id,
            created_at=now,
            updated_at=now,
            responsible_user_id=user_id,
        )
        state.notes[note.id] = note
        out.append((note, rid))
    return out


# tasks --------------------------------------------------------------------------------------------------------------

TASK_TYPES = {1: "Follow-up", 2: "Meeting"}  # the account's built-in task types


def add_tasks(state: KommoState, body: Any, now: int, user_id: int) -> list[tuple[Task, str]]:
    """POST /api/v4/tasks: ``text`` and ``complete_till`` (unix, not in the past) are required; ``entity_id`` with
    ``entity_type`` (leads|contacts|companies) ties the task to an entity; the responsible user defaults to the caller."""
    items = require_batch(body)
    stores: dict[str, dict[int, Any]] = {"leads": state.leads, "contacts": state.contacts, "companies": state.companies}
    errors = ValidationErrors()
    plans: list[tuple[dict[str, Any], str]] = []
    for i, item in enumerate(items):
        rid = request_id_of(item, i)
        if not isinstance(item, dict):
            errors.add(rid, "InvalidType", str(i), "This value should be of type object.")
            continue
        before = errors.count()
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            errors.add(rid, "NotBlank", "text", "This value should not be blank.")
        till = item.get("complete_till")
        if not _is_int(till):
            errors.add(rid, "NotBlank", "complete_till", "This value should not be blank.")
        elif till < now:
            errors.add(rid, "InvalidValue", "complete_till", "The task deadline cannot be in the past.")
        entity_type, entity_id = item.get("entity_type"), item.get("entity_id")
        if entity_type is not None or entity_id is not None:
            if entity_type not in stores:
                errors.add(rid, "NotSupportedChoice", "entity_type", "The value you selected is not a valid choice.")
            elif not _is_int(entity_id):
                errors.add(rid, "InvalidType", "entity_id", "This value should be of type int.")
            elif entity_id not in stores[entity_type]:
                errors.add(rid, "NotFound", "entity_id", "Entity not found.")
        task_type = item.get("task_type_id", 1)
        if not _is_int(task_type) or task_type not in TASK_TYPES:
            errors.add(rid, "NotSupportedChoice", "task_type_id", "The value you selected is not a valid choice.")
        responsible = item.get("responsible_user_id", user_id)
        if not _is_int(responsible) or responsible not in state.users:
            errors.add(
                rid, "NotSupportedChoice", "responsible_user_id", "The value you selected is not a valid choice."
            )
        if errors.count() == before:
            plans.append((item, rid))
    errors.raise_if_any()
    out: list[tuple[Task, str]] = []
    for item, rid in plans:
        task = Task(
            id=state.next_id("task", 50000001),
            entity_type=str(item.get("entity_type") or ""),
            entity_id=int(item.get("entity_id") or 0),
            text=str(item["text"]),
            complete_till=int(item["complete_till"]),
            task_type_id=int(item.get("task_type_id", 1)),
            responsible_user_id=int(item.get("responsible_user_id", user_id)),
            created_by=user_id,
            created_at=now,
            updated_at=now,
        )
        state.tasks[task.id] = task
        out.append((task, rid))
    return out


# links --------------------------------------------------------------------------------------------------------------


def link_entities(
    state: KommoState, lead_id: int | None, body: Any, now: int, user_id: int, *, unlink: bool = False
) -> tuple[list[dict[str, Any]], list[LeadEvent]]:
    """POST /api/v4/leads/{id}/link|unlink (and the batch form with ``entity_id`` per item)."""
    items = require_batch(body)
    errors = ValidationErrors()
    plans: list[tuple[Lead, str, int, dict[str, Any]]] = []
    for i, item in enumerate(items):
        rid = request_id_of(item, i)
        if not isinstance(item, dict):
            errors.add(rid, "InvalidType", str(i), "This value should be of type object.")
            continue
        lid = lead_id if lead_id is not None else item.get("entity_id")
        lead = state.leads.get(lid) if _is_int(lid) else None
        if lead is None:
            errors.add(rid, "NotFound", "entity_id", "Entity not found.")
            continue
        to_type, to_id = item.get("to_entity_type"), item.get("to_entity_id")
        if to_type not in ("catalog_elements", "contacts", "companies"):
            errors.add(rid, "NotSupportedChoice", "to_entity_type", "The value you selected is not a valid choice.")
            continue
        stores: dict[str, dict[int, Any]] = {
            "catalog_elements": state.catalog_elements,
            "contacts": state.contacts,
            "companies": state.companies,
        }
        store = stores[to_type]
        if not _is_int(to_id) or to_id not in store:
            errors.add(rid, "NotFound", "to_entity_id", "Entity not found.")
            continue
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, dict):
            errors.add(rid, "InvalidType", "metadata", "This value should be of type object.")
            continue
        meta: dict[str, Any] = {}
        if to_type == "catalog_elements" and not unlink:
            quantity = metadata.get("quantity", 1)
            if not _is_number(quantity) or quantity <= 0:
                errors.add(rid, "InvalidType", "metadata.quantity", "This value should be a positive number.")
                continue
            catalog_id = metadata.get("catalog_id", state.catalog_elements[to_id].catalog_id)
            if catalog_id != state.catalog_elements[to_id].catalog_id:
                errors.add(rid, "NotSupportedChoice", "metadata.catalog_id", "The element is not in this catalog.")
                continue
            price_id = metadata.get("price_id")
            if price_id is not None and not _is_int(price_id):
                errors.add(rid, "InvalidType", "metadata.price_id", "This value should be of type int.")
                continue
            meta = {"quantity": quantity, "catalog_id": catalog_id, "price_id": price_id}
        elif to_type == "contacts" and not unlink:
            meta = {"is_main": bool(metadata.get("is_main", metadata.get("main_contact", False)))}
        elif to_type == "catalog_elements":
            meta = {"catalog_id": state.catalog_elements[to_id].catalog_id}
        plans.append((lead, to_type, to_id, meta))
    errors.raise_if_any()
    out: list[dict[str, Any]] = []
    touched: dict[int, Lead] = {}
    for lead, to_type, to_id, meta in plans:
        if to_type == "catalog_elements":
            lead.catalog_elements = [e for e in lead.catalog_elements if e.id != to_id]
            if not unlink:
                lead.catalog_elements.append(
                    LinkedElement(to_id, meta["catalog_id"], meta["quantity"], meta["price_id"])
                )
        elif to_type == "contacts":
            if unlink:
                lead.contacts = [c for c in lead.contacts if c.id != to_id]
                if lead.contacts and not any(c.is_main for c in lead.contacts):
                    lead.contacts[0].is_main = True
            else:
                link_contacts(lead, [(to_id, meta["is_main"])])
        else:
            lead.company_id = None if unlink and lead.company_id == to_id else (lead.company_id if unlink else to_id)
        touched[lead.id] = lead
        out.append(
            {
                "entity_id": lead.id,
                "entity_type": "leads",
                "to_entity_id": to_id,
                "to_entity_type": to_type,
                "metadata": meta or None,
            }
        )
    events = []
    for lead in touched.values():
        lead.updated_at, lead.updated_by = now, user_id
        events.append(LeadEvent("update", lead.id, lead.status_id, lead.pipeline_id, user_id))
    return out, events


def lead_links(state: KommoState, lead: Lead) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = []
    for c in lead.contacts:
        links.append(
            {
                "entity_id": lead.id,
                "entity_type": "leads",
                "to_entity_id": c.id,
                "to_entity_type": "contacts",
                "metadata": {"main_contact": c.is_main},
            }
        )
    if lead.company_id:
        links.append(
            {
                "entity_id": lead.id,
                "entity_type": "leads",
                "to_entity_id": lead.company_id,
                "to_entity_type": "companies",
                "metadata": None,
            }
        )
    for e in lead.catalog_elements:
        links.append(
            {
                "entity_id": lead.id,
                "entity_type": "leads",
                "to_entity_id": e.id,
                "to_entity_type": "catalog_elements",
                "metadata": {"quantity": e.quantity, "catalog_id": e.catalog_id, "price_id": e.price_id},
            }
        )
    return links
