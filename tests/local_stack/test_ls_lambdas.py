"""Loading handlers like the Lambda runtime: unique module names, cold start once, faithful context."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from ls_support import FIXTURES

from local_stack.lambdas import FunctionRegistry, HandlerLoadError, InvocationTimeout, LambdaContext, MarshalError
from local_stack.template import FunctionSpec, Template


@pytest.fixture
def registry(fixture_template: Template) -> FunctionRegistry:
    return FunctionRegistry(fixture_template.functions, FIXTURES, [FIXTURES / "layers/fake"])


def _body(result: dict) -> dict:
    import json

    return json.loads(result["body"])


def test_two_app_modules_do_not_clash(registry: FunctionRegistry) -> None:
    a = _body(registry.invoke("EchoAFunction", {"n": 1}))
    b = _body(registry.invoke("EchoBFunction", {"n": 2}))
    assert (a["who"], b["who"]) == ("echo_a", "echo_b")  # each app imported its own sibling `helpers`
    assert a["module"] != b["module"]
    assert a["module"].endswith(".app") and b["module"].endswith(".app")
    assert a["layer"] == b["layer"] == "fixture_layer"  # the layer is importable, like /opt/python
    assert "app" not in sys.modules or getattr(sys.modules["app"], "__file__", "").find("fixtures") < 0
    assert "helpers" not in sys.modules
    assert a["event"] == {"n": 1}


def test_cold_start_once_per_function(registry: FunctionRegistry) -> None:
    first = _body(registry.invoke("EchoAFunction", {}))
    second = _body(registry.invoke("EchoAFunction", {}))
    assert first["cold_starts"] == second["cold_starts"] == 1
    assert registry.load("EchoAFunction") is registry.load("EchoAFunction")
    assert registry.invocations["EchoAFunction"] == 2


def test_context_from_template(registry: FunctionRegistry) -> None:
    body = _body(registry.invoke("EchoBFunction", {}))
    assert body["function_name"] == "EchoBFunction-local"
    assert body["memory"] == "512"  # a string, as the Python runtime gives it
    assert 1500 < body["remaining"] <= 2000  # Timeout: 2


def test_context_countdown() -> None:
    now = [100.0]
    context = LambdaContext("F", 256, timeout_s=5, clock=lambda: now[0])
    assert context.get_remaining_time_in_millis() == 5000
    now[0] += 1.25
    assert context.get_remaining_time_in_millis() == 3750
    now[0] += 10
    assert context.get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:F"
    assert context.log_group_name == "/aws/lambda/F"
    real = LambdaContext("F", 128, timeout_s=1)
    time.sleep(0.05)
    assert real.get_remaining_time_in_millis() < 1000
    assert LambdaContext("F", 1, 1).aws_request_id != real.aws_request_id


def _spec(tmp_path: Path, source: str, timeout: int = 3, handler: str = "app.handler") -> FunctionSpec:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text(source)
    return FunctionSpec("Tmp", "fn/", handler, "python3.13", timeout, 128, [])


def test_runtime_errors(tmp_path: Path) -> None:
    marshal = FunctionRegistry([_spec(tmp_path, "def handler(e, c):\n    return {1, 2}\n")], tmp_path)
    with pytest.raises(MarshalError):
        marshal.invoke("Tmp", {})
    missing = FunctionRegistry([_spec(tmp_path, "x = 1\n")], tmp_path)
    with pytest.raises(HandlerLoadError, match="HandlerNotFound"):
        missing.invoke("Tmp", {})
    broken = FunctionRegistry([_spec(tmp_path, "import no_such_module_here\n")], tmp_path)
    with pytest.raises(HandlerLoadError, match="ImportModuleError"):
        broken.invoke("Tmp", {})
    nofile = FunctionRegistry([FunctionSpec("Tmp", "nowhere/", "app.handler", None, 3, 128, [])], tmp_path)
    assert not nofile.has_code("Tmp")
    with pytest.raises(HandlerLoadError):
        nofile.invoke("Tmp", {})


def test_timeout_reported(tmp_path: Path) -> None:
    slow = FunctionRegistry(
        [_spec(tmp_path, "import time\ndef handler(e, c):\n    time.sleep(1.1)\n    return 1\n", timeout=1)], tmp_path
    )
    with pytest.raises(InvocationTimeout, match="Task timed out"):
        slow.invoke("Tmp", {})
    assert slow.errors["Tmp"] == 1


def test_event_is_a_json_copy(tmp_path: Path) -> None:
    registry = FunctionRegistry([_spec(tmp_path, "def handler(e, c):\n    e['x'].append(2)\n    return e\n")], tmp_path)
    event = {"x": [1]}
    assert registry.invoke("Tmp", event) == {"x": [1, 2]}
    assert event == {"x": [1]}
