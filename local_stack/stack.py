"""LocalStack: moto + the template's resources + the sandboxes + gateway, SQS worker loop and scheduler, in-process.

    with LocalStack() as stack:                      # everything from template.yaml, sandboxes seeded "demo"
        stack.kommo.move_leads([1000001], status_id=7100004, pipeline_id=7000001)
        stack.drain(30)
        print(stack.urls)

Everything started is stopped on exit, also on exceptions and Ctrl-C, and the process environment is restored.
Tests can pass another template, another code root (function directories), and skip the sandboxes.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from local_stack.aws import SECRET_KEYS, LocalAws, Resources, generate_credentials
from local_stack.gateway import ApiGateway
from local_stack.lambdas import FunctionRegistry
from local_stack.scheduler import Scheduler
from local_stack.template import ApiEvent, ScheduleEvent, SqsEvent, Template
from local_stack.worker import SqsWorker

log = logging.getLogger("local_stack")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MAPPING = REPO_ROOT / "config" / "mapping.demo.json"
XERO_API_PATH = "/api.xro/2.0"

KOMMO_WEBHOOK_FUNCTION = "KommoWebhookFunction"
XERO_WEBHOOK_FUNCTION = "XeroWebhookFunction"

_UNSET: Any = object()


class LocalStack:
    """Runs the product locally. Attributes after :meth:`start`:

    ``template`` (:class:`Template`), ``aws`` (:class:`LocalAws`, ``aws.endpoint_url``), ``resources`` (tables and
    queues by logical id), ``credentials`` (the seeded secret's values), ``env`` (what was put in ``os.environ``),
    ``functions`` (:class:`FunctionRegistry`), ``gateway`` (:class:`ApiGateway`), ``workers`` / ``worker``
    (:class:`SqsWorker`), ``schedulers`` / ``scheduler`` (:class:`Scheduler`), ``kommo`` / ``xero`` (sandboxes or
    None), ``urls``.
    """

    def __init__(
        self,
        *,
        template_path: str | Path | None = None,
        code_root: str | Path | None = None,
        layer_dirs: Sequence[str | Path] | None = None,
        parameter_overrides: Mapping[str, Any] | None = None,
        mapping: Path | Mapping[str, Any] | None = _UNSET,
        credentials: Mapping[str, str] | None = None,
        start_sandboxes: bool = True,
        sandbox_seed: str | None = "demo",
        start_worker: bool = True,
        start_scheduler: bool = True,
        visibility_timeout: int | None = 10,
        batching_window: float | None = 0.2,
        schedule_interval: float | None = None,
        region: str = "eu-west-1",
        gateway_port: int = 0,
        moto_port: int = 0,
        extra_env: Mapping[str, str] | None = None,
        prewarm: bool = False,
    ) -> None:
        """
        ``template_path``: defaults to the repository's template.yaml. ``code_root``: where CodeUri/ContentUri are
        resolved (default: the template's directory). ``layer_dirs``: default the template's LayerVersion
        ContentUris. ``mapping``: a JSON file or a dict put in SSM (default config/mapping.demo.json; None: skip).
        ``visibility_timeout``: overrides every queue's VisibilityTimeout (seconds) so failed jobs are retried
        quickly locally (default 10 s, long enough that a slow local batch is not received twice; the template's
        360 s is for AWS); None keeps the template value. ``batching_window``
        overrides MaximumBatchingWindowInSeconds (None: template value). ``schedule_interval`` overrides the
        schedules' rate (seconds). ``prewarm``: cold-start every function during start (Kommo waits only 2 s for
        a webhook answer).
        """
        self.template_path = Path(template_path) if template_path else REPO_ROOT / "template.yaml"
        self.template = Template(self.template_path, parameter_overrides, region=region)
        self.code_root = Path(code_root).resolve() if code_root else self.template.root
        self.layer_dirs = (
            [Path(p) for p in layer_dirs] if layer_dirs is not None else self._template_layers(self.code_root)
        )
        self._parameter_overrides = dict(parameter_overrides or {})
        self.mapping = DEFAULT_MAPPING if mapping is _UNSET else mapping
        self.credentials: dict[str, str] = dict(credentials) if credentials else generate_credentials()
        missing = [key for key in SECRET_KEYS if key not in self.credentials]
        if missing:
            raise ValueError(f"credentials lack {missing}")
        self.start_sandboxes = start_sandboxes
        self.sandbox_seed = sandbox_seed
        self.start_worker = start_worker
        self.start_scheduler = start_scheduler
        self.visibility_timeout = visibility_timeout
        self.batching_window = batching_window
        self.schedule_interval = schedule_interval
        self.region = region
        self.extra_env = dict(extra_env or {})
        self.prewarm = prewarm

        self.aws = LocalAws(region=region, port=moto_port)
        self.resources = Resources(region=region)
        self.env: dict[str, str] = {}
        self.functions = FunctionRegistry(
            self.template.functions, self.code_root, self.layer_dirs, region=region, account_id=self.template.account_id
        )
        self.gateway = ApiGateway.from_functions(
            self.template.functions,
            self.functions.invoke,
            stage=self.template.api_stage(),
            region=region,
            account_id=self.template.account_id,
            port=gateway_port,
        )
        self.workers: list[SqsWorker] = []
        self.schedulers: list[Scheduler] = []
        self.kommo: Any = None
        self.xero: Any = None
        self.clock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._sandbox_ports: dict[str, int] = {}
        self._started = False
        self._lock = threading.Lock()

    # ---- lifecycle ----------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        with self._lock:
            if self._started:
                return self
            self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        started = time.monotonic()
        self.aws.start()
        overrides = None
        if self.visibility_timeout is not None:
            overrides = {queue.logical_id: self.visibility_timeout for queue in self.template.queues}
        self.resources = self.aws.create_resources(self.template, overrides)
        params = self.template.parameters
        if "CredentialsSecretName" in params:
            self.aws.seed_secret(str(params["CredentialsSecretName"]), self.credentials)
        if "MappingParameterPath" in params and self.mapping is not None:
            self.aws.seed_mapping("/" + str(params["MappingParameterPath"]).lstrip("/"), self.mapping)

        self.gateway.bind()  # the URL must be known before the sandboxes are told where to send webhooks
        if self.start_sandboxes:
            self._create_sandboxes()  # ports chosen (URLs known), not serving yet

        self.env = self._environment()
        self._apply_env(self.env)
        self.gateway.start()  # serving before any sandbox can call it (Xero's Intent to Receive, webhooks)
        if self.prewarm:
            self._prewarm()
        if self.start_sandboxes:
            self._start_sandboxes()
        if self.start_worker:
            self._start_workers()
        if self.start_scheduler:
            self._start_schedulers()
        if self.kommo is not None and self.kommo_webhook_url:
            # As the README advises: "Lead added" too, so a deal created directly in a trigger stage is invoiced.
            self.kommo.add_webhook(self.kommo_webhook_url, ["status_lead", "add_lead"])
        log.info("local stack up in %.1f s", time.monotonic() - started)

    def stop(self) -> None:
        """Stop everything that was started, in reverse order; never raises."""
        for scheduler in self.schedulers:
            _quietly(scheduler.stop)
        for worker in self.workers:
            _quietly(worker.stop)
        _quietly(self.gateway.stop)
        for sandbox in (self.xero, self.kommo):
            if sandbox is not None:
                _quietly(sandbox.stop)
        _quietly(self.aws.stop)
        self._restore_env()
        self.schedulers, self.workers = [], []
        self._started = False

    # ---- parts --------------------------------------------------------------------------------------------------

    def _template_layers(self, code_root: Path) -> list[Path]:
        layers = []
        for resource in self.template.resources.values():
            if resource.get("Type") == "AWS::Serverless::LayerVersion":
                content = (resource.get("Properties") or {}).get("ContentUri")
                if isinstance(content, str):
                    layers.append(code_root / content)
        return layers

    def _create_sandboxes(self) -> None:
        from sandbox.common import Clock
        from sandbox.kommo import KommoSandbox
        from sandbox.xero import XeroSandbox

        self.clock = Clock()
        self.kommo = KommoSandbox(
            token=self.credentials["kommo_access_token"], seed=self.sandbox_seed, clock=self.clock
        )
        self.xero = XeroSandbox(
            client_id=self.credentials["xero_client_id"],
            client_secret=self.credentials["xero_client_secret"],
            webhook_url=self.xero_webhook_url,
            webhook_key=self.credentials["xero_webhook_key"],
            seed=self.sandbox_seed,
            clock=self.clock,
        )
        self._sandbox_ports = {"kommo": _free_port(), "xero": _free_port()}
        self._point_parameters_at(
            f"http://127.0.0.1:{self._sandbox_ports['kommo']}", f"http://127.0.0.1:{self._sandbox_ports['xero']}"
        )

    def _start_sandboxes(self) -> None:
        kommo_url = _start_on(self.kommo, self._sandbox_ports["kommo"])
        xero_url = _start_on(self.xero, self._sandbox_ports["xero"])
        if self._point_parameters_at(kommo_url, xero_url):  # a sandbox chose its own port after all
            self.env = self._environment()
            self._apply_env(self.env)

    def _point_parameters_at(self, kommo_url: str, xero_url: str) -> bool:
        """Point the template's own parameters at the sandboxes (unless the caller overrode them)."""
        changed = False
        for name, value in (
            ("KommoBaseUrl", kommo_url),
            ("XeroApiUrl", _safe_attr(self.xero, "api_url") or xero_url.rstrip("/") + XERO_API_PATH),
            ("XeroIdentityUrl", _safe_attr(self.xero, "identity_url") or xero_url),
        ):
            if name in self.template.parameters and name not in self._parameter_overrides:
                changed = changed or self.template.parameters[name] != value
                self.template.parameters[name] = value
        return changed

    def _prewarm(self) -> None:
        """Cold-start every function now (like provisioned concurrency), so the first webhook is answered fast."""
        for logical_id in self.functions.specs:
            try:
                self.functions.load(logical_id)
            except Exception as exc:  # reported again on the first invoke, like Lambda's init error
                log.warning("cold start of %s failed: %s", logical_id, exc)

    def _environment(self) -> dict[str, str]:
        env = self.template.environment(self.resources.refs, self.resources.attrs)
        env.update(self.aws.environment())
        # No X-Ray daemon locally; Powertools Tracer would otherwise try to emit segments.
        env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        env.update(self.extra_env)
        return env

    def _apply_env(self, env: Mapping[str, str]) -> None:
        for name, value in env.items():
            if name not in self._saved_env:
                self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def _start_workers(self) -> None:
        sqs = self.aws.client("sqs")
        for spec, event in self.functions.functions_with(SqsEvent):
            if not event.enabled:
                continue
            queue = self.resources.queues[event.queue]
            function_id = spec.logical_id
            worker = SqsWorker(
                sqs,
                queue.url,
                queue.arn,
                functools.partial(self.functions.invoke, function_id),
                batch_size=event.batch_size,
                batching_window=(
                    event.maximum_batching_window if self.batching_window is None else self.batching_window
                ),
                report_batch_item_failures=event.reports_batch_item_failures,
                region=self.region,
                concurrency=event.maximum_concurrency or 1,
                name=f"{function_id}.{event.name}",
            )
            worker.start()
            self.workers.append(worker)

    def _start_schedulers(self) -> None:
        for spec, event in self.functions.functions_with(ScheduleEvent):
            if not event.enabled:
                continue
            function_id = spec.logical_id
            scheduler = Scheduler(
                functools.partial(self.functions.invoke, function_id),
                event.expression,
                schedule_type=event.type,
                name=f"{function_id}-{event.name}",
                interval=self.schedule_interval,
                region=self.region,
                account_id=self.template.account_id,
                input=event.input,
            )
            scheduler.start()
            self.schedulers.append(scheduler)

    # ---- use ----------------------------------------------------------------------------------------------------

    @property
    def worker(self) -> SqsWorker | None:
        return self.workers[0] if self.workers else None

    @property
    def scheduler(self) -> Scheduler | None:
        return self.schedulers[0] if self.schedulers else None

    def invoke(self, function_logical_id: str, event: Any) -> Any:
        return self.functions.invoke(function_logical_id, event)

    def drain(self, timeout: float = 30.0, settle: float = 0.3) -> bool:
        """Wait until every event-source queue is empty (nothing visible or in flight) and no webhook is being
        answered. False on timeout."""
        deadline = time.monotonic() + timeout

        def gateway_busy() -> bool:
            return self.gateway.in_flight > 0

        if not self.workers:
            while time.monotonic() < deadline:
                if not gateway_busy():
                    return True
                time.sleep(0.05)
            return False
        for worker in self.workers:
            remaining = max(0.0, deadline - time.monotonic())
            if not worker.drain(remaining, settle, busy=gateway_busy):
                return False
        return True

    def queue_url(self, logical_id: str) -> str:
        return self.resources.queues[logical_id].url

    def table_name(self, logical_id: str) -> str:
        return self.resources.tables[logical_id]

    def api_url(self, function_logical_id: str, **path_parameters: str) -> str | None:
        """The gateway URL of a function's first Api event, with its path parameters filled in."""
        if function_logical_id not in self.functions.specs:
            return None
        events = self.functions.specs[function_logical_id].events_of(ApiEvent)
        if not events:
            return None
        path = events[0].path
        for name, value in path_parameters.items():
            path = path.replace("{" + name + "}", value).replace("{" + name + "+}", value)
        return self.gateway.url(path)

    @property
    def kommo_webhook_url(self) -> str | None:
        return self.api_url(KOMMO_WEBHOOK_FUNCTION, token=self.credentials["kommo_webhook_token"])

    @property
    def xero_webhook_url(self) -> str | None:
        return self.api_url(XERO_WEBHOOK_FUNCTION)

    @property
    def urls(self) -> dict[str, str]:
        urls: dict[str, str] = {"gateway": self.gateway.base_url}
        if self.kommo_webhook_url:
            urls["kommo_webhook"] = self.kommo_webhook_url
        if self.xero_webhook_url:
            urls["xero_webhook"] = self.xero_webhook_url
        if self.aws.endpoint_url:
            urls["moto"] = self.aws.endpoint_url
        if self.kommo is not None:
            urls["kommo_sandbox"] = self.env.get("KOMMO_BASE_URL", "")
        if self.xero is not None:
            urls["xero_api"] = self.env.get("XERO_API_URL", "")
            urls["xero_identity"] = self.env.get("XERO_IDENTITY_URL", "")
        return urls


def _safe_attr(obj: Any, name: str) -> str | None:
    """A URL attribute of a sandbox, or None (missing, or not available before it serves)."""
    try:
        value = getattr(obj, name, None)
    except Exception:
        return None
    return str(value).rstrip("/") if isinstance(value, str) and value else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_on(sandbox: Any, port: int) -> str:
    """Start a sandbox on the chosen port (or on its own choice when ``start`` takes no port)."""
    try:
        url = sandbox.start(port=port)
    except TypeError:
        url = sandbox.start()
    return str(url).rstrip("/")


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception as exc:  # stopping must go on
        log.warning("while stopping: %s", exc)
