"""Tasks: POST /api/v4/tasks (batch, validated in full), GET /api/v4/tasks with filters, ``tasks_for_lead``."""

from __future__ import annotations

from kommo_support import Api

from sandbox.common import Clock
from sandbox.kommo import KommoSandbox


def test_tasks_are_created_for_leads_and_listed(api: Api, kommo: KommoSandbox, clock: Clock) -> None:
    till = int(clock.time()) + 86400
    r = api.post(
        "/api/v4/tasks",
        json=[
            {
                "entity_id": 1000001,
                "entity_type": "leads",
                "text": "Invoice INV-0001 is overdue",
                "complete_till": till,
                "task_type_id": 1,
                "responsible_user_id": 5000002,
                "request_id": "t1",
            },
            {"entity_id": 1000002, "entity_type": "leads", "text": "Call", "complete_till": till},
        ],
    )
    assert r.status_code == 200
    assert [t["request_id"] for t in r.json()["_embedded"]["tasks"]] == ["t1", "1"]
    (task,) = kommo.tasks_for_lead(1000001)
    assert (task["text"], task["responsible_user_id"], task["task_type_id"], task["complete_till"]) == (
        "Invoice INV-0001 is overdue",
        5000002,
        1,
        till,
    )
    assert kommo.tasks_for_lead(1000002)[0]["responsible_user_id"] == 5000001  # the token's user by default
    listed = api.get("/api/v4/tasks", params={"filter[entity_id][]": [1000001]}).json()["_embedded"]["tasks"]
    assert [t["entity_id"] for t in listed] == [1000001]
    assert len(kommo.state()["tasks"]) == 2


def test_one_invalid_task_fails_the_whole_batch(api: Api, kommo: KommoSandbox, clock: Clock) -> None:
    till = int(clock.time()) + 3600
    r = api.post(
        "/api/v4/tasks",
        json=[
            {"entity_id": 1000001, "entity_type": "leads", "text": "ok", "complete_till": till},
            {"entity_id": 999, "entity_type": "leads", "text": "unknown lead", "complete_till": till},
            {"entity_id": 1000001, "entity_type": "leads", "text": "", "complete_till": till - 7200},
            {
                "entity_id": 1000001,
                "entity_type": "leads",
                "text": "x",
                "complete_till": till,
                "responsible_user_id": 1,
            },
        ],
    )
    assert r.status_code == 400
    errors = {e["request_id"]: e["errors"] for e in r.json()["validation-errors"]}
    assert set(errors) == {"1", "2", "3"}
    assert kommo.tasks_for_lead(1000001) == []
    assert kommo.counters.snapshot()["POST /api/v4/tasks"]["calls"] == 1
