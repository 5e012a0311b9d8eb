"""Contract fixtures: Xero's official OpenAPI documents, loaded once per session, and validators built from them.

The specs live beside the repository (``<repo>/../shared/reference/xero-openapi``); tests skip only when that folder
is absent. Validation uses openapi-schema-validator's OAS 3.0 read validator (handles ``nullable``, ``readOnly``, the
``x-*`` extensions) with ``$ref`` resolved against the whole document, plus a strictness check of our own: every key
the sandbox writes must be declared in the schema (the specs never set ``additionalProperties: false``, so without
this a misspelt field would pass). Undeclared keys that Xero itself sends are allowed by name (see ``XERO_EXTRAS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT.parent / "shared/reference/xero-openapi"

# Keys Xero sends that the schemas do not declare (all appear in the spec's own examples):
# the response envelope, DateString/DueDateString on documents, ID on a credit note, ValidationErrors on a line item.
XERO_EXTRAS = {"Id", "Status", "ProviderName", "DateTimeUTC", "DateString", "DueDateString", "ID", "ValidationErrors"}

Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(name: str) -> dict[str, Any]:
    if not SPEC_DIR.is_dir():
        pytest.skip(f"Xero OpenAPI specs not found at {SPEC_DIR} (the shared reference folder is absent)")
    return yaml.load((SPEC_DIR / name).read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506 (safe loader)


@pytest.fixture(scope="session")
def accounting_spec() -> dict[str, Any]:
    return _load("xero_accounting.yaml")


@pytest.fixture(scope="session")
def webhooks_spec() -> dict[str, Any]:
    return _load("xero-webhooks.yaml")


@pytest.fixture(scope="session")
def identity_spec() -> dict[str, Any]:
    return _load("xero-identity.yaml")


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def undeclared_keys(spec: dict[str, Any], schema: dict[str, Any], instance: Any, path: str = "$") -> list[str]:
    """Paths of object keys that the (resolved) schema does not declare."""
    schema = _resolve(spec, schema)
    found: list[str] = []
    if isinstance(instance, dict):
        props: dict[str, Any] = dict(schema.get("properties", {}))
        for sub in schema.get("allOf", []):
            props.update(_resolve(spec, sub).get("properties", {}))
        if not props:
            return found
        for key, value in instance.items():
            if key in props:
                found += undeclared_keys(spec, props[key], value, f"{path}.{key}")
            elif key not in XERO_EXTRAS:
                found.append(f"{path}.{key}")
    elif isinstance(instance, list) and "items" in schema:
        for i, value in enumerate(instance):
            found += undeclared_keys(spec, schema["items"], value, f"{path}[{i}]")
    return found


def _element_union(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    props: dict[str, Any] = {}
    for name in ("Invoice", "Contact", "Payment", "CreditNote", "Allocation", "Element"):
        props.update(schemas[name]["properties"])
    return {"type": "object", "properties": props}


@pytest.fixture(scope="session")
def check_accounting(accounting_spec: dict[str, Any]) -> Callable[[Any, str], None]:
    """``check_accounting(body, "Invoices")``: validate a response body against ``components/schemas/<name>``."""
    from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    registry: Registry[Any] = Registry().with_resource(
        "urn:xero-accounting", Resource.from_contents(accounting_spec, default_specification=DRAFT4)
    )
    cache: dict[str, Any] = {}

    def check(body: Any, schema_name: str) -> None:
        validator = cache.get(schema_name)
        if validator is None:
            validator = OAS30ReadValidator(
                {"$ref": f"urn:xero-accounting#/components/schemas/{schema_name}"},
                registry=registry,
                format_checker=oas30_format_checker,
            )
            cache[schema_name] = validator
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{schema_name} does not match the official schema:\n" + "\n".join(errors[:20])
        if schema_name == "Error":
            # Xero echoes the rejected object in each element (X7: Name, HasValidationErrors... on a contact), so an
            # element may carry the keys of Element and of the resource it stands for.
            extra = []
            for i, element in enumerate(body.get("Elements") or []):
                extra += undeclared_keys(accounting_spec, _element_union(accounting_spec), element, f"$.Elements[{i}]")
        else:
            extra = undeclared_keys(accounting_spec, {"$ref": f"#/components/schemas/{schema_name}"}, body)
        assert not extra, f"{schema_name}: keys not declared in the official schema: {extra[:20]}"

    return check


@pytest.fixture
def xero_sandbox() -> Iterator[Any]:
    from sandbox.common import Clock
    from sandbox.xero import XeroSandbox

    sandbox = XeroSandbox(
        client_id="CONTRACT", client_secret="contract-secret", clock=Clock(), webhook_batch_window=0.05
    )
    with sandbox:
        yield sandbox


@pytest.fixture
def xero_api(xero_sandbox: Any) -> Any:
    from sandbox.xero.testing import XeroClient

    client = XeroClient(xero_sandbox.base_url, "CONTRACT", "contract-secret", xero_sandbox.tenant_id)
    client.authenticate()
    return client
