"""A faithful local Xero (Accounting API, identity, webhooks) served on 127.0.0.1: ``python -m sandbox.xero``."""

from sandbox.xero.limits import RateLimits
from sandbox.xero.sandbox import XeroSandbox, XeroSandboxError
from sandbox.xero.seed import DEMO_SHORT_CODE, DEMO_TENANT_ID
from sandbox.xero.webhooks import sign as sign_webhook

__all__ = ["DEMO_SHORT_CODE", "DEMO_TENANT_ID", "RateLimits", "XeroSandbox", "XeroSandboxError", "sign_webhook"]
