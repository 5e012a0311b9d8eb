"""The HTTP control interface under ``/_sandbox/`` (no auth, not counted, no faults): the Python API over HTTP.

Routes (JSON in and out unless noted):

* ``GET  /_sandbox/state``                     invoices, contacts, payments, credit notes, webhook state, limits
* ``POST /_sandbox/reset``                     back to the current seed (also clears counters, faults, idempotency)
* ``POST /_sandbox/seed``                      ``{"name": "demo" | null}``
* ``GET  /_sandbox/invoices`` / ``GET /_sandbox/invoices/{id}``
* ``POST /_sandbox/invoices``                  ``{"contact_name", "line_items", "currency", "status", "reference", "due_date"}``
* ``POST /_sandbox/invoices/{id}/payments``    ``{"amount": "10.00", "date": "YYYY-MM-DD"}``
* ``POST /_sandbox/invoices/{id}/void``
* ``POST /_sandbox/invoices/{id}/credit``      ``{"amount": "10.00"}`` (credit note for the contact, allocated)
* ``DELETE /_sandbox/payments/{id}``
* ``GET  /_sandbox/counters`` / ``POST /_sandbox/counters/reset``
* ``GET  /_sandbox/faults`` / ``POST /_sandbox/faults`` (FaultRule fields) / ``DELETE /_sandbox/faults``
* ``GET  /_sandbox/clock`` / ``POST /_sandbox/clock/advance`` ``{"seconds": 60, "days": 0}``
* ``POST /_sandbox/webhooks``                  ``{"url", "key", "verify": true}`` -> ``{"passed": bool}``
* ``POST /_sandbox/webhooks/drop``             ``{"rate": 0.5}``
* ``POST /_sandbox/webhooks/flush`` / ``GET /_sandbox/deliveries``
* ``POST /_sandbox/auth/code``                 ``{"scope", "redirect_uri"}`` -> ``{"code"}``
* ``POST /_sandbox/auth/tokens``               -> a token response with a refresh token
* ``POST /_sandbox/ui/invoice`` / ``POST /_sandbox/ui/pay``   form posts from the HTML page (303 back to ``/``)
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from sandbox.common.faults import FaultRule
from sandbox.xero.formats import dumps, loads

if TYPE_CHECKING:
    from sandbox.xero.sandbox import XeroSandbox


def _json(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status=status, content_type="application/json; charset=utf-8")


def _body(request: Request) -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    data = loads(raw)
    return data if isinstance(data, dict) else {}


def dispatch(sb: XeroSandbox, request: Request) -> Response:
    from sandbox.xero.sandbox import XeroSandboxError

    parts = [p for p in request.path.split("/") if p][1:]
    try:
        return _route(sb, request, request.method, parts)
    except XeroSandboxError as exc:
        return _json({"error": str(exc), "messages": exc.messages}, 400)
    except KeyError as exc:
        return _json({"error": f"not found: {exc}"}, 404)
    except (ValueError, TypeError) as exc:
        return _json({"error": str(exc)}, 400)


def _route(sb: XeroSandbox, request: Request, method: str, parts: list[str]) -> Response:
    match (method, parts):
        case ("GET", ["state"]):
            return _json(sb.state())
        case ("POST", ["reset"]):
            sb.reset()
            return _json({"ok": True})
        case ("POST", ["seed"]):
            sb.seed(_body(request).get("name"))
            return _json({"ok": True})
        case ("GET", ["invoices"]):
            return _json(sb.invoices())
        case ("GET", ["invoices", invoice_id]):
            return _json(sb.get_invoice(invoice_id))
        case ("POST", ["invoices"]):
            return _json(sb.create_invoice(**_invoice_args(_body(request))), 201)
        case ("POST", ["invoices", invoice_id, "payments"]):
            body = _body(request)
            return _json(sb.apply_payment(invoice_id, body["amount"], date=body.get("date")), 201)
        case ("POST", ["invoices", invoice_id, "void"]):
            return _json(sb.void_invoice(invoice_id))
        case ("POST", ["invoices", invoice_id, "credit"]):
            return _json(sb.credit_invoice(invoice_id, _body(request)["amount"]), 201)
        case ("DELETE", ["payments", payment_id]):
            return _json(sb.delete_payment(payment_id))
        case ("GET", ["counters"]):
            return _json(sb.counters.snapshot())
        case ("POST", ["counters", "reset"]):
            sb.counters.reset()
            return _json({"ok": True})
        case ("GET", ["faults"]):
            return _json([dataclasses.asdict(r) for r in sb.faults.rules])
        case ("POST", ["faults"]):
            rule = sb.faults.add(FaultRule(**_body(request)))
            return _json(dataclasses.asdict(rule), 201)
        case ("DELETE", ["faults"]):
            sb.faults.clear()
            return _json({"ok": True})
        case ("GET", ["clock"]):
            return _json({"now": sb.clock.now().isoformat(), "time": sb.clock.time(), "speed": sb.clock.speed})
        case ("POST", ["clock", "advance"]):
            body = _body(request)
            sb.clock.advance(float(body.get("seconds", 0)), days=float(body.get("days", 0)))
            return _json({"now": sb.clock.now().isoformat()})
        case ("POST", ["webhooks"]):
            body = _body(request)
            passed = sb.configure_webhook(body["url"], body["key"], verify=bool(body.get("verify", True)))
            return _json({"passed": passed})
        case ("POST", ["webhooks", "drop"]):
            sb.drop_webhooks(float(_body(request).get("rate", 0)))
            return _json({"ok": True})
        case ("POST", ["webhooks", "flush"]):
            return _json({"idle": sb.wait_for_deliveries(timeout=float(_body(request).get("timeout", 5)))})
        case ("GET", ["deliveries"]):
            return _json(sb.deliveries)
        case ("POST", ["auth", "code"]):
            body = _body(request)
            kwargs = {k: body[k] for k in ("scope", "redirect_uri") if k in body}
            return _json({"code": sb.mint_authorization_code(**kwargs)})
        case ("POST", ["auth", "tokens"]):
            return _json(sb.issue_tokens())
        case ("POST", ["ui", "invoice"]):
            form = request.form
            line: dict[str, Any] = {"Quantity": form.get("quantity") or "1"}
            if form.get("item_code"):
                line["ItemCode"] = form["item_code"]
            if form.get("description"):
                line["Description"] = form["description"]
            if form.get("unit_amount"):
                line["UnitAmount"] = form["unit_amount"]
            if "ItemCode" not in line:
                line.setdefault("AccountCode", "200")
                line.setdefault("Description", "Services")
            sb.create_invoice(
                contact_name=form.get("contact_name") or "Walk-in Customer",
                line_items=[line],
                currency=form.get("currency") or "NZD",
                status=form.get("status") or "AUTHORISED",
                reference=form.get("reference") or None,
            )
            return redirect("/", code=303)
        case ("POST", ["ui", "pay"]):
            form = request.form
            invoice = sb.get_invoice(form["invoice_id"])
            sb.apply_payment(form["invoice_id"], form.get("amount") or str(invoice["AmountDue"]))
            return redirect("/", code=303)
        case ("POST", ["ui", "void"]):
            sb.void_invoice(request.form["invoice_id"])
            return redirect("/", code=303)
    return _json({"error": "unknown control route", "path": request.path}, 404)


def _invoice_args(body: dict[str, Any]) -> dict[str, Any]:
    allowed = {
        "contact_name",
        "contact_id",
        "line_items",
        "currency",
        "status",
        "reference",
        "due_date",
        "date",
        "invoice_number",
        "line_amount_types",
    }
    unknown = set(body) - allowed
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}; allowed: {json.dumps(sorted(allowed))}")
    return body
