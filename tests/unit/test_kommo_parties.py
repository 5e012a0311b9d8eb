"""logic/kommo_parties.find_parties: which Kommo company/contact a Xero contact is, found without duplicates.

The fake Kommo client searches the way Kommo's ``query=`` does (and the Kommo sandbox does): a case-insensitive
substring over the name and every filled field, digits compared as digits, and it records every call.
"""

from __future__ import annotations

from typing import Any

from kommo_xero_sync.logic.kommo_parties import find_parties
from kommo_xero_sync.mapping.deal import Party
from kommo_xero_sync.models.kommo import Company, Contact
from kommo_xero_sync.models.xero import XeroContact


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _multitext(code: str, values: list[str]) -> list[dict[str, Any]]:
    if not values:
        return []
    return [
        {
            "field_id": 9000001 if code == "EMAIL" else 9000002,
            "field_code": code,
            "values": [{"value": v} for v in values],
        }
    ]


def kommo_company(id: int, name: str, *, emails: list[str] | None = None, phones: list[str] | None = None) -> Company:
    fields = _multitext("EMAIL", emails or []) + _multitext("PHONE", phones or [])
    return Company.model_validate({"id": id, "name": name, "custom_fields_values": fields or None})


def kommo_contact(
    id: int,
    first: str,
    last: str,
    *,
    emails: list[str] | None = None,
    phones: list[str] | None = None,
    company_id: int | None = None,
) -> Contact:
    fields = _multitext("EMAIL", emails or []) + _multitext("PHONE", phones or [])
    return Contact.model_validate(
        {
            "id": id,
            "name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "custom_fields_values": fields or None,
            "_embedded": {"companies": [{"id": company_id}] if company_id else []},
        }
    )


class FakeKommo:
    def __init__(self, companies: list[Company] = (), contacts: list[Contact] = ()) -> None:  # type: ignore[assignment]
        self.companies = {c.id: c for c in companies}
        self.contacts = {c.id: c for c in contacts}
        self.calls: list[tuple[str, Any]] = []

    def get_companies(self, ids: Any) -> list[Company]:
        self.calls.append(("get_companies", set(ids)))
        return [self.companies[i] for i in ids if i in self.companies]

    def get_contacts(self, ids: Any) -> list[Contact]:
        self.calls.append(("get_contacts", set(ids)))
        return [self.contacts[i] for i in ids if i in self.contacts]

    def search_companies(self, query: str) -> list[Company]:
        self.calls.append(("search_companies", query))
        return [c for c in self.companies.values() if _matches(c, query)]

    def search_contacts(self, query: str) -> list[Contact]:
        self.calls.append(("search_contacts", query))
        return [c for c in self.contacts.values() if _matches(c, query)]

    @property
    def searches(self) -> list[str]:
        return [query for name, query in self.calls if name.startswith("search_")]


def _matches(entity: Contact, query: str) -> bool:
    q = query.lower().strip()
    values = [str(v.get("value", "")) for cf in entity.custom_fields_values or [] for v in cf.values]
    texts = [entity.name, entity.first_name or "", entity.last_name or "", str(entity.id), *values]
    if any(q in t.lower() for t in texts):
        return True
    qd = _digits(q)
    return len(qd) >= 5 and any(qd in _digits(v) for v in values)


class FakeStore:
    """The contact link table as a dict: Xero ContactID -> the Kommo (entity, id) last linked to it."""

    def __init__(self, links: dict[str, tuple[str, int]] | None = None) -> None:
        self.links = dict(links or {})
        self.reads: list[set[str]] = []

    def kommo_entities_for(self, contact_ids: Any) -> dict[str, tuple[str, int]]:
        wanted = set(contact_ids)
        self.reads.append(wanted)
        return {i: self.links[i] for i in wanted if i in self.links}


def xero(contact_id: str = "565acaa9-e7f3-4fbf-80c3-16b081ddae10", **fields: Any) -> XeroContact:
    data: dict[str, Any] = {"ContactID": contact_id, "ContactStatus": "ACTIVE", "Name": "Tui Brewing Supplies"}
    data.update(fields)
    return XeroContact.model_validate(data)


def phones(country: str, area: str, number: str) -> list[dict[str, str]]:
    return [
        {"PhoneType": "DDI", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
        {"PhoneType": "DEFAULT", "PhoneNumber": number, "PhoneAreaCode": area, "PhoneCountryCode": country},
    ]


def find(contacts: list[XeroContact], kommo: FakeKommo, store: FakeStore | None = None) -> dict[str, Party]:
    return find_parties(contacts, kommo=kommo, store=store or FakeStore())  # type: ignore[arg-type]


def find_one(contact: XeroContact, kommo: FakeKommo, store: FakeStore | None = None) -> Party:
    assert contact.ContactID is not None
    return find([contact], kommo, store)[contact.ContactID]


TUI = kommo_company(6500004, "Tui Brewing Supplies", emails=["accounts@tuibrewing.co.nz"], phones=["+64 9 473 5555"])
ANA = kommo_contact(6000004, "Ana", "Ngata", emails=["ana@tuibrewing.co.nz"], company_id=6500004)


# ---- the contact link table ----------------------------------------------------------------------------------------


def test_a_linked_xero_contact_is_found_without_any_search() -> None:
    kommo = FakeKommo([TUI], [ANA])
    store = FakeStore({"c-1": ("company", 6500004), "c-2": ("contact", 6000004)})
    contacts = [xero("c-1", Name="Renamed", EmailAddress=None), xero("c-2", Name="Ana N.", EmailAddress=None)]
    assert find(contacts, kommo, store) == {
        "c-1": Party(company_id=6500004),
        "c-2": Party(contact_id=6000004, company_id=6500004),
    }
    assert store.reads == [{"c-1", "c-2"}]  # one batched read
    assert kommo.searches == []


def test_the_link_table_beats_the_contact_number() -> None:
    kommo = FakeKommo([TUI, kommo_company(6500005, "Kereru Coffee")])
    store = FakeStore({"c-1": ("company", 6500005)})
    contact = xero("c-1", ContactNumber="KOMMO-CO-6500004")
    assert find([contact], kommo, store) == {"c-1": Party(company_id=6500005)}
    assert kommo.calls == [("get_companies", {6500005})]


def test_a_link_to_a_deleted_entity_falls_back_to_the_search() -> None:
    kommo = FakeKommo([TUI])
    store = FakeStore({"c-1": ("company", 6599999)})
    contact = xero("c-1", EmailAddress="accounts@tuibrewing.co.nz")
    assert find([contact], kommo, store) == {"c-1": Party(company_id=6500004)}
    assert kommo.searches[0] == "accounts@tuibrewing.co.nz"


# ---- the Kommo id the product wrote into the Xero contact ------------------------------------------------------


def test_contact_number_of_a_company_is_found_without_any_search() -> None:
    kommo = FakeKommo([TUI, kommo_company(6500005, "Somebody")], [ANA])
    contact = xero(ContactNumber="KOMMO-CO-6500004", Name="Renamed in Xero (Auckland)", EmailAddress="new@x.co")
    assert find_one(contact, kommo) == Party(company_id=6500004)
    assert kommo.calls == [("get_companies", {6500004})]


def test_contact_number_of_a_person_brings_the_persons_company() -> None:
    kommo = FakeKommo([TUI], [ANA])
    contact = xero(ContactNumber="KOMMO-CT-6000004", Name="Ana Ngata")
    assert find_one(contact, kommo) == Party(contact_id=6000004, company_id=6500004)
    assert kommo.calls == [("get_contacts", {6000004})]


def test_contact_numbers_are_confirmed_in_one_read_per_entity_kind() -> None:
    other = kommo_company(6500005, "Kereru Coffee")
    kommo = FakeKommo([TUI, other], [ANA])
    contacts = [
        xero("c-1", ContactNumber="KOMMO-CO-6500004"),
        xero("c-2", ContactNumber="KOMMO-CO-6500005"),
        xero("c-3", ContactNumber="KOMMO-CT-6000004"),
    ]
    found = find(contacts, kommo)
    assert found == {
        "c-1": Party(company_id=6500004),
        "c-2": Party(company_id=6500005),
        "c-3": Party(contact_id=6000004, company_id=6500004),
    }
    assert sorted(kommo.calls, key=str) == [("get_companies", {6500004, 6500005}), ("get_contacts", {6000004})]


def test_contact_number_of_a_deleted_entity_falls_back_to_the_search() -> None:
    kommo = FakeKommo([TUI])
    contact = xero(ContactNumber="KOMMO-CO-6599999", EmailAddress="ACCOUNTS@tuibrewing.co.nz")
    assert find_one(contact, kommo) == Party(company_id=6500004)
    assert kommo.calls[0] == ("get_companies", {6599999})
    assert kommo.searches[0] == "accounts@tuibrewing.co.nz"


def test_a_contact_number_not_written_by_the_product_is_not_an_id() -> None:
    kommo = FakeKommo([kommo_company(42, "Other Ltd")])
    contact = xero(ContactNumber="CUST-42", Name="Nobody Known", EmailAddress=None)
    assert find_one(contact, kommo).company_id is None
    assert not any(name.startswith("get_") for name, _ in kommo.calls)


# ---- e-mail, phone, name ---------------------------------------------------------------------------------------


def test_email_match_beats_name_match() -> None:
    same_name = kommo_company(6500001, "Tui Brewing Supplies")
    by_email = kommo_contact(6000009, "Accounts", "Team", emails=["Accounts@TuiBrewing.co.nz"], company_id=6500007)
    kommo = FakeKommo([same_name], [by_email])
    contact = xero(EmailAddress=" accounts@tuibrewing.co.nz ")
    assert find_one(contact, kommo) == Party(contact_id=6000009, company_id=6500007)
    assert kommo.searches == ["accounts@tuibrewing.co.nz", "accounts@tuibrewing.co.nz"]


def test_email_must_match_a_whole_address_not_a_substring() -> None:
    lookalike = kommo_company(6500001, "Lookalike", emails=["old.accounts@tuibrewing.co.nz"])
    kommo = FakeKommo([lookalike])
    contact = xero(Name="Tui Brewing Supplies", EmailAddress="accounts@tuibrewing.co.nz")
    party = find_one(contact, kommo)
    assert party.company_id is None and party.new_company is not None


def test_phone_match_by_digits_whatever_the_formatting() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Brewing Co", phones=["+64 (9) 473-5555"])])
    contact = xero(Name="Different Name", EmailAddress="nobody@example.com", Phones=phones("64", "9", "4735555"))
    assert find_one(contact, kommo) == Party(company_id=6500004)
    assert "94735555" in kommo.searches  # the subscriber number, prefixes dropped


def test_a_local_number_matches_the_end_of_a_kommo_number() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Brewing Co", phones=["+64 4 473 5555"])])
    contact = xero(Name="Different Name", EmailAddress=None, Phones=phones("", "", "4735555"))
    assert find_one(contact, kommo) == Party(company_id=6500004)


def test_the_same_local_number_under_another_area_code_is_not_a_match() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Brewing Co", phones=["+64 4 473 5555"])])
    contact = xero(Name="Different Name", EmailAddress=None, Phones=phones("64", "9", "4735555"))
    assert find_one(contact, kommo).company_id is None


def test_short_phone_numbers_are_not_searched() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Brewing Co", phones=["12345"])])
    contact = xero(Name="Different Name", EmailAddress=None, Phones=phones("", "", "12345"))
    assert find_one(contact, kommo).company_id is None
    assert "12345" not in kommo.searches


def test_phone_in_national_format_is_found_by_its_trailing_digits() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Brewing Co", phones=["+44 (0)20 7946 0000"])])
    contact = xero(Name="Different Name", EmailAddress=None, Phones=phones("44", "20", "79460000"))
    assert find_one(contact, kommo) == Party(company_id=6500004)


def test_name_match_ignoring_case_and_spacing() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Tui Brewing Supplies")])
    contact = xero(Name="tui brewing SUPPLIES", EmailAddress=None)
    assert find_one(contact, kommo) == Party(company_id=6500004)


def test_name_match_on_a_persons_first_and_last_name() -> None:
    kommo = FakeKommo([], [ANA])
    contact = xero(Name="ana ngata", EmailAddress=None)
    assert find_one(contact, kommo) == Party(contact_id=6000004, company_id=6500004)


def test_name_match_on_a_kommo_name_with_a_suffix() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Tui Brewing Supplies (Auckland)")])
    contact = xero(Name="Tui Brewing Supplies", EmailAddress=None)
    assert find_one(contact, kommo) == Party(company_id=6500004)


def test_name_match_ignoring_the_suffix_on_the_xero_name() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Tui Brewing Supplies")])
    contact = xero(Name="Tui Brewing Supplies (Auckland)", EmailAddress=None)
    assert find_one(contact, kommo) == Party(company_id=6500004)


def test_a_name_that_only_contains_the_xero_name_is_not_a_match() -> None:
    kommo = FakeKommo([kommo_company(6500004, "Tui Brewing Supplies Wholesale")])
    contact = xero(Name="Tui Brewing Supplies", EmailAddress=None)
    assert find_one(contact, kommo).company_id is None


# ---- nothing found; the same contact twice -----------------------------------------------------------------------


def test_nothing_found_gives_the_entities_to_create() -> None:
    kommo = FakeKommo([kommo_company(6500001, "Other Ltd", emails=["x@other.example"])])
    contact = xero(EmailAddress="accounts@tuibrewing.co.nz", FirstName="Ana", LastName="Ngata")
    party = find_one(contact, kommo)
    assert (party.company_id, party.contact_id) == (None, None)
    assert party.new_company == {"name": "Tui Brewing Supplies"}
    assert party.new_contact is not None and party.new_contact["first_name"] == "Ana"


def test_the_same_xero_contact_twice_is_looked_up_once() -> None:
    kommo = FakeKommo([TUI])
    contact = xero(EmailAddress="accounts@tuibrewing.co.nz")
    found = find([contact, xero(EmailAddress="accounts@tuibrewing.co.nz")], kommo)
    assert found == {contact.ContactID: Party(company_id=6500004)}
    assert kommo.searches == ["accounts@tuibrewing.co.nz"] * 2  # companies and contacts, once


def test_the_same_new_xero_contact_twice_is_searched_once() -> None:
    kommo = FakeKommo()
    contact = xero(EmailAddress="accounts@tuibrewing.co.nz", Phones=phones("64", "9", "4735555"))
    find([contact, contact, contact], kommo)
    assert kommo.searches == [
        "accounts@tuibrewing.co.nz",
        "accounts@tuibrewing.co.nz",
        "94735555",
        "94735555",
        "Tui Brewing Supplies",
        "Tui Brewing Supplies",
    ]


def test_a_contact_without_a_contact_id_is_skipped() -> None:
    kommo = FakeKommo([TUI])
    assert find([xero(contact_id=None)], kommo) == {}  # type: ignore[arg-type]
    assert kommo.calls == []
