"""Shared constants and helpers for the Xero sandbox tests (imported by name; conftest modules are not importable)."""

from __future__ import annotations

from sandbox.xero import XeroSandbox

CLIENT_ID = "TESTCLIENTID"
CLIENT_SECRET = "test-client-secret"


def globex_id(xero: XeroSandbox) -> str:
    return next(c["ContactID"] for c in xero.contacts() if c["Name"] == "Globex Corporation")
