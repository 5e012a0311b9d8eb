"""A small, valid PDF of an invoice, written by hand (one page, Helvetica, exact xref offsets)."""

from __future__ import annotations

from typing import Any


def _escape(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def invoice_pdf(invoice: dict[str, Any], organisation_name: str) -> bytes:
    """Render the API JSON of an invoice: number, contact, dates, lines, totals."""
    lines: list[tuple[int, int, str]] = [  # (font size, x, text)
        (20, 50, "TAX INVOICE"),
        (11, 50, organisation_name),
        (11, 50, ""),
        (12, 50, f"Invoice number: {invoice.get('InvoiceNumber', '')}"),
        (12, 50, f"To: {invoice.get('Contact', {}).get('Name', '')}"),
        (11, 50, f"Reference: {invoice.get('Reference', '')}"),
        (
            11,
            50,
            f"Date: {str(invoice.get('DateString', ''))[:10]}   Due: {str(invoice.get('DueDateString', ''))[:10]}",
        ),
        (11, 50, f"Status: {invoice.get('Status', '')}"),
        (11, 50, ""),
    ]
    for item in invoice.get("LineItems", []):
        lines.append(
            (
                10,
                60,
                f"{item.get('Description', '')[:60]}   {item.get('Quantity')} x {item.get('UnitAmount')}"
                f" = {item.get('LineAmount')}",
            )
        )
    currency = invoice.get("CurrencyCode", "")
    lines += [
        (11, 50, ""),
        (11, 300, f"Subtotal: {invoice.get('SubTotal')} {currency}"),
        (11, 300, f"Total tax: {invoice.get('TotalTax')} {currency}"),
        (13, 300, f"Total: {invoice.get('Total')} {currency}"),
        (11, 300, f"Amount due: {invoice.get('AmountDue')} {currency}"),
    ]
    ops = ["BT"]
    y = 790
    for size, x, text in lines:
        y -= size + 8
        ops.append(f"/F1 {size} Tf 1 0 0 1 {x} {y} Tm ({_escape(text)}) Tj")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Title (" + _escape(f"Invoice {invoice.get('InvoiceNumber', '')}").encode("latin-1") + b") "
        b"/Producer (Xero sandbox) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)
