"""Custom fields: definitions with enums, and validation of custom_fields_values writes (K5, K10)."""

from __future__ import annotations

from typing import Any

import pytest
from kommo_support import Api

from sandbox.kommo import KommoSandbox


def test_lead_custom_fields_listing_has_demo_ids_types_and_enums(api: Api) -> None:
    r = api.get("/api/v4/leads/custom_fields")
    assert r.status_code == 200
    fields = {f["id"]: f for f in r.json()["_embedded"]["custom_fields"]}
    assert sorted(fields) == list(range(8100001, 8100012))
    types = {fid: f["type"] for fid, f in fields.items()}
    assert types[8100002] == "select" and types[8100003] == "numeric" and types[8100006] == "url"
    assert types[8100008] == "date" and types[8100011] == "textarea"
    assert [e["value"] for e in fields[8100002]["enums"]][:3] == ["Draft", "Awaiting approval", "Awaiting payment"]
    assert len(fields[8100002]["enums"]) == 10
    assert [e["value"] for e in fields[8100010]["enums"]] == ["NZD", "AUD", "USD", "EUR", "GBP"]
    assert fields[8100001]["enums"] is None


def test_contact_and_company_fields_share_phone_and_email(api: Api) -> None:
    contact = {f["id"]: f for f in api.get("/api/v4/contacts/custom_fields").json()["_embedded"]["custom_fields"]}
    company = {f["id"]: f for f in api.get("/api/v4/companies/custom_fields").json()["_embedded"]["custom_fields"]}
    assert contact[8300001]["code"] == "PHONE" and contact[8300002]["code"] == "EMAIL"
    assert contact[8300001]["type"] == "multitext"
    assert "WORK" in [e["value"] for e in contact[8300002]["enums"]]
    assert set(company) == {8300001, 8300002, 8200001, 8200002}
    assert company[8200001]["name"] == "Tax number" and company[8200002]["name"] == "City"


def _patch_fields(api: Api, values: list[dict[str, Any]], lead_id: int = 1000001) -> Any:
    return api.patch("/api/v4/leads", json=[{"id": lead_id, "custom_fields_values": values}])


def test_valid_values_are_stored_and_returned_in_read_shape(api: Api, kommo: KommoSandbox) -> None:
    r = _patch_fields(
        api,
        [
            {"field_id": 8100001, "values": [{"value": "INV-0042"}]},
            {"field_id": 8100002, "values": [{"value": "Awaiting payment"}]},
            {"field_id": 8100003, "values": [{"value": 5160.5}]},
            {"field_id": 8100004, "values": [{"value": "100.25"}]},
            {
                "field_id": 8100006,
                "values": [{"value": "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=1"}],
            },
            {"field_id": 8100008, "values": [{"value": "2026-12-01T00:00:00+00:00"}]},
            {"field_id": 8100009, "values": [{"value": 1780000000}]},
            {"field_id": 8100010, "values": [{"enum_id": 8110103}]},
        ],
    )
    assert r.status_code == 200, r.text
    lead = api.get("/api/v4/leads/1000001").json()
    by_id = {f["field_id"]: f for f in lead["custom_fields_values"]}
    assert by_id[8100001] == {
        "field_id": 8100001,
        "field_name": "Invoice number",
        "field_code": None,
        "field_type": "text",
        "values": [{"value": "INV-0042"}],
    }
    assert by_id[8100002]["values"] == [{"value": "Awaiting payment", "enum_id": 8110003, "enum_code": None}]
    assert by_id[8100003]["values"] == [{"value": "5160.5"}]
    assert by_id[8100004]["values"] == [{"value": "100.25"}]
    assert by_id[8100008]["values"] == [{"value": 1796083200}]  # RFC3339 in, unix int out
    assert by_id[8100009]["values"] == [{"value": 1780000000}]
    assert by_id[8100010]["values"][0]["value"] == "USD"
    assert kommo.lead_field_value(1000001, 8100002) == "Awaiting payment"
    # values: null clears a field, other fields stay
    assert _patch_fields(api, [{"field_id": 8100001, "values": None}]).status_code == 200
    assert kommo.lead_field_value(1000001, 8100001) is None
    assert kommo.lead_field_value(1000001, 8100004) == "100.25"


@pytest.mark.parametrize(
    ("value", "code", "path"),
    [
        ({"field_id": 8999999, "values": [{"value": "x"}]}, "NotSupportedChoice", "custom_fields_values.0.field_id"),
        ({"field_id": 8100003, "values": [{"value": "twelve"}]}, "InvalidType", "custom_fields_values.0.values.0.value"),
        ({"field_id": 8100003, "values": [{"value": True}]}, "InvalidType", "custom_fields_values.0.values.0.value"),
        ({"field_id": 8100006, "values": [{"value": "not a url"}]}, "InvalidValue", "custom_fields_values.0.values.0.value"),
        ({"field_id": 8100002, "values": [{"value": "Almost paid"}]}, "NotSupportedChoice", "custom_fields_values.0.values.0.value"),
        ({"field_id": 8100002, "values": [{"enum_id": 1}]}, "NotSupportedChoice", "custom_fields_values.0.values.0.enum_id"),
        ({"field_id": 8100008, "values": [{"value": "next tuesday"}]}, "InvalidType", "custom_fields_values.0.values.0.value"),
        ({"field_code": "NOPE", "values": [{"value": "x"}]}, "NotSupportedChoice", "custom_fields_values.0.field_code"),
    ],
)  # fmt: skip
def test_invalid_values_fail_with_k10_validation_errors(
    api: Api, kommo: KommoSandbox, value: dict[str, Any], code: str, path: str
) -> None:
    r = api.patch(
        "/api/v4/leads",
        json=[
            {"id": 1000002, "price": 1, "custom_fields_values": [{"field_id": 8100001, "values": [{"value": "ok"}]}]},
            {"id": 1000001, "request_id": "req-7", "custom_fields_values": [value]},
        ],
    )
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/problem+json"
    body = r.json()
    assert list(body) == ["validation-errors", "title", "type", "status", "detail"]
    assert body["title"] == "Bad Request" and body["type"] == "https://httpstatus.es/400" and body["status"] == 400
    assert body["detail"] == "Request validation failed"
    assert len(body["validation-errors"]) == 1
    entry = body["validation-errors"][0]
    assert entry["request_id"] == "req-7"
    assert entry["errors"][0]["code"] == code and entry["errors"][0]["path"] == path
    assert isinstance(entry["errors"][0]["detail"], str) and entry["errors"][0]["detail"]
    # the whole request failed: the valid first item was not applied either
    assert kommo.leads[1000002].price == 720
    assert kommo.lead_field_value(1000002, 8100001) is None


def test_documented_not_a_valid_choice_detail(api: Api) -> None:
    r = _patch_fields(api, [{"field_id": 123, "values": [{"value": "x"}]}])
    assert r.json()["validation-errors"] == [
        {
            "request_id": "0",
            "errors": [
                {
                    "code": "NotSupportedChoice",
                    "path": "custom_fields_values.0.field_id",
                    "detail": "The value you selected is not a valid choice.",
                }
            ],
        }
    ]


def test_validation_also_applies_on_create(api: Api, kommo: KommoSandbox) -> None:
    r = api.post(
        "/api/v4/leads",
        json=[{"name": "x", "custom_fields_values": [{"field_id": 8100007, "values": [{"value": "ftp:/x"}]}]}],
    )
    assert r.status_code == 400
    assert len(kommo.leads) == 20
