"""The page's HTTP server settings: uvicorn as ``bulk-provision serve`` runs it.

Against clients that hold connections open without finishing a request (slowloris): a
connection must send a whole request head within HEADER_SECONDS of connecting or of its
previous answer (uvicorn by itself waits for ever), idle keep-alive connections close after
KEEP_ALIVE_SECONDS, and at most CONCURRENCY connections and requests are served at once
(more get 503). Slow request bodies are cut off where the body is read (``base.read_form``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5
CONCURRENCY = 500
MAX_HEADER_BYTES = 64 * 1024


class GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection that does not finish its request
    head in time."""

    header_seconds = HEADER_SECONDS
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def handle_events(self) -> None:
        super().handle_events()
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _watch_head(self) -> None:
        if not self._waiting_for_head():
            self._stop_watching()
        elif self._head_timer is None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _stop_watching(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self._waiting_for_head():
            self.transport.close()


def uvicorn_config(app: Any, *, tls_cert: Path | None = None, tls_key: Path | None = None,
                   header_seconds: float = HEADER_SECONDS,
                   graceful_seconds: int = 5) -> uvicorn.Config:
    protocol = type("GuardedH11", (GuardedH11,), {"header_seconds": header_seconds})
    return uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=graceful_seconds,
        ws="none", http=protocol, loop="asyncio", timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=CONCURRENCY, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        ssl_certfile=tls_cert, ssl_keyfile=tls_key,
    )
