"""The WSGI app: API v4 routes plus the request pipeline (counters, 403 block, 429 limit, faults, auth).

Every API request is recorded in ``sandbox.counters`` under its route name (``"GET /api/v4/leads/{id}"``) and the
status it got. Requests that got no answer (fault ``hang`` or ``drop_after_commit``) are recorded with status 0.
``/`` (HTML page) and ``/_sandbox/...`` (control interface) are not API requests: no auth, limits, faults or counters.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from sandbox.kommo import serialize as ser
from sandbox.kommo import writes
from sandbox.kommo.auth import OAuthError
from sandbox.kommo.fields import search_text
from sandbox.kommo.problems import ApiError, ValidationErrors, problem_body
from sandbox.kommo.query import as_ints, as_list, parse_php_query
from sandbox.kommo.state import DriveFile, Lead, UploadSession, Webhook

if TYPE_CHECKING:
    from sandbox.kommo.sandbox import KommoSandbox

log = logging.getLogger("sandbox.kommo")

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
MAX_FILE_SIZE = 314572800

# (method, Kommo-style path, needs auth, rate limited)
ROUTES: list[tuple[str, str, bool, bool]] = [
    ("GET", "/api/v4/account", True, True),
    ("GET", "/api/v4/users", True, True),
    ("GET", "/api/v4/users/{id}", True, True),
    ("GET", "/api/v4/leads", True, True),
    ("POST", "/api/v4/leads", True, True),
    ("PATCH", "/api/v4/leads", True, True),
    ("POST", "/api/v4/leads/complex", True, True),
    ("GET", "/api/v4/leads/{id}", True, True),
    ("PATCH", "/api/v4/leads/{id}", True, True),
    ("GET", "/api/v4/leads/custom_fields", True, True),
    ("GET", "/api/v4/leads/pipelines", True, True),
    ("GET", "/api/v4/leads/pipelines/{id}", True, True),
    ("GET", "/api/v4/leads/pipelines/{id}/statuses", True, True),
    ("GET", "/api/v4/leads/pipelines/{id}/statuses/{status_id}", True, True),
    ("GET", "/api/v4/leads/notes", True, True),
    ("POST", "/api/v4/leads/notes", True, True),
    ("GET", "/api/v4/leads/{id}/notes", True, True),
    ("POST", "/api/v4/leads/{id}/notes", True, True),
    ("GET", "/api/v4/leads/{id}/notes/{note_id}", True, True),
    ("GET", "/api/v4/leads/{id}/links", True, True),
    ("POST", "/api/v4/leads/{id}/link", True, True),
    ("POST", "/api/v4/leads/{id}/unlink", True, True),
    ("POST", "/api/v4/leads/link", True, True),
    ("GET", "/api/v4/leads/{id}/files", True, True),
    ("PUT", "/api/v4/leads/{id}/files", True, True),
    ("DELETE", "/api/v4/leads/{id}/files", True, True),
    ("GET", "/api/v4/contacts", True, True),
    ("POST", "/api/v4/contacts", True, True),
    ("PATCH", "/api/v4/contacts", True, True),
    ("GET", "/api/v4/contacts/{id}", True, True),
    ("PATCH", "/api/v4/contacts/{id}", True, True),
    ("GET", "/api/v4/contacts/custom_fields", True, True),
    ("GET", "/api/v4/contacts/notes", True, True),
    ("POST", "/api/v4/contacts/notes", True, True),
    ("GET", "/api/v4/contacts/{id}/notes", True, True),
    ("POST", "/api/v4/contacts/{id}/notes", True, True),
    ("GET", "/api/v4/companies", True, True),
    ("POST", "/api/v4/companies", True, True),
    ("PATCH", "/api/v4/companies", True, True),
    ("GET", "/api/v4/companies/{id}", True, True),
    ("PATCH", "/api/v4/companies/{id}", True, True),
    ("GET", "/api/v4/companies/custom_fields", True, True),
    ("GET", "/api/v4/companies/notes", True, True),
    ("POST", "/api/v4/companies/notes", True, True),
    ("GET", "/api/v4/companies/{id}/notes", True, True),
    ("POST", "/api/v4/companies/{id}/notes", True, True),
    ("GET", "/api/v4/tasks", True, True),
    ("POST", "/api/v4/tasks", True, True),
    ("GET", "/api/v4/catalogs", True, True),
    ("GET", "/api/v4/catalogs/{id}", True, True),
    ("GET", "/api/v4/catalogs/{id}/custom_fields", True, True),
    ("GET", "/api/v4/catalogs/{id}/elements", True, True),
    ("GET", "/api/v4/catalogs/{id}/elements/{element_id}", True, True),
    ("GET", "/api/v4/webhooks", True, True),
    ("POST", "/api/v4/webhooks", True, True),
    ("DELETE", "/api/v4/webhooks", True, True),
    ("POST", "/oauth2/access_token", False, False),
    ("GET", "/oauth2/account/subdomain", True, False),
    ("POST", "/drive/v1.0/sessions", True, True),
    ("POST", "/drive/v1.0/sessions/upload/{token}", False, True),
    ("GET", "/drive/v1.0/files/{uuid}", True, True),
    ("GET", "/drive/download/{uuid}", False, True),
    ("GET", "/drive/download/{uuid}/{version_uuid}", False, True),
]


def _werkzeug_path(path: str) -> str:
    out = path
    for name in ("id", "status_id", "note_id", "element_id"):
        out = out.replace("{" + name + "}", f"<int:{name}>")
    for name in ("token", "uuid", "version_uuid"):
        out = out.replace("{" + name + "}", f"<{name}>")
    return out


def _handler_name(method: str, path: str) -> str:
    cleaned = path.replace("/api/v4/", "").replace("/v1.0", "").strip("/")
    for ch in "/{}.":
        cleaned = cleaned.replace(ch, "_")
    while "__" in cleaned:
        cleaned = cleaned.replace("__", "_")
    return f"h_{method.lower()}_{cleaned.strip('_')}"


@dataclass
class Ctx:
    request: Request
    user_id: int
    base: str
    params: dict[str, Any]

    def with_(self) -> set[str]:
        raw = self.request.args.get("with", "")
        return {w.strip() for w in raw.split(",") if w.strip()}


def hal(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, content_type="application/hal+json")


def problem(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/problem+json")


def no_content() -> Response:
    return Response(status=204)


def json_body(request: Request) -> Any:
    data = request.get_data()
    if not data or not data.strip():
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "Request body is not valid JSON") from exc


def _drop_connection(request: Request) -> None:
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class KommoApp:
    def __init__(self, sandbox: KommoSandbox) -> None:
        self.sb = sandbox
        self.routes: dict[str, tuple[Callable[..., Response], bool, bool]] = {}
        rules = []
        for method, path, needs_auth, limited in ROUTES:
            name = f"{method} {path}"
            handler = getattr(self, _handler_name(method, path))
            self.routes[name] = (handler, needs_auth, limited)
            rules.append(Rule(_werkzeug_path(path), endpoint=name, methods=[method]))
        self.url_map = Map(rules, strict_slashes=False)
        from sandbox.kommo.control import ControlInterface

        self.control = ControlInterface(sandbox)

    # pipeline --------------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path == "/" or request.path.startswith("/_sandbox"):
            response = self.control.dispatch(request)
        else:
            response = self.api(request)
        return response(environ, start_response)

    def api(self, request: Request) -> Response:
        method = request.method
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            route, args = adapter.match()
        except (NotFound, RequestRedirect):
            self.sb.counters.record(f"{method} (unmatched)", 404)
            return problem(404, problem_body(404, f"Cannot {method} {request.url}"))
        except MethodNotAllowed:
            self.sb.counters.record(f"{method} (unmatched)", 405)
            return problem(405, problem_body(405))
        assert isinstance(route, str)
        response, status = self._handle(route, request, dict(args))
        self.sb.counters.record(route, status)
        response.headers.setdefault("X-Request-Id", uuid.uuid4().hex[:16])
        return response

    def _handle(self, route: str, request: Request, args: dict[str, Any]) -> tuple[Response, int]:
        handler, needs_auth, limited = self.routes[route]
        if limited:
            verdict, retry_after = self.sb.limiter.check()
            if verdict == "blocked":
                return problem(
                    403, problem_body(403, "Access denied: the API is blocked after repeated rate-limit violations")
                ), 403
            if verdict == "limited":
                return problem(429, problem_body(429, retry_after=retry_after)), 429
        decision = self.sb.faults.decide(route)
        if decision.latency_ms:
            time.sleep(decision.latency_ms / 1000)
        if decision.hang_s:
            time.sleep(decision.hang_s)
            _drop_connection(request)
            return Response(b"", status=504), 0
        if decision.fail_status is not None:
            body = problem_body(decision.fail_status)
            if decision.fail_status == 429:
                body["retry_after"] = 1
            return problem(decision.fail_status, body), decision.fail_status
        user_id = 0
        if needs_auth:
            found = self.sb.auth.authenticate(request.headers.get("Authorization"))
            if found is None:
                return problem(401, problem_body(401)), 401
            user_id = found
        ctx = Ctx(request, user_id, request.host_url.rstrip("/"), parse_php_query(request.args.items(multi=True)))
        try:
            response = handler(ctx, **args)
        except ApiError as exc:
            response = problem(exc.status, exc.body)
        except OAuthError as exc:
            response = problem(exc.status, exc.body)
        except Exception:  # a sandbox bug: answer like Kommo's 500 and log it
            log.exception("unhandled error in %s", route)
            response = problem(500, problem_body(500))
        if decision.drop_after_commit:
            # the handler ran (state committed, webhooks fired); the client gets no answer at all
            _drop_connection(request)
            return Response(b"", status=502), 0
        return response, response.status_code

    # helpers ---------------------------------------------------------------------------------------------------------
    @property
    def state(self) -> Any:
        return self.sb.state

    def now(self) -> int:
        return int(self.sb.clock.time())

    def page_args(self, ctx: Ctx) -> tuple[int, int]:
        try:
            page = int(ctx.request.args.get("page", "1"))
            limit = int(ctx.request.args.get("limit", str(DEFAULT_LIMIT)))
        except ValueError as exc:
            raise ApiError(400, "Invalid page or limit") from exc
        if limit > MAX_LIMIT:
            raise ApiError(422, f"Limit {MAX_LIMIT} per page")
        if limit < 1 or page < 1:
            raise ApiError(400, "Invalid page or limit")
        return page, limit

    def page_url(self, ctx: Ctx, page: int, limit: int) -> str:
        args = [(k, v) for k, v in ctx.request.args.items(multi=True) if k not in ("page", "limit")]
        args += [("page", str(page)), ("limit", str(limit))]
        return f"{ctx.base}{ctx.request.path}?{urlencode(args)}"

    def paged(self, ctx: Ctx, key: str, items: list[Any], render: Callable[[Any], dict[str, Any]]) -> Response:
        page, limit = self.page_args(ctx)
        chunk = items[(page - 1) * limit : page * limit]
        if not chunk:
            return no_content()
        links: dict[str, Any] = {"self": {"href": self.page_url(ctx, page, limit)}}
        if page * limit < len(items):
            links["next"] = {"href": self.page_url(ctx, page + 1, limit)}
        if page > 1:
            links["first"] = {"href": self.page_url(ctx, 1, limit)}
            links["prev"] = {"href": self.page_url(ctx, page - 1, limit)}
        return hal({"_page": page, "_links": links, "_embedded": {key: [render(i) for i in chunk]}})

    def ordered(self, ctx: Ctx, items: list[Any]) -> list[Any]:
        order = ctx.params.get("order")
        if isinstance(order, dict):
            for key, direction in order.items():
                if key in ("id", "created_at", "updated_at") and isinstance(direction, str):
                    return sorted(items, key=lambda x: getattr(x, key), reverse=direction.lower() == "desc")
        return sorted(items, key=lambda x: x.id)

    def emit(self, events: list[writes.LeadEvent]) -> None:
        self.sb.dispatch_events(events)

    # account / users -------------------------------------------------------------------------------------------------
    def h_get_account(self, ctx: Ctx) -> Response:
        acc = self.state.account
        body: dict[str, Any] = {
            "id": acc.id,
            "name": acc.name,
            "subdomain": acc.subdomain,
            "created_at": acc.created_at,
            "created_by": 5000001,
            "updated_at": acc.created_at,
            "updated_by": 5000001,
            "current_user_id": ctx.user_id,
            "country": acc.country,
            "currency": acc.currency,
            "currency_symbol": acc.currency_symbol,
            "customers_mode": "disabled",
            "is_unsorted_on": True,
            "mobile_feature_version": 0,
            "is_loss_reason_enabled": True,
            "is_helpbot_enabled": False,
            "is_technical_account": False,
            "contact_name_display_order": 1,
            "_links": ser.link(f"{ctx.base}/api/v4/account"),
        }
        if "drive_url" in ctx.with_():
            body["drive_url"] = f"{ctx.base}/drive"
        if "amojo_id" in ctx.with_():
            body["amojo_id"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, acc.subdomain))
        return hal(body)

    def h_get_users(self, ctx: Ctx) -> Response:
        with self.state.lock:
            users = sorted(self.state.users.values(), key=lambda u: u.id)
            return self.paged(ctx, "users", users, lambda u: ser.user_to_api(u, ctx.base))

    def h_get_users_id(self, ctx: Ctx, id: int) -> Response:
        user = self.state.users.get(id)
        return hal(ser.user_to_api(user, ctx.base)) if user else no_content()

    def h_get_oauth2_account_subdomain(self, ctx: Ctx) -> Response:
        acc = self.state.account
        return hal(
            {
                "id": acc.id,
                "subdomain": acc.subdomain,
                "domain": ctx.base.split("://", 1)[-1],
                "top_level_domain": "com",
            }
        )

    def h_post_oauth2_access_token(self, ctx: Ctx) -> Response:
        try:
            body = json_body(ctx.request)
        except ApiError:
            body = None
        if body is None and ctx.request.form:
            body = dict(ctx.request.form)
        result = self.sb.auth.token_endpoint(body)
        return Response(json.dumps(result), status=200, content_type="application/json")

    # leads -----------------------------------------------------------------------------------------------------------
    def filter_leads(self, ctx: Ctx) -> list[Lead]:
        f = ctx.params.get("filter") or {}
        if not isinstance(f, dict):
            f = {}
        leads = [lead for lead in self.state.leads.values() if not lead.is_deleted]
        if "id" in f:
            ids = set(as_ints(f["id"]))
            leads = [lead for lead in leads if lead.id in ids]
        if "name" in f:
            names = {str(n) for n in as_list(f["name"])}
            leads = [lead for lead in leads if lead.name in names]
        for key in ("responsible_user_id", "created_by", "updated_by"):
            if key in f:
                vals = set(as_ints(f[key]))
                leads = [lead for lead in leads if getattr(lead, key) in vals]
        if "pipeline_id" in f:
            pids = set(as_ints(f["pipeline_id"]))
            leads = [lead for lead in leads if lead.pipeline_id in pids]
        if "statuses" in f:
            pairs = set()
            for entry in as_list(f["statuses"]):
                if isinstance(entry, dict):
                    p, s = as_ints(entry.get("pipeline_id")), as_ints(entry.get("status_id"))
                    if p and s:
                        pairs.add((p[0], s[0]))
            leads = [lead for lead in leads if (lead.pipeline_id, lead.status_id) in pairs]
        for key in ("price", "created_at", "updated_at", "closed_at"):
            if key in f:
                leads = [lead for lead in leads if _in_range(getattr(lead, key), f[key])]
        query = ctx.request.args.get("query")
        if query:
            q = query.lower().strip()
            leads = [
                lead
                for lead in leads
                if q in lead.name.lower()
                or q == str(lead.id)
                or q == str(lead.price)
                or any(q in v.lower() for v in search_text(lead.custom_fields))
            ]
        return self.ordered(ctx, leads)

    def h_get_leads(self, ctx: Ctx) -> Response:
        with_ = ctx.with_()
        with self.state.lock:
            leads = self.filter_leads(ctx)
            return self.paged(ctx, "leads", leads, lambda lead: ser.lead_to_api(self.state, lead, ctx.base, with_))

    def h_get_leads_id(self, ctx: Ctx, id: int) -> Response:
        with self.state.lock:
            lead = self.state.leads.get(id)
            if lead is None or lead.is_deleted:
                return no_content()
            return hal(ser.lead_to_api(self.state, lead, ctx.base, ctx.with_()))

    def h_post_leads(self, ctx: Ctx) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            created, events = writes.add_leads(self.state, body, self.now(), ctx.user_id)
            self.emit(events)
        return hal(
            {
                "_links": ser.link(f"{ctx.base}/api/v4/leads"),
                "_embedded": {
                    "leads": [
                        {"id": lead.id, "request_id": rid, "_links": ser.link(f"{ctx.base}/api/v4/leads/{lead.id}")}
                        for lead, rid in created
                    ]
                },
            }
        )

    def h_patch_leads(self, ctx: Ctx) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            updated, events = writes.update_leads(self.state, body, self.now(), ctx.user_id)
            self.emit(events)
        return hal(
            {
                "_links": ser.link(f"{ctx.base}/api/v4/leads"),
                "_embedded": {
                    "leads": [
                        {
                            "id": lead.id,
                            "updated_at": lead.updated_at,
                            "request_id": rid,
                            "_links": ser.link(f"{ctx.base}/api/v4/leads/{lead.id}"),
                        }
                        for lead, rid in updated
                    ]
                },
            }
        )

    def h_patch_leads_id(self, ctx: Ctx, id: int) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            updated, events = writes.update_leads(self.state, body, self.now(), ctx.user_id, lead_id=id)
            self.emit(events)
        lead = updated[0][0]
        return hal(
            {"id": lead.id, "updated_at": lead.updated_at, "_links": ser.link(f"{ctx.base}/api/v4/leads/{lead.id}")}
        )

    def h_post_leads_complex(self, ctx: Ctx) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            results, events = writes.add_complex(self.state, body, self.now(), ctx.user_id)
            self.emit(events)
        return hal(results)

    # custom fields, pipelines ----------------------------------------------------------------------------------------
    def _custom_fields(self, ctx: Ctx, entity: str) -> Response:
        with self.state.lock:
            defs = sorted(self.state.field_defs(entity).values(), key=lambda d: (d.sort, d.id))
            return self.paged(ctx, "custom_fields", defs, lambda d: d.to_api(ctx.base, self.state.account.id))

    def h_get_leads_custom_fields(self, ctx: Ctx) -> Response:
        return self._custom_fields(ctx, "leads")

    def h_get_contacts_custom_fields(self, ctx: Ctx) -> Response:
        return self._custom_fields(ctx, "contacts")

    def h_get_companies_custom_fields(self, ctx: Ctx) -> Response:
        return self._custom_fields(ctx, "companies")

    def h_get_leads_pipelines(self, ctx: Ctx) -> Response:
        with self.state.lock:
            pipelines = sorted(self.state.pipelines.values(), key=lambda p: (p.sort, p.id))
            return hal(
                {
                    "_total_items": len(pipelines),
                    "_links": ser.link(f"{ctx.base}/api/v4/leads/pipelines"),
                    "_embedded": {"pipelines": [ser.pipeline_to_api(self.state, p, ctx.base) for p in pipelines]},
                }
            )

    def h_get_leads_pipelines_id(self, ctx: Ctx, id: int) -> Response:
        pipeline = self.state.pipelines.get(id)
        if pipeline is None:
            raise ApiError(404, "Pipeline not found")
        return hal(ser.pipeline_to_api(self.state, pipeline, ctx.base))

    def h_get_leads_pipelines_id_statuses(self, ctx: Ctx, id: int) -> Response:
        pipeline = self.state.pipelines.get(id)
        if pipeline is None:
            raise ApiError(404, "Pipeline not found")
        statuses = sorted(pipeline.statuses, key=lambda s: s.sort)
        return hal(
            {
                "_total_items": len(statuses),
                "_links": ser.link(f"{ctx.base}/api/v4/leads/pipelines/{id}/statuses"),
                "_embedded": {"statuses": [ser.status_to_api(self.state, s, ctx.base) for s in statuses]},
            }
        )

    def h_get_leads_pipelines_id_statuses_status_id(self, ctx: Ctx, id: int, status_id: int) -> Response:
        pipeline = self.state.pipelines.get(id)
        status = pipeline.status(status_id) if pipeline else None
        if status is None:
            raise ApiError(404, "Status not found")
        return hal(ser.status_to_api(self.state, status, ctx.base))

    # notes -----------------------------------------------------------------------------------------------------------
    def _list_notes(self, ctx: Ctx, entity: str, entity_id: int | None) -> Response:
        f = ctx.params.get("filter") or {}
        if not isinstance(f, dict):
            f = {}
        with self.state.lock:
            notes = [n for n in self.state.notes.values() if n.entity_type == entity]
            if entity_id is not None:
                notes = [n for n in notes if n.entity_id == entity_id]
            if "entity_id" in f:
                ids = set(as_ints(f["entity_id"]))
                notes = [n for n in notes if n.entity_id in ids]
            if "note_type" in f:
                types = {str(t) for t in as_list(f["note_type"])}
                notes = [n for n in notes if n.note_type in types]
            if "id" in f:
                ids = set(as_ints(f["id"]))
                notes = [n for n in notes if n.id in ids]
            if "updated_at" in f:
                notes = [n for n in notes if _in_range(n.updated_at, f["updated_at"])]
            notes = self.ordered(ctx, notes)
            return self.paged(ctx, "notes", notes, lambda n: ser.note_to_api(self.state, n, ctx.base))

    def _add_notes(self, ctx: Ctx, entity: str, entity_id: int | None) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            created = writes.add_notes(self.state, entity, body, self.now(), ctx.user_id, entity_id=entity_id)
        return hal(
            {
                "_links": ser.link(f"{ctx.base}/api/v4/{entity}/notes"),
                "_embedded": {
                    "notes": [
                        {
                            "id": n.id,
                            "entity_id": n.entity_id,
                            "request_id": rid,
                            "_links": ser.link(f"{ctx.base}/api/v4/{entity}/{n.entity_id}/notes/{n.id}"),
                        }
                        for n, rid in created
                    ]
                },
            }
        )

    def h_get_leads_notes(self, ctx: Ctx) -> Response:
        return self._list_notes(ctx, "leads", None)

    def h_post_leads_notes(self, ctx: Ctx) -> Response:
        return self._add_notes(ctx, "leads", None)

    # tasks -----------------------------------------------------------------------------------------------------------
    def h_get_tasks(self, ctx: Ctx) -> Response:
        f = ctx.params.get("filter") or {}
        if not isinstance(f, dict):
            f = {}
        with self.state.lock:
            tasks = list(self.state.tasks.values())
            if "entity_type" in f:
                tasks = [t for t in tasks if t.entity_type == str(f["entity_type"])]
            if "entity_id" in f:
                ids = set(as_ints(f["entity_id"]))
                tasks = [t for t in tasks if t.entity_id in ids]
            if "responsible_user_id" in f:
                ids = set(as_ints(f["responsible_user_id"]))
                tasks = [t for t in tasks if t.responsible_user_id in ids]
            tasks = self.ordered(ctx, tasks)
            return self.paged(ctx, "tasks", tasks, lambda t: ser.task_to_api(self.state, t, ctx.base))

    def h_post_tasks(self, ctx: Ctx) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            created = writes.add_tasks(self.state, body, self.now(), ctx.user_id)
        return hal(
            {
                "_links": ser.link(f"{ctx.base}/api/v4/tasks"),
                "_embedded": {
                    "tasks": [
                        {"id": t.id, "request_id": rid, "_links": ser.link(f"{ctx.base}/api/v4/tasks/{t.id}")}
                        for t, rid in created
                    ]
                },
            }
        )

    def h_get_leads_id_notes(self, ctx: Ctx, id: int) -> Response:
        return self._list_notes(ctx, "leads", id)

    def h_post_leads_id_notes(self, ctx: Ctx, id: int) -> Response:
        return self._add_notes(ctx, "leads", id)

    def h_get_leads_id_notes_note_id(self, ctx: Ctx, id: int, note_id: int) -> Response:
        note = self.state.notes.get(note_id)
        if note is None or note.entity_type != "leads" or note.entity_id != id:
            return no_content()
        return hal(ser.note_to_api(self.state, note, ctx.base))

    def h_get_contacts_notes(self, ctx: Ctx) -> Response:
        return self._list_notes(ctx, "contacts", None)

    def h_post_contacts_notes(self, ctx: Ctx) -> Response:
        return self._add_notes(ctx, "contacts", None)

    def h_get_contacts_id_notes(self, ctx: Ctx, id: int) -> Response:
        return self._list_notes(ctx, "contacts", id)

    def h_post_contacts_id_notes(self, ctx: Ctx, id: int) -> Response:
        return self._add_notes(ctx, "contacts", id)

    def h_get_companies_notes(self, ctx: Ctx) -> Response:
        return self._list_notes(ctx, "companies", None)

    def h_post_companies_notes(self, ctx: Ctx) -> Response:
        return self._add_notes(ctx, "companies", None)

    def h_get_companies_id_notes(self, ctx: Ctx, id: int) -> Response:
        return self._list_notes(ctx, "companies", id)

    def h_post_companies_id_notes(self, ctx: Ctx, id: int) -> Response:
        return self._add_notes(ctx, "companies", id)

    # links -----------------------------------------------------------------------------------------------------------
    def _links_response(self, ctx: Ctx, links: list[dict[str, Any]], path: str) -> Response:
        return hal({"_total_items": len(links), "_links": ser.link(f"{ctx.base}{path}"), "_embedded": {"links": links}})

    def h_get_leads_id_links(self, ctx: Ctx, id: int) -> Response:
        with self.state.lock:
            lead = self.state.leads.get(id)
            if lead is None:
                return no_content()
            links = writes.lead_links(self.state, lead)
            f = ctx.params.get("filter") or {}
            if isinstance(f, dict):
                if "to_entity_type" in f:
                    types = {str(t) for t in as_list(f["to_entity_type"])}
                    links = [x for x in links if x["to_entity_type"] in types]
                if "to_entity_id" in f:
                    ids = set(as_ints(f["to_entity_id"]))
                    links = [x for x in links if x["to_entity_id"] in ids]
                if "to_catalog_id" in f:
                    cats = set(as_ints(f["to_catalog_id"]))
                    links = [x for x in links if (x.get("metadata") or {}).get("catalog_id") in cats]
        return self._links_response(ctx, links, f"/api/v4/leads/{id}/links") if links else no_content()

    def _link(self, ctx: Ctx, lead_id: int | None, unlink: bool) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            if lead_id is not None and lead_id not in self.state.leads:
                raise ApiError(404, "Lead not found")
            links, events = writes.link_entities(self.state, lead_id, body, self.now(), ctx.user_id, unlink=unlink)
            self.emit(events)
        if unlink:
            return no_content()
        return self._links_response(ctx, links, ctx.request.path)

    def h_post_leads_id_link(self, ctx: Ctx, id: int) -> Response:
        return self._link(ctx, id, unlink=False)

    def h_post_leads_id_unlink(self, ctx: Ctx, id: int) -> Response:
        return self._link(ctx, id, unlink=True)

    def h_post_leads_link(self, ctx: Ctx) -> Response:
        return self._link(ctx, None, unlink=False)

    # files -----------------------------------------------------------------------------------------------------------
    def _file_uuids(self, body: Any) -> list[str]:
        items = writes.require_batch(body)
        errors = ValidationErrors()
        uuids = []
        for i, item in enumerate(items):
            fid = item.get("file_uuid") if isinstance(item, dict) else None
            if not isinstance(fid, str) or fid not in self.state.files:
                errors.add(writes.request_id_of(item, i), "NotFound", "file_uuid", "File not found.")
            else:
                uuids.append(fid)
        errors.raise_if_any()
        return uuids

    def h_get_leads_id_files(self, ctx: Ctx, id: int) -> Response:
        with self.state.lock:
            lead = self.state.leads.get(id)
            if lead is None or not lead.files:
                return no_content()
            files = [
                {
                    "file_uuid": u,
                    "id": self.state.file_ids[(id, u)],
                    "_links": ser.link(f"{ctx.base}/drive/v1.0/files/{u}"),
                }
                for u in lead.files
            ]
        return hal(
            {
                "_total_items": len(files),
                "_links": ser.link(f"{ctx.base}/api/v4/leads/{id}/files"),
                "_embedded": {"files": files},
            }
        )

    def h_put_leads_id_files(self, ctx: Ctx, id: int) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            lead = self.state.leads.get(id)
            if lead is None:
                raise ApiError(404, "Lead not found")
            uuids = self._file_uuids(body)
            out = []
            for u in uuids:
                if u not in lead.files:
                    lead.files.append(u)
                    self.state.file_ids[(id, u)] = self.state.next_id("lead_file", 1)
                out.append({"file_uuid": u, "id": self.state.file_ids[(id, u)]})
        return hal({"_embedded": {"files": out}})

    def h_delete_leads_id_files(self, ctx: Ctx, id: int) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            lead = self.state.leads.get(id)
            if lead is None:
                raise ApiError(404, "Lead not found")
            for u in self._file_uuids(body):
                if u in lead.files:
                    lead.files.remove(u)
        return Response(status=202)

    # contacts / companies -------------------------------------------------------------------------------------------
    def _filter_contacts(self, ctx: Ctx, entity: str) -> list[Any]:
        store = self.state.contacts if entity == "contacts" else self.state.companies
        items = [c for c in store.values() if not c.is_deleted]
        f = ctx.params.get("filter") or {}
        if isinstance(f, dict):
            if "id" in f:
                ids = set(as_ints(f["id"]))
                items = [c for c in items if c.id in ids]
            if "name" in f:
                names = {str(n) for n in as_list(f["name"])}
                items = [c for c in items if c.name in names]
            if "responsible_user_id" in f:
                vals = set(as_ints(f["responsible_user_id"]))
                items = [c for c in items if c.responsible_user_id in vals]
            for key in ("created_at", "updated_at"):
                if key in f:
                    items = [c for c in items if _in_range(getattr(c, key), f[key])]
        query = ctx.request.args.get("query")
        if query:
            items = [c for c in items if _matches_query(c, query)]
        return self.ordered(ctx, items)

    def _list_contacts(self, ctx: Ctx, entity: str) -> Response:
        with_ = ctx.with_()
        render = ser.contact_to_api if entity == "contacts" else ser.company_to_api
        with self.state.lock:
            items = self._filter_contacts(ctx, entity)
            return self.paged(ctx, entity, items, lambda c: render(self.state, c, ctx.base, with_))

    def _get_contact(self, ctx: Ctx, entity: str, id: int) -> Response:
        store = self.state.contacts if entity == "contacts" else self.state.companies
        render = ser.contact_to_api if entity == "contacts" else ser.company_to_api
        with self.state.lock:
            item = store.get(id)
            if item is None or item.is_deleted:
                return no_content()
            return hal(render(self.state, item, ctx.base, ctx.with_()))

    def _write_contacts(self, ctx: Ctx, entity: str, update: bool, entity_id: int | None = None) -> Response:
        body = json_body(ctx.request)
        with self.state.lock:
            if update:
                done = writes.update_contacts(self.state, entity, body, self.now(), ctx.user_id, entity_id=entity_id)
            else:
                done = writes.add_contacts(self.state, entity, body, self.now(), ctx.user_id)
        if entity_id is not None:
            item = done[0][0]
            return hal(
                {
                    "id": item.id,
                    "updated_at": item.updated_at,
                    "_links": ser.link(f"{ctx.base}/api/v4/{entity}/{item.id}"),
                }
            )
        rows = []
        for item, rid in done:
            row: dict[str, Any] = {"id": item.id}
            if update:
                row["updated_at"] = item.updated_at
            else:
                row["is_deleted"] = False
                if entity == "contacts":
                    row["is_unsorted"] = False
            row["request_id"] = rid
            row["_links"] = ser.link(f"{ctx.base}/api/v4/{entity}/{item.id}")
            rows.append(row)
        return hal({"_links": ser.link(f"{ctx.base}/api/v4/{entity}"), "_embedded": {entity: rows}})

    def h_get_contacts(self, ctx: Ctx) -> Response:
        return self._list_contacts(ctx, "contacts")

    def h_post_contacts(self, ctx: Ctx) -> Response:
        return self._write_contacts(ctx, "contacts", update=False)

    def h_patch_contacts(self, ctx: Ctx) -> Response:
        return self._write_contacts(ctx, "contacts", update=True)

    def h_get_contacts_id(self, ctx: Ctx, id: int) -> Response:
        return self._get_contact(ctx, "contacts", id)

    def h_patch_contacts_id(self, ctx: Ctx, id: int) -> Response:
        return self._write_contacts(ctx, "contacts", update=True, entity_id=id)

    def h_get_companies(self, ctx: Ctx) -> Response:
        return self._list_contacts(ctx, "companies")

    def h_post_companies(self, ctx: Ctx) -> Response:
        return self._write_contacts(ctx, "companies", update=False)

    def h_patch_companies(self, ctx: Ctx) -> Response:
        return self._write_contacts(ctx, "companies", update=True)

    def h_get_companies_id(self, ctx: Ctx, id: int) -> Response:
        return self._get_contact(ctx, "companies", id)

    def h_patch_companies_id(self, ctx: Ctx, id: int) -> Response:
        return self._write_contacts(ctx, "companies", update=True, entity_id=id)

    # catalogs --------------------------------------------------------------------------------------------------------
    def h_get_catalogs(self, ctx: Ctx) -> Response:
        with self.state.lock:
            catalogs = sorted(self.state.catalogs.values(), key=lambda c: (c.sort, c.id))
            return self.paged(ctx, "catalogs", catalogs, lambda c: ser.catalog_to_api(self.state, c, ctx.base))

    def h_get_catalogs_id(self, ctx: Ctx, id: int) -> Response:
        catalog = self.state.catalogs.get(id)
        return hal(ser.catalog_to_api(self.state, catalog, ctx.base)) if catalog else no_content()

    def h_get_catalogs_id_custom_fields(self, ctx: Ctx, id: int) -> Response:
        if id not in self.state.catalogs:
            return no_content()
        defs = sorted(self.state.catalog_fields.get(id, {}).values(), key=lambda d: (d.sort, d.id))
        return self.paged(ctx, "custom_fields", defs, lambda d: d.to_api(ctx.base, self.state.account.id))

    def h_get_catalogs_id_elements(self, ctx: Ctx, id: int) -> Response:
        if id not in self.state.catalogs:
            raise ApiError(404, "Catalog not found")
        f = ctx.params.get("filter") or {}
        with self.state.lock:
            elements = [e for e in self.state.catalog_elements.values() if e.catalog_id == id and not e.is_deleted]
            if isinstance(f, dict) and "id" in f:
                ids = set(as_ints(f["id"]))
                elements = [e for e in elements if e.id in ids]
            query = ctx.request.args.get("query")
            if query:
                q = query.lower()
                elements = [
                    e
                    for e in elements
                    if q in e.name.lower() or any(q in v.lower() for v in search_text(e.custom_fields))
                ]
            elements.sort(key=lambda e: e.id)
            return self.paged(ctx, "elements", elements, lambda e: ser.element_to_api(self.state, e, ctx.base))

    def h_get_catalogs_id_elements_element_id(self, ctx: Ctx, id: int, element_id: int) -> Response:
        element = self.state.catalog_elements.get(element_id)
        if element is None or element.catalog_id != id:
            return no_content()
        return hal(ser.element_to_api(self.state, element, ctx.base))

    # webhooks --------------------------------------------------------------------------------------------------------
    def h_get_webhooks(self, ctx: Ctx) -> Response:
        f = ctx.params.get("filter") or {}
        with self.state.lock:
            hooks = sorted(self.state.webhooks.values(), key=lambda h: (h.sort, h.id))
            if isinstance(f, dict) and "destination" in f:
                dests = {str(d) for d in as_list(f["destination"])}
                hooks = [h for h in hooks if h.destination in dests]
            if not hooks:
                return no_content()
            return hal(
                {
                    "_total_items": len(hooks),
                    "_links": ser.link(f"{ctx.base}/api/v4/webhooks"),
                    "_embedded": {"webhooks": [ser.webhook_to_api(self.state, h) for h in hooks]},
                }
            )

    def h_post_webhooks(self, ctx: Ctx) -> Response:
        body = json_body(ctx.request)
        if not isinstance(body, dict) or not body:
            raise ApiError(400, "Request data can not be empty")
        hook = self.sb.subscribe(body.get("destination"), body.get("settings"), body.get("sort", 10), ctx.user_id)
        return hal(ser.webhook_to_api(self.state, hook))

    def h_delete_webhooks(self, ctx: Ctx) -> Response:
        body = json_body(ctx.request)
        destination = body.get("destination") if isinstance(body, dict) else None
        if not isinstance(destination, str) or not destination:
            raise ApiError(400, "Request data can not be empty")
        self.sb.remove_webhook(destination)
        return no_content()

    # drive -----------------------------------------------------------------------------------------------------------
    def h_post_drive_sessions(self, ctx: Ctx) -> Response:
        body = json_body(ctx.request)
        if not isinstance(body, dict):
            raise ApiError(400, "Request data can not be empty")
        errors = ValidationErrors()
        name, size = body.get("file_name"), body.get("file_size")
        if not isinstance(name, str) or not name.strip():
            errors.add("0", "NotBlank", "file_name", "This value should not be blank.")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            errors.add("0", "InvalidType", "file_size", "This value should be a positive integer.")
        elif size > MAX_FILE_SIZE:
            errors.add("0", "LessThanOrEqual", "file_size", f"The file must not be larger than {MAX_FILE_SIZE} bytes.")
        file_uuid = body.get("file_uuid")
        if file_uuid is not None and file_uuid not in self.state.files:
            errors.add("0", "NotFound", "file_uuid", "File not found.")
        errors.raise_if_any()
        assert isinstance(name, str) and isinstance(size, int)
        with self.state.lock:
            session = UploadSession(
                id=self.state.next_id("upload_session", 26136001),
                token=secrets.token_urlsafe(24),
                file_name=name,
                file_size=size,
                content_type=str(body.get("content_type") or "application/octet-stream"),
                created_at=self.sb.clock.time(),
                file_uuid=file_uuid,
            )
            self.state.upload_sessions[session.token] = session
        return Response(
            json.dumps(
                {
                    "max_file_size": MAX_FILE_SIZE,
                    "max_part_size": self.sb.drive_max_part_size,
                    "session_id": session.id,
                    "upload_url": f"{ctx.base}/drive/v1.0/sessions/upload/{session.token}",
                }
            ),
            content_type="application/json",
        )

    def h_post_drive_sessions_upload_token(self, ctx: Ctx, token: str) -> Response:
        data = ctx.request.get_data()
        with self.state.lock:
            session = self.state.upload_sessions.pop(token, None)
            if session is None or session.done or self.sb.clock.time() - session.created_at > 86400:
                raise ApiError(404, "Upload session not found or expired")
            if len(data) > self.sb.drive_max_part_size:
                self.state.upload_sessions[token] = session
                raise ApiError(400, f"Part is larger than max_part_size ({self.sb.drive_max_part_size} bytes)")
            if not data:
                self.state.upload_sessions[token] = session
                raise ApiError(400, "Request data can not be empty")
            if len(session.received) + len(data) > session.file_size:
                raise ApiError(400, "More bytes than the declared file_size")
            session.received.extend(data)
            session.parts += 1
            if len(session.received) < session.file_size:
                session.token = secrets.token_urlsafe(24)
                self.state.upload_sessions[session.token] = session
                return Response(
                    json.dumps(
                        {"session_id": session.id, "next_url": f"{ctx.base}/drive/v1.0/sessions/upload/{session.token}"}
                    ),
                    content_type="application/json",
                )
            session.done = True
            file_uuid = session.file_uuid or str(uuid.uuid4())
            drive_file = DriveFile(
                uuid=file_uuid,
                version_uuid=str(uuid.uuid4()),
                name=session.file_name,
                size=session.file_size,
                content_type=session.content_type,
                content=bytes(session.received),
                created_at=self.now(),
                created_by=5000001,
            )
            self.state.files[file_uuid] = drive_file
        return Response(json.dumps(ser.drive_file_to_api(drive_file, ctx.base)), content_type="application/json")

    def h_get_drive_files_uuid(self, ctx: Ctx, uuid: str) -> Response:
        f = self.state.files.get(uuid)
        if f is None:
            raise ApiError(404, "File not found")
        return Response(json.dumps(ser.drive_file_to_api(f, ctx.base)), content_type="application/json")

    def h_get_drive_download_uuid(self, ctx: Ctx, uuid: str) -> Response:
        f = self.state.files.get(uuid)
        if f is None:
            raise ApiError(404, "File not found")
        return Response(f.content, content_type=f.content_type)

    def h_get_drive_download_uuid_version_uuid(self, ctx: Ctx, uuid: str, version_uuid: str) -> Response:
        return self.h_get_drive_download_uuid(ctx, uuid)


def _in_range(value: int | None, spec: Any) -> bool:
    if value is None:
        return False
    if isinstance(spec, dict) and ("from" in spec or "to" in spec):
        lo = as_ints(spec.get("from"))
        hi = as_ints(spec.get("to"))
        return (not lo or value >= lo[0]) and (not hi or value <= hi[0])
    vals = as_ints(spec)
    return not vals or value in vals


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _matches_query(entity: Any, query: str) -> bool:
    q = query.lower().strip()
    texts = [entity.name.lower(), str(entity.id)]
    texts += [getattr(entity, "first_name", "").lower(), getattr(entity, "last_name", "").lower()]
    values = [v.lower() for v in search_text(entity.custom_fields)]
    if any(q in t for t in texts + values):
        return True
    qd = _digits(q)
    return len(qd) >= 5 and any(qd in _digits(v) for v in values if _digits(v))


def webhook_validation(destination: Any, settings: Any) -> ValidationErrors:
    errors = ValidationErrors()
    from urllib.parse import urlsplit

    if not isinstance(destination, str) or urlsplit(destination).scheme not in ("http", "https"):
        errors.add("0", "InvalidValue", "destination", "This value is not a valid URL.")
    if not isinstance(settings, list) or not settings or not all(isinstance(s, str) and s for s in settings):
        errors.add("0", "InvalidType", "settings", "This value should be a non-empty array of event names.")
    return errors


__all__ = ["KommoApp", "ROUTES", "Webhook", "webhook_validation"]
