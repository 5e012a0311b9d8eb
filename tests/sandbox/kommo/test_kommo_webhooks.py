"""Webhooks: Kommo's form-encoded status_lead body (K11.3), bulk moves in one body, retries on the clock (K11.4)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from kommo_support import Api, Receiver

from sandbox.common import Clock
from sandbox.kommo import KommoSandbox

# the documented example's field set, in its order (K11.3); tags and old_pipeline_id appear only when relevant
DOCUMENTED = [
    "id",
    "name",
    "status_id",
    "old_status_id",
    "price",
    "responsible_user_id",
    "last_modified",
    "modified_user_id",
    "created_user_id",
    "date_create",
    "pipeline_id",
    "account_id",
    "custom_fields",
    "created_at",
    "updated_at",
]


def _lead_fields(pairs: list[tuple[str, str]], section: str, index: int) -> dict[str, str]:
    prefix = f"leads[{section}][{index}]["
    return {k[len(prefix) : -1]: v for k, v in pairs if k.startswith(prefix)}


def _top_level_names(fields: dict[str, str]) -> list[str]:
    names: list[str] = []
    for key in fields:
        name = key.split("]", 1)[0]
        if name not in names:
            names.append(name)
    return names


def test_single_move_posts_kommo_form_body(kommo: KommoSandbox, api: Api, receiver: Receiver) -> None:
    # give the lead a select and a date field so custom_fields is present
    r = api.patch(
        "/api/v4/leads/1000001",
        json={
            "custom_fields_values": [
                {"field_id": 8100002, "values": [{"value": "Awaiting payment"}]},
                {"field_id": 8100008, "values": [{"value": 1796083200}]},
                {"field_id": 8100001, "values": [{"value": "INV-0007"}]},
            ]
        },
    )
    assert r.status_code == 200
    kommo.add_webhook(receiver.url)
    kommo.clock.advance(60)
    delivery_ids = kommo.move_leads([1000001], status_id=7100004, pipeline_id=7000001)
    assert len(delivery_ids) == 1
    assert kommo.wait_for_deliveries(5) and receiver.wait_for(1)
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req.path == "/hooks/kommo/secret-token"
    assert req.content_type == "application/x-www-form-urlencoded"
    assert "leads%5Bstatus%5D%5B0%5D%5Bid%5D=1000001" in req.body  # brackets are percent-encoded on the wire
    pairs = parse_qsl(req.body, keep_blank_values=True)
    lead = _lead_fields(pairs, "status", 0)
    names = _top_level_names(lead)
    assert [n for n in names if n in DOCUMENTED] == DOCUMENTED
    assert set(names) - set(DOCUMENTED) == {"tags"}  # the lead has a tag; same pipeline, so no old_pipeline_id
    stored = kommo.leads[1000001]
    assert lead["id"] == "1000001"
    assert lead["name"] == "Website redesign - Acme"
    assert (lead["status_id"], lead["old_status_id"]) == ("7100004", "7100003")
    assert lead["pipeline_id"] == "7000001"
    assert lead["price"] == "5160"
    assert lead["responsible_user_id"] == "5000001"
    assert lead["last_modified"] == lead["updated_at"] == str(stored.updated_at)
    assert lead["modified_user_id"] == "5000001" and lead["created_user_id"] == str(stored.created_by)
    assert lead["date_create"] == lead["created_at"] == str(stored.created_at)
    assert lead["account_id"] == "31000001"
    assert (lead["tags][0][id"], lead["tags][0][name"]) == ("300001", "website")
    custom = {k: v for k, v in lead.items() if k.startswith("custom_fields]")}
    assert custom == {
        "custom_fields][0][id": "8100001",
        "custom_fields][0][name": "Invoice number",
        "custom_fields][0][values][0][value": "INV-0007",
        "custom_fields][1][id": "8100002",
        "custom_fields][1][name": "Invoice status",
        "custom_fields][1][values][0][value": "Awaiting payment",
        "custom_fields][1][values][0][enum": "8110003",
        "custom_fields][2][id": "8100008",
        "custom_fields][2][name": "Due date",
        "custom_fields][2][values][0": "1796083200",  # dates: bare value, no [value] key
    }
    assert pairs[-3:] == [
        ("account[subdomain]", "demo"),
        ("account[id]", "31000001"),
        ("account[_links][self]", kommo.base_url),
    ]
    attempt = kommo.deliveries[-1]
    assert (attempt.attempt, attempt.status_code, attempt.ok, attempt.lead_ids) == (1, 200, True, [1000001])


def test_bulk_move_of_120_leads_is_one_body_with_every_index(kommo: KommoSandbox, receiver: Receiver) -> None:
    ids = kommo.create_leads(120, pipeline_id=7000002, status_id=7200002, price=2500, name_prefix="Bulk deal")
    kommo.add_webhook(receiver.url)
    kommo.move_leads(ids, status_id=7200003, pipeline_id=7000002)
    assert kommo.wait_for_deliveries(5) and receiver.wait_for(1)
    assert len(receiver.requests) == 1
    pairs = parse_qsl(receiver.requests[0].body, keep_blank_values=True)
    lead_keys = [k for k, _ in pairs if k.startswith("leads[")]
    assert all(k.startswith("leads[status][") for k in lead_keys)
    indices = sorted({int(k.split("][")[1]) for k in lead_keys})
    assert indices == list(range(120))
    for i, lead_id in enumerate(ids):
        lead = _lead_fields(pairs, "status", i)
        names = _top_level_names(lead)
        assert names == [n for n in DOCUMENTED if n != "custom_fields"], (i, names)
        stored = kommo.leads[lead_id]
        assert lead == {
            "id": str(lead_id),
            "name": f"Bulk deal {i + 1}",
            "status_id": "7200003",
            "old_status_id": "7200002",
            "price": "2500",
            "responsible_user_id": "5000001",
            "last_modified": str(stored.updated_at),
            "modified_user_id": "5000001",
            "created_user_id": "5000001",
            "date_create": str(stored.created_at),
            "pipeline_id": "7000002",
            "account_id": "31000001",
            "created_at": str(stored.created_at),
            "updated_at": str(stored.updated_at),
        }
    assert [p for p in pairs if p[0].startswith("account[")] == [
        ("account[subdomain]", "demo"),
        ("account[id]", "31000001"),
        ("account[_links][self]", kommo.base_url),
    ]
    assert kommo.deliveries[-1].lead_ids == sorted(ids)


def test_move_to_another_pipeline_carries_old_pipeline_id(kommo: KommoSandbox, receiver: Receiver) -> None:
    kommo.add_webhook(receiver.url)
    kommo.move_leads([1000006, 1000009], status_id=7200003, pipeline_id=7000002)
    assert kommo.wait_for_deliveries(5) and receiver.wait_for(1)
    pairs = parse_qsl(receiver.requests[0].body)
    for i, lead_id in enumerate([1000006, 1000009]):
        lead = _lead_fields(pairs, "status", i)
        assert lead["id"] == str(lead_id)
        assert (lead["pipeline_id"], lead["old_pipeline_id"]) == ("7000002", "7000001")
        assert lead["status_id"] == "7200003"
    assert _lead_fields(pairs, "status", 0)["old_status_id"] == "7100001"
    assert _lead_fields(pairs, "status", 1)["old_status_id"] == "7100002"


def test_api_patch_status_fires_webhook_and_update_subscribers_get_leads_update(
    kommo: KommoSandbox, api: Api, receiver: Receiver
) -> None:
    kommo.add_webhook(receiver.url, settings=["status_lead", "update_lead"])
    r = api.patch(
        "/api/v4/leads",
        json=[{"id": 1000003, "status_id": 142, "pipeline_id": 7000001}, {"id": 1000004, "price": 1600}],
    )
    assert r.status_code == 200
    assert kommo.wait_for_deliveries(5) and receiver.wait_for(1)
    assert len(receiver.requests) == 1
    pairs = parse_qsl(receiver.requests[0].body)
    status_ids = {v for k, v in pairs if k.startswith("leads[status]") and k.endswith("[id]") and "][tags]" not in k}
    update_ids = {v for k, v in pairs if k.startswith("leads[update]") and k.count("[") == 3 and k.endswith("[id]")}
    assert status_ids == {"1000003"}  # only the stage change
    assert update_ids == {"1000003", "1000004"}
    won = _lead_fields(pairs, "status", 0)
    assert (won["status_id"], won["old_status_id"]) == ("142", "7100003")


def test_status_only_subscriber_gets_nothing_for_a_price_change(
    kommo: KommoSandbox, api: Api, receiver: Receiver
) -> None:
    kommo.add_webhook(receiver.url)
    assert api.patch("/api/v4/leads/1000004", json={"price": 1}).status_code == 200
    assert kommo.wait_for_deliveries(5)
    assert receiver.requests == [] and kommo.deliveries == []


def test_retries_for_5xx_follow_the_schedule_on_the_sandbox_clock(kommo: KommoSandbox, receiver: Receiver) -> None:
    receiver.statuses = [500]
    kommo.add_webhook(receiver.url)
    kommo.move_leads([1000002], status_id=7100003)
    assert kommo.wait_for_deliveries(5)
    expected_gaps = [300, 900, 900, 3600]
    for attempt, gap in enumerate(expected_gaps, start=1):
        assert len(kommo.deliveries) == attempt
        last = kommo.deliveries[-1]
        assert last.status_code == 500 and not last.ok
        assert last.next_attempt_at is not None
        assert round(last.next_attempt_at - last.at) == gap
        kommo.clock.advance(gap - 5)
        assert kommo.wait_for_deliveries(5)
        assert len(kommo.deliveries) == attempt  # not yet due
        kommo.clock.advance(5)
        assert kommo.wait_for_deliveries(5)
    assert [a.attempt for a in kommo.deliveries] == [1, 2, 3, 4, 5]
    assert kommo.deliveries[-1].next_attempt_at is None
    kommo.clock.advance(24 * 3600)
    assert kommo.wait_for_deliveries(5)
    assert len(kommo.deliveries) == 5 and len(receiver.requests) == 5
    assert len({r.body for r in receiver.requests}) == 1  # every retry sends the same body


def test_other_failures_get_three_attempts_and_success_stops_retries(kommo: KommoSandbox, receiver: Receiver) -> None:
    receiver.statuses = [404]
    kommo.add_webhook(receiver.url)
    kommo.move_leads([1000002], status_id=7100003)
    for advance in (0, 300, 900, 900, 3600):
        kommo.clock.advance(advance)
        assert kommo.wait_for_deliveries(5)
    assert [(a.attempt, a.status_code) for a in kommo.deliveries] == [(1, 404), (2, 404), (3, 404)]

    receiver.requests.clear()
    receiver.statuses = [503, 204]
    kommo.move_leads([1000002], status_id=7100002)
    assert kommo.wait_for_deliveries(5)
    kommo.clock.advance(300)
    assert kommo.wait_for_deliveries(5)
    kommo.clock.advance(3600)
    assert kommo.wait_for_deliveries(5)
    second = [a for a in kommo.deliveries if a.delivery_id == kommo.deliveries[-1].delivery_id]
    assert [(a.attempt, a.status_code, a.ok) for a in second] == [(1, 503, False), (2, 204, True)]


def test_timeout_counts_as_failure(kommo: KommoSandbox, receiver: Receiver) -> None:
    receiver.delay_s = 0.5
    kommo.webhooks.timeout_s = 0.2
    try:
        kommo.add_webhook(receiver.url)
        kommo.move_leads([1000002], status_id=7100003)
        assert kommo.wait_for_deliveries(5)
    finally:
        kommo.webhooks.timeout_s = 2.0
    attempt = kommo.deliveries[0]
    assert attempt.status_code is None and attempt.error == "timeout" and not attempt.ok
    assert attempt.next_attempt_at is not None and round(attempt.next_attempt_at - attempt.at) == 300


def test_fast_clock_brings_retries_sooner(receiver: Receiver) -> None:
    receiver.statuses = [502, 200]
    sandbox = KommoSandbox(token="t", clock=Clock(speed=3000), rate_limit_rps=None)
    sandbox.start()
    try:
        sandbox.add_webhook(receiver.url)
        sandbox.move_leads([1000001], status_id=7100004)
        assert receiver.wait_for(2, timeout=3)  # 300 virtual seconds = 0.1 s real
        assert sandbox.wait_for_deliveries(3)
        assert [(a.attempt, a.ok) for a in sandbox.deliveries] == [(1, False), (2, True)]
    finally:
        sandbox.stop()


def test_only_loopback_destinations_are_contacted(kommo: KommoSandbox) -> None:
    kommo.add_webhook("http://example.com/hook")
    kommo.move_leads([1000002], status_id=7100003)
    assert kommo.wait_for_deliveries(5)
    assert kommo.deliveries[0].error is not None and "loopback" in kommo.deliveries[0].error


def test_webhook_subscription_api(api: Api, kommo: KommoSandbox, receiver: Receiver) -> None:
    assert api.get("/api/v4/webhooks").status_code == 204
    r = api.post("/api/v4/webhooks", json={"destination": receiver.url, "settings": ["status_lead"], "sort": 10})
    assert r.status_code == 200
    hook = r.json()
    assert hook["destination"] == receiver.url and hook["settings"] == ["status_lead"] and hook["disabled"] is False
    listed = api.get("/api/v4/webhooks", params={"filter[destination]": receiver.url}).json()["_embedded"]["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]]
    bad = api.post("/api/v4/webhooks", json={"destination": "not-a-url", "settings": []})
    assert bad.status_code == 400
    assert {e["path"] for e in bad.json()["validation-errors"][0]["errors"]} == {"destination", "settings"}
    kommo.move_leads([1000005], status_id=7100004)
    assert kommo.wait_for_deliveries(5) and receiver.wait_for(1)
    r = api.request("DELETE", "/api/v4/webhooks", json={"destination": receiver.url})
    assert r.status_code == 204
    assert api.get("/api/v4/webhooks").status_code == 204
    kommo.move_leads([1000005], status_id=7100005)
    assert kommo.wait_for_deliveries(5)
    assert len(receiver.requests) == 1


def test_move_validation(kommo: KommoSandbox) -> None:
    import pytest

    with pytest.raises(ValueError):
        kommo.move_leads([1000001, 424242], status_id=7100004)
    with pytest.raises(ValueError):
        kommo.move_leads([1000001], status_id=7200003, pipeline_id=7000001)
    assert kommo.leads[1000001].status_id == 7100003


def test_webhook_is_disabled_after_more_than_100_failures(kommo: KommoSandbox, api: Api, receiver: Receiver) -> None:
    receiver.statuses = [500]
    kommo.add_webhook(receiver.url)
    for i in range(101):
        kommo.move_leads([1000002], status_id=7100003 if i % 2 == 0 else 7100002)
        assert kommo.wait_for_deliveries(5)
    hooks = api.get("/api/v4/webhooks").json()["_embedded"]["webhooks"]
    assert hooks[0]["disabled"] is True
    sent = len(receiver.requests)
    assert sent == 101
    kommo.move_leads([1000002], status_id=7100004)
    kommo.clock.advance(300)  # the retries of the failed deliveries are dropped too
    assert kommo.wait_for_deliveries(5)
    assert len(receiver.requests) == sent
