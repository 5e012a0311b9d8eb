"""Leads: list, filters, paging, 204, 422, reads by id, writes (POST, PATCH batch and by id), complex add."""

from __future__ import annotations

from kommo_support import Api

from sandbox.kommo import KommoSandbox


def test_list_is_hal_with_paging_links_until_absent(api: Api) -> None:
    seen: list[int] = []
    url = "/api/v4/leads?limit=7"
    pages = 0
    while url:
        r = api.get(url) if url.startswith("/") else api.session.get(url, timeout=5)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/hal+json"
        body = r.json()
        pages += 1
        assert body["_page"] == pages
        seen += [lead["id"] for lead in body["_embedded"]["leads"]]
        url = body["_links"].get("next", {}).get("href", "")
    assert pages == 3  # 20 demo leads, 7 per page
    assert seen == list(range(1000001, 1000021))


def test_page_past_the_end_and_no_match_are_204_with_empty_body(api: Api) -> None:
    r = api.get("/api/v4/leads", params={"page": 2, "limit": 250})
    assert r.status_code == 204 and r.content == b""
    r = api.get("/api/v4/leads", params={"filter[id][]": [424242]})
    assert r.status_code == 204 and r.content == b""
    r = api.get("/api/v4/leads/424242")
    assert r.status_code == 204 and r.content == b""


def test_limit_above_250_is_422_problem(api: Api) -> None:
    r = api.get("/api/v4/leads", params={"limit": 251})
    assert r.status_code == 422
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json() == {
        "title": "Unprocessable Entity",
        "type": "https://httpstatus.es/422",
        "status": 422,
        "detail": "Limit 250 per page",
    }
    assert api.get("/api/v4/leads", params={"limit": 250}).status_code == 200


def test_filters_id_statuses_pipeline_updated_at_and_query(api: Api, kommo: KommoSandbox) -> None:
    def ids(params: dict[str, object]) -> list[int]:
        r = api.get("/api/v4/leads", params=params)
        return [] if r.status_code == 204 else [x["id"] for x in r.json()["_embedded"]["leads"]]

    assert ids({"filter[id][]": [1000003, 1000001, 999]}) == [1000001, 1000003]
    assert ids({"filter[id]": "1000002"}) == [1000002]
    wholesale = ids({"filter[pipeline_id]": 7000002})
    assert wholesale == list(range(1000015, 1000021))
    pairs = {
        "filter[statuses][0][pipeline_id]": 7000001,
        "filter[statuses][0][status_id]": 7100001,
        "filter[statuses][1][pipeline_id]": 7000002,
        "filter[statuses][1][status_id]": 7200001,
    }
    expected = sorted(
        lead.id
        for lead in kommo.leads.values()
        if (lead.pipeline_id, lead.status_id) in {(7000001, 7100001), (7000002, 7200001)}
    )
    assert ids(pairs) == expected and len(expected) >= 3
    lead = kommo.leads[1000005]
    assert ids({"filter[updated_at][from]": lead.updated_at, "filter[updated_at][to]": lead.updated_at}) == [1000005]
    assert ids({"query": "globex"}) == [1000002, 1000013, 1000018]
    assert ids({"order[id]": "desc", "limit": 3}) == [1000020, 1000019, 1000018]


def test_lead_shape_with_contacts_and_catalog_elements(api: Api) -> None:
    plain = api.get("/api/v4/leads/1000001").json()
    assert "contacts" not in plain["_embedded"] and "catalog_elements" not in plain["_embedded"]
    lead = api.get("/api/v4/leads/1000001", params={"with": "contacts,catalog_elements"}).json()
    for key in ("id", "name", "price", "responsible_user_id", "group_id", "status_id", "pipeline_id", "loss_reason_id",
                "created_by", "updated_by", "created_at", "updated_at", "closed_at", "closest_task_at", "is_deleted",
                "custom_fields_values", "score", "account_id", "labor_cost", "_links", "_embedded"):  # fmt: skip
        assert key in lead, key
    assert lead["price"] == 5160 and isinstance(lead["price"], int)
    assert lead["account_id"] == 31000001
    assert lead["_links"]["self"]["href"].endswith("/api/v4/leads/1000001")
    emb = lead["_embedded"]
    assert [(c["id"], c["is_main"]) for c in emb["contacts"]] == [(6000001, True)]
    assert [c["id"] for c in emb["companies"]] == [6500001]
    assert emb["catalog_elements"] == [
        {"id": 9200001, "metadata": {"quantity": 1, "catalog_id": 9000001, "price_id": 9100002}},
        {"id": 9200002, "metadata": {"quantity": 1, "catalog_id": 9000001, "price_id": 9100002}},
    ]
    assert emb["tags"][0]["name"] == "website"


def test_requests_without_a_valid_token_get_401_problem(kommo: KommoSandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        r = Api(kommo.base_url).session.get(
            kommo.base_url + "/api/v4/leads",
            headers=headers | {"Authorization": headers.get("Authorization", "")},
            timeout=5,
        )
        assert r.status_code == 401
        assert r.json() == {
            "title": "Unauthorized",
            "type": "https://httpstatus.es/401",
            "status": 401,
            "detail": "Invalid user name or password",
        }
    assert kommo.counters.count("GET /api/v4/leads", 401) == 3


def test_post_leads_creates_in_first_stage_and_echoes_request_id(api: Api, kommo: KommoSandbox) -> None:
    r = api.post(
        "/api/v4/leads",
        json=[
            {"name": "New deal", "price": 1500, "request_id": "abc"},
            {
                "name": "Wholesale deal",
                "pipeline_id": 7000002,
                "_embedded": {"contacts": [{"id": 6000002}], "companies": [{"id": 6500002}]},
            },
        ],
    )
    assert r.status_code == 200
    rows = r.json()["_embedded"]["leads"]
    assert [row["request_id"] for row in rows] == ["abc", "1"]
    first, second = (kommo.get_lead(row["id"]) for row in rows)
    assert first is not None and second is not None
    assert (first["pipeline_id"], first["status_id"], first["price"]) == (7000001, 7100002, 1500)
    assert (second["pipeline_id"], second["status_id"]) == (7000002, 7200002)
    assert second["_embedded"]["contacts"][0]["id"] == 6000002
    assert second["_embedded"]["companies"][0]["id"] == 6500002
    assert first["id"] > 1000020


def test_more_than_250_items_in_a_write_is_422(api: Api, kommo: KommoSandbox) -> None:
    r = api.post("/api/v4/leads", json=[{"name": f"x{i}"} for i in range(251)])
    assert r.status_code == 422 and r.json()["detail"] == "Limit 250 per page"
    assert len(kommo.leads) == 20
    r = api.patch("/api/v4/leads", json=[{"id": 1000001, "price": 1}] * 251)
    assert r.status_code == 422
    assert api.post("/api/v4/leads", json=[]).json()["detail"] == "Request data can not be empty"


def test_patch_batch_changes_status_price_fields_and_timestamps(api: Api, kommo: KommoSandbox) -> None:
    kommo.clock.advance(3600)
    before = kommo.leads[1000001].updated_at
    r = api.patch(
        "/api/v4/leads",
        json=[
            {"id": 1000001, "status_id": 142, "pipeline_id": 7000001},
            {"id": 1000002, "price": 999, "name": "Renamed", "_embedded": {"tags": [{"name": "vip"}]}},
        ],
    )
    assert r.status_code == 200
    rows = r.json()["_embedded"]["leads"]
    assert [row["id"] for row in rows] == [1000001, 1000002]
    won = kommo.leads[1000001]
    assert won.status_id == 142 and won.closed_at is not None and won.updated_at > before
    assert rows[0]["updated_at"] == won.updated_at
    other = kommo.get_lead(1000002)
    assert other is not None and other["price"] == 999 and other["name"] == "Renamed"
    assert [t["name"] for t in other["_embedded"]["tags"]] == ["vip"]


def test_patch_batch_needs_id_and_fails_as_a_whole(api: Api, kommo: KommoSandbox) -> None:
    r = api.patch(
        "/api/v4/leads",
        json=[{"id": 1000003, "price": 1}, {"price": 2}, {"id": 1000004, "status_id": 7200002, "pipeline_id": 7000001}],
    )
    assert r.status_code == 400
    body = r.json()
    assert body["detail"] == "Request validation failed"
    errors = {item["request_id"]: item["errors"] for item in body["validation-errors"]}
    assert errors["1"][0]["path"] == "id"
    assert errors["2"][0] == {
        "code": "NotSupportedChoice",
        "path": "status_id",
        "detail": "The value you selected is not a valid choice.",
    }
    assert kommo.leads[1000003].price == 1200  # nothing applied


def test_patch_by_id_and_moving_to_another_pipeline(api: Api, kommo: KommoSandbox) -> None:
    r = api.patch("/api/v4/leads/1000006", json={"pipeline_id": 7000002, "status_id": 7200003})
    assert r.status_code == 200
    assert r.json()["id"] == 1000006 and "updated_at" in r.json()
    lead = kommo.leads[1000006]
    assert (lead.pipeline_id, lead.status_id) == (7000002, 7200003)
    assert api.patch("/api/v4/leads/424242", json={"price": 1}).status_code == 404


def test_complex_add_creates_lead_contact_and_company(api: Api, kommo: KommoSandbox) -> None:
    body = [
        {
            "name": "Complex deal",
            "price": 4800,
            "pipeline_id": 7000001,
            "_embedded": {
                "contacts": [
                    {
                        "first_name": "Ivan",
                        "last_name": "Petrov",
                        "custom_fields_values": [
                            {"field_code": "EMAIL", "values": [{"enum_code": "WORK", "value": "ivan@new.example.com"}]},
                            {"field_code": "PHONE", "values": [{"enum_code": "MOB", "value": "+64 21 000 1111"}]},
                        ],
                    }
                ],
                "companies": [
                    {
                        "name": "New Co",
                        "custom_fields_values": [{"field_id": 8200002, "values": [{"value": "Rotorua"}]}],
                    }
                ],
            },
        },
        {"name": "Complex with existing contact", "_embedded": {"contacts": [{"id": 6000003}]}, "request_id": "r2"},
    ]
    r = api.post("/api/v4/leads/complex", json=body)
    assert r.status_code == 200
    first, second = r.json()
    assert set(first) == {"id", "contact_id", "company_id", "request_id", "merged"}
    assert first["merged"] is False and first["request_id"] == ["0"] and second["request_id"] == ["r2"]
    lead = kommo.get_lead(first["id"])
    assert lead is not None and lead["price"] == 4800
    assert lead["_embedded"]["contacts"] == [
        {"id": first["contact_id"], "is_main": True, "_links": lead["_embedded"]["contacts"][0]["_links"]}
    ]
    contact = kommo.get_contact(first["contact_id"])
    assert contact is not None and contact["name"] == "Ivan Petrov"
    assert contact["_embedded"]["companies"][0]["id"] == first["company_id"]
    email = next(f for f in contact["custom_fields_values"] if f["field_code"] == "EMAIL")
    assert email["values"][0]["value"] == "ivan@new.example.com" and email["values"][0]["enum_code"] == "WORK"
    company = kommo.get_company(first["company_id"])
    assert company is not None and company["name"] == "New Co"
    assert second["contact_id"] == 6000003 and second["company_id"] is None


def test_complex_add_limit_is_50(api: Api) -> None:
    r = api.post("/api/v4/leads/complex", json=[{"name": str(i)} for i in range(51)])
    assert r.status_code == 422


def test_links_to_catalog_elements_with_quantity(api: Api, kommo: KommoSandbox) -> None:
    r = api.post(
        "/api/v4/leads/1000007/link",
        json=[
            {
                "to_entity_id": 9200003,
                "to_entity_type": "catalog_elements",
                "metadata": {"quantity": 2.5, "catalog_id": 9000001},
            }
        ],
    )
    assert r.status_code == 200
    assert r.json()["_embedded"]["links"][0]["metadata"]["quantity"] == 2.5
    lead = api.get("/api/v4/leads/1000007", params={"with": "catalog_elements"}).json()
    assert lead["_embedded"]["catalog_elements"] == [
        {"id": 9200003, "metadata": {"quantity": 2.5, "catalog_id": 9000001, "price_id": None}}
    ]
    links = api.get("/api/v4/leads/1000007/links", params={"filter[to_entity_type]": "catalog_elements"}).json()
    assert [x["to_entity_id"] for x in links["_embedded"]["links"]] == [9200003]
    bad = api.post("/api/v4/leads/1000007/link", json=[{"to_entity_id": 1, "to_entity_type": "catalog_elements"}])
    assert bad.status_code == 400
