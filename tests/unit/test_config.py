import json

import pytest

from kommo_xero_sync.config import load_config, parse_mapping
from kommo_xero_sync.exceptions import ConfigError
from tests.unit.conftest import ROOT

DOC = (ROOT / "config" / "mapping.demo.json").read_text()
ENV = {
    "KOMMO_SUBDOMAIN": "demo",
    "SYNC_TABLE": "sync-table",
    "IDEMPOTENCY_TABLE": "idem-table",
    "JOBS_QUEUE_URL": "http://127.0.0.1:5000/123456789012/jobs",
    "CREDENTIALS_SECRET": "kommo-xero-sync/credentials",
    "MAPPING_PARAMETER": "/kommo-xero-sync/mapping",
    "XERO_API_URL": "http://127.0.0.1:8001/api.xro/2.0",
    "XERO_IDENTITY_URL": "http://127.0.0.1:8001",
    "KOMMO_BASE_URL": "",
}


def test_loads_env_and_mapping_parameter():
    asked = []
    config = load_config(ENV, lambda name: asked.append(name) or DOC)
    assert asked == ["/kommo-xero-sync/mapping"]
    assert config.settings.kommo_origin == "https://demo.kommo.com"
    assert config.settings.xero_connections_url == "http://127.0.0.1:8001/connections"
    assert config.settings.xero_token_url == "http://127.0.0.1:8001/connect/token"
    assert config.mapping.is_trigger(7000002, 7200003)
    assert not config.mapping.is_trigger(7000001, 7200003)


def test_inline_mapping_document_wins_and_endpoints_can_be_overridden():
    env = {**ENV, "MAPPING_DOCUMENT": DOC, "KOMMO_BASE_URL": "http://127.0.0.1:9000"}
    config = load_config(env, lambda name: pytest.fail("must not read SSM"))
    assert config.settings.kommo_origin == "http://127.0.0.1:9000"


def test_missing_env_key_is_named():
    env = {k: v for k, v in ENV.items() if k != "SYNC_TABLE"}
    with pytest.raises(ConfigError, match="SYNC_TABLE"):
        load_config(env, lambda name: DOC)


def test_wrong_mapping_value_is_named_with_expectation():
    raw = json.loads(DOC)
    raw["xero"]["invoice_status"] = "PAID"
    with pytest.raises(ConfigError, match=r"xero\.invoice_status.*'DRAFT', 'SUBMITTED' or 'AUTHORISED'"):
        parse_mapping(json.dumps(raw))


def test_missing_mapping_key_is_named():
    raw = json.loads(DOC)
    del raw["kommo"]["triggers"]
    with pytest.raises(ConfigError, match=r"kommo\.triggers: Field required"):
        parse_mapping(json.dumps(raw))


def test_unknown_mapping_key_is_rejected():
    raw = json.loads(DOC)
    raw["xero"]["invoice_sttaus"] = "DRAFT"
    with pytest.raises(ConfigError, match="invoice_sttaus"):
        parse_mapping(json.dumps(raw))


def test_not_json():
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_mapping("{nope")


def test_subdomain_mismatch():
    with pytest.raises(ConfigError, match="does not match KOMMO_SUBDOMAIN"):
        load_config({**ENV, "KOMMO_SUBDOMAIN": "other"}, lambda name: DOC)
