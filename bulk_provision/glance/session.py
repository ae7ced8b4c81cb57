"""The client's HTTPS transport (pooled, requests' HTTPAdapter), and a total deadline per
HTTP exchange.

requests' read timeout bounds each socket read, so a server that answers one byte a second never
trips it. Here every exchange gets a deadline; the connections it uses register themselves (a
urllib3 connection subclass, found through a thread-local), and one watchdog thread per client
shuts down the socket of an exchange that outlives its deadline. The blocked read then ends with
an EOF, which the client reports as a timeout.

Only the TCP socket is shut down (``socket.socket.shutdown`` on the raw descriptor): the SSL
object and the descriptor itself are left to their owner, so there is no use-after-close race.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
from requests import PreparedRequest
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from bulk_provision.errors import InsecureEndpointError

_current = threading.local()


class Exchange:
    """One request/response exchange under a deadline (monotonic seconds)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self.request_started = False  # set once a watched connection begins sending
        self._sockets: list[socket.socket] = []

    def attach(self, sock: socket.socket | None) -> None:
        if sock is not None:
            self._sockets.append(sock)
            if self.fired:  # the deadline passed while connecting
                self._shutdown(sock)

    def fire(self) -> None:
        self.fired = True
        for sock in self._sockets:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by its owner: nothing left to interrupt


class _WatchedHTTPSConnection(HTTPSConnection):
    """Registers its socket with the calling thread's current exchange before each request."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        exchange: Exchange | None = getattr(_current, "exchange", None)
        if exchange is not None:
            exchange.attach(self.sock)
            if exchange.fired:  # the deadline passed waiting for a connection: nothing sent
                raise TimeoutError("the exchange's deadline passed before it was sent")
            exchange.request_started = True
        super().request(*args, **kwargs)


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOL_CLASSES = {"http": HTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}


class WatchedAdapter(HTTPAdapter):
    """An HTTPAdapter whose HTTPS connections take part in exchange deadlines."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOL_CLASSES)
        return manager


class Watchdog:
    """Fires exchanges that outlive their deadline. One daemon thread, started on first use."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: set[Exchange] = set()
        self._wake_at: float | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def begin(self, seconds: float) -> Exchange:
        """Start an exchange on the calling thread; end it with :meth:`end`."""
        exchange = Exchange(time.monotonic() + seconds)
        with self._cond:
            if self._closed:
                raise RuntimeError("the client is closed")
            self._active.add(exchange)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="glance-deadline-watchdog", daemon=True
                )
                self._thread.start()
            if self._wake_at is None or exchange.deadline < self._wake_at:
                self._cond.notify()
        _current.exchange = exchange
        return exchange

    def end(self, exchange: Exchange) -> None:
        """The exchange is over; after this it can no longer fire."""
        _current.exchange = None
        with self._cond:
            self._active.discard(exchange)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                for exchange in [e for e in self._active if e.deadline <= now]:
                    self._active.discard(exchange)
                    exchange.fire()
                self._wake_at = min((e.deadline for e in self._active), default=None)
                self._cond.wait(None if self._wake_at is None else self._wake_at - now)


def new_adapter(pool_size: int) -> WatchedAdapter:
    """The HTTPS transport of one client: a deadline-aware pool of ``pool_size`` connections
    (``pool_block``: a thread waits for a free connection rather than opening another)."""
    if pool_size < 1:
        raise ValueError("pool_size must be at least 1")
    return WatchedAdapter(pool_connections=1, pool_maxsize=pool_size, pool_block=True)


def https_url(url: str) -> str:
    """``url`` as requests would send it (IDNA host, quoted path); anything but https refused:
    nothing ever goes out in clear text, whatever happens above."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    if not str(prepared.url).lower().startswith("https://"):
        raise InsecureEndpointError("refusing to send a request over plain http://")
    return str(prepared.url)


def form_post(url: str, fields: Mapping[str, str], headers: Mapping[str, str]) -> PreparedRequest:
    """A POST of HTML-form ``fields`` to ``url`` (from :func:`https_url`), ready for
    ``HTTPAdapter.send``.

    Built directly rather than through ``Session.post``: a Session merges cookies, environment
    settings and hooks on every call, none of which a PAPI call uses (credentials go in each
    request's form; no cookies are kept or sent), and that merging cost more CPU per row than
    everything else the engine does. The body is what requests would encode for ``data=fields``.
    """
    if not url.startswith("https://"):  # https_url's, always; checked again on every send
        raise InsecureEndpointError("refusing to send a request over plain http://")
    body = urlencode(fields).encode("ascii")
    prepared = PreparedRequest()
    prepared.method = "POST"
    prepared.url = url
    prepared.headers = CaseInsensitiveDict(headers)
    prepared.headers["Content-Type"] = "application/x-www-form-urlencoded"
    prepared.headers["Content-Length"] = str(len(body))
    prepared.body = body
    return prepared
