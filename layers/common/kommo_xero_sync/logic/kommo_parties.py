"""Find the Kommo company/contact for a Xero contact (invoice -> deal), never creating a duplicate.

Order: the contact link table (the company or contact the product last linked to this Xero contact); the Kommo id
the product wrote into the Xero contact (ContactNumber KOMMO-CO-/KOMMO-CT-<id>); the e-mail address; the phone
number; the name (companies, then contacts). Anything not found is created together with the deal (``/leads/complex``)
and remembered in the contact link table so deal -> invoice later bills the same Xero contact.
"""

from __future__ import annotations

from collections.abc import Sequence

from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.mapping.deal import (
    Party,
    kommo_entity_from_contact_number,
    new_party,
    plain_name,
    same_email,
    same_name,
    xero_phone,
)
from kommo_xero_sync.models.kommo import Company, Contact
from kommo_xero_sync.models.xero import XeroContact

PHONE_DIGITS = 8


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


def _party_of(entity: Contact | Company) -> Party:
    if entity.kind == "company":
        return Party(company_id=entity.id)
    return Party(contact_id=entity.id, company_id=entity.company_ids[0] if entity.company_ids else None)


def find_parties(contacts: Sequence[XeroContact], *, kommo: KommoClient, store: SyncStore) -> dict[str, Party]:
    """Xero ContactID -> the Kommo party to put on the deal (existing ids, or entities to create)."""
    found: dict[str, Party] = {}
    # Known without searching: the link table's reverse items, else the Kommo id the product wrote into Xero.
    by_number = store.kommo_entities_for(c.ContactID for c in contacts if c.ContactID)
    for contact in contacts:
        ref = kommo_entity_from_contact_number(contact.ContactNumber)
        if ref and contact.ContactID and contact.ContactID not in by_number:
            by_number[contact.ContactID] = ref
    # One batched read confirms the referenced entities still exist.
    company_ids = {i for kind, i in by_number.values() if kind == "company"}
    contact_ids = {i for kind, i in by_number.values() if kind == "contact"}
    existing_companies = {c.id: c for c in kommo.get_companies(company_ids)} if company_ids else {}
    existing_contacts = {c.id: c for c in kommo.get_contacts(contact_ids)} if contact_ids else {}
    for contact in contacts:
        if not contact.ContactID or contact.ContactID in found:
            continue
        ref = by_number.get(contact.ContactID)
        entity: Contact | Company | None = None
        if ref:
            kind, entity_id = ref
            entity = (existing_companies if kind == "company" else existing_contacts).get(entity_id)
        entity = entity or _search(contact, kommo)
        found[contact.ContactID] = _party_of(entity) if entity is not None else new_party(contact)
    return found


def _search(contact: XeroContact, kommo: KommoClient) -> Contact | Company | None:
    email = (contact.EmailAddress or "").strip().lower()
    if email:
        for entity in [*kommo.search_companies(email), *kommo.search_contacts(email)]:
            if any(same_email(e, email) for e in entity.field_values("EMAIL")):
                return entity
    # The subscriber number without country or trunk prefixes: "+64 9 555 0101" and "09 555 0101" both end in it.
    phone = _digits(xero_phone(contact))[-PHONE_DIGITS:]
    if len(phone) >= 6:
        for entity in [*kommo.search_companies(phone), *kommo.search_contacts(phone)]:
            if any(_digits(p).endswith(phone) for p in entity.field_values("PHONE")):
                return entity
    query = plain_name(contact.Name)  # without the "(city)" suffix the product may have added in Xero
    if query:
        for entity in [*kommo.search_companies(query), *kommo.search_contacts(query)]:
            if same_name(contact.Name, entity):
                return entity
    return None


def remember_contact_links(parties: dict[str, tuple[Party, str]], store: SyncStore) -> None:
    """After the deals are created: Kommo company/contact -> Xero contact, unless that entity is linked already."""
    for contact_id, (party, name) in parties.items():
        entity = ("company", party.company_id) if party.company_id else ("contact", party.contact_id)
        if entity[1] is None or store.get_contact_link(entity[0], entity[1]) is not None:
            continue
        store.put_contact_link(entity[0], entity[1], contact_id, name, "xero-invoice")
