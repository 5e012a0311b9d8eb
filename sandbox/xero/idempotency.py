"""``Idempotency-Key`` on PUT/POST: the first response is kept for 6 minutes (sandbox clock) per app and key.

The same key with the same request (method, path, query and body) returns the stored response, errors included;
the same key with a different request gives 400. A second request with a key whose first request is still being
handled waits for it, then gets its answer.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from sandbox.common.clock import Clock

TTL_SECONDS = 6 * 60
MAX_KEY_LENGTH = 128


@dataclass
class StoredResponse:
    status: int
    body: bytes
    content_type: str


@dataclass
class _Entry:
    fingerprint: str
    expires_at: float
    response: StoredResponse | None = None


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.lower().encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyCache:
    def __init__(self, clock: Clock, ttl: float = TTL_SECONDS) -> None:
        self.clock = clock
        self.ttl = ttl
        self._cond = threading.Condition()
        self._entries: dict[tuple[str, str], _Entry] = {}

    def begin(self, scope: str, key: str, print_: str) -> StoredResponse | str | None:
        """``None``: handle the request (then :meth:`finish`); a stored response: replay it; ``"conflict"``: 400."""
        with self._cond:
            while True:
                now = self.clock.time()
                for k in [k for k, e in self._entries.items() if e.expires_at <= now and e.response is not None]:
                    del self._entries[k]
                entry = self._entries.get((scope, key))
                if entry is None:
                    self._entries[(scope, key)] = _Entry(print_, now + self.ttl)
                    return None
                if entry.fingerprint != print_:
                    return "conflict"
                if entry.response is not None:
                    return entry.response
                self._cond.wait(timeout=1.0)

    def finish(self, scope: str, key: str, response: StoredResponse | None) -> None:
        """Store the answer (``None`` forgets the key, e.g. when the handler crashed)."""
        with self._cond:
            entry = self._entries.get((scope, key))
            if entry is not None:
                if response is None:
                    del self._entries[(scope, key)]
                else:
                    entry.response = response
                    entry.expires_at = self.clock.time() + self.ttl
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._entries.clear()
            self._cond.notify_all()
