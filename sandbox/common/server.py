"""Serve a WSGI app on 127.0.0.1 in a background thread (threaded, so concurrency limits can be exercised)."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


class ServerThread:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("sandboxes bind to loopback only")
        self._app = app
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://{self._host}:{self._server.server_port}"

    def bind(self) -> str:
        """Open the listening socket (port 0 picks a free one) and return the base URL."""
        if self._server is None:
            self._server = make_server(self._host, self._port, self._app, threaded=True)
            self._server.daemon_threads = True  # type: ignore[attr-defined]
        return self.base_url

    def start(self) -> str:
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox:{self._port}", daemon=True)
        self._thread.start()
        return self.base_url

    def serve_forever(self) -> None:
        """Run in the calling thread (for ``python -m sandbox.<name>``)."""
        self.bind()
        assert self._server is not None
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
