"""Fixtures for the Xero sandbox tests: a started sandbox on a fixed clock and an authenticated client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from xero_support import CLIENT_ID, CLIENT_SECRET

from sandbox.common import Clock
from sandbox.xero import DEMO_TENANT_ID, XeroSandbox
from sandbox.xero.testing import XeroClient


@pytest.fixture
def clock() -> Clock:
    return Clock(start=datetime(2026, 3, 10, 9, 0, tzinfo=UTC))


@pytest.fixture
def xero(clock: Clock) -> Iterator[XeroSandbox]:
    sandbox = XeroSandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, webhook_batch_window=0.05, random_seed=7
    )
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def api(xero: XeroSandbox) -> XeroClient:
    client = XeroClient(xero.base_url, CLIENT_ID, CLIENT_SECRET, DEMO_TENANT_ID)
    client.authenticate()
    return client
