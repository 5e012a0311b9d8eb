"""``KommoSandbox``: the Python API over the local Kommo API (used by the local stack, the tests and the benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from sandbox.common import CallCounters, Clock, FaultInjector, ServerThread
from sandbox.kommo import serialize as ser
from sandbox.kommo import writes
from sandbox.kommo.app import KommoApp
from sandbox.kommo.auth import AuthStore, OAuthClient, RateLimiter
from sandbox.kommo.problems import ApiError, ValidationErrors
from sandbox.kommo.seed import apply_seed
from sandbox.kommo.state import Account, KommoState, Lead, Webhook
from sandbox.kommo.webhooks import DeliveryAttempt, WebhookDispatcher

DEFAULT_USER = 5000001
MAX_WEBHOOKS = 100


class KommoSandbox:
    def __init__(
        self,
        token: str | None = None,
        seed: str | None = "demo",
        clock: Clock | None = None,
        subdomain: str = "demo",
        account_id: int = 31000001,
        rate_limit_rps: float | None = 7,
        block_after_429s: int | None = 100,
        block_window_s: float = 60.0,
        webhook_timeout_s: float = 2.0,
        allow_external_webhooks: bool = False,
        drive_max_part_size: int = 524288,
        fault_seed: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.clock = clock or Clock()
        self.counters = CallCounters()
        self.faults = FaultInjector(seed=fault_seed)
        self.subdomain = subdomain
        self.account_id = account_id
        self.drive_max_part_size = drive_max_part_size
        self.host = host
        self.state = KommoState(Account(account_id, subdomain))
        self.state.snapshot = self.snapshot  # ``sandbox.state()`` as in docs/ARCHITECTURE.md
        self.auth = AuthStore(self.clock, account_id, subdomain)
        self.limiter = RateLimiter(
            self.clock, rate_limit_rps, block_after=block_after_429s, block_window_s=block_window_s
        )
        self.webhooks = WebhookDispatcher(
            self.clock, timeout_s=webhook_timeout_s, allow_external=allow_external_webhooks
        )
        # the long-lived token accepted as ``Authorization: Bearer``; a random one when not given
        self.token = self.auth.add_long_lived_token(token, DEFAULT_USER)
        self._seed_name = seed
        self.seed(seed)
        self.app = KommoApp(self)
        self._server: ServerThread | None = None
        self._base_url: str | None = None

    # lifecycle ---------------------------------------------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (port 0: a free port) in a background thread; returns the base URL."""
        if self._server is None:
            self._server = ServerThread(self.app, host=self.host, port=port)
            self._base_url = self._server.start()
            self.auth.base_url = self._base_url
            self.webhooks.start()
        assert self._base_url is not None
        return self._base_url

    def bind(self, port: int = 0) -> str:
        """Open the socket without serving (for ``serve_forever`` in the calling thread)."""
        if self._server is None:
            self._server = ServerThread(self.app, host=self.host, port=port)
        self._base_url = self._server.bind()
        self.auth.base_url = self._base_url
        return self._base_url

    def serve_forever(self) -> None:
        assert self._server is not None, "call bind() first"
        self.webhooks.start()
        self._server.serve_forever()

    def stop(self) -> None:
        self.webhooks.stop()
        if self._server is not None:
            self._server.stop()
        self._server = None

    def __enter__(self) -> KommoSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("sandbox not started")
        return self._base_url

    @property
    def account_url(self) -> str:
        """``account[_links][self]`` in webhooks: this sandbox's origin (Kommo sends https://{subdomain}.kommo.com)."""
        return self._base_url or f"https://{self.subdomain}.kommo.com"

    # data --------------------------------------------------------------------------------------------------------------
    def seed(self, name: str | None) -> None:
        """Replace all data (not tokens, not webhook subscriptions) with the named seed."""
        with self.state.lock:
            hooks = dict(self.state.webhooks)
            fresh = KommoState(Account(self.account_id, self.subdomain))
            apply_seed(fresh, name, int(self.clock.time()))
            fresh.webhooks = hooks
            fresh.bump_ids("webhook", max(hooks, default=0))
            for attr, value in vars(fresh).items():
                if attr not in ("lock", "snapshot"):
                    setattr(self.state, attr, value)

    def reset(self) -> None:
        """Back to the seed given at construction; clears counters, faults, the rate-limit window and block, and the
        delivery log (pending retries are dropped). Tokens and webhook subscriptions stay."""
        self.seed(self._seed_name)
        with self.state.lock:
            for hook in self.state.webhooks.values():
                hook.disabled = False
        self.counters.reset()
        self.faults.clear()
        self.limiter.reset()
        self.webhooks.clear()

    # moves and webhooks -----------------------------------------------------------------------------------------------
    def move_leads(
        self, lead_ids: Iterable[int], status_id: int, pipeline_id: int | None = None, user_id: int = DEFAULT_USER
    ) -> list[int]:
        """Move leads as a person would (bulk action in the UI): one call = one webhook body per subscriber carrying
        every moved lead. Raises ValueError (and moves nothing) on an unknown lead, pipeline or status. Returns the
        delivery ids started."""
        ids = list(lead_ids)
        with self.state.lock:
            events = writes.move_leads(self.state, ids, status_id, pipeline_id, int(self.clock.time()), user_id)
            return self.dispatch_events(events)

    def move_lead(self, lead_id: int, status_id: int, pipeline_id: int | None = None) -> list[int]:
        return self.move_leads([lead_id], status_id, pipeline_id)

    def dispatch_events(self, events: list[writes.LeadEvent]) -> list[int]:
        with self.state.lock:
            return self.webhooks.dispatch(self.state, events, self.account_url)

    def subscribe(self, destination: Any, settings: Any, sort: Any = 10, user_id: int = DEFAULT_USER) -> Webhook:
        errors = ValidationErrors()
        parts = urlsplit(destination) if isinstance(destination, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            errors.add("0", "InvalidValue", "destination", "This value is not a valid URL.")
        if not isinstance(settings, list) or not settings or not all(isinstance(s, str) and s for s in settings):
            errors.add("0", "InvalidType", "settings", "This value should be of type array.")
        if not isinstance(sort, int) or isinstance(sort, bool):
            errors.add("0", "InvalidType", "sort", "This value should be of type int.")
        errors.raise_if_any()
        assert isinstance(destination, str) and isinstance(settings, list) and isinstance(sort, int)
        now = int(self.clock.time())
        with self.state.lock:
            existing = next((h for h in self.state.webhooks.values() if h.destination == destination), None)
            if existing is not None:
                existing.settings, existing.sort, existing.updated_at = list(settings), sort, now
                existing.disabled = False
                return existing
            if len(self.state.webhooks) >= MAX_WEBHOOKS:
                raise ApiError(422, f"Limit {MAX_WEBHOOKS} webhooks per account")
            hook = Webhook(self.state.next_id("webhook", 1), destination, list(settings), sort, now, now, user_id)
            self.state.webhooks[hook.id] = hook
            return hook

    def add_webhook(
        self, destination: str, settings: Sequence[str] = ("status_lead",), sort: int = 10
    ) -> dict[str, Any]:
        return ser.webhook_to_api(self.state, self.subscribe(destination, list(settings), sort))

    def remove_webhook(self, destination: str) -> bool:
        with self.state.lock:
            found = [hid for hid, h in self.state.webhooks.items() if h.destination == destination]
            for hid in found:
                del self.state.webhooks[hid]
            return bool(found)

    def list_webhooks(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [ser.webhook_to_api(self.state, h) for h in self.state.webhooks.values()]

    def wait_for_deliveries(self, timeout: float = 10) -> bool:
        """True once no webhook attempt is in flight and none is due (retries scheduled later do not count)."""
        return self.webhooks.wait(timeout)

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every webhook attempt so far, oldest first (status_code None = no HTTP answer)."""
        return self.webhooks.attempts

    def delivery_bodies(self) -> list[str]:
        """The form body of each delivery (one per body, not per attempt)."""
        return [d.body for d in self.webhooks.deliveries()]

    # auth ----------------------------------------------------------------------------------------------------------------
    def add_token(self, token: str | None = None, user_id: int = DEFAULT_USER, ttl_s: float | None = None) -> str:
        return self.auth.add_long_lived_token(token, user_id, ttl_s)

    def register_oauth_client(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str = "https://example.com/oauth/callback",
    ) -> OAuthClient:
        return self.auth.register_client(client_id, client_secret, redirect_uri)

    def authorization_code(self, client_id: str, user_id: int = DEFAULT_USER) -> str:
        """What Kommo appends to the redirect URI after consent (valid 20 minutes, single use)."""
        return self.auth.issue_code(client_id, user_id)

    # reading state (API shapes) ------------------------------------------------------------------------------------------
    def _base(self) -> str:
        return self._base_url or "http://127.0.0.1"

    @property
    def leads(self) -> dict[int, Lead]:
        return self.state.leads

    def get_lead(self, lead_id: int) -> dict[str, Any] | None:
        with self.state.lock:
            lead = self.state.leads.get(lead_id)
            if lead is None:
                return None
            return ser.lead_to_api(self.state, lead, self._base(), {"contacts", "catalog_elements"})

    def list_leads(self, pipeline_id: int | None = None, status_id: int | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [
                ser.lead_to_api(self.state, lead, self._base(), {"contacts", "catalog_elements"})
                for lead in sorted(self.state.leads.values(), key=lambda x: x.id)
                if (pipeline_id is None or lead.pipeline_id == pipeline_id)
                and (status_id is None or lead.status_id == status_id)
            ]

    def lead_field_value(self, lead_id: int, field_id: int) -> Any:
        """The first value of a lead custom field (``value`` as the API returns it), or None when unset."""
        with self.state.lock:
            values = self.state.leads[lead_id].custom_fields.get(field_id)
            return values[0].get("value") if values else None

    def lead_field_values(self, lead_id: int, field_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(v) for v in self.state.leads[lead_id].custom_fields.get(field_id, [])]

    @property
    def notes(self) -> list[dict[str, Any]]:
        """Every note (leads, contacts, companies), API shape, oldest first."""
        with self.state.lock:
            return [
                ser.note_to_api(self.state, n, self._base())
                for n in sorted(self.state.notes.values(), key=lambda n: n.id)
            ]

    def get_contact(self, contact_id: int) -> dict[str, Any] | None:
        with self.state.lock:
            c = self.state.contacts.get(contact_id)
            return ser.contact_to_api(self.state, c, self._base(), {"leads"}) if c else None

    def get_company(self, company_id: int) -> dict[str, Any] | None:
        with self.state.lock:
            c = self.state.companies.get(company_id)
            return ser.company_to_api(self.state, c, self._base(), {"leads", "contacts"}) if c else None

    def tasks_for_lead(self, lead_id: int) -> list[dict[str, Any]]:
        """The lead's tasks, API shape, oldest first."""
        with self.state.lock:
            return [
                ser.task_to_api(self.state, t, self._base())
                for t in sorted(self.state.tasks.values(), key=lambda t: t.id)
                if t.entity_type == "leads" and t.entity_id == lead_id
            ]

    def notes_for_lead(self, lead_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return [
                ser.note_to_api(self.state, n, self._base())
                for n in sorted(self.state.notes.values(), key=lambda n: n.id)
                if n.entity_type == "leads" and n.entity_id == lead_id
            ]

    def files_for_lead(self, lead_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            lead = self.state.leads.get(lead_id)
            if lead is None:
                return []
            return [ser.drive_file_to_api(self.state.files[u], self._base()) for u in lead.files]

    def file_content(self, file_uuid: str) -> bytes:
        return self.state.files[file_uuid].content

    def catalog_elements(self, catalog_id: int | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [
                ser.element_to_api(self.state, e, self._base())
                for e in sorted(self.state.catalog_elements.values(), key=lambda e: e.id)
                if catalog_id is None or e.catalog_id == catalog_id
            ]

    def snapshot(self) -> dict[str, Any]:
        """Everything, in API shapes (``GET /_sandbox/state``)."""
        base = self._base()
        with self.state.lock:
            st = self.state
            return {
                "account": {"id": st.account.id, "subdomain": st.account.subdomain},
                "clock": self.clock.time(),
                "users": [ser.user_to_api(u, base) for u in st.users.values()],
                "pipelines": [ser.pipeline_to_api(st, p, base) for p in st.pipelines.values()],
                "leads": self.list_leads(),
                "contacts": [ser.contact_to_api(st, c, base, {"leads"}) for c in st.contacts.values()],
                "companies": [ser.company_to_api(st, c, base, {"leads", "contacts"}) for c in st.companies.values()],
                "notes": [ser.note_to_api(st, n, base) for n in st.notes.values()],
                "tasks": [ser.task_to_api(st, t, base) for t in st.tasks.values()],
                "files": [ser.drive_file_to_api(f, base) for f in st.files.values()],
                "catalog_elements": self.catalog_elements(),
                "webhooks": [ser.webhook_to_api(st, h) for h in st.webhooks.values()],
                "rate_limit": {"rps": self.limiter.rps, "blocked": self.limiter.blocked},
            }

    # bulk helpers (benchmarks) -------------------------------------------------------------------------------------------
    def create_leads(
        self,
        count: int,
        *,
        pipeline_id: int | None = None,
        status_id: int | None = None,
        price: int = 1000,
        name_prefix: str = "Bulk lead",
        contact_id: int | None = None,
        company_id: int | None = None,
    ) -> list[int]:
        """Create ``count`` leads directly (no API call, no webhook). Returns their ids."""
        now = int(self.clock.time())
        ids = []
        with self.state.lock:
            pipeline = self.state.pipelines[pipeline_id] if pipeline_id else self.state.main_pipeline()
            sid = status_id if status_id is not None else pipeline.first_regular_status().id
            if pipeline.status(sid) is None:
                raise ValueError(f"status {sid} is not in pipeline {pipeline.id}")
            for i in range(count):
                plan: dict[str, Any] = {
                    "name": f"{name_prefix} {i + 1}",
                    "price": price,
                    "pipeline_id": pipeline.id,
                    "status_id": sid,
                }
                if contact_id is not None:
                    plan["link_contacts"] = [(contact_id, True)]
                if company_id is not None:
                    plan["link_companies"] = [(company_id, False)]
                lead, _ = writes.new_lead(self.state, plan, now, DEFAULT_USER)
                ids.append(lead.id)
        return ids
