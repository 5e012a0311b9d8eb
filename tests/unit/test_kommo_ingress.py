from urllib.parse import urlencode

import pytest

from kommo_xero_sync.exceptions import WebhookRejected
from kommo_xero_sync.logic.kommo_ingress import extract_stage_changes, handle_kommo_webhook, parse_form
from tests.unit.conftest import FakeQueue

TOKEN = "t" * 32


def body(leads, account_id="31000001", subdomain="demo", action="status"):
    pairs = []
    for i, lead in enumerate(leads):
        for key, value in lead.items():
            pairs.append((f"leads[{action}][{i}][{key}]", str(value)))
    pairs += [
        ("account[subdomain]", subdomain),
        ("account[id]", account_id),
        ("account[_links][self]", "https://demo.kommo.com"),
    ]
    return urlencode(pairs)


def lead(lead_id, status=7100004, pipeline=7000001, modified=1726572758):
    return {
        "id": lead_id,
        "status_id": status,
        "pipeline_id": pipeline,
        "old_status_id": 7100003,
        "last_modified": modified,
    }


def call(raw, dedup, queue, mapping, token=TOKEN):
    return handle_kommo_webhook(
        path_token=token, body=raw, webhook_token=TOKEN, mapping=mapping, dedup=dedup, queue=queue
    )


def test_parses_documented_example_shape():
    raw = (
        "leads%5Bstatus%5D%5B0%5D%5Bid%5D=15318175&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=142"
        "&leads%5Bstatus%5D%5B0%5D%5Bpipeline_id%5D=8572511&leads%5Bstatus%5D%5B0%5D%5Bold_status_id%5D=67548607"
        "&leads%5Bstatus%5D%5B1%5D%5Bid%5D=15318176&leads%5Bstatus%5D%5B1%5D%5Bstatus_id%5D=142"
        "&leads%5Bstatus%5D%5B1%5D%5Bpipeline_id%5D=8572511&account%5Bsubdomain%5D=test&account%5Bid%5D=12345678"
    )
    changes = extract_stage_changes(parse_form(raw))
    assert [(c.lead_id, c.status_id, c.pipeline_id) for c in changes] == [
        (15318175, 142, 8572511),
        (15318176, 142, 8572511),
    ]
    assert changes[0].old_status_id == 67548607


def test_every_index_of_a_bulk_move_becomes_a_job(dedup, queue, mapping):
    result = call(body([lead(1000000 + i) for i in range(120)]), dedup, queue, mapping)
    assert result.accepted == 120
    assert sorted(j.lead_id for j in queue.sent) == [1000000 + i for i in range(120)]


def test_non_trigger_stages_are_acknowledged_and_ignored(dedup, queue, mapping):
    result = call(body([lead(1, status=7100002), lead(2)]), dedup, queue, mapping)
    assert (result.accepted, result.ignored) == (1, 1)
    assert [j.lead_id for j in queue.sent] == [2]


def test_add_and_update_items_with_a_status_count(dedup, queue, mapping):
    raw = body([lead(5)], action="update") + "&" + body([lead(6)], action="add").split("&account")[0]
    result = call(raw, dedup, queue, mapping)
    assert sorted(j.lead_id for j in queue.sent) == [5, 6]
    assert result.accepted == 2


def test_duplicate_delivery_makes_one_job(dedup, queue, mapping):
    raw = body([lead(7)])
    first = call(raw, dedup, queue, mapping)
    second = call(raw, dedup, queue, mapping)
    third = call(body([lead(7)], action="update"), dedup, queue, mapping)
    assert (first.accepted, second.accepted, third.accepted) == (1, 0, 0)
    assert second.duplicates == 1 and len(queue.sent) == 1


def test_same_lead_moved_again_later_is_a_new_job(dedup, queue, mapping):
    call(body([lead(8, modified=100)]), dedup, queue, mapping)
    call(body([lead(8, modified=200)]), dedup, queue, mapping)
    assert len(queue.sent) == 2


@pytest.mark.parametrize("token", [None, "", "t" * 31, "x" * 32])
def test_wrong_or_missing_token_is_401_and_nothing_enqueued(dedup, queue, mapping, token):
    with pytest.raises(WebhookRejected) as info:
        call(body([lead(9)]), dedup, queue, mapping, token=token)
    assert info.value.status == 401
    assert queue.sent == [] and dedup.keys == set()


def test_other_account_is_refused(dedup, queue, mapping):
    with pytest.raises(WebhookRejected) as info:
        call(body([lead(9)], account_id="999"), dedup, queue, mapping)
    assert info.value.status == 403 and queue.sent == []


@pytest.mark.parametrize(
    "raw",
    [
        "leads[status][0][id]=abc&leads[status][0][status_id]=1&leads[status][0][pipeline_id]=1&account[id]=31000001&account[subdomain]=demo",
        "leads[status][0][status_id]=7100004&leads[status][0][pipeline_id]=7000001&account[id]=31000001&account[subdomain]=demo",
        "leads[status]=1&leads[status][0][id]=2",
        "%%%",
        "leads[status][0][id]]=1",
    ],
)
def test_malformed_body_is_400_and_nothing_half_enqueued(dedup, queue, mapping, raw):
    with pytest.raises(WebhookRejected) as info:
        call(raw, dedup, queue, mapping)
    assert info.value.status == 400
    assert queue.sent == []


def test_one_bad_lead_in_a_bulk_body_enqueues_nothing(dedup, queue, mapping):
    raw = body([lead(20), lead(21), {"id": "x", "status_id": 7100004, "pipeline_id": 7000001}])
    with pytest.raises(WebhookRejected) as info:
        call(raw, dedup, queue, mapping)
    assert info.value.status == 400 and "leads[status][2][id]" in info.value.reason
    assert queue.sent == [] and dedup.keys == set()


def test_repeated_key_with_different_values_is_rejected(dedup, queue, mapping):
    raw = body([lead(22)]) + "&leads[status][0][id]=23"
    with pytest.raises(WebhookRejected):
        call(raw, dedup, queue, mapping)


def test_enqueue_failure_releases_claims_so_the_retry_goes_through(dedup, mapping):
    raw = body([lead(11), lead(12)])
    with pytest.raises(RuntimeError):
        call(raw, dedup, FakeQueue(fail=True), mapping)
    assert sorted(dedup.released) and dedup.keys == set()
    retry = FakeQueue()
    assert call(raw, dedup, retry, mapping).accepted == 2
