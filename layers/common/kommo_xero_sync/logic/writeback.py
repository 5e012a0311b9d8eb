"""Writing a batch of new links back to their Kommo deals (fields, then notes), shared by both link-making flows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kommo_xero_sync.clients.kommo import KommoClient
from kommo_xero_sync.dal.store import SyncStore
from kommo_xero_sync.observability import logger

UNWRITTEN = "unwritten"  # a link's deal_state when Kommo may not show it yet: the status path writes it next time


def write_to_deals(
    kommo: KommoClient,
    store: SyncStore,
    patches: Sequence[dict[str, Any]],
    deal_notes: Sequence[dict[str, Any]],
    *,
    linked: Iterable[int],
) -> None:
    """PATCH the fields and add the notes in batches. The links are already stored, so a retried job finds them and
    writes nothing: if Kommo fails here, the links are marked so the next webhook or sweep writes the deal's fields."""
    try:
        writes = [p for p in patches if p["custom_fields_values"]]
        if writes:
            kommo.update_leads(writes)
        if deal_notes:
            kommo.add_notes(deal_notes)
    except Exception:
        leads = sorted(set(linked))
        logger.warning("deals not updated; their links are marked for the status path", extra={"deals": len(leads)})
        for lead_id in leads:
            store.update_invoice_snapshot(lead_id, {"deal_state": UNWRITTEN})
        raise
