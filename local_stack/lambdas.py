"""Load and invoke the handlers the way the Lambda Python runtime does, several functions in one process.

For ``CodeUri: functions/x/`` and ``Handler: app.lambda_handler`` the module ``app`` is loaded from that directory
with the directory first on ``sys.path`` and the layer directory (``layers/common``, i.e. ``/opt/python``) after it.
Every function has a module called ``app``, so each is registered under its own unique module name
(``_lambda_<LogicalId>.app``); modules the handler imports from its own directory are renamed the same way, so two
functions never share one by accident. A loaded handler is cached: one cold start per function, then warm.

What differs from Lambda (one process for all functions): the layer package is imported once and shared; the
environment is the process environment (all functions share Globals anyway); a timeout cannot kill the handler's
thread, so the invocation is reported as timed out (error) when it returns after its deadline.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from local_stack.template import DEFAULT_ACCOUNT_ID, FunctionSpec

log = logging.getLogger("local_stack.lambdas")


class HandlerLoadError(RuntimeError):
    """Runtime.ImportModuleError / Runtime.HandlerNotFound."""


class InvocationTimeout(RuntimeError):
    """The handler returned after the function's Timeout: Lambda would have reported "Task timed out"."""


class MarshalError(RuntimeError):
    """Runtime.MarshalError: the handler's result is not JSON serializable."""


class LambdaContext:
    """The context object of the Python runtime (awslambdaric's LambdaContext), with a real countdown."""

    def __init__(
        self,
        function_name: str,
        memory_limit_in_mb: int,
        timeout_s: float,
        region: str = "eu-west-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        request_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        # The real runtime reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE, so this is a string there too.
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._clock = clock
        self._deadline = clock() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},invoked_function_arn={self.invoked_function_arn}])"
        )


@dataclass
class LoadedFunction:
    spec: FunctionSpec
    module: ModuleType
    handler: Callable[[Any, Any], Any]
    module_name: str


def _unique_prefix(logical_id: str) -> str:
    return "_lambda_" + "".join(ch if ch.isalnum() else "_" for ch in logical_id)


class FunctionRegistry:
    """The template's functions, loaded lazily from ``code_root`` and invoked with a fresh context each time."""

    def __init__(
        self,
        functions: Iterable[FunctionSpec],
        code_root: Path,
        layer_dirs: Iterable[Path] = (),
        region: str = "eu-west-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        enforce_timeout: bool = True,
    ) -> None:
        self.specs: dict[str, FunctionSpec] = {spec.logical_id: spec for spec in functions}
        self.code_root = Path(code_root).resolve()
        self.layer_dirs = [Path(p).resolve() for p in layer_dirs]
        self.region = region
        self.account_id = account_id
        self.enforce_timeout = enforce_timeout
        self._loaded: dict[str, LoadedFunction] = {}
        self._lock = threading.Lock()  # imports are serialized (sys.path / sys.modules juggling)
        self._counts_lock = threading.Lock()
        self.invocations: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    def code_dir(self, logical_id: str) -> Path:
        return (self.code_root / self.specs[logical_id].code_uri).resolve()

    def has_code(self, logical_id: str) -> bool:
        spec = self.specs[logical_id]
        module_path, _, _ = spec.handler.rpartition(".")
        return (self.code_dir(logical_id) / (module_path.replace(".", "/") + ".py")).is_file()

    def load(self, logical_id: str) -> LoadedFunction:
        """Cold start (once per function): import the handler module under a unique name."""
        if logical_id not in self.specs:
            raise KeyError(f"no function {logical_id} in the template")
        with self._lock:
            loaded = self._loaded.get(logical_id)
            if loaded is None:
                loaded = self._import(self.specs[logical_id])
                self._loaded[logical_id] = loaded
            return loaded

    def _import(self, spec: FunctionSpec) -> LoadedFunction:
        code_dir = self.code_dir(spec.logical_id)
        module_path, _, function_name = spec.handler.rpartition(".")
        if not module_path or not function_name:
            raise HandlerLoadError(f"{spec.logical_id}: bad handler {spec.handler!r} (expected module.function)")
        source = code_dir / (module_path.replace(".", "/") + ".py")
        if not source.is_file():
            raise HandlerLoadError(
                f"{spec.logical_id}: Runtime.ImportModuleError: no module {module_path!r} in {code_dir}"
            )
        for layer in self.layer_dirs:  # like /opt/python: after the function's own directory
            if str(layer) not in sys.path:
                sys.path.append(str(layer))
        prefix = _unique_prefix(spec.logical_id)
        unique_name = f"{prefix}.{module_path}"
        if prefix not in sys.modules:
            package = ModuleType(prefix)
            package.__path__ = []
            sys.modules[prefix] = package
        before = set(sys.modules)
        sys.path.insert(0, str(code_dir))
        try:
            module_spec = importlib.util.spec_from_file_location(unique_name, source)
            if module_spec is None or module_spec.loader is None:
                raise HandlerLoadError(f"{spec.logical_id}: cannot load {source}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[unique_name] = module
            try:
                module_spec.loader.exec_module(module)
            except Exception as exc:
                sys.modules.pop(unique_name, None)
                raise HandlerLoadError(f"{spec.logical_id}: Runtime.ImportModuleError: {exc!r}") from exc
        finally:
            try:
                sys.path.remove(str(code_dir))
            except ValueError:  # pragma: no cover - the handler removed it itself
                pass
            self._isolate_local_modules(code_dir, prefix, before)
        handler = getattr(module, function_name, None)
        if not callable(handler):
            raise HandlerLoadError(f"{spec.logical_id}: Runtime.HandlerNotFound: {spec.handler}")
        log.info("cold start %s (%s from %s)", spec.logical_id, spec.handler, code_dir)
        return LoadedFunction(spec, module, handler, unique_name)

    @staticmethod
    def _isolate_local_modules(code_dir: Path, prefix: str, before: set[str]) -> None:
        """Move modules imported from the function's own directory under its unique prefix."""
        for name in set(sys.modules) - before:
            module = sys.modules.get(name)
            origin = getattr(module, "__file__", None)
            if name.startswith(prefix + ".") or not origin:
                continue
            try:
                Path(origin).resolve().relative_to(code_dir)
            except ValueError:
                continue
            sys.modules[f"{prefix}.{name}"] = sys.modules.pop(name)

    def context(self, logical_id: str, request_id: str | None = None) -> LambdaContext:
        spec = self.specs[logical_id]
        return LambdaContext(
            spec.function_name, spec.memory_size, spec.timeout, self.region, self.account_id, request_id
        )

    def invoke(self, logical_id: str, event: Any, request_id: str | None = None) -> Any:
        """Synchronous invoke (RequestResponse). Raises what the handler raises, or the runtime errors above."""
        loaded = self.load(logical_id)
        payload = json.loads(json.dumps(event))  # the handler gets a copy decoded from JSON, as in Lambda
        context = self.context(logical_id, request_id)
        with self._counts_lock:
            self.invocations[logical_id] = self.invocations.get(logical_id, 0) + 1
        started = time.monotonic()
        try:
            result = loaded.handler(payload, context)
            if self.enforce_timeout and time.monotonic() - started > loaded.spec.timeout:
                raise InvocationTimeout(
                    f"{context.aws_request_id} Task timed out after {loaded.spec.timeout:.2f} seconds"
                )
            try:
                return json.loads(json.dumps(result))
            except (TypeError, ValueError) as exc:
                raise MarshalError(f"Runtime.MarshalError: Unable to marshal response: {exc}") from exc
        except Exception:
            with self._counts_lock:
                self.errors[logical_id] = self.errors.get(logical_id, 0) + 1
            raise

    def functions_with(self, kind: type) -> list[tuple[FunctionSpec, Any]]:
        """(function, event) pairs for every event of the given type (ApiEvent, SqsEvent, ScheduleEvent)."""
        return [(spec, event) for spec in self.specs.values() for event in spec.events_of(kind)]


def invoke(registry: FunctionRegistry, function_logical_id: str, event: Mapping[str, Any] | Any) -> Any:
    return registry.invoke(function_logical_id, event)
