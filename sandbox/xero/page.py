"""A small HTML page at ``/``: the invoices, and forms to create one and to pay one (as a person does in Xero)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from sandbox.xero.sandbox import XeroSandbox

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1e2a36}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border-bottom:1px solid #dde3ea;padding:.35rem .5rem;text-align:left;font-size:.9rem}
th{background:#f3f6f9} .num{text-align:right;font-variant-numeric:tabular-nums}
form.inline{display:inline} input,select{margin:.15rem}
fieldset{border:1px solid #dde3ea;margin:1rem 0;padding:.75rem}
.PAID{color:#1b7f3b}.VOIDED,.DELETED{color:#8a8f98}.DRAFT{color:#b26a00}.AUTHORISED{color:#0b5cab}
"""


def render(sb: XeroSandbox, request: Request) -> Response:
    org = sb.ledger.organisation
    rows = []
    for inv in sorted(sb.invoices(), key=lambda i: i["InvoiceNumber"]):
        pay = ""
        if inv["Status"] == "AUTHORISED":
            pay = (
                '<form class="inline" method="post" action="/_sandbox/ui/pay">'
                f'<input type="hidden" name="invoice_id" value="{escape(inv["InvoiceID"])}">'
                f'<input name="amount" size="8" value="{inv["AmountDue"]}">'
                '<button type="submit">Pay</button></form>'
            )
            if not inv["Payments"] and not inv["CreditNotes"]:
                pay += (
                    '<form class="inline" method="post" action="/_sandbox/ui/void">'
                    f'<input type="hidden" name="invoice_id" value="{escape(inv["InvoiceID"])}">'
                    '<button type="submit">Void</button></form>'
                )
        rows.append(
            "<tr>"
            f"<td>{escape(inv['InvoiceNumber'])}</td>"
            f"<td>{escape(inv['Contact']['Name'])}</td>"
            f"<td>{escape(inv['Reference'])}</td>"
            f'<td class="{escape(inv["Status"])}">{escape(inv["Status"])}</td>'
            f"<td>{escape(inv.get('DueDateString', '')[:10])}</td>"
            f"<td>{escape(inv['CurrencyCode'])}</td>"
            f'<td class="num">{inv["Total"]}</td>'
            f'<td class="num">{inv["AmountPaid"]}</td>'
            f'<td class="num">{inv["AmountDue"]}</td>'
            f"<td>{pay}</td>"
            "</tr>"
        )
    items = "".join(f'<option value="{escape(code)}">{escape(code)}</option>' for code in sorted(sb.ledger.items))
    currencies = "".join(f"<option>{escape(c)}</option>" for c in sb.ledger.currencies)
    hook = sb.webhooks.state()
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Xero sandbox: {escape(org.name if org else "")}</title>
<style>{_STYLE}</style></head><body>
<h1>Xero sandbox: {escape(org.name if org else "(no organisation)")}</h1>
<p>Tenant <code>{escape(sb.tenant_id)}</code>, ShortCode <code>{escape(org.short_code if org else "")}</code>,
sandbox time {escape(sb.clock.now().strftime("%Y-%m-%d %H:%M:%S"))} UTC.
Webhook: {escape(str(hook["url"]))} ({"enabled" if hook["enabled"] else "not enabled"}),
{len(sb.deliveries)} deliveries logged.</p>
<fieldset><legend>Create an invoice (fires INVOICE CREATE)</legend>
<form method="post" action="/_sandbox/ui/invoice">
<input name="contact_name" placeholder="Contact name" required>
<select name="item_code"><option value="">(no item)</option>{items}</select>
<input name="description" placeholder="Description">
<input name="quantity" size="4" value="1">
<input name="unit_amount" size="8" placeholder="Unit amount">
<select name="currency">{currencies}</select>
<select name="status"><option>AUTHORISED</option><option>DRAFT</option><option>SUBMITTED</option></select>
<input name="reference" placeholder="Reference">
<button type="submit">Create</button></form></fieldset>
<table><thead><tr><th>Number</th><th>Contact</th><th>Reference</th><th>Status</th><th>Due</th><th>Currency</th>
<th class="num">Total</th><th class="num">Paid</th><th class="num">Due</th><th></th></tr></thead>
<tbody>{"".join(rows) or '<tr><td colspan="10">No invoices.</td></tr>'}</tbody></table>
<p><a href="/_sandbox/state">state</a> · <a href="/_sandbox/counters">counters</a> ·
<a href="/_sandbox/deliveries">webhook deliveries</a></p>
</body></html>"""
    return Response(html, content_type="text/html; charset=utf-8")
