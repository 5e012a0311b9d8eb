"""The deal claim over moto (server mode): one winner, expired claims taken over and reported as such."""

from __future__ import annotations

import pytest

from kommo_xero_sync.dal.store import CLAIM_SECONDS, SyncStore
from local_stack.stack import LocalStack
from tests.conftest import DEV_CREDENTIALS


@pytest.fixture(scope="module")
def table_name():
    with LocalStack(credentials=DEV_CREDENTIALS, start_sandboxes=False, start_worker=False, start_scheduler=False) as s:
        yield s.table_name("SyncTable")


def test_second_claim_loses_while_the_first_holds(table_name):
    store = SyncStore(table_name)
    first = store.claim_deal(11, job_key="a")
    second = store.claim_deal(11, job_key="b")
    assert first.claimed and not first.took_over
    assert not second.claimed and second.existing["claim_token"] == first.token


def test_expired_claim_is_taken_over_and_said_so(table_name):
    now = [1_000_000.0]
    store = SyncStore(table_name, clock=lambda: now[0])
    first = store.claim_deal(12, job_key="a")
    now[0] += CLAIM_SECONDS + 1
    second = store.claim_deal(12, job_key="b")
    assert second.claimed and second.took_over and second.token != first.token
    assert not store.complete_link(12, first.token, {"invoice_id": "inv-12"}, origin="kommo")
    assert store.complete_link(12, second.token, {"invoice_id": "inv-12"}, origin="kommo")
    assert store.get_invoice_link("inv-12")["lead_id"] == 12


def test_linked_deal_is_never_claimed_again(table_name):
    now = [2_000_000.0]
    store = SyncStore(table_name, clock=lambda: now[0])
    claim = store.claim_deal(13, job_key="a")
    assert store.complete_link(13, claim.token, {"invoice_id": "inv-13"}, origin="kommo")
    now[0] += 10 * CLAIM_SECONDS
    again = store.claim_deal(13, job_key="b")
    assert not again.claimed and again.existing["invoice_id"] == "inv-13"
