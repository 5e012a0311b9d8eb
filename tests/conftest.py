"""Shared test helpers: repository paths, event files, and a clean product runtime per test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
DEV_CREDENTIALS: dict[str, str] = json.loads((EVENTS / "dev-credentials.json").read_text())


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def _fresh_runtime() -> Any:
    """The layer caches configuration and clients per cold start; every test starts cold."""
    from aws_lambda_powertools.utilities import parameters

    from kommo_xero_sync import runtime

    runtime.reset_runtime()
    parameters.clear_caches()
    yield
    runtime.reset_runtime()
    parameters.clear_caches()
