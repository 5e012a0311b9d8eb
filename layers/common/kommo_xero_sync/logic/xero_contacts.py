"""Find or create the Xero contact for a Kommo company or contact, never creating a duplicate.

Order: the link remembered in DynamoDB; the stable external key (``ContactNumber`` = KOMMO-CO-<id> / KOMMO-CT-<id>);
the e-mail address; the name. Xero requires unique names: a same-name contact with the same e-mail is reused (found at
the e-mail step); otherwise the new contact's name is disambiguated deterministically (tax number, then city, then the
Kommo id) and the choice is recorded, so Xero never invents a blind "Name 1" duplicate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from kommo_xero_sync.clients.xero import XeroClient, where_equals
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.mapping.deal import kommo_contact_number, same_email
from kommo_xero_sync.models.kommo import Company, Contact
from kommo_xero_sync.models.xero import XeroContact
from kommo_xero_sync.observability import logger


@dataclass(frozen=True)
class BillingParty:
    entity: str  # "company" | "contact"
    entity_id: int
    name: str
    email: str | None = None
    phone: str | None = None
    tax_number: str | None = None
    city: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.entity, self.entity_id)

    @property
    def contact_number(self) -> str:
        return kommo_contact_number(self.entity, self.entity_id)


def party_from(entity: str, source: Contact | Company, tax_field: int | None, city_field: int | None) -> BillingParty:
    name = source.name or source.full_name or f"Kommo {entity} {source.id}"
    tax = source.field_value(tax_field) if tax_field else None
    city = source.field_value(city_field) if city_field else None
    return BillingParty(
        entity=entity,
        entity_id=source.id,
        name=name.strip()[:255],
        email=source.email,
        phone=source.phone,
        tax_number=str(tax) if tax else None,
        city=str(city) if city else None,
    )


class ContactResolutionError(Exception):
    pass


def _active(contacts: Sequence[XeroContact]) -> list[XeroContact]:
    return [c for c in contacts if (c.ContactStatus or "ACTIVE") == "ACTIVE" and c.ContactID]


def candidate_names(party: BillingParty) -> list[str]:
    names = [party.name]
    if party.tax_number:
        names.append(f"{party.name} ({party.tax_number})")
    if party.city:
        names.append(f"{party.name} ({party.city})")
    names.append(f"{party.name} (Kommo {party.entity_id})")
    return [n[:255] for n in names]


def resolve_contacts(
    parties: Sequence[BillingParty], *, store: SyncStore, xero: XeroClient
) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]]:
    """Return ({party key: ContactID}, {party key: error}) for every party."""
    found: dict[tuple[str, int], str] = {}
    errors: dict[tuple[str, int], str] = {}
    to_create: list[tuple[BillingParty, str]] = []
    for party in {p.key: p for p in parties}.values():
        link = store.get_contact_link(party.entity, party.entity_id)
        if link:
            found[party.key] = str(link["contact_id"])
            continue
        match, how = _find_existing(party, xero)
        if match is not None:
            found[party.key] = str(match.ContactID)
            store.put_contact_link(party.entity, party.entity_id, str(match.ContactID), match.Name or party.name, how)
            continue
        name = _free_name(party, xero, taken={n.lower() for _, n in to_create})
        if name is None:
            errors[party.key] = f"no free contact name in Xero for '{party.name}'"
            continue
        to_create.append((party, name))
    if to_create:
        payload = [_contact_payload(party, name) for party, name in to_create]
        key = "contacts-" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        created = xero.create_contacts(payload, idempotency_key=key)
        for (party, name), contact in zip(to_create, created, strict=False):
            if contact.ContactID and not contact.ValidationErrors:
                found[party.key] = contact.ContactID
                how = "created" if name == party.name else "created with disambiguated name"
                store.put_contact_link(party.entity, party.entity_id, contact.ContactID, name, how)
                if name != party.name:
                    logger.info(
                        "xero contact name disambiguated", extra={"entity": party.entity, "id": party.entity_id}
                    )
            else:
                errors[party.key] = "; ".join(v.text for v in contact.ValidationErrors) or "Xero did not create it"
    return found, errors


def _find_existing(party: BillingParty, xero: XeroClient) -> tuple[XeroContact | None, str]:
    by_number = _active(xero.find_contacts(where_equals("ContactNumber", party.contact_number)))
    if by_number:
        return by_number[0], "contact number"
    if party.email:
        by_email = _active(xero.find_contacts(where_equals("EmailAddress", party.email)))
        by_email.sort(key=lambda c: (c.Name != party.name, c.Name or ""))
        if by_email:
            return by_email[0], "email"
    return None, ""


def _free_name(party: BillingParty, xero: XeroClient, taken: set[str]) -> str | None:
    """The first candidate name that no active Xero contact, and no contact created in this batch, uses."""
    for name in candidate_names(party):
        if name.lower() in taken:
            continue
        clash = _active(xero.find_contacts(where_equals("Name", name)))
        if not clash:
            return name
        if any(same_email(c.EmailAddress, party.email) for c in clash):
            return name  # unreachable in practice: the e-mail step reuses it
    return None


def _contact_payload(party: BillingParty, name: str) -> dict[str, object]:
    payload: dict[str, object] = {"Name": name, "ContactNumber": party.contact_number}
    if party.email:
        payload["EmailAddress"] = party.email
    if party.phone:
        payload["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": party.phone[:50]}]
    if party.tax_number:
        payload["TaxNumber"] = party.tax_number[:50]
    return payload
