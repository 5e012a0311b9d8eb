"""Fixtures: a started demo sandbox, an authorised client, and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kommo_support import TOKEN, Api, Receiver

from sandbox.common import Clock, ServerThread
from sandbox.kommo import KommoSandbox


@pytest.fixture(scope="session")
def shared_receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = ServerThread(rec)
    rec.url = server.start() + "/hooks/kommo/secret-token"
    yield rec
    server.stop()


@pytest.fixture
def receiver(shared_receiver: Receiver) -> Receiver:
    """A webhook receiver on 127.0.0.1 answering 200 (set ``statuses`` / ``delay_s`` to change that)."""
    shared_receiver.statuses = [200]
    shared_receiver.delay_s = 0.0
    shared_receiver.requests.clear()
    return shared_receiver


@pytest.fixture(scope="session")
def shared_kommo() -> Iterator[KommoSandbox]:
    """One demo sandbox for the session (starting and stopping a server costs ~0.5 s); ``kommo`` resets it."""
    sandbox = KommoSandbox(token=TOKEN, seed="demo", clock=Clock(), rate_limit_rps=None)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def kommo(shared_kommo: KommoSandbox) -> Iterator[KommoSandbox]:
    """The shared sandbox, back at the demo seed with no webhooks, faults, counters or deliveries."""
    for hook in shared_kommo.list_webhooks():
        shared_kommo.remove_webhook(hook["destination"])
    shared_kommo.reset()
    yield shared_kommo
    shared_kommo.wait_for_deliveries(5)
    shared_kommo.faults.clear()


@pytest.fixture
def clock(kommo: KommoSandbox) -> Clock:
    return kommo.clock


@pytest.fixture
def api(kommo: KommoSandbox) -> Api:
    return Api(kommo.base_url)
