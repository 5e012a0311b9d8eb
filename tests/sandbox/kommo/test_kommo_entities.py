"""Contacts, companies, notes, Drive uploads and lead files, pipelines, catalogs, account, users."""

from __future__ import annotations

import requests
from kommo_support import Api

from sandbox.kommo import KommoSandbox


def _ids(r: requests.Response, key: str) -> list[int]:
    return [] if r.status_code == 204 else [x["id"] for x in r.json()["_embedded"][key]]


def test_contacts_query_searches_names_emails_and_phones(api: Api) -> None:
    assert _ids(api.get("/api/v4/contacts", params={"query": "priya.patel@initech.example.com"}), "contacts") == [
        6000003
    ]
    assert _ids(api.get("/api/v4/contacts", params={"query": "+64 21 555 0205"}), "contacts") == [6000005]
    assert _ids(api.get("/api/v4/contacts", params={"query": "642155502"}), "contacts") == list(range(6000001, 6000012))
    assert _ids(api.get("/api/v4/contacts", params={"query": "Wei"}), "contacts") == [6000009]
    assert api.get("/api/v4/contacts", params={"query": "nobody@nowhere"}).status_code == 204
    assert _ids(api.get("/api/v4/contacts", params={"filter[id][]": [6000001, 6000012]}), "contacts") == [
        6000001,
        6000012,
    ]


def test_contact_shape_with_leads_and_multitext_values(api: Api) -> None:
    c = api.get("/api/v4/contacts/6000001", params={"with": "leads"}).json()
    assert (c["name"], c["first_name"], c["last_name"]) == ("Maria Lopez", "Maria", "Lopez")
    assert c["_embedded"]["companies"][0]["id"] == 6500001
    assert sorted(x["id"] for x in c["_embedded"]["leads"]) == [1000001, 1000012, 1000020]
    email = next(f for f in c["custom_fields_values"] if f["field_code"] == "EMAIL")
    assert email["values"] == [{"value": "maria.lopez@acme.example.com", "enum_id": 8320001, "enum_code": "WORK"}]
    assert api.get("/api/v4/contacts/1").status_code == 204


def test_companies_demo_names_tax_numbers_and_query(api: Api) -> None:
    r = api.get("/api/v4/companies", params={"limit": 250})
    companies = r.json()["_embedded"]["companies"]
    assert [c["id"] for c in companies] == list(range(6500001, 6500009))
    names = [c["name"] for c in companies]
    assert "Globex Corporation" in names and names.count("Harbour Cafe") == 2
    twins = [c for c in companies if c["name"] == "Harbour Cafe"]
    tax = [{f["field_id"]: f["values"][0]["value"] for f in c["custom_fields_values"]}[8200001] for c in twins]
    assert tax[0] != tax[1]
    assert _ids(api.get("/api/v4/companies", params={"query": "billing@globex"}), "companies") == [6500002]
    with_leads = api.get("/api/v4/companies/6500002", params={"with": "leads,contacts"}).json()
    assert sorted(x["id"] for x in with_leads["_embedded"]["leads"]) == [1000002, 1000013, 1000018]
    assert sorted(x["id"] for x in with_leads["_embedded"]["contacts"]) == [6000002, 6000010]


def test_contact_and_company_create_and_update(api: Api, kommo: KommoSandbox) -> None:
    r = api.post(
        "/api/v4/companies",
        json=[
            {
                "name": "Fresh Ltd",
                "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "a@fresh.example.com"}]}],
            }
        ],
    )
    assert r.status_code == 200
    company_id = r.json()["_embedded"]["companies"][0]["id"]
    assert company_id == 6500009
    r = api.post(
        "/api/v4/contacts",
        json=[{"first_name": "Ann", "last_name": "Lee", "_embedded": {"companies": [{"id": company_id}]}}],
    )
    contact_id = r.json()["_embedded"]["contacts"][0]["id"]
    assert r.json()["_embedded"]["contacts"][0]["request_id"] == "0"
    r = api.patch(
        f"/api/v4/contacts/{contact_id}",
        json={"custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "+1 555", "enum_code": "MOB"}]}]},
    )
    assert r.status_code == 200
    r = api.patch("/api/v4/companies", json=[{"id": company_id, "name": "Fresh Limited"}])
    assert r.status_code == 200 and r.json()["_embedded"]["companies"][0]["id"] == company_id
    contact = kommo.get_contact(contact_id)
    assert contact is not None and contact["name"] == "Ann Lee"
    phone = next(f for f in contact["custom_fields_values"] if f["field_code"] == "PHONE")
    assert phone["values"][0]["enum_code"] == "MOB"
    company = kommo.get_company(company_id)
    assert company is not None and company["name"] == "Fresh Limited"
    assert [c["id"] for c in company["_embedded"]["contacts"]] == [contact_id]
    bad = api.post(
        "/api/v4/contacts",
        json=[
            {
                "name": "x",
                "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "a@b.c", "enum_code": "NOPE"}]}],
            }
        ],
    )
    assert bad.status_code == 400
    assert bad.json()["validation-errors"][0]["errors"][0]["path"] == "custom_fields_values.0.values.0.enum_code"


def test_notes_common_and_service_message_and_listing(api: Api, kommo: KommoSandbox) -> None:
    r = api.post(
        "/api/v4/leads/notes",
        json=[
            {
                "entity_id": 1000010,
                "note_type": "common",
                "params": {"text": "No contact on this deal"},
                "request_id": "n1",
            },
            {
                "entity_id": 1000001,
                "note_type": "service_message",
                "params": {"service": "Xero sync", "text": "Invoice INV-0001 created"},
            },
        ],
    )
    assert r.status_code == 200
    rows = r.json()["_embedded"]["notes"]
    assert [(x["entity_id"], x["request_id"]) for x in rows] == [(1000010, "n1"), (1000001, "1")]
    r = api.post("/api/v4/leads/1000010/notes", json=[{"note_type": "common", "params": {"text": "second"}}])
    assert r.status_code == 200
    listed = api.get("/api/v4/leads/1000010/notes").json()["_embedded"]["notes"]
    assert [n["params"]["text"] for n in listed] == ["No contact on this deal", "second"]
    assert listed[0]["note_type"] == "common" and listed[0]["entity_id"] == 1000010
    by_filter = api.get("/api/v4/leads/notes", params={"filter[entity_id][]": [1000001]}).json()["_embedded"]["notes"]
    assert [n["params"] for n in by_filter] == [{"service": "Xero sync", "text": "Invoice INV-0001 created"}]
    assert [n["params"]["text"] for n in kommo.notes_for_lead(1000010)] == ["No contact on this deal", "second"]
    assert api.get("/api/v4/leads/1000002/notes").status_code == 204


def test_note_validation(api: Api, kommo: KommoSandbox) -> None:
    cases = [
        ({"entity_id": 1000001, "note_type": "common", "params": {}}, "params.text"),
        ({"entity_id": 1000001, "note_type": "service_message", "params": {"text": "x"}}, "params.service"),
        (
            {"entity_id": 1000001, "note_type": "attachment", "params": {"file_uuid": "nope", "file_name": "a.pdf"}},
            "params.file_uuid",
        ),
        ({"entity_id": 1000001, "note_type": "shout", "params": {"text": "x"}}, "note_type"),
        ({"entity_id": 424242, "note_type": "common", "params": {"text": "x"}}, "entity_id"),
    ]
    for note, path in cases:
        r = api.post("/api/v4/leads/notes", json=[note])
        assert r.status_code == 400, (note, r.text)
        assert r.json()["validation-errors"][0]["errors"][0]["path"] == path
    assert kommo.notes_for_lead(1000001) == []


def test_drive_upload_in_chunks_then_attach_to_lead_and_attachment_note(api: Api, kommo: KommoSandbox) -> None:
    account = api.get("/api/v4/account", params={"with": "drive_url"}).json()
    drive = account["drive_url"]
    assert drive == kommo.base_url + "/drive"
    content = bytes(range(256)) * 4000  # 1 024 000 bytes: 2 chunks of 524 288 at most
    session = api.session.post(
        f"{drive}/v1.0/sessions",
        json={"file_name": "INV-0001.pdf", "file_size": len(content), "content_type": "application/pdf"},
        timeout=5,
    ).json()
    assert session["max_part_size"] == 524288 and session["max_file_size"] == 314572800
    url, part, result = session["upload_url"], session["max_part_size"], None
    too_big = requests.post(url, data=content[: part + 1], timeout=5)
    assert too_big.status_code == 400
    for offset in range(0, len(content), part):
        r = requests.post(url, data=content[offset : offset + part], timeout=5)
        assert r.status_code == 200
        result = r.json()
        if "next_url" in result:
            assert result["session_id"] == session["session_id"]
            url = result["next_url"]
    assert result is not None and "uuid" in result
    assert result["name"] == "INV-0001.pdf" and result["size"]["bytes"] == len(content)
    assert kommo.file_content(result["uuid"]) == content

    assert api.get("/api/v4/leads/1000001/files").status_code == 204
    r = api.put("/api/v4/leads/1000001/files", json=[{"file_uuid": result["uuid"]}])
    assert r.status_code == 200 and r.json()["_embedded"]["files"][0]["file_uuid"] == result["uuid"]
    listed = api.get("/api/v4/leads/1000001/files").json()["_embedded"]["files"]
    assert [f["file_uuid"] for f in listed] == [result["uuid"]]
    assert [f["uuid"] for f in kommo.files_for_lead(1000001)] == [result["uuid"]]
    r = api.post(
        "/api/v4/leads/1000001/notes",
        json=[{"note_type": "attachment", "params": {"file_uuid": result["uuid"], "file_name": "INV-0001.pdf"}}],
    )
    assert r.status_code == 200
    assert api.put("/api/v4/leads/1000001/files", json=[{"file_uuid": "missing"}]).status_code == 400


def test_pipelines_statuses_catalogs_account_users(api: Api) -> None:
    pipelines = api.get("/api/v4/leads/pipelines").json()["_embedded"]["pipelines"]
    by_id = {p["id"]: p for p in pipelines}
    assert set(by_id) == {7000001, 7000002} and by_id[7000001]["is_main"] is True
    sales = [(s["id"], s["name"], s["type"]) for s in by_id[7000001]["_embedded"]["statuses"]]
    assert sales[:5] == [
        (7100001, "Incoming leads", 1),
        (7100002, "Qualified", 0),
        (7100003, "Proposal sent", 0),
        (7100004, "Payment agreed", 0),
        (7100005, "Paid", 0),
    ]
    for p in pipelines:
        assert {142, 143} <= {s["id"] for s in p["_embedded"]["statuses"]}
    statuses = api.get("/api/v4/leads/pipelines/7000002/statuses").json()["_embedded"]["statuses"]
    assert [s["id"] for s in statuses] == [7200001, 7200002, 7200003, 142, 143]
    assert statuses[2]["name"] == "Payment agreed"

    catalogs = api.get("/api/v4/catalogs").json()["_embedded"]["catalogs"]
    assert [(c["id"], c["name"]) for c in catalogs] == [(9000001, "Products")]
    elements = api.get("/api/v4/catalogs/9000001/elements", params={"limit": 50}).json()["_embedded"]["elements"]
    skus = {}
    for e in elements:
        values = {f["field_id"]: f["values"][0]["value"] for f in e["custom_fields_values"]}
        skus[e["id"]] = (values[9100001], values[9100002])
    assert skus == {
        9200001: ("WEB-DESIGN", 4800),
        9200002: ("HOSTING-12M", 360),
        9200003: ("SEO-AUDIT", 1200),
        9200004: ("SUPPORT-HOUR", 150),
        9200005: ("LOGO", 900),
        9200006: ("TRAINING-DAY", 1500),
    }
    one = api.get("/api/v4/catalogs/9000001/elements", params={"filter[id][]": [9200004]}).json()
    assert [e["id"] for e in one["_embedded"]["elements"]] == [9200004]

    account = api.get("/api/v4/account").json()
    assert (account["id"], account["subdomain"]) == (31000001, "demo") and "drive_url" not in account
    users = api.get("/api/v4/users").json()["_embedded"]["users"]
    assert [(u["id"], u["name"], u["rights"]["is_admin"]) for u in users] == [
        (5000001, "Anna Manager", True),
        (5000002, "Boris Sales", False),
    ]


def test_demo_seed_shape(kommo: KommoSandbox) -> None:
    leads = kommo.list_leads()
    assert [lead["id"] for lead in leads] == list(range(1000001, 1000021))
    no_contact = [x for x in leads if not x["_embedded"]["contacts"] and not x["_embedded"]["companies"]]
    assert [x["id"] for x in no_contact] == [1000010]
    eur = [x["id"] for x in leads if kommo.lead_field_value(x["id"], 8100010) == "EUR"]
    assert eur == [1000011]
    assert all(x["status_id"] in (7100001, 7100002, 7100003, 7200001, 7200002) for x in leads)
    assert {x["pipeline_id"] for x in leads} == {7000001, 7000002}
    with_products = [x for x in leads if x["_embedded"]["catalog_elements"]]
    price_only = [x for x in leads if not x["_embedded"]["catalog_elements"]]
    assert len(with_products) >= 10 and len(price_only) >= 4
    assert all(isinstance(x["price"], int) and x["price"] > 0 for x in leads)
    assert len(kommo.state.contacts) == 12 and min(kommo.state.contacts) == 6000001
