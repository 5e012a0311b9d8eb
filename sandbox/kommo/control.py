"""The control interface under ``/_sandbox/`` (JSON; the move route also takes the HTML page's form) and ``/``.

Routes (no auth, not counted, no faults or limits):

====================================  =========================================================================
GET    /_sandbox/                     this list
POST   /_sandbox/reset                back to the seed given at start; clears counters, faults, limits, deliveries
POST   /_sandbox/seed                 {"name": "demo" | "demo_config" | "empty"} replace the data with a seed
POST   /_sandbox/move                 {"lead_id": 1} or {"lead_ids": [..]}, "status_id", "pipeline_id"? (one webhook body)
GET    /_sandbox/state                everything (leads, contacts, companies, notes, files, webhooks, ...)
GET    /_sandbox/leads[/{id}]         leads in the API shape (with contacts and catalog_elements)
GET    /_sandbox/leads/{id}/notes     notes of a lead; /_sandbox/leads/{id}/files its files
GET    /_sandbox/contacts/{id}        /_sandbox/companies/{id}
GET    /_sandbox/counters             CallCounters.snapshot(); POST /_sandbox/counters/reset
GET    /_sandbox/faults               rules; POST adds a FaultRule (JSON fields); DELETE clears
GET    /_sandbox/clock                {"time", "now", "speed"}; POST /_sandbox/clock/advance {"seconds", "days"}
GET    /_sandbox/webhooks             subscriptions; POST {"destination", "settings"}; DELETE {"destination"}
GET    /_sandbox/deliveries           attempt log; POST /_sandbox/deliveries/wait {"timeout"}
POST   /_sandbox/tokens               {"token"?, "user_id"?} add a long-lived token
POST   /_sandbox/oauth/clients        {"client_id"?, "client_secret"?, "redirect_uri"?}
POST   /_sandbox/oauth/codes          {"client_id", "user_id"?} -> {"code"}
POST   /_sandbox/limits               {"rate_limit_rps"?, "block_after_429s"?}
====================================  =========================================================================
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from sandbox.common import FaultRule
from sandbox.kommo.page import render_page
from sandbox.kommo.problems import ApiError

if TYPE_CHECKING:
    from sandbox.kommo.sandbox import KommoSandbox


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=str), status=status, content_type="application/json")


class ControlInterface:
    def __init__(self, sandbox: KommoSandbox) -> None:
        self.sb = sandbox
        self.url_map = Map(
            [
                Rule("/", endpoint="page", methods=["GET"]),
                Rule("/_sandbox/", endpoint="index", methods=["GET"]),
                Rule("/_sandbox/reset", endpoint="reset", methods=["POST"]),
                Rule("/_sandbox/seed", endpoint="seed", methods=["POST"]),
                Rule("/_sandbox/move", endpoint="move", methods=["POST"]),
                Rule("/_sandbox/state", endpoint="state", methods=["GET"]),
                Rule("/_sandbox/leads", endpoint="leads", methods=["GET"]),
                Rule("/_sandbox/leads/<int:id>", endpoint="lead", methods=["GET"]),
                Rule("/_sandbox/leads/<int:id>/notes", endpoint="lead_notes", methods=["GET"]),
                Rule("/_sandbox/leads/<int:id>/files", endpoint="lead_files", methods=["GET"]),
                Rule("/_sandbox/contacts/<int:id>", endpoint="contact", methods=["GET"]),
                Rule("/_sandbox/companies/<int:id>", endpoint="company", methods=["GET"]),
                Rule("/_sandbox/counters", endpoint="counters", methods=["GET"]),
                Rule("/_sandbox/counters/reset", endpoint="counters_reset", methods=["POST"]),
                Rule("/_sandbox/faults", endpoint="faults", methods=["GET", "POST", "DELETE"]),
                Rule("/_sandbox/clock", endpoint="clock", methods=["GET"]),
                Rule("/_sandbox/clock/advance", endpoint="clock_advance", methods=["POST"]),
                Rule("/_sandbox/webhooks", endpoint="webhooks", methods=["GET", "POST", "DELETE"]),
                Rule("/_sandbox/deliveries", endpoint="deliveries", methods=["GET"]),
                Rule("/_sandbox/deliveries/wait", endpoint="deliveries_wait", methods=["POST"]),
                Rule("/_sandbox/tokens", endpoint="tokens", methods=["POST"]),
                Rule("/_sandbox/oauth/clients", endpoint="oauth_clients", methods=["POST"]),
                Rule("/_sandbox/oauth/codes", endpoint="oauth_codes", methods=["POST"]),
                Rule("/_sandbox/limits", endpoint="limits", methods=["POST"]),
            ],
            strict_slashes=False,
        )

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
            return getattr(self, f"c_{endpoint}")(request, **args)
        except HTTPException as exc:
            return _json({"error": exc.name, "detail": exc.description}, exc.code or 500)
        except ApiError as exc:
            return _json(exc.body, exc.status)
        except (ValueError, KeyError, TypeError) as exc:
            return _json({"error": "Bad Request", "detail": str(exc)}, 400)

    @staticmethod
    def body(request: Request) -> dict[str, Any]:
        if request.form:
            out: dict[str, Any] = {}
            for key in request.form:
                values = request.form.getlist(key)
                out[key] = values if len(values) > 1 or key == "lead_ids" else values[0]
            return out
        data = request.get_data()
        if not data.strip():
            return dict(request.args)
        parsed = json.loads(data)
        if not isinstance(parsed, dict):
            raise ValueError("expected a JSON object")
        return parsed

    # endpoints ---------------------------------------------------------------------------------------------------------
    def c_page(self, request: Request) -> Response:
        return Response(render_page(self.sb, request.args.get("msg")), content_type="text/html; charset=utf-8")

    def c_index(self, request: Request) -> Response:
        return _json({"routes": sorted(f"{sorted(r.methods or [])} {r.rule}" for r in self.url_map.iter_rules())})

    def c_reset(self, request: Request) -> Response:
        self.sb.reset()
        return _json({"ok": True})

    def c_seed(self, request: Request) -> Response:
        name = self.body(request).get("name", "demo")
        self.sb.seed(None if name in (None, "", "none") else str(name))
        return _json({"ok": True, "seed": name})

    def c_move(self, request: Request) -> Response:
        body = self.body(request)
        ids: list[int] = []
        raw_ids = body.get("lead_ids", body.get("lead_id"))
        if isinstance(raw_ids, list):
            ids = [int(x) for x in raw_ids]
        elif raw_ids not in (None, ""):
            ids = [int(x) for x in str(raw_ids).split(",") if x.strip()]
        target = body.get("target")  # the page's "<pipeline_id>:<status_id>"
        if target:
            pipeline_s, _, status_s = str(target).partition(":")
            pipeline_id: int | None = int(pipeline_s)
            status_id = int(status_s)
        else:
            status_id = int(body["status_id"])
            pipeline_id = int(body["pipeline_id"]) if body.get("pipeline_id") not in (None, "") else None
        from_form = bool(request.form)
        if not ids:
            if from_form:
                return redirect("/?msg=Select+at+least+one+deal", 303)
            raise ValueError("lead_id or lead_ids required")
        try:
            delivery_ids = self.sb.move_leads(ids, status_id, pipeline_id)
        except ValueError as exc:
            if from_form:
                return redirect(f"/?msg={exc}", 303)
            raise
        if from_form:
            return redirect(f"/?msg=Moved+{len(ids)}+deal(s)", 303)
        return _json({"ok": True, "moved": ids, "deliveries": delivery_ids})

    def c_state(self, request: Request) -> Response:
        return _json(self.sb.snapshot())

    def c_leads(self, request: Request) -> Response:
        return _json(self.sb.list_leads())

    def c_lead(self, request: Request, id: int) -> Response:
        lead = self.sb.get_lead(id)
        return _json(lead) if lead is not None else _json({"error": "Not Found"}, 404)

    def c_lead_notes(self, request: Request, id: int) -> Response:
        return _json(self.sb.notes_for_lead(id))

    def c_lead_files(self, request: Request, id: int) -> Response:
        return _json(self.sb.files_for_lead(id))

    def c_contact(self, request: Request, id: int) -> Response:
        item = self.sb.get_contact(id)
        return _json(item) if item is not None else _json({"error": "Not Found"}, 404)

    def c_company(self, request: Request, id: int) -> Response:
        item = self.sb.get_company(id)
        return _json(item) if item is not None else _json({"error": "Not Found"}, 404)

    def c_counters(self, request: Request) -> Response:
        return _json({"total": self.sb.counters.total(), "routes": self.sb.counters.snapshot()})

    def c_counters_reset(self, request: Request) -> Response:
        self.sb.counters.reset()
        return _json({"ok": True})

    def c_faults(self, request: Request) -> Response:
        if request.method == "POST":
            body = self.body(request)
            allowed = {f.name for f in fields(FaultRule)}
            unknown = set(body) - allowed
            if unknown:
                raise ValueError(f"unknown FaultRule fields: {sorted(unknown)}")
            rule = self.sb.faults.add(FaultRule(**body))
            return _json(asdict(rule), 201)
        if request.method == "DELETE":
            self.sb.faults.clear()
            return _json({"ok": True})
        return _json({"rules": [asdict(r) for r in self.sb.faults.rules]})

    def c_clock(self, request: Request) -> Response:
        clock = self.sb.clock
        return _json({"time": clock.time(), "now": clock.now().isoformat(), "speed": clock.speed})

    def c_clock_advance(self, request: Request) -> Response:
        body = self.body(request)
        self.sb.clock.advance(float(body.get("seconds", 0)), days=float(body.get("days", 0)))
        return self.c_clock(request)

    def c_webhooks(self, request: Request) -> Response:
        if request.method == "POST":
            body = self.body(request)
            settings = body.get("settings", ["status_lead"])
            if isinstance(settings, str):
                settings = [s.strip() for s in settings.split(",") if s.strip()]
            return _json(self.sb.add_webhook(body["destination"], settings, int(body.get("sort", 10))), 201)
        if request.method == "DELETE":
            self.sb.remove_webhook(self.body(request)["destination"])
            return _json({"ok": True})
        return _json({"webhooks": self.sb.list_webhooks()})

    def c_deliveries(self, request: Request) -> Response:
        return _json({"attempts": [a.to_json() for a in self.sb.deliveries]})

    def c_deliveries_wait(self, request: Request) -> Response:
        timeout = float(self.body(request).get("timeout", 10))
        return _json({"idle": self.sb.wait_for_deliveries(timeout)})

    def c_tokens(self, request: Request) -> Response:
        body = self.body(request)
        token = self.sb.auth.add_long_lived_token(body.get("token"), int(body.get("user_id", 5000001)))
        return _json({"token": token}, 201)

    def c_oauth_clients(self, request: Request) -> Response:
        body = self.body(request)
        client = self.sb.register_oauth_client(
            body.get("client_id"),
            body.get("client_secret"),
            body.get("redirect_uri", "https://example.com/oauth/callback"),
        )
        return _json(asdict(client), 201)

    def c_oauth_codes(self, request: Request) -> Response:
        body = self.body(request)
        code = self.sb.authorization_code(str(body["client_id"]), int(body.get("user_id", 5000001)))
        return _json({"code": code}, 201)

    def c_limits(self, request: Request) -> Response:
        body = self.body(request)
        if "rate_limit_rps" in body:
            rps = body["rate_limit_rps"]
            self.sb.limiter.rps = None if rps is None else float(rps)
        if "block_after_429s" in body:
            n = body["block_after_429s"]
            self.sb.limiter.block_after = None if n is None else int(n)
        return _json({"rate_limit_rps": self.sb.limiter.rps, "block_after_429s": self.sb.limiter.block_after})
