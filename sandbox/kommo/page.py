"""The HTML page at ``/``: deals by pipeline and stage, with a form to move selected deals (what a person uses)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.kommo.sandbox import KommoSandbox

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
.board{display:flex;gap:.8rem;overflow-x:auto}
.col{background:#f4f6f8;border-radius:6px;padding:.5rem;min-width:14rem}
.col h3{font-size:.9rem;margin:.2rem 0 .5rem;border-bottom:3px solid var(--c);padding-bottom:.3rem}
.deal{background:#fff;border:1px solid #dde;border-radius:4px;padding:.4rem;margin-bottom:.4rem;font-size:.85rem}
.deal small{color:#667}.bar{position:sticky;top:0;background:#fff;padding:.5rem 0;border-bottom:1px solid #ddd}
.msg{background:#eef8ee;padding:.4rem .6rem;border-radius:4px}table{font-size:.8rem;border-collapse:collapse}
td,th{border:1px solid #ddd;padding:.2rem .4rem}
"""


def render_page(sb: KommoSandbox, message: str | None = None) -> str:
    state = sb.state
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Kommo sandbox</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Kommo sandbox &mdash; {escape(state.account.subdomain)} (account {state.account.id})</h1>",
    ]
    if message:
        parts.append(f"<p class='msg'>{escape(message)}</p>")
    with state.lock:
        options = []
        for p in sorted(state.pipelines.values(), key=lambda p: p.sort):
            for s in sorted(p.statuses, key=lambda s: s.sort):
                options.append(
                    f"<option value='{p.id}:{s.id}'>{escape(p.name)} &rarr; {escape(s.name)} ({s.id})</option>"
                )
        parts.append("<form method='post' action='/_sandbox/move'>")
        parts.append(
            "<div class='bar'>Move selected deals to <select name='target'>"
            + "".join(options)
            + "</select> <button type='submit'>Move</button>"
            " <small>(one move = one webhook body with every selected deal)</small></div>"
        )
        for p in sorted(state.pipelines.values(), key=lambda p: p.sort):
            parts.append(f"<h2>{escape(p.name)} <small>({p.id})</small></h2><div class='board'>")
            for s in sorted(p.statuses, key=lambda s: s.sort):
                leads = sorted(
                    (x for x in state.leads.values() if x.pipeline_id == p.id and x.status_id == s.id),
                    key=lambda x: x.id,
                )
                parts.append(
                    f"<div class='col' style='--c:{escape(s.color)}'><h3>{escape(s.name)} "
                    f"<small>({s.id}) &middot; {len(leads)}</small></h3>"
                )
                for lead in leads[:200]:
                    company = state.companies.get(lead.company_id) if lead.company_id else None
                    main = next((c for c in lead.contacts if c.is_main), None)
                    contact = state.contacts.get(main.id) if main else None
                    who = " / ".join(escape(x.name) for x in (company, contact) if x is not None) or "<i>no contact</i>"
                    parts.append(
                        f"<div class='deal'><label><input type='checkbox' name='lead_ids' value='{lead.id}'> "
                        f"<b>{escape(lead.name)}</b></label><br><small>#{lead.id} &middot; {lead.price:,} "
                        f"&middot; {who}</small></div>"
                    )
                if len(leads) > 200:
                    parts.append(f"<small>... and {len(leads) - 200} more</small>")
                parts.append("</div>")
            parts.append("</div>")
        parts.append("</form>")
        hooks = list(state.webhooks.values())
    parts.append("<h2>Webhook subscriptions</h2><table><tr><th>id</th><th>destination</th><th>settings</th></tr>")
    for h in hooks:
        parts.append(
            f"<tr><td>{h.id}</td><td>{escape(h.destination)}</td><td>{escape(', '.join(h.settings))}"
            f"{' (disabled)' if h.disabled else ''}</td></tr>"
        )
    parts.append("</table><h2>Recent webhook attempts</h2><table>")
    parts.append("<tr><th>delivery</th><th>attempt</th><th>destination</th><th>status</th><th>leads</th></tr>")
    for a in sb.deliveries[-20:][::-1]:
        status = a.status_code if a.status_code is not None else escape(a.error or "no answer")
        parts.append(
            f"<tr><td>{a.delivery_id}</td><td>{a.attempt}</td><td>{escape(a.destination)}</td><td>{status}</td>"
            f"<td>{len(a.lead_ids)}</td></tr>"
        )
    parts.append("</table><h2>API calls</h2><table><tr><th>route</th><th>calls</th><th>by status</th></tr>")
    for route, entry in sb.counters.snapshot().items():
        by_status = ", ".join(f"{k}: {v}" for k, v in entry.items() if k != "calls")
        parts.append(f"<tr><td>{escape(route)}</td><td>{entry['calls']}</td><td>{escape(by_status)}</td></tr>")
    parts.append("</table></body></html>")
    return "".join(parts)
