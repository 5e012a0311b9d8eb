"""Authentication (long-lived tokens, OAuth 2.0 with refresh-token rotation) and the per-account rate limit (K2, K3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sandbox.common import Clock

ACCESS_TOKEN_TTL = 24 * 3600
REFRESH_TOKEN_TTL = 90 * 24 * 3600
AUTH_CODE_TTL = 20 * 60


class OAuthError(Exception):
    def __init__(self, status: int, hint: str, detail: str = "Some request parameters are missing or invalid") -> None:
        super().__init__(hint)
        self.status = status
        self.body = {
            "hint": hint,
            "title": "Invalid request" if status == 400 else "Unauthorized",
            "type": "https://developers.kommo.com/v3/errors/OAuthProblemJson",
            "status": status,
            "detail": detail,
        }


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uri: str
    name: str = "Kommo-Xero sync"


@dataclass
class AuthCode:
    code: str
    client_id: str
    user_id: int
    expires_at: float
    used: bool = False


@dataclass
class AccessToken:
    token: str
    user_id: int
    expires_at: float | None  # None: never (long-lived token given with --token)
    client_id: str | None = None


@dataclass
class RefreshToken:
    token: str
    client_id: str
    user_id: int
    expires_at: float
    parent: str | None = None  # the refresh token this one was issued for
    used: bool = False
    revoked: bool = False
    children: list[str] = field(default_factory=list)


class AuthStore:
    """Tokens on the sandbox clock. Refresh rotation: each refresh returns a new pair; the refresh token that was
    used stays valid until one of the tokens issued for it is itself used for a refresh (the documented grace)."""

    def __init__(self, clock: Clock, account_id: int, subdomain: str, base_url: str = "") -> None:
        self._lock = threading.Lock()
        self.clock = clock
        self.account_id = account_id
        self.subdomain = subdomain
        self.base_url = base_url
        self._signing_key = secrets.token_bytes(32)
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, AuthCode] = {}

    # long-lived -------------------------------------------------------------------------------------------------
    def add_long_lived_token(self, token: str | None = None, user_id: int = 5000001, ttl_s: float | None = None) -> str:
        token = token or self._jwt(user_id, None, ttl_s or 5 * 365 * 86400)
        with self._lock:
            self.access[token] = AccessToken(token, user_id, None if ttl_s is None else self.clock.time() + ttl_s)
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self.access.pop(token, None)
            rt = self.refresh.get(token)
            if rt:
                rt.revoked = True

    def authenticate(self, header: str | None) -> int | None:
        """The user id behind ``Authorization: Bearer <token>``, or None."""
        if not header or not header.lower().startswith("bearer "):
            return None
        token = header[7:].strip()
        with self._lock:
            at = self.access.get(token)
            if at is None:
                return None
            if at.expires_at is not None and self.clock.time() >= at.expires_at:
                return None
            return at.user_id

    # OAuth ------------------------------------------------------------------------------------------------------
    def register_client(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str = "https://example.com/oauth/callback",
    ) -> OAuthClient:
        client = OAuthClient(client_id or str(_uuid4()), client_secret or secrets.token_urlsafe(48), redirect_uri)
        with self._lock:
            self.clients[client.client_id] = client
        return client

    def issue_code(self, client_id: str, user_id: int = 5000001) -> str:
        with self._lock:
            if client_id not in self.clients:
                raise KeyError(f"unknown OAuth client {client_id}")
            code = "def50200" + secrets.token_hex(48)
            self.codes[code] = AuthCode(code, client_id, user_id, self.clock.time() + AUTH_CODE_TTL)
        return code

    def token_endpoint(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise OAuthError(400, "Request body must be a JSON object")
        for key in ("client_id", "client_secret", "grant_type", "redirect_uri"):
            if not isinstance(body.get(key), str) or not body.get(key):
                raise OAuthError(400, f"Check the `{key}` parameter")
        with self._lock:
            client = self.clients.get(body["client_id"])
            if client is None or not hmac.compare_digest(client.client_secret, body["client_secret"]):
                raise OAuthError(401, "Client authentication failed", "Client authentication failed")
            if body["redirect_uri"] != client.redirect_uri:
                raise OAuthError(400, "Redirect URI mismatch")
            now = self.clock.time()
            grant = body["grant_type"]
            if grant == "authorization_code":
                code = self.codes.get(str(body.get("code")))
                if code is None or code.client_id != client.client_id:
                    raise OAuthError(400, "Cannot decrypt the authorization code")
                if code.used:
                    raise OAuthError(400, "Authorization code has been revoked")
                if now >= code.expires_at:
                    raise OAuthError(400, "Authorization code has expired")
                code.used = True
                return self._issue_pair(client.client_id, code.user_id, parent=None)
            if grant == "refresh_token":
                rt = self.refresh.get(str(body.get("refresh_token")))
                if rt is None or rt.client_id != client.client_id:
                    raise OAuthError(400, "Cannot decrypt the refresh token")
                if rt.revoked:
                    raise OAuthError(400, "Token has been revoked")
                if now >= rt.expires_at:
                    raise OAuthError(400, "Token has expired")
                rt.used = True
                # first use of a rotated token ends the grace period of the one it replaced
                if rt.parent is not None and rt.parent in self.refresh:
                    self.refresh[rt.parent].revoked = True
                return self._issue_pair(client.client_id, rt.user_id, parent=rt.token)
            raise OAuthError(400, "Unsupported grant type")

    def _issue_pair(self, client_id: str, user_id: int, parent: str | None) -> dict[str, Any]:
        now = self.clock.time()
        access = self._jwt(user_id, client_id, ACCESS_TOKEN_TTL)
        refresh = "def50200" + secrets.token_hex(96)
        self.access[access] = AccessToken(access, user_id, now + ACCESS_TOKEN_TTL, client_id)
        self.refresh[refresh] = RefreshToken(refresh, client_id, user_id, now + REFRESH_TOKEN_TTL, parent=parent)
        if parent is not None:
            self.refresh[parent].children.append(refresh)
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL,
            "server_time": int(now),
            "access_token": access,
            "refresh_token": refresh,
        }

    def _jwt(self, user_id: int, client_id: str | None, ttl_s: float) -> str:
        now = int(self.clock.time())
        header = {"typ": "JWT", "alg": "HS256"}
        claims = {
            "aud": client_id or "long-lived",
            "jti": secrets.token_hex(20),
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl_s),
            "sub": str(user_id),
            "grant_type": "",
            "account_id": self.account_id,
            "base_domain": "kommo.com",
            "version": 2,
            "scopes": ["crm", "files", "files_delete", "notifications", "push_notifications"],
            "api_domain": self.base_url.split("://", 1)[-1] if self.base_url else "api-c.kommo.com",
        }

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        signature = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(signature)}"


def _uuid4() -> str:
    import uuid

    return str(uuid.uuid4())


class RateLimiter:
    """Sliding window on the sandbox clock: at most ``rps`` accepted requests in any ``window_s`` (1 s).

    More than ``block_after`` rejections (429) within ``block_window_s`` blocks the account: every request then gets
    403 until ``reset()`` (Kommo documents no automatic unblock)."""

    def __init__(
        self,
        clock: Clock,
        rps: float | None = 7,
        window_s: float = 1.0,
        block_after: int | None = 100,
        block_window_s: float = 60.0,
    ) -> None:
        self._lock = threading.Lock()
        self.clock = clock
        self.rps = rps
        self.window_s = window_s
        self.block_after = block_after
        self.block_window_s = block_window_s
        self._accepted: deque[float] = deque()
        self._rejected: deque[float] = deque()
        self.blocked = False

    def reset(self) -> None:
        with self._lock:
            self._accepted.clear()
            self._rejected.clear()
            self.blocked = False

    def check(self) -> tuple[str, int]:
        """("ok", 0) | ("limited", retry_after_seconds) | ("blocked", 0)."""
        with self._lock:
            if self.blocked:
                return "blocked", 0
            if self.rps is None:
                return "ok", 0
            now = self.clock.time()
            while self._accepted and self._accepted[0] <= now - self.window_s:
                self._accepted.popleft()
            allowed = max(1, int(self.rps * self.window_s))
            if len(self._accepted) < allowed:
                self._accepted.append(now)
                return "ok", 0
            self._rejected.append(now)
            while self._rejected and self._rejected[0] <= now - self.block_window_s:
                self._rejected.popleft()
            if self.block_after is not None and len(self._rejected) > self.block_after:
                self.blocked = True
            retry_after = max(1, math.ceil(self._accepted[0] + self.window_s - now))
            return "limited", retry_after
