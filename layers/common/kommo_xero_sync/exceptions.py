"""Typed errors. Anything Retryable goes back to the queue; anything Permanent is reported and not retried."""

from __future__ import annotations


class SyncError(Exception):
    """Base class of the product's own errors."""


class ConfigError(SyncError):
    """The configuration (environment or mapping document) is missing or wrong; the message names the key."""


class RetryableError(SyncError):
    """A transient failure: the job is returned to the queue and tried again later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(SyncError):
    """A failure that will not go away by retrying (bad request, validation error, missing permission)."""


class ApiError(SyncError):
    """An HTTP API answered with an error status."""

    def __init__(self, service: str, status: int, message: str, *, body: object = None) -> None:
        super().__init__(f"{service} API error {status}: {message}")
        self.service = service
        self.status = status
        self.message = message
        self.body = body


class RateLimitedError(ApiError, RetryableError):
    """429 (or Kommo's repeated-abuse 403 is NOT this: it is a PermanentError until support unblocks the IP)."""

    def __init__(self, service: str, message: str, *, retry_after: float | None, problem: str | None = None) -> None:
        ApiError.__init__(self, service, 429, message)
        self.retry_after = retry_after
        self.problem = problem


class TransientApiError(ApiError, RetryableError):
    """5xx, timeouts and connection errors."""

    def __init__(self, service: str, status: int, message: str, *, body: object = None) -> None:
        ApiError.__init__(self, service, status, message, body=body)
        self.retry_after = None


class AuthError(ApiError, PermanentError):
    """401/403: credentials are wrong, expired beyond refresh, or access was revoked."""


class ValidationFailed(ApiError, PermanentError):
    """400/422 from the API: the request itself is wrong; retrying the same request cannot help."""


class WebhookRejected(SyncError):
    """A webhook delivery that must not be accepted; carries the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
