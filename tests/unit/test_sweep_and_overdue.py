"""Payment status without I/O: the sweep's paging and hand-over, overdue marking from the link index, and how the
status path treats an invoice the sweep already marked overdue. The store is an in-memory stand-in with the same
index rules as ``SyncStore`` (the real one is exercised in tests/integration/test_payment_status.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kommo_xero_sync.config import ConfigError, parse_mapping
from kommo_xero_sync.logic.deal_to_invoice import invoice_snapshot
from kommo_xero_sync.logic.invoice_status import InvoiceStatusSync
from kommo_xero_sync.logic.overdue import mark_overdue
from kommo_xero_sync.logic.sweep import WATERMARK, run_sweep
from kommo_xero_sync.mapping.status import InvoiceState
from kommo_xero_sync.models.kommo import Lead
from kommo_xero_sync.models.xero import XeroInvoice
from tests.unit.conftest import ROOT

TODAY = date(2026, 3, 10)
F_STATUS = 8100002


class FakeStore:
    """Deal links keyed by lead id; gsi1 as SyncStore keeps it (OPEN/OVERDUE partitions, "<due>#<id>" keys)."""

    def __init__(self) -> None:
        self.deals: dict[int, dict[str, Any]] = {}
        self.state: dict[str, dict[str, Any]] = {}
        self.index_reads = 0
        self.lose_race: set[int] = set()

    def link(self, lead_id: int, invoice: XeroInvoice, today: date = TODAY) -> None:
        snapshot = invoice_snapshot(invoice, _state(invoice, today))
        self.deals[lead_id] = {"pk": f"DEAL#{lead_id}", "lead_id": lead_id, **snapshot}

    def get_invoice_links(self, ids: Any) -> dict[str, dict[str, Any]]:
        wanted = set(ids)
        return {d["invoice_id"]: {"lead_id": d["lead_id"]} for d in self.deals.values() if d["invoice_id"] in wanted}

    def get_deal_links(self, lead_ids: Any) -> dict[int, dict[str, Any]]:
        return {i: dict(self.deals[i]) for i in lead_ids if i in self.deals}

    def update_invoice_snapshot(self, lead_id: int, snapshot: dict[str, Any], *, open_invoice: bool = True) -> None:
        item = self.deals[lead_id]
        item.update({k: v for k, v in snapshot.items() if v is not None})
        if not open_invoice:
            item.pop("gsi1pk", None)
            item.pop("gsi1sk", None)

    def open_invoices_due_before(self, day_iso: str, *, page_size: int = 100) -> Any:
        start = ""
        while True:
            self.index_reads += 1
            rows = sorted(
                (d for d in self.deals.values() if d.get("gsi1pk") == "OPEN" and start < d["gsi1sk"] < day_iso),
                key=lambda d: d["gsi1sk"],
            )[:page_size]
            if rows:
                yield [dict(r) for r in rows]
            if len(rows) < page_size:
                return
            start = rows[-1]["gsi1sk"]

    def mark_overdue(self, lead_id: int, index_key: str, *, deal_state: str) -> bool:
        item = self.deals[lead_id]
        if lead_id in self.lose_race or item.get("gsi1pk") != "OPEN" or item.get("gsi1sk") != index_key:
            return False
        item.update(gsi1pk="OVERDUE", deal_state=deal_state)
        return True

    def get_state(self, name: str) -> dict[str, Any] | None:
        return self.state.get(name)

    def put_state(self, name: str, values: dict[str, Any]) -> None:
        self.state[name] = dict(values)


class FakeKommo:
    def __init__(self) -> None:
        self.patch_calls: list[list[dict[str, Any]]] = []
        self.note_calls: list[list[dict[str, Any]]] = []
        self.task_calls: list[list[dict[str, Any]]] = []
        self.read_calls = 0

    def update_leads(self, patches: list[dict[str, Any]]) -> int:
        self.patch_calls.append(list(patches))
        return 1

    def add_notes(self, notes: list[dict[str, Any]]) -> int:
        self.note_calls.append(list(notes))
        return 1

    def add_tasks(self, tasks: list[dict[str, Any]]) -> int:
        self.task_calls.append(list(tasks))
        return 1

    def get_leads(self, ids: Any) -> list[Lead]:
        self.read_calls += 1
        return [Lead(id=i, status_id=1, pipeline_id=1, responsible_user_id=5000002) for i in ids]

    def notes_for(self, lead_id: int) -> list[str]:
        return [n["params"]["text"] for call in self.note_calls for n in call if n["entity_id"] == lead_id]

    def status_of(self, lead_id: int) -> str | None:
        shown = None
        for call in self.patch_calls:
            for patch in call:
                for value in patch["id"] == lead_id and patch["custom_fields_values"] or []:
                    if value["field_id"] == F_STATUS:
                        shown = value["values"][0]["value"]
        return shown


class PagedXero:
    """``invoices_modified_since`` over a fixed list, failing on the pages listed in ``fail_on``."""

    def __init__(self, invoices: list[XeroInvoice], fail_on: tuple[int, ...] = ()) -> None:
        self.invoices = invoices
        self.fail_on = set(fail_on)
        self.pages_read: list[int] = []

    def invoices_modified_since(self, since: datetime, page: int, page_size: int = 500) -> Any:
        if page in self.fail_on:
            self.fail_on.discard(page)
            raise RuntimeError("killed")
        self.pages_read.append(page)
        count = max(1, -(-len(self.invoices) // page_size))
        return self.invoices[(page - 1) * page_size : page * page_size], count


def _state(invoice: XeroInvoice, today: date) -> InvoiceState:
    from kommo_xero_sync.mapping.status import invoice_state

    return invoice_state(invoice, today)


def inv(n: int, *, due: date, paid: str = "0", payments: list[dict[str, Any]] | None = None, **kw: Any) -> XeroInvoice:
    total = Decimal("100.00")
    data: dict[str, Any] = {
        "InvoiceID": f"inv-{n}",
        "InvoiceNumber": f"INV-{n:04d}",
        "Type": "ACCREC",
        "Status": "AUTHORISED",
        "CurrencyCode": "NZD",
        "Total": total,
        "AmountPaid": Decimal(paid),
        "AmountDue": total - Decimal(paid),
        "AmountCredited": 0,
        "DueDate": datetime(due.year, due.month, due.day, tzinfo=UTC),
        "UpdatedDateUTC": datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n),
        "Payments": payments or [],
    }
    data.update(kw)
    return XeroInvoice.model_validate(data)


@pytest.fixture
def world(mapping):
    store, kommo = FakeStore(), FakeKommo()
    today = [TODAY]
    sync = InvoiceStatusSync(mapping=mapping, kommo=kommo, xero=None, store=store, today=lambda: today[0])
    return store, kommo, sync, today


# -- overdue marking ---------------------------------------------------------------------------------------------


def test_invoice_past_due_is_marked_once_with_one_note(world, mapping):
    store, kommo, sync, today = world
    store.link(1, inv(1, due=TODAY - timedelta(days=1)), today=TODAY - timedelta(days=2))
    store.link(2, inv(2, due=TODAY), today=TODAY - timedelta(days=2))  # due today: not overdue yet
    report = mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: today[0])
    assert report.marked == 1
    assert kommo.status_of(1) == "Overdue" and kommo.status_of(2) is None
    assert kommo.notes_for(1) == ["Xero invoice INV-0001 is now Overdue."]
    assert store.deals[1]["gsi1pk"] == "OVERDUE" and store.deals[1]["deal_state"] == "Overdue"
    # The next run reads nothing more for deal 1 and writes nothing.
    calls = len(kommo.patch_calls)
    assert mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: today[0]).marked == 0
    assert len(kommo.patch_calls) == calls and kommo.notes_for(1) == ["Xero invoice INV-0001 is now Overdue."]
    # A day later the second one falls due.
    today[0] = TODAY + timedelta(days=1)
    assert mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: today[0]).marked == 1
    assert kommo.status_of(2) == "Overdue"


def test_many_overdue_invoices_are_written_in_batches_per_index_page(world, mapping):
    store, kommo, _, _ = world
    for n in range(1, 251):
        store.link(n, inv(n, due=TODAY - timedelta(days=1 + n % 3)), today=TODAY - timedelta(days=10))
    for n in range(251, 1001):  # not due yet: never read
        store.link(n, inv(n, due=TODAY + timedelta(days=5)), today=TODAY)
    report = mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: TODAY, page_size=100)
    assert report.marked == 250
    assert [len(c) for c in kommo.patch_calls] == [100, 100, 50]  # KommoClient splits each into <= 50 per request
    assert [len(c) for c in kommo.note_calls] == [100, 100, 50]
    assert store.index_reads == 3


def test_invoice_changed_while_being_marked_gets_its_recorded_state_back(world, mapping):
    store, kommo, _, _ = world
    store.link(1, inv(1, due=TODAY - timedelta(days=1)), today=TODAY - timedelta(days=2))
    store.deals[1]["deal_state"] = "Paid"  # what the status path recorded meanwhile
    store.lose_race.add(1)
    report = mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: TODAY)
    assert report.marked == 0 and report.raced == 1
    assert kommo.status_of(1) == "Paid"


def test_overdue_task_for_the_responsible_user(mapping):
    doc = mapping.model_dump(mode="json")
    doc["kommo"]["overdue_task"] = True
    with_tasks = parse_mapping(json.dumps(doc))
    store, kommo = FakeStore(), FakeKommo()
    store.link(7, inv(7, due=TODAY - timedelta(days=3), paid="40.00"), today=TODAY - timedelta(days=5))
    report = mark_overdue(store=store, kommo=kommo, mapping=with_tasks, today=lambda: TODAY)
    assert report.tasks == 1 and kommo.read_calls == 1
    (task,) = kommo.task_calls[0]
    assert task["entity_id"] == 7 and task["entity_type"] == "leads" and task["responsible_user_id"] == 5000002
    assert task["task_type_id"] == 1
    assert task["complete_till"] == int(datetime(2026, 3, 11, 23, 59, 59, tzinfo=UTC).timestamp())
    assert "INV-0007" in task["text"] and "60.00 NZD" in task["text"] and "2026-03-07" in task["text"]


def test_no_task_unless_configured(world, mapping):
    store, kommo, _, _ = world
    store.link(1, inv(1, due=TODAY - timedelta(days=1)), today=TODAY - timedelta(days=2))
    mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: TODAY)
    assert kommo.task_calls == [] and kommo.read_calls == 0


def test_task_text_placeholders_are_checked_when_the_mapping_loads():
    doc = json.loads((ROOT / "config" / "mapping.demo.json").read_text())
    doc["kommo"]["overdue_task_text"] = "Chase {client}"
    with pytest.raises(ConfigError, match="overdue_task_text"):
        parse_mapping(json.dumps(doc))


# -- the status path after the overdue mark ----------------------------------------------------------------------


def test_partial_payment_on_an_overdue_invoice_gives_a_payment_note_and_no_second_overdue_note(world, mapping):
    store, kommo, sync, _ = world
    store.link(1, inv(1, due=TODAY - timedelta(days=1)), today=TODAY - timedelta(days=2))
    mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: TODAY)
    paid = inv(1, due=TODAY - timedelta(days=1), paid="30.00", payments=[{"PaymentID": "p1", "Amount": "30.00"}])
    sync.run(["inv-1"], invoices=[paid])
    assert store.deals[1]["gsi1pk"] == "OVERDUE"  # still overdue, and parked outside the OPEN partition
    mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: TODAY)
    texts = kommo.notes_for(1)
    assert sum("Overdue" in t for t in texts) == 1
    assert sum(t.startswith("Payment of 30.00 NZD") for t in texts) == 1


def test_paid_after_overdue_leaves_the_index(world, mapping):
    store, kommo, sync, _ = world
    store.link(1, inv(1, due=TODAY - timedelta(days=1)), today=TODAY - timedelta(days=2))
    mark_overdue(store=store, kommo=kommo, mapping=mapping, today=lambda: TODAY)
    paid = inv(
        1, due=TODAY - timedelta(days=1), paid="100.00", Status="PAID", payments=[{"PaymentID": "p1", "Amount": "100"}]
    )
    sync.run(["inv-1"], invoices=[paid])
    assert "gsi1pk" not in store.deals[1] and store.deals[1]["deal_state"] == "Paid"
    assert kommo.status_of(1) == "Paid"


def test_snapshot_of_an_overdue_invoice_goes_to_the_overdue_partition():
    late = inv(1, due=TODAY - timedelta(days=1))
    assert invoice_snapshot(late, InvoiceState.OVERDUE)["gsi1pk"] == "OVERDUE"
    assert invoice_snapshot(late, InvoiceState.AWAITING_PAYMENT)["gsi1pk"] == "OPEN"
    assert "gsi1pk" not in invoice_snapshot(late, InvoiceState.PAID)


# -- the sweep ---------------------------------------------------------------------------------------------------


def test_sweep_hands_unlinked_invoices_on_before_saving_each_page(world, mapping):
    store, kommo, sync, _ = world
    invoices = [inv(n, due=TODAY + timedelta(days=5)) for n in range(1, 6)]
    for n in (1, 3, 5):
        store.link(n, invoices[n - 1])
    handed: list[tuple[list[str], dict[str, Any] | None]] = []

    def invoice_to_deal(page: Any) -> int:
        handed.append(([i.InvoiceID for i in page], store.get_state(WATERMARK)))
        return len(page)

    report = run_sweep(
        xero=PagedXero(invoices),
        store=store,
        status_sync=sync,
        now=lambda: datetime(2026, 3, 10, tzinfo=UTC),
        page_size=2,
        invoice_to_deal=invoice_to_deal,
    )
    assert [ids for ids, _ in handed] == [["inv-2"], ["inv-4"]]
    # Each hand-over came before its page's watermark: page 1's with no watermark, page 2's with "resume at 2".
    assert [saved.get("page") if saved else None for _, saved in handed] == [None, 2]
    assert (report.pages, report.invoices, report.unlinked, report.handed_on) == (3, 5, 2, 2)


def test_sweep_killed_on_its_third_page_resumes_there_without_repeating_notes(world, mapping):
    store, kommo, sync, _ = world
    due = TODAY + timedelta(days=5)
    for n in range(1, 7):
        store.link(n, inv(n, due=due))
    paid = [inv(n, due=due, paid="10.00", payments=[{"PaymentID": f"p{n}", "Amount": "10.00"}]) for n in range(1, 7)]
    xero = PagedXero(paid, fail_on=(3,))
    kwargs: dict[str, Any] = {"store": store, "status_sync": sync, "page_size": 2, "now": lambda: datetime.now(UTC)}
    with pytest.raises(RuntimeError, match="killed"):
        run_sweep(xero=xero, **kwargs)
    assert store.state[WATERMARK]["page"] == 3
    report = run_sweep(xero=xero, **kwargs)
    assert xero.pages_read == [1, 2, 3] and report.pages == 1
    assert all(len(kommo.notes_for(n)) == 1 for n in range(1, 7))
    assert store.state[WATERMARK]["page"] == 1


def test_sweep_marks_overdue_after_reading_changes(world, mapping):
    store, kommo, sync, _ = world
    store.link(1, inv(1, due=TODAY - timedelta(days=1)), today=TODAY - timedelta(days=3))
    store.link(2, inv(2, due=TODAY - timedelta(days=1)), today=TODAY - timedelta(days=3))
    # Invoice 2 was paid; the sweep reads that first, so it is never announced as overdue.
    paid = inv(
        2, due=TODAY - timedelta(days=1), paid="100.00", Status="PAID", payments=[{"PaymentID": "p", "Amount": "100"}]
    )
    report = run_sweep(xero=PagedXero([paid]), store=store, status_sync=sync, now=lambda: datetime.now(UTC))
    assert report.overdue_marked == 1 and report.updated == 1
    assert kommo.status_of(1) == "Overdue" and kommo.status_of(2) == "Paid"
    assert not any("Overdue" in t for t in kommo.notes_for(2))


def test_sweep_restarts_the_window_when_the_page_size_changed(world, mapping):
    store, kommo, sync, _ = world
    invoices = [inv(n, due=TODAY + timedelta(days=5)) for n in range(1, 6)]
    store.put_state(WATERMARK, {"since": "2026-03-01T00:00:00+00:00", "page": 3, "page_size": 2})
    xero = PagedXero(invoices)
    report = run_sweep(xero=xero, store=store, status_sync=sync, page_size=500)
    assert xero.pages_read == [1] and report.invoices == 5  # page 3 of 500 would have skipped them all
