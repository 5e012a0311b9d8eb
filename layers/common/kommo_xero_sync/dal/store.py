"""DynamoDB: deal<->invoice links, contact links, sync state (SyncTable) and webhook de-duplication (IdempotencyTable).

The exactly-one-invoice guarantee lives here: a deal's link item is *claimed* with a conditional write before any
Xero call and *completed* (together with the reverse invoice item, in one transaction) after it. A claim left behind
by a crashed worker expires, and whoever takes it over is told so (``ClaimResult.took_over``) and must look in Xero
for an invoice the crashed worker may already have created before creating one.

Invoice -> deal mirrors this on the invoice side: ``claim_invoice`` before creating a Kommo deal, ``complete_link``
with the invoice token after it. When both sides race for one pair, the deal side wins (an invoice claim never blocks
a deal's own invoice from being linked) and the invoice side notices its token is gone and steps back.

Invoice items: ``CLAIMED`` (a worker is turning it into a deal), ``LINKED`` (``lead_id`` set) or ``IGNORED`` (never
becomes a deal; ``reason`` says why). Older LINKED items carry ``lead_id`` without ``state``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

CLAIM_SECONDS = 300  # longer than the worker timeout (60 s), shorter than the queue visibility timeout (360 s)

STATE_CLAIMED = "CLAIMED"
STATE_LINKED = "LINKED"
STATE_IGNORED = "IGNORED"


@dataclass(frozen=True)
class ClaimResult:
    claimed: bool
    token: str | None
    existing: dict[str, Any] | None
    took_over: bool = False


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """Decimal numbers that are whole become int (DynamoDB returns every number as Decimal)."""
    if item is None:
        return None
    out: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, Decimal) and value == value.to_integral_value() and key not in _MONEY_KEYS:
            out[key] = int(value)
        else:
            out[key] = value
    return out


_MONEY_KEYS = {"total", "amount_due", "amount_paid", "amount_credited"}

# Open linked invoices are indexed by due date (gsi1); once marked overdue they move to the OVERDUE partition.
INDEX_OPEN = "OPEN"
INDEX_OVERDUE = "OVERDUE"


class SyncStore:
    def __init__(self, table_name: str, *, resource: Any = None, clock: Any = time.time) -> None:
        self._resource = resource or boto3.resource("dynamodb")
        self.table = self._resource.Table(table_name)
        self.table_name = table_name
        self._clock = clock

    def now(self) -> float:
        return float(self._clock())

    # -- deal links --------------------------------------------------------------------------------------------
    def claim_deal(self, lead_id: int, *, job_key: str) -> ClaimResult:
        return self._claim(f"DEAL#{lead_id}", {"lead_id": lead_id}, job_key, lambda: self.get_deal_link(lead_id))

    def claim_wait(self, item: dict[str, Any]) -> float:
        """Seconds until the claim on ``item`` expires (at least 1): when a job waiting for it should look again."""
        return max(1.0, float(item.get("claim_expires", 0)) - self.now() + 1)

    def _claim(self, pk: str, ids: dict[str, Any], job_key: str, read: Callable[[], Any]) -> ClaimResult:
        """Put a claim item unless a live claim or a completed item is there; report an expired claim taken over."""
        now = int(self._clock())
        token = uuid.uuid4().hex
        item = {
            "pk": pk,
            "sk": "LINK",
            "state": STATE_CLAIMED,
            **ids,
            "claim_token": token,
            "claim_expires": now + CLAIM_SECONDS,
            "job_key": job_key,
            "updated_at": now,
        }
        try:
            response = self.table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (#s = :claimed AND claim_expires < :now)",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":claimed": STATE_CLAIMED, ":now": now},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            raw: Any = exc.response.get("Item")
            # Older emulators do not return the item on a failed condition: read it.
            existing = self._deserialize(raw) if raw is not None else read()
            return ClaimResult(False, None, _plain(existing))
        # The put replaced an item only when that item was an expired claim: a worker died mid-way.
        return ClaimResult(True, token, None, took_over=bool(response.get("Attributes")))

    def _deserialize(self, raw: dict[str, Any]) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer: Any = TypeDeserializer()
        return {k: deserializer.deserialize(v) if isinstance(v, dict) and len(v) == 1 else v for k, v in raw.items()}

    def release_claim(self, lead_id: int, token: str) -> None:
        self._release({"pk": f"DEAL#{lead_id}", "sk": "LINK"}, token)

    def _release(self, key: dict[str, str], token: str) -> None:
        try:
            self.table.delete_item(
                Key=key,
                ConditionExpression="claim_token = :t AND #s = :claimed",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":t": token, ":claimed": STATE_CLAIMED},
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise

    def complete_link(
        self,
        lead_id: int,
        token: str | None,
        invoice: dict[str, Any],
        *,
        origin: str,
        invoice_token: str | None = None,
        new_deal: bool = False,
    ) -> bool:
        """Mark the deal LINKED to ``invoice`` and write the reverse item, atomically.

        Deal -> invoice: ``token`` is the deal's claim token; the invoice item may be absent, already ours, or an
        invoice-side claim (the deal side wins). Invoice -> deal: ``token`` is None and ``invoice_token`` is the invoice
        claim; the deal item must be absent or an expired claim, or, for a deal this worker has just created
        (``new_deal``), any claim (a deal->invoice worker that claimed it steps back: the deal carries the Xero tag).
        Returns False when a condition failed.
        """
        now = int(self._clock())
        invoice_id = str(invoice["invoice_id"])
        snapshot = {k: v for k, v in invoice.items() if v is not None}
        deal_item = {
            "pk": f"DEAL#{lead_id}",
            "sk": "LINK",
            "state": STATE_LINKED,
            "lead_id": lead_id,
            "origin": origin,
            "updated_at": now,
            **snapshot,
        }
        invoice_item = {
            "pk": f"INVOICE#{invoice_id}",
            "sk": "LINK",
            "state": STATE_LINKED,
            "lead_id": lead_id,
            "origin": origin,
            "invoice_id": invoice_id,
            "updated_at": now,
        }
        claimed = {"ExpressionAttributeNames": {"#s": "state"}}
        deal_condition: dict[str, Any]
        if token is not None:
            deal_condition = {
                "ConditionExpression": "claim_token = :t",
                "ExpressionAttributeValues": {":t": token},
            }
        elif new_deal:
            deal_condition = {
                "ConditionExpression": "attribute_not_exists(pk) OR #s = :claimed",
                "ExpressionAttributeValues": {":claimed": STATE_CLAIMED},
                **claimed,
            }
        else:
            deal_condition = {
                "ConditionExpression": "attribute_not_exists(pk) OR (#s = :claimed AND claim_expires < :now)",
                "ExpressionAttributeValues": {":claimed": STATE_CLAIMED, ":now": now},
                **claimed,
            }
        invoice_condition: dict[str, Any]
        if invoice_token is not None:
            invoice_condition = {
                "ConditionExpression": "claim_token = :it",
                "ExpressionAttributeValues": {":it": invoice_token},
            }
        else:
            invoice_condition = {
                "ConditionExpression": "attribute_not_exists(pk) OR lead_id = :lead OR #s = :claimed",
                "ExpressionAttributeValues": {":lead": lead_id, ":claimed": STATE_CLAIMED},
                **claimed,
            }
        # The resource's client (de)serializes native Python values itself.
        client: Any = self._resource.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": deal_item,
                            **deal_condition,
                        }
                    },
                    {"Put": {"TableName": self.table_name, "Item": invoice_item, **invoice_condition}},
                ]
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def update_invoice_snapshot(self, lead_id: int, snapshot: dict[str, Any], *, open_invoice: bool = True) -> None:
        """Record the last invoice state written to the deal (status, amounts, due date, payments announced).

        Closed invoices leave the ``OPEN`` index the overdue sweep reads.
        """
        values = {k: v for k, v in snapshot.items() if v is not None}
        if not open_invoice:
            values.pop("gsi1pk", None)
            values.pop("gsi1sk", None)
        if not values:
            return
        names = {f"#k{i}": k for i, k in enumerate(values)}
        expr = "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(values)))
        if not open_invoice:
            names.update({"#g1": "gsi1pk", "#g2": "gsi1sk"})
            expr += " REMOVE #g1, #g2"
        self.table.update_item(
            Key={"pk": f"DEAL#{lead_id}", "sk": "LINK"},
            UpdateExpression=expr,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":v{i}": v for i, v in enumerate(values.values())},
        )

    def claim_step(self, lead_id: int, step: str, *, stale_after: int = CLAIM_SECONDS) -> bool:
        """Claim a one-off side effect on a linked deal (e.g. attaching the PDF): True for exactly one caller.

        A claim older than ``stale_after`` seconds whose step never completed (``<step>_done``) can be taken again.
        """
        now = int(self._clock())
        try:
            self.table.update_item(
                Key={"pk": f"DEAL#{lead_id}", "sk": "LINK"},
                UpdateExpression="SET #c = :now",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#d) AND "
                "(attribute_not_exists(#c) OR #c < :stale)",
                ExpressionAttributeNames={"#c": f"{step}_claimed_at", "#d": f"{step}_done"},
                ExpressionAttributeValues={":now": now, ":stale": now - stale_after},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def get_deal_link(self, lead_id: int) -> dict[str, Any] | None:
        response = self.table.get_item(Key={"pk": f"DEAL#{lead_id}", "sk": "LINK"}, ConsistentRead=True)
        return _plain(response.get("Item"))

    def get_invoice_link(self, invoice_id: str) -> dict[str, Any] | None:
        """The invoice's item whatever its state (linked, claimed or ignored)."""
        response = self.table.get_item(Key={"pk": f"INVOICE#{invoice_id}", "sk": "LINK"}, ConsistentRead=True)
        return _plain(response.get("Item"))

    def get_deal_links(self, lead_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        keys = [{"pk": f"DEAL#{i}", "sk": "LINK"} for i in sorted(set(lead_ids))]
        return {int(item["lead_id"]): item for item in self._batch_get(keys)}

    def get_invoice_links(self, invoice_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The invoices among ``invoice_ids`` that are linked to a deal (claimed or ignored invoices are not)."""
        keys = [{"pk": f"INVOICE#{i}", "sk": "LINK"} for i in sorted(set(invoice_ids))]
        return {str(item["invoice_id"]): item for item in self._batch_get(keys) if item.get("lead_id") is not None}

    # -- invoice claims (invoice -> deal) ----------------------------------------------------------------------
    def claim_invoice(self, invoice_id: str, *, job_key: str) -> ClaimResult:
        """Claim a hand-made invoice before turning it into a deal: True for exactly one worker at a time."""
        pk = f"INVOICE#{invoice_id}"
        return self._claim(pk, {"invoice_id": invoice_id}, job_key, lambda: self.get_invoice_link(invoice_id))

    def release_invoice_claim(self, invoice_id: str, token: str) -> None:
        self._release({"pk": f"INVOICE#{invoice_id}", "sk": "LINK"}, token)

    def ignore_invoice(self, invoice_id: str, token: str, reason: str) -> bool:
        """Record that this invoice never becomes a deal (e.g. its Reference names a deal that has another invoice)."""
        try:
            self.table.put_item(
                Item={
                    "pk": f"INVOICE#{invoice_id}",
                    "sk": "LINK",
                    "state": STATE_IGNORED,
                    "invoice_id": invoice_id,
                    "reason": reason[:500],
                    "updated_at": int(self._clock()),
                },
                ConditionExpression="claim_token = :t",
                ExpressionAttributeValues={":t": token},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _batch_get(self, keys: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table_name: {"Keys": list(keys[start : start + 100]), "ConsistentRead": True}
            }
            while request:
                response = self._resource.batch_get_item(RequestItems=request)
                items += [_plain(i) or {} for i in response.get("Responses", {}).get(self.table_name, [])]
                request = response.get("UnprocessedKeys") or {}
        return items

    # -- overdue index (gsi1: gsi1pk OPEN | OVERDUE, gsi1sk "<due date>#<invoice id>") --------------------------
    def open_invoices_due_before(self, day_iso: str, *, page_size: int = 100) -> Iterator[list[dict[str, Any]]]:
        """Pages of deal links whose invoice is still in the ``OPEN`` index and fell due before ``day_iso``.

        Paginated with ``ExclusiveStartKey``, so items moved out of the index while the caller works through the pages
        are neither skipped nor read twice. Reads grow with the invoices not yet marked, not with all linked invoices.
        """
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": Key("gsi1pk").eq(INDEX_OPEN) & Key("gsi1sk").lt(day_iso),
            "Limit": page_size,
        }
        while True:
            response = self.table.query(**kwargs)
            items = [_plain(i) or {} for i in response.get("Items", [])]
            if items:
                yield items
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def mark_overdue(self, lead_id: int, index_key: str, *, deal_state: str) -> bool:
        """Move a deal link from the ``OPEN`` to the ``OVERDUE`` index and record the state written to the deal.

        False when the link changed meanwhile (paid, voided, due date moved: it is no longer ``OPEN`` under
        ``index_key``); the caller wrote the deal from stale data and must put the recorded state back.
        """
        try:
            self.table.update_item(
                Key={"pk": f"DEAL#{lead_id}", "sk": "LINK"},
                UpdateExpression="SET gsi1pk = :overdue, deal_state = :state",
                ConditionExpression="gsi1pk = :open AND gsi1sk = :sk",
                ExpressionAttributeValues={
                    ":overdue": INDEX_OVERDUE,
                    ":state": deal_state,
                    ":open": INDEX_OPEN,
                    ":sk": index_key,
                },
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    # -- contact links -----------------------------------------------------------------------------------------
    def get_contact_link(self, entity: str, entity_id: int) -> dict[str, Any] | None:
        response = self.table.get_item(Key={"pk": f"CONTACT#{entity}#{entity_id}", "sk": "LINK"}, ConsistentRead=True)
        return _plain(response.get("Item"))

    def put_contact_link(self, entity: str, entity_id: int, contact_id: str, name: str, how: str) -> None:
        """Kommo company/contact -> Xero contact, and the reverse (the last Kommo entity billed under that contact)."""
        now = int(self._clock())
        self.table.put_item(
            Item={
                "pk": f"CONTACT#{entity}#{entity_id}",
                "sk": "LINK",
                "contact_id": contact_id,
                "xero_name": name,
                "matched_by": how,
                "updated_at": now,
            }
        )
        self.table.put_item(
            Item={
                "pk": f"XCONTACT#{contact_id}",
                "sk": "LINK",
                "entity": entity,
                "entity_id": entity_id,
                "updated_at": now,
            }
        )

    def kommo_entities_for(self, contact_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """Xero ContactID -> the Kommo (entity, id) the product last linked to it."""
        keys = [{"pk": f"XCONTACT#{i}", "sk": "LINK"} for i in sorted(set(contact_ids))]
        return {
            str(item["pk"]).removeprefix("XCONTACT#"): (str(item["entity"]), int(item["entity_id"]))
            for item in self._batch_get(keys)
        }

    # -- state -------------------------------------------------------------------------------------------------
    def get_state(self, name: str) -> dict[str, Any] | None:
        response = self.table.get_item(Key={"pk": "STATE", "sk": name}, ConsistentRead=True)
        return _plain(response.get("Item"))

    def put_state(self, name: str, values: dict[str, Any]) -> None:
        self.table.put_item(Item={"pk": "STATE", "sk": name, **values, "updated_at": int(self._clock())})


class WebhookDeduplicator:
    """Remembers webhook items already enqueued (IdempotencyTable, TTL ``expiration``).

    Hand-written rather than Powertools' ``idempotent_function`` because a bulk delivery must claim many keys at once
    (in parallel, within Kommo's 2 s) and then enqueue the new ones in SQS batches, releasing the claims if the enqueue
    fails; the per-call decorator cannot express claim-many-then-send-batch.
    """

    def __init__(self, table_name: str, *, resource: Any = None, ttl_seconds: int = 7 * 86400, clock: Any = time.time):
        self._resource = resource or boto3.resource("dynamodb")
        self.table = self._resource.Table(table_name)
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def claim(self, key: str) -> bool:
        now = int(self._clock())
        try:
            self.table.put_item(
                Item={"id": key, "expiration": now + self.ttl_seconds, "status": "ENQUEUED"},
                # TTL deletion is lazy: an item past its expiration counts as absent.
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues={":now": now},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def claim_many(self, keys: Sequence[str]) -> list[bool]:
        if len(keys) <= 1:
            return [self.claim(k) for k in keys]
        with ThreadPoolExecutor(max_workers=min(16, len(keys))) as pool:
            return list(pool.map(self.claim, keys))

    def release_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.table.delete_item(Key={"id": key})
