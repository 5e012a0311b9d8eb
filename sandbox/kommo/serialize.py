"""API v4 JSON shapes (HAL) of the state's objects."""

from __future__ import annotations

from typing import Any

from sandbox.kommo.fields import custom_fields_to_api
from sandbox.kommo.state import (
    Catalog,
    CatalogElement,
    Company,
    Contact,
    DriveFile,
    KommoState,
    Lead,
    Note,
    Pipeline,
    Status,
    Tag,
    Task,
    User,
    Webhook,
)


def link(href: str) -> dict[str, Any]:
    return {"self": {"href": href}}


def tag_to_api(tag: Tag) -> dict[str, Any]:
    return {"id": tag.id, "name": tag.name, "color": tag.color}


def lead_to_api(
    state: KommoState, lead: Lead, base: str, with_: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    embedded: dict[str, Any] = {
        "tags": [tag_to_api(t) for t in lead.tags],
        "companies": (
            [{"id": lead.company_id, "_links": link(f"{base}/api/v4/companies/{lead.company_id}")}]
            if lead.company_id
            else []
        ),
    }
    if "contacts" in with_:
        embedded["contacts"] = [
            {"id": c.id, "is_main": c.is_main, "_links": link(f"{base}/api/v4/contacts/{c.id}")} for c in lead.contacts
        ]
    if "catalog_elements" in with_:
        embedded["catalog_elements"] = [
            {
                "id": e.id,
                "metadata": {"quantity": e.quantity, "catalog_id": e.catalog_id, "price_id": e.price_id},
            }
            for e in lead.catalog_elements
        ]
    out: dict[str, Any] = {
        "id": lead.id,
        "name": lead.name,
        "price": lead.price,
        "responsible_user_id": lead.responsible_user_id,
        "group_id": lead.group_id,
        "status_id": lead.status_id,
        "pipeline_id": lead.pipeline_id,
        "loss_reason_id": lead.loss_reason_id,
        "created_by": lead.created_by,
        "updated_by": lead.updated_by,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
        "closed_at": lead.closed_at,
        "closest_task_at": None,
        "is_deleted": lead.is_deleted,
        "custom_fields_values": custom_fields_to_api(state.field_defs("leads"), lead.custom_fields),
        "score": None,
        "account_id": state.account.id,
        "labor_cost": None,
        "is_price_computed": False,
        "_links": link(f"{base}/api/v4/leads/{lead.id}"),
        "_embedded": embedded,
    }
    if "is_price_modified_by_robot" in with_:
        out["is_price_modified_by_robot"] = False
    if "source_id" in with_:
        out["source_id"] = None
    return out


def contact_to_api(
    state: KommoState, contact: Contact, base: str, with_: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    embedded: dict[str, Any] = {
        "tags": [tag_to_api(t) for t in contact.tags],
        "companies": (
            [{"id": contact.company_id, "_links": link(f"{base}/api/v4/companies/{contact.company_id}")}]
            if contact.company_id
            else []
        ),
    }
    if "leads" in with_:
        embedded["leads"] = [
            {"id": lid, "_links": link(f"{base}/api/v4/leads/{lid}")} for lid in state.leads_of_contact(contact.id)
        ]
    return {
        "id": contact.id,
        "name": contact.name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "responsible_user_id": contact.responsible_user_id,
        "group_id": contact.group_id,
        "created_by": contact.created_by,
        "updated_by": contact.updated_by,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "closest_task_at": None,
        "is_deleted": contact.is_deleted,
        "is_unsorted": False,
        "custom_fields_values": custom_fields_to_api(state.field_defs("contacts"), contact.custom_fields),
        "account_id": state.account.id,
        "_links": link(f"{base}/api/v4/contacts/{contact.id}"),
        "_embedded": embedded,
    }


def company_to_api(
    state: KommoState, company: Company, base: str, with_: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    embedded: dict[str, Any] = {"tags": [tag_to_api(t) for t in company.tags]}
    if "contacts" in with_:
        embedded["contacts"] = [
            {"id": cid, "_links": link(f"{base}/api/v4/contacts/{cid}")}
            for cid in state.contacts_of_company(company.id)
        ]
    if "leads" in with_:
        embedded["leads"] = [
            {"id": lid, "_links": link(f"{base}/api/v4/leads/{lid}")} for lid in state.leads_of_company(company.id)
        ]
    return {
        "id": company.id,
        "name": company.name,
        "responsible_user_id": company.responsible_user_id,
        "group_id": company.group_id,
        "created_by": company.created_by,
        "updated_by": company.updated_by,
        "created_at": company.created_at,
        "updated_at": company.updated_at,
        "closest_task_at": None,
        "is_deleted": company.is_deleted,
        "custom_fields_values": custom_fields_to_api(state.field_defs("companies"), company.custom_fields),
        "account_id": state.account.id,
        "_links": link(f"{base}/api/v4/companies/{company.id}"),
        "_embedded": embedded,
    }


def note_to_api(state: KommoState, note: Note, base: str) -> dict[str, Any]:
    return {
        "id": note.id,
        "entity_id": note.entity_id,
        "created_by": note.created_by,
        "updated_by": note.updated_by,
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "responsible_user_id": note.responsible_user_id,
        "group_id": note.group_id,
        "note_type": note.note_type,
        "params": dict(note.params),
        "account_id": state.account.id,
        "is_pinned": note.is_pinned,
        "_links": link(f"{base}/api/v4/{note.entity_type}/{note.entity_id}/notes/{note.id}"),
    }


def task_to_api(state: KommoState, task: Task, base: str) -> dict[str, Any]:
    return {
        "id": task.id,
        "created_by": task.created_by,
        "updated_by": task.created_by,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "responsible_user_id": task.responsible_user_id,
        "group_id": 0,
        "entity_id": task.entity_id or None,
        "entity_type": task.entity_type or None,
        "duration": 0,
        "is_completed": task.is_completed,
        "task_type_id": task.task_type_id,
        "text": task.text,
        "result": [],
        "complete_till": task.complete_till,
        "account_id": state.account.id,
        "_links": link(f"{base}/api/v4/tasks/{task.id}"),
    }


def status_to_api(state: KommoState, status: Status, base: str) -> dict[str, Any]:
    return {
        "id": status.id,
        "name": status.name,
        "sort": status.sort,
        "is_editable": status.is_editable,
        "pipeline_id": status.pipeline_id,
        "color": status.color,
        "type": status.type,
        "account_id": state.account.id,
        "_links": link(f"{base}/api/v4/leads/pipelines/{status.pipeline_id}/statuses/{status.id}"),
    }


def pipeline_to_api(state: KommoState, pipeline: Pipeline, base: str) -> dict[str, Any]:
    return {
        "id": pipeline.id,
        "name": pipeline.name,
        "sort": pipeline.sort,
        "is_main": pipeline.is_main,
        "is_unsorted_on": pipeline.is_unsorted_on,
        "is_archive": pipeline.is_archive,
        "account_id": state.account.id,
        "_links": link(f"{base}/api/v4/leads/pipelines/{pipeline.id}"),
        "_embedded": {
            "statuses": [status_to_api(state, s, base) for s in sorted(pipeline.statuses, key=lambda s: s.sort)]
        },
    }


def user_to_api(user: User, base: str) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "lang": user.lang,
        "rights": {
            "leads": {"view": "A", "edit": "A", "add": "A", "delete": "A", "export": "A"},
            "contacts": {"view": "A", "edit": "A", "add": "A", "delete": "A", "export": "A"},
            "companies": {"view": "A", "edit": "A", "add": "A", "delete": "A", "export": "A"},
            "mail_access": False,
            "catalog_access": True,
            "is_admin": user.is_admin,
            "is_free": False,
            "is_active": True,
            "group_id": None,
            "role_id": None,
        },
        "_links": link(f"{base}/api/v4/users/{user.id}"),
    }


def catalog_to_api(state: KommoState, catalog: Catalog, base: str) -> dict[str, Any]:
    return {
        "id": catalog.id,
        "name": catalog.name,
        "created_by": catalog.created_by,
        "updated_by": catalog.created_by,
        "created_at": catalog.created_at,
        "updated_at": catalog.created_at,
        "sort": catalog.sort,
        "type": catalog.type,
        "can_add_elements": True,
        "can_show_in_cards": False,
        "can_link_multiple": True,
        "can_be_deleted": False,
        "sdk_widget_code": None,
        "account_id": state.account.id,
        "_links": link(f"{base}/api/v4/catalogs/{catalog.id}"),
    }


def element_to_api(state: KommoState, element: CatalogElement, base: str) -> dict[str, Any]:
    return {
        "id": element.id,
        "name": element.name,
        "created_by": element.created_by,
        "updated_by": element.created_by,
        "created_at": element.created_at,
        "updated_at": element.updated_at,
        "is_deleted": element.is_deleted,
        "custom_fields_values": custom_fields_to_api(
            state.catalog_fields.get(element.catalog_id, {}), element.custom_fields
        ),
        "catalog_id": element.catalog_id,
        "account_id": state.account.id,
        "_links": link(f"{base}/api/v4/catalogs/{element.catalog_id}/elements/{element.id}"),
    }


def drive_file_to_api(f: DriveFile, base: str) -> dict[str, Any]:
    extension = f.name.rsplit(".", 1)[-1].lower() if "." in f.name else ""
    return {
        "uuid": f.uuid,
        "type": "file",
        "is_trashed": False,
        "name": f.name,
        "sanitized_name": f.name.replace(" ", "_"),
        "size": {"bytes": f.size, "value": round(f.size / 1024, 2), "unit": "KB"},
        "source_id": None,
        "version_uuid": f.version_uuid,
        "has_multiple_versions": False,
        "created_at": f.created_at,
        "created_by": {"id": f.created_by, "type": "user"},
        "updated_at": f.created_at,
        "updated_by": {"id": f.created_by, "type": "user"},
        "deleted_at": None,
        "deleted_by": None,
        "metadata": {"extension": extension, "mime_type": f.content_type},
        "previews": [],
        "_links": {
            "download": {"href": f"{base}/drive/download/{f.uuid}"},
            "download_version": {"href": f"{base}/drive/download/{f.uuid}/{f.version_uuid}"},
            "self": {"href": f"{base}/drive/v1.0/files/{f.uuid}"},
        },
    }


def webhook_to_api(state: KommoState, hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "created_by": hook.created_by,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
        "sort": hook.sort,
        "disabled": hook.disabled,
        "destination": hook.destination,
        "settings": list(hook.settings),
        "account_id": state.account.id,
    }
