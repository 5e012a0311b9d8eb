"""A faithful local Kommo (amoCRM API v4) sandbox: HAL JSON API, problem+json errors, limits, OAuth rotation, Drive
uploads and form-encoded webhooks with Kommo's retry schedule. ``python -m sandbox.kommo --port 8081``."""

from sandbox.kommo.sandbox import KommoSandbox

__all__ = ["KommoSandbox"]
