"""The local API Gateway: proxy events (v1) from HTTP requests, and proxy responses back to HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from ls_support import FIXTURES

from local_stack.gateway import ApiGateway, Route, is_text_content_type, proxy_response
from local_stack.lambdas import FunctionRegistry
from local_stack.template import ApiEvent, Template


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.response: Any = {"statusCode": 200, "body": "ok"}
        self.raises: Exception | None = None

    def __call__(self, function_id: str, event: dict[str, Any]) -> Any:
        self.events.append((function_id, event))
        if self.raises is not None:
            raise self.raises
        return self.response


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def gateway(recorder: Recorder) -> Iterator[ApiGateway]:
    routes = [
        Route.build("Kommo", ApiEvent("Webhook", "/webhooks/kommo/{token}", "POST")),
        Route.build("Xero", ApiEvent("Webhook", "/webhooks/xero", "POST")),
        Route.build("Proxy", ApiEvent("Any", "/files/{proxy+}", "ANY")),
    ]
    gw = ApiGateway(routes, recorder, stage="dev")
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def test_path_parameters_and_event_shape(gateway: ApiGateway, recorder: Recorder) -> None:
    response = requests.post(
        gateway.url("/webhooks/kommo/s3cr%C3%A9t-tok?x=1&x=2&y=3"),
        data=b"leads%5Bstatus%5D%5B0%5D%5Bid%5D=1000001",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Custom": "v"},
        timeout=5,
    )
    assert response.status_code == 200 and response.text == "ok"
    function_id, event = recorder.events[-1]
    assert function_id == "Kommo"
    assert event["resource"] == "/webhooks/kommo/{token}"
    assert event["path"] == "/webhooks/kommo/s3crét-tok"
    assert event["pathParameters"] == {"token": "s3crét-tok"}
    assert event["httpMethod"] == "POST"
    assert event["queryStringParameters"] == {"x": "2", "y": "3"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": ["3"]}
    assert event["headers"]["X-Custom"] == "v" and event["multiValueHeaders"]["X-Custom"] == ["v"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["stageVariables"] is None
    assert event["body"] == "leads%5Bstatus%5D%5B0%5D%5Bid%5D=1000001" and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "dev" and context["resourcePath"] == "/webhooks/kommo/{token}"
    assert context["httpMethod"] == "POST" and context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["path"].startswith("/dev/webhooks/kommo/")
    assert context["requestId"] and isinstance(context["requestTimeEpoch"], int)


def test_greedy_and_stage_prefix(gateway: ApiGateway, recorder: Recorder) -> None:
    assert requests.get(gateway.url("/files/a/b/c.txt"), timeout=5).status_code == 200
    assert recorder.events[-1][1]["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert requests.post(gateway.url("/dev/webhooks/xero"), data="{}", timeout=5).status_code == 200
    function_id, event = recorder.events[-1]
    assert function_id == "Xero" and event["path"] == "/webhooks/xero"
    assert event["requestContext"]["path"] == "/dev/webhooks/xero"
    assert event["pathParameters"] is None and event["queryStringParameters"] is None


def test_raw_body_preserved_byte_for_byte(gateway: ApiGateway, recorder: Recorder) -> None:
    raw = '{"events":[{"resourceId":"ü€😀"}],  "firstEventSequence": 1 }\n'.encode()
    requests.post(gateway.url("/webhooks/xero"), data=raw, headers={"Content-Type": "application/json"}, timeout=5)
    event = recorder.events[-1][1]
    assert event["isBase64Encoded"] is False
    assert event["body"].encode("utf-8") == raw


def test_binary_body_is_base64(gateway: ApiGateway, recorder: Recorder) -> None:
    raw = bytes(range(256))
    requests.post(
        gateway.url("/webhooks/xero"), data=raw, headers={"Content-Type": "application/octet-stream"}, timeout=5
    )
    event = recorder.events[-1][1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    # text type but not UTF-8: still preserved (base64)
    requests.post(gateway.url("/webhooks/xero"), data=b"\xff\xfe", headers={"Content-Type": "text/plain"}, timeout=5)
    event = recorder.events[-1][1]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\xfe"
    # empty body: null, like API Gateway
    requests.post(gateway.url("/webhooks/xero"), timeout=5)
    assert recorder.events[-1][1]["body"] is None


def test_content_type_classification() -> None:
    assert is_text_content_type("application/json; charset=utf-8")
    assert is_text_content_type("application/x-www-form-urlencoded")
    assert is_text_content_type("text/html")
    assert is_text_content_type("application/vnd.api+json")
    assert not is_text_content_type("application/octet-stream")
    assert not is_text_content_type("image/png")


def test_response_mapping(gateway: ApiGateway, recorder: Recorder) -> None:
    recorder.response = {
        "statusCode": 418,
        "headers": {"X-One": "1", "Set-Cookie": "ignored"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": "I'm a teapot ☕",
        "isBase64Encoded": False,
    }
    response = requests.post(gateway.url("/webhooks/xero"), data="{}", timeout=5)
    assert response.status_code == 418
    assert response.headers["X-One"] == "1"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.content == "I'm a teapot ☕".encode()
    recorder.response = {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    assert requests.post(gateway.url("/webhooks/xero"), timeout=5).content == b"\x00\x01"
    recorder.response = {"statusCode": 204}
    response = requests.post(gateway.url("/webhooks/xero"), timeout=5)
    assert response.status_code == 204 and response.content == b""


def test_not_found_and_method_mismatch(gateway: ApiGateway, recorder: Recorder) -> None:
    assert requests.post(gateway.url("/nope"), timeout=5).status_code == 404
    assert requests.get(gateway.url("/webhooks/xero"), timeout=5).status_code == 404
    assert requests.post(gateway.url("/webhooks/kommo/"), timeout=5).status_code == 404
    assert recorder.events == []


def test_handler_error_is_502(gateway: ApiGateway, recorder: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    recorder.raises = RuntimeError("boom")
    response = requests.post(gateway.url("/webhooks/xero"), timeout=5)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert "boom" in caplog.text
    recorder.raises = None
    for bad in ("just a string", {"statusCode": "abc"}, {"statusCode": 200, "body": {"not": "a string"}}, [1]):
        recorder.response = bad
        assert requests.post(gateway.url("/webhooks/xero"), timeout=5).status_code == 502


def test_proxy_response_defaults() -> None:
    response = proxy_response({"body": "x"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"


def test_with_real_handlers(fixture_template: Template) -> None:
    registry = FunctionRegistry(fixture_template.functions, FIXTURES, [FIXTURES / "layers/fake"])
    gateway = ApiGateway.from_functions(fixture_template.functions, registry.invoke, stage="test")
    gateway.start()
    try:
        response = requests.post(gateway.url("/hooks/a/tok"), json={"a": 1}, timeout=5)
        assert response.status_code == 201 and response.headers["X-Who"] == "echo_a"
        body = response.json()
        assert body["event"]["pathParameters"] == {"token": "tok"}
        assert json.loads(body["event"]["body"]) == {"a": 1}
        assert requests.put(gateway.url("/hooks/b"), data="x", timeout=5).json()["who"] == "echo_b"  # ANY
        assert requests.post(gateway.url("/hooks/a/tok"), headers={"X-Raise": "1"}, timeout=5).status_code == 502
        assert requests.post(gateway.url("/hooks/a/t"), headers={"X-Bad-Response": "1"}, timeout=5).status_code == 502
    finally:
        gateway.stop()
