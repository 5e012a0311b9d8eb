"""The demo scenario (``python -m local_stack demo``): a few things people do in Kommo and Xero, what the sync did.

Steps: (a) move three demo deals to "Payment agreed" (one bulk move of two, one single move); (b) create an invoice
by hand in Xero; (c) apply a partial and a full payment. After each step the demo waits until the sandboxes have
delivered their webhooks and the jobs queue is drained, then runs the step's checks, and at the end prints a table
(deal, stage, invoice number/status/total/amount due) and the API calls made to each system.

Each check is a small function returning a :class:`Check`. A check of a flow listed in :data:`PENDING_FLOWS`
reports "not yet implemented" (not a failure) when the flow shows no effect at all; remove the flow's name from
that set to make its check strict. Only the sandboxes' public Python API and the SyncTable are read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO

from local_stack.stack import LocalStack

PIPELINE_SALES = 7000001
STATUS_PAYMENT_AGREED = 7100004
DEMO_DEALS = (1000001, 1000002, 1000003)
FIELD_INVOICE_NUMBER = 8100001
FIELD_INVOICE_STATUS = 8100002
FIELD_AMOUNT_DUE = 8100004

# Flows still being implemented: their checks say "not yet implemented" instead of failing when nothing happened.
# Remove a name once the flow is in, and its check becomes strict.
PENDING_FLOWS: set[str] = set()  # every flow is in: all checks are strict

OK, FAIL, PENDING = "ok", "FAIL", "not yet implemented"
DEMO_BUDGET_S = 50.0  # the whole demo must end well under a minute


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""


def flow_check(name: str, flow: str, passed: bool, anything_happened: bool, detail: str = "") -> Check:
    """ok when ``passed``; "not yet implemented" when the flow is pending and showed no effect; else FAIL."""
    if passed:
        return Check(name, OK, detail)
    if flow in PENDING_FLOWS and not anything_happened:
        return Check(name, PENDING, detail)
    return Check(name, FAIL, detail)


@dataclass
class Demo:
    stack: LocalStack
    out: TextIO
    started: float = field(default_factory=time.monotonic)
    hand_invoice_id: str | None = None
    payments: dict[int | str, tuple[str, Decimal]] = field(default_factory=dict)  # deal/invoice -> (kind, amount)
    drained: bool = True
    gateway_mark: int = 0

    # ---- reading state ------------------------------------------------------------------------------------------

    @property
    def kommo(self) -> Any:
        return self.stack.kommo

    @property
    def xero(self) -> Any:
        return self.stack.xero

    def remaining(self) -> float:
        return DEMO_BUDGET_S - (time.monotonic() - self.started)

    def link(self, pk: str) -> dict[str, Any] | None:
        """The SyncTable item ``pk``/``LINK`` as plain values, or None."""
        if "SyncTable" not in self.stack.resources.tables:
            return None
        response = self.stack.aws.client("dynamodb").get_item(
            TableName=self.stack.table_name("SyncTable"), Key={"pk": {"S": pk}, "sk": {"S": "LINK"}}
        )
        item = response.get("Item")
        if not item:
            return None
        return {name: next(iter(value.values())) for name, value in item.items()}

    def deal_link(self, deal_id: int) -> dict[str, Any] | None:
        return self.link(f"DEAL#{deal_id}")

    def invoice(self, invoice_id: str | None) -> dict[str, Any] | None:
        if not invoice_id:
            return None
        try:
            return dict(self.xero.get_invoice(invoice_id))
        except KeyError:
            return None

    def linked_invoice(self, deal_id: int) -> dict[str, Any] | None:
        link = self.deal_link(deal_id)
        if not link or link.get("state") != "LINKED":
            return None
        return self.invoice(str(link.get("invoice_id") or ""))

    def field(self, deal_id: int, field_id: int) -> Any:
        try:
            return self.kommo.lead_field_value(deal_id, field_id)
        except (KeyError, AttributeError):
            return None

    def gateway_calls(self, prefix: str) -> list[int]:
        """Statuses of the gateway requests under ``prefix`` since the current step began."""
        return [
            status for _, path, status in self.stack.gateway.requests[self.gateway_mark :] if path.startswith(prefix)
        ]

    # ---- waiting ------------------------------------------------------------------------------------------------

    def settle(self, timeout: float) -> bool:
        """Until webhooks are delivered, the queue is drained, and nothing new happened in one more round."""
        deadline = time.monotonic() + timeout
        last: tuple[int, ...] | None = None
        while (left := deadline - time.monotonic()) > 0:
            self.kommo.wait_for_deliveries(timeout=left)
            self.xero.wait_for_deliveries(timeout=max(0.1, deadline - time.monotonic()), flush=True)
            drained = self.stack.drain(timeout=max(0.1, deadline - time.monotonic()), settle=0.3)
            worker = self.stack.worker
            marker = (
                len(self.stack.gateway.requests),
                worker.stats.records if worker else 0,
                len(self.kommo.deliveries),
                len(self.xero.deliveries),
            )
            if drained and marker == last:
                return True
            last = marker
        return False

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)


# ---- steps ----------------------------------------------------------------------------------------------------------


def step_move_deals(demo: Demo) -> None:
    first, second, third = DEMO_DEALS
    demo.kommo.move_leads([first, second], status_id=STATUS_PAYMENT_AGREED, pipeline_id=PIPELINE_SALES)
    demo.print(f"  bulk move: deals {first}, {second} -> Payment agreed ({STATUS_PAYMENT_AGREED})")
    demo.kommo.move_lead(third, STATUS_PAYMENT_AGREED, PIPELINE_SALES)
    demo.print(f"  single move: deal {third} -> Payment agreed")


def step_create_invoice_in_xero(demo: Demo) -> None:
    invoice = demo.xero.create_invoice(
        contact_name="Walk-in Customer (demo)",
        line_items=[{"ItemCode": "SEO-AUDIT", "Quantity": 1}],
        reference="Created by hand in Xero",
    )
    demo.hand_invoice_id = invoice["InvoiceID"]
    demo.print(f"  created {invoice.get('InvoiceNumber')} for {invoice.get('Total')} {invoice.get('CurrencyCode')}")


def step_apply_payments(demo: Demo) -> None:
    partial_target = demo.linked_invoice(DEMO_DEALS[0]) or demo.invoice(demo.hand_invoice_id)
    if partial_target is not None:
        amount = (Decimal(str(partial_target["AmountDue"])) / 2).quantize(Decimal("0.01"))
        demo.xero.apply_payment(partial_target["InvoiceID"], amount)
        key: int | str = DEMO_DEALS[0] if demo.linked_invoice(DEMO_DEALS[0]) else partial_target["InvoiceID"]
        demo.payments[key] = ("partial", amount)
        demo.print(f"  partial payment of {amount} on {partial_target.get('InvoiceNumber')}")
    full_target = demo.linked_invoice(DEMO_DEALS[1])
    if full_target is not None:
        amount = Decimal(str(full_target["AmountDue"]))
        demo.xero.apply_payment(full_target["InvoiceID"], amount)
        demo.payments[DEMO_DEALS[1]] = ("full", amount)
        demo.print(f"  full payment of {amount} on {full_target.get('InvoiceNumber')}")
    else:
        demo.print(f"  no invoice linked to deal {DEMO_DEALS[1]}: full payment skipped")


# ---- checks ---------------------------------------------------------------------------------------------------------


def check_drained(demo: Demo) -> Check:
    return Check("webhooks delivered and jobs queue drained", OK if demo.drained else FAIL)


def check_kommo_webhooks(demo: Demo) -> Check:
    statuses = demo.gateway_calls("/webhooks/kommo/")
    accepted = [s for s in statuses if 200 <= s < 300]
    return flow_check(
        "Kommo status webhooks accepted by the gateway",
        "kommo_webhook",
        len(accepted) >= 2,  # one body for the bulk move, one for the single move
        bool(accepted),
        f"HTTP statuses {statuses}",
    )


def check_deals_linked(demo: Demo) -> Check:
    links = {deal: demo.deal_link(deal) for deal in DEMO_DEALS}
    linked = [deal for deal, link in links.items() if link and link.get("state") == "LINKED"]
    with_invoice = [deal for deal in linked if demo.linked_invoice(deal) is not None]
    return flow_check(
        "each moved deal is linked to a Xero invoice",
        "deal_to_invoice",
        len(with_invoice) == len(DEMO_DEALS),
        any(links.values()),
        f"linked {linked}, invoice found in Xero for {with_invoice}",
    )


def check_invoice_number_on_deals(demo: Demo) -> Check:
    shown = {}
    for deal in DEMO_DEALS:
        invoice = demo.linked_invoice(deal)
        shown[deal] = (demo.field(deal, FIELD_INVOICE_NUMBER), invoice.get("InvoiceNumber") if invoice else None)
    good = [deal for deal, (on_deal, in_xero) in shown.items() if on_deal and on_deal == in_xero]
    return flow_check(
        "deals show their invoice number",
        "deal_to_invoice",
        len(good) == len(DEMO_DEALS),
        any(on_deal for on_deal, _ in shown.values()),
        f"deal field / Xero: {shown}",
    )


def check_xero_webhook(demo: Demo) -> Check:
    statuses = demo.gateway_calls("/webhooks/xero")
    accepted = [s for s in statuses if s == 200]
    return flow_check(
        "Xero invoice webhooks accepted by the gateway",
        "xero_webhook",
        bool(accepted) and len(accepted) == len(statuses),
        bool(accepted),
        f"HTTP statuses {statuses}",
    )


def check_hand_invoice_synced(demo: Demo) -> Check:
    """The invoice made by hand in Xero became one Kommo deal (in the mapping's stage, tagged, with its number)."""
    link = demo.link(f"INVOICE#{demo.hand_invoice_id}") if demo.hand_invoice_id else None
    lead_id = _int(link.get("lead_id")) if link else None
    lead = demo.kommo.get_lead(lead_id) if lead_id else None
    invoice = demo.invoice(demo.hand_invoice_id) or {}
    tags = [t.get("name") for t in (lead or {}).get("_embedded", {}).get("tags", [])]
    number = demo.field(lead_id, FIELD_INVOICE_NUMBER) if lead_id else None
    tagged = [
        lead["id"] for lead in demo.kommo.list_leads() if any(t["name"] == "Xero" for t in lead["_embedded"]["tags"])
    ]
    ok = lead is not None and "Xero" in tags and number == invoice.get("InvoiceNumber") and tagged == [lead_id]
    detail = (
        f"deal {lead_id} '{(lead or {}).get('name')}' tags {tags}, invoice number {number}" if lead else f"link {link}"
    )
    return flow_check("the invoice made in Xero became one Kommo deal", "invoice_to_deal", ok, link is not None, detail)


def check_payments_in_xero(demo: Demo) -> Check:
    wrong = []
    for key, (kind, _) in demo.payments.items():
        invoice = demo.linked_invoice(key) if isinstance(key, int) else demo.invoice(key)
        expected = "PAID" if kind == "full" else "AUTHORISED"
        if invoice is None or invoice.get("Status") != expected:
            wrong.append((key, kind, invoice.get("Status") if invoice else None))
    return Check("payments recorded in Xero", FAIL if wrong or not demo.payments else OK, f"unexpected: {wrong}")


def check_payment_status_on_deals(demo: Demo) -> Check:
    expected = {"partial": "Partially paid", "full": "Paid"}
    seen = {}
    for key, (kind, _) in demo.payments.items():
        if isinstance(key, int):
            seen[key] = (demo.field(key, FIELD_INVOICE_STATUS), expected[kind])
    good = [deal for deal, (shown, want) in seen.items() if shown == want]
    return flow_check(
        "deals show Partially paid / Paid",
        "payment_to_deal",
        bool(seen) and len(good) == len(seen),
        any(shown in expected.values() for shown, _ in seen.values()),
        f"deal field / expected: {seen}",
    )


def check_payments_arrive_on_deals(demo: Demo) -> Check:
    """Each payment made in Xero gives the deal one note with its amount, the amount due Xero shows, and the fully
    paid deal moves to the mapping's paid stage (demo mapping: Sales / Paid)."""
    paid_stage = 7100005
    seen: dict[int, str] = {}
    good = []
    for key, (kind, amount) in demo.payments.items():
        if not isinstance(key, int):
            continue
        invoice = demo.linked_invoice(key) or {}
        notes = [n for n in demo.kommo.notes_for_lead(key) if "Payment of" in str(n.get("params", {}).get("text", ""))]
        due = demo.field(key, FIELD_AMOUNT_DUE)
        lead = demo.kommo.get_lead(key) or {}
        on_deal = Decimal(str(due)) if due is not None else None
        expected_due = Decimal(str(invoice.get("AmountDue"))) if invoice else None
        ok = (
            len(notes) == 1
            and f"{amount:,.2f}" in str(notes[0]["params"]["text"])
            and on_deal is not None
            and on_deal == expected_due
            and (kind != "full" or lead.get("status_id") == paid_stage)
        )
        seen[key] = (
            f"{len(notes)} payment note(s), amount due {due} (Xero {expected_due}), stage {lead.get('status_id')}"
        )
        if ok:
            good.append(key)
    return flow_check(
        "each payment is one note on its deal, with the amount due and the paid stage",
        "payment_to_deal",
        bool(seen) and len(good) == len(seen),
        any("1 payment note" in text for text in seen.values()),
        "; ".join(f"{deal}: {text}" for deal, text in seen.items()),
    )


@dataclass
class Step:
    title: str
    action: Callable[[Demo], None]
    checks: list[Callable[[Demo], Check]]


STEPS = [
    Step(
        "(a) move 3 deals to Payment agreed (1 bulk move + 1 single move)",
        step_move_deals,
        [check_drained, check_kommo_webhooks, check_deals_linked, check_invoice_number_on_deals],
    ),
    Step(
        "(b) create an invoice by hand in Xero",
        step_create_invoice_in_xero,
        [check_drained, check_xero_webhook, check_hand_invoice_synced],
    ),
    Step(
        "(c) apply a partial and a full payment",
        step_apply_payments,
        [
            check_drained,
            check_xero_webhook,
            check_payments_in_xero,
            check_payment_status_on_deals,
            check_payments_arrive_on_deals,
        ],
    ),
]


# ---- report ---------------------------------------------------------------------------------------------------------


def table_rows(demo: Demo) -> list[list[str]]:
    rows = []
    deals = list(DEMO_DEALS)
    hand_link = demo.link(f"INVOICE#{demo.hand_invoice_id}") if demo.hand_invoice_id else None
    hand_deal = _int(hand_link.get("lead_id") or hand_link.get("deal_id")) if hand_link else None
    if hand_deal and hand_deal not in deals:
        deals.append(hand_deal)
    shown_invoices = set()
    for deal_id in deals:
        lead = demo.kommo.get_lead(deal_id) or {}
        stage = _stage_name(demo.kommo, lead)
        link = demo.deal_link(deal_id) or {}
        invoice = demo.invoice(str(link.get("invoice_id") or "")) or {}
        if invoice:
            shown_invoices.add(invoice.get("InvoiceID"))
        rows.append(_row(str(deal_id), str(lead.get("name", "?")), stage, invoice, link.get("state")))
    if demo.hand_invoice_id and demo.hand_invoice_id not in shown_invoices:
        rows.append(_row("-", "(made in Xero, no deal)", "-", demo.invoice(demo.hand_invoice_id) or {}, None))
    return rows


def _row(deal: str, name: str, stage: str, invoice: dict[str, Any], state: Any) -> list[str]:
    number = invoice.get("InvoiceNumber") or (f"({state})" if state else "-")
    return [
        deal,
        name[:34],
        stage,
        str(number),
        str(invoice.get("Status", "-")),
        str(invoice.get("Total", "-")),
        str(invoice.get("AmountDue", "-")),
    ]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _stage_name(kommo: Any, lead: dict[str, Any]) -> str:
    try:
        return str(kommo.state.status_name(lead["pipeline_id"], lead["status_id"]))
    except Exception:
        return str(lead.get("status_id", "?"))


def render_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def api_calls(sandbox: Any) -> tuple[int, dict[str, int]]:
    snapshot = sandbox.counters.snapshot()
    return sandbox.counters.total(), {route: entry["calls"] for route, entry in snapshot.items()}


# ---- run ------------------------------------------------------------------------------------------------------------


def run_scenario(stack: LocalStack, out: TextIO) -> list[Check]:
    demo = Demo(stack, out)
    results: list[Check] = []
    for step in STEPS:
        demo.print(f"\n== {step.title}")
        demo.gateway_mark = len(stack.gateway.requests)
        step_started = time.monotonic()
        try:
            step.action(demo)
        except Exception as exc:
            demo.print(f"  step failed: {type(exc).__name__}: {exc}")
            results.append(Check(f"{step.title}: action", FAIL, repr(exc)))
            continue
        demo.drained = demo.settle(timeout=max(1.0, min(20.0, demo.remaining() - 5)))
        worker = stack.worker
        demo.print(
            f"  settled in {time.monotonic() - step_started:.1f} s; gateway: "
            + ", ".join(
                f"{m} {p.split('/webhooks/')[-1][:12]}->{s}" for m, p, s in stack.gateway.requests[demo.gateway_mark :]
            )
            + (f"; worker so far: {worker.stats.as_dict()}" if worker else "")
        )
        for check in step.checks:
            try:
                result = check(demo)
            except Exception as exc:
                result = Check(check.__name__, FAIL, f"check raised {exc!r}")
            results.append(result)
            demo.print(f"  [{result.status}] {result.name}" + (f" - {result.detail}" if result.detail else ""))
    demo.print("\n== Deals and invoices")
    header = ["deal", "name", "stage", "invoice", "status", "total", "amount due"]
    demo.print(render_table(header, table_rows(demo)))
    demo.print("\n== API calls made")
    for label, sandbox in (("Kommo", demo.kommo), ("Xero", demo.xero)):
        total, routes = api_calls(sandbox)
        detail = ", ".join(f"{route}: {n}" for route, n in sorted(routes.items(), key=lambda kv: -kv[1])[:8])
        demo.print(f"  {label}: {total} calls" + (f" ({detail})" if detail else ""))
    return results


def run_demo(out: TextIO, **stack_options: Any) -> int:
    """Start the stack, run the scenario, stop everything. 0 when no check failed."""
    started = time.monotonic()
    options: dict[str, Any] = {"visibility_timeout": 1, "batching_window": 0.2, "prewarm": True}
    options.update(stack_options)
    with LocalStack(**options) as stack:
        print(f"local stack up in {time.monotonic() - started:.1f} s (moto {stack.aws.endpoint_url})", file=out)
        results = run_scenario(stack, out)
    failed = [r for r in results if r.status == FAIL]
    pending = [r for r in results if r.status == PENDING]
    passed = [r for r in results if r.status == OK]
    print(
        f"\n{len(passed)} ok, {len(pending)} not yet implemented, {len(failed)} failed "
        f"({time.monotonic() - started:.1f} s)",
        file=out,
    )
    return 1 if failed else 0
