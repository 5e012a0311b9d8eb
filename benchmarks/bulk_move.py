"""Benchmark: a bulk move of N deals to the trigger stage, end to end on the local stack. Prints figures.

    .venv/bin/python -m benchmarks.bulk_move [--deals 300]

Figures: wall time from the move until every deal is linked, API calls made to each system (total and per route),
invoices per Xero create call, 429s seen. Follow-ups (online link, PDF: one Xero call per invoice) are switched off
so the figure shows the invoicing path itself.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from local_stack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=300)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    mapping = json.loads((ROOT / "config" / "mapping.demo.json").read_text())
    mapping["xero"]["attach_pdf"] = False
    mapping["kommo"]["fields"].pop("online_invoice_link")
    with LocalStack(start_scheduler=False, mapping=mapping, batching_window=1.0) as stack:
        leads = stack.kommo.create_leads(
            args.deals, pipeline_id=7000001, status_id=7100002, price=990, contact_id=6000004, company_id=6500004
        )
        stack.kommo.counters.reset()
        stack.xero.counters.reset()
        started = time.perf_counter()
        stack.kommo.move_leads(leads, status_id=7100004, pipeline_id=7000001)
        stack.kommo.wait_for_deliveries(timeout=60)
        stack.drain(timeout=600)
        elapsed = time.perf_counter() - started
        refs = {i.get("Reference") for i in stack.xero.invoices()}
        linked = sum(1 for lead_id in leads if f"Kommo deal {lead_id}" in refs)
        xero, kommo = stack.xero.counters.snapshot(), stack.kommo.counters.snapshot()
        puts = xero.get("PUT /Invoices", {}).get("calls", 0)
        print(f"deals moved in one bulk delivery : {args.deals}")
        print(f"deals with exactly one invoice   : {linked}")
        print(f"seconds until all were linked    : {elapsed:.1f}")
        print(f"Xero calls                       : {sum(r['calls'] for r in xero.values())}  {xero}")
        print(f"Kommo calls                      : {sum(r['calls'] for r in kommo.values())}  {kommo}")
        print(f"invoices per Xero create call    : {linked / puts if puts else 0:.1f}")
        print(
            f"429 answers (Xero / Kommo)       : {stack.xero.counters.count(status=429)} / {stack.kommo.counters.count(status=429)}"
        )


if __name__ == "__main__":
    main()
