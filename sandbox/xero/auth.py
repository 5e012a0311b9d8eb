"""Xero identity: ``POST /connect/token`` grants, access-token checks and the tenant connections.

* ``client_credentials`` (custom connection): a token bound to the one organisation; ``xero-tenant-id`` is optional.
* ``authorization_code``: codes are minted through the Python API (single use, 5 minutes); with ``offline_access`` in
  the scope a refresh token comes too.
* ``refresh_token``: rotation. Each use returns a new refresh token; the used one stays valid for a 30-minute grace
  period from its first use (a retry inside the grace gets a fresh access token and the same successor refresh
  token). Unused refresh tokens expire after 60 days.
* Access tokens last 30 minutes on the sandbox clock (JWT-shaped, unsigned: the sandbox only looks them up).

All times are on the sandbox clock.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox.common.clock import Clock

ACCESS_TTL = 30 * 60
REFRESH_TTL = 60 * 24 * 3600
REFRESH_GRACE = 30 * 60
CODE_TTL = 5 * 60
DEFAULT_SCOPE = "openid profile email accounting.transactions accounting.contacts accounting.settings offline_access"


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.description = description

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


@dataclass
class AccessToken:
    token: str
    client_id: str
    expires_at: float
    custom_connection: bool
    auth_event_id: str
    scope: str


@dataclass
class RefreshToken:
    token: str
    client_id: str
    issued_at: float
    auth_event_id: str
    scope: str
    first_used_at: float | None = None
    successor: str | None = None


@dataclass
class Connection:
    id: str
    tenant_id: str
    tenant_name: str
    auth_event_id: str
    created: datetime
    updated: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "authEventId": self.auth_event_id,
            "tenantId": self.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": self.tenant_name,
            "createdDateUtc": _identity_time(self.created),
            "updatedDateUtc": _identity_time(self.updated),
        }


def _identity_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


@dataclass
class IdentityService:
    clock: Clock
    client_id: str
    client_secret: str
    tenant_id: str
    tenant_name: str
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    codes: dict[str, tuple[float, str, str | None]] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ client auth
    def check_client(self, authorization: str | None, form: dict[str, str]) -> None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
                client_id, _, secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise OAuthError("invalid_client", 400) from exc
        if not client_id or client_id != self.client_id or not secrets.compare_digest(secret or "", self.client_secret):
            raise OAuthError("invalid_client", 400)

    # ------------------------------------------------------------------ grants
    def grant(self, form: dict[str, str]) -> dict[str, object]:
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "client_credentials":
                event = self._connect(str(uuid.uuid4()))
                return self._issue(custom=True, auth_event_id=event, scope=form.get("scope") or DEFAULT_SCOPE)
            if grant_type == "authorization_code":
                code = form.get("code") or ""
                entry = self.codes.pop(code, None)
                if entry is None or entry[0] < self.clock.time():
                    raise OAuthError("invalid_grant")
                _, scope, redirect_uri = entry
                if redirect_uri is not None and form.get("redirect_uri") not in (None, redirect_uri):
                    raise OAuthError("invalid_grant", description="redirect_uri mismatch")
                event = self._connect(str(uuid.uuid4()))
                return self._issue(
                    custom=False, auth_event_id=event, scope=scope, with_refresh="offline_access" in scope
                )
            if grant_type == "refresh_token":
                return self._refresh(form.get("refresh_token") or "")
        raise OAuthError("unsupported_grant_type")

    def _connect(self, auth_event_id: str) -> str:
        now = self.clock.now()
        existing = next(iter(self.connections.values()), None)
        if existing is None:
            conn = Connection(str(uuid.uuid4()), self.tenant_id, self.tenant_name, auth_event_id, now, now)
            self.connections[conn.id] = conn
        else:
            existing.updated = now
            existing.auth_event_id = auth_event_id
        return auth_event_id

    def _refresh(self, token: str) -> dict[str, object]:
        now = self.clock.time()
        entry = self.refresh.get(token)
        if entry is None:
            raise OAuthError("invalid_grant")
        if entry.first_used_at is None:
            if now - entry.issued_at > REFRESH_TTL:
                raise OAuthError("invalid_grant")
            entry.first_used_at = now
            issued = self._issue(custom=False, auth_event_id=entry.auth_event_id, scope=entry.scope, with_refresh=True)
            entry.successor = str(issued["refresh_token"])
            return issued
        if now - entry.first_used_at > REFRESH_GRACE:
            raise OAuthError("invalid_grant")
        issued = self._issue(custom=False, auth_event_id=entry.auth_event_id, scope=entry.scope, with_refresh=False)
        issued["refresh_token"] = entry.successor
        return issued

    def _issue(self, *, custom: bool, auth_event_id: str, scope: str, with_refresh: bool = False) -> dict[str, object]:
        now = self.clock.time()
        claims = {
            "nbf": int(now),
            "exp": int(now + ACCESS_TTL),
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": self.client_id,
            "authentication_event_id": auth_event_id,
            "jti": secrets.token_hex(16),
            "scope": scope.split(),
        }
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.{secrets.token_urlsafe(16)}"
        self.access[token] = AccessToken(token, self.client_id, now + ACCESS_TTL, custom, auth_event_id, scope)
        out: dict[str, object] = {
            "access_token": token,
            "expires_in": ACCESS_TTL,
            "token_type": "Bearer",
            "scope": scope,
        }
        if not custom and "openid" in scope:
            out["id_token"] = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': auth_event_id})}."
        if with_refresh:
            refresh = secrets.token_hex(32)
            self.refresh[refresh] = RefreshToken(refresh, self.client_id, now, auth_event_id, scope)
            out["refresh_token"] = refresh
        return out

    # ------------------------------------------------------------------ Python-API helpers
    def mint_code(self, scope: str = DEFAULT_SCOPE, redirect_uri: str | None = None) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.codes[code] = (self.clock.time() + CODE_TTL, scope, redirect_uri)
        return code

    def issue_tokens(self, scope: str = DEFAULT_SCOPE) -> dict[str, object]:
        """As if a user had completed the consent flow: an access token and a refresh token."""
        with self._lock:
            event = self._connect(str(uuid.uuid4()))
            return self._issue(custom=False, auth_event_id=event, scope=scope, with_refresh=True)

    # ------------------------------------------------------------------ checks
    def authenticate(self, authorization: str | None) -> AccessToken:
        """Raise ``OAuthError("AuthenticationUnsuccessful" | "TokenExpired", 401)`` unless the bearer token is live."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise OAuthError("AuthenticationUnsuccessful", 401)
        token = authorization[7:].strip()
        with self._lock:
            entry = self.access.get(token)
        if entry is None:
            raise OAuthError("AuthenticationUnsuccessful", 401)
        if self.clock.time() >= entry.expires_at:
            raise OAuthError("TokenExpired", 401, "token expired")
        return entry

    def tenant_connected(self) -> bool:
        return bool(self.connections)

    def connections_json(self, auth_event_id: str | None = None) -> list[dict[str, str]]:
        with self._lock:
            return [
                c.to_json()
                for c in self.connections.values()
                if auth_event_id is None or c.auth_event_id == auth_event_id
            ]

    def disconnect(self, connection_id: str) -> bool:
        with self._lock:
            return self.connections.pop(connection_id, None) is not None

    def reset(self) -> None:
        with self._lock:
            self.access.clear()
            self.refresh.clear()
            self.codes.clear()
            self.connections.clear()
