"""The HTTPS server: threaded, HTTP/1.1 keep-alive, TLS handshakes off the accept loop."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bulk_provision.simulator.app import HttpAnswer, SimulatorApp
from bulk_provision.simulator.handlers import OPERATIONS

HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 120.0  # an idle keep-alive connection is closed after this long
MAX_BODY = 1 << 20


class SimulatorHTTPServer(ThreadingHTTPServer):
    """Serves ``app`` over TLS; ``close_all()`` ends every open connection and joins workers."""

    daemon_threads = True
    block_on_close = False  # workers are tracked and joined by close_all()
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], app: SimulatorApp, context: ssl.SSLContext
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.context = context
        self._lock = threading.Lock()
        self._connections: set[ssl.SSLSocket] = set()
        self._workers: set[threading.Thread] = set()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self._work, args=(request, client_address), name="glance-sim-conn", daemon=True
        )
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def _work(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        finally:
            request.close()  # detached once wrapped; closes only a never-wrapped socket
            with self._lock:
                self._workers.discard(threading.current_thread())

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake runs here, in the connection's own thread, so a client that never
        # completes it cannot stall the accept loop.
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return
        with self._lock:
            self._connections.add(tls)
        try:
            if not self.app.stopping.is_set():
                tls.settimeout(IDLE_TIMEOUT)
                _Handler(tls, client_address, self)
        except (OSError, ValueError):
            pass  # the client went away or stop() cut the connection
        finally:
            with self._lock:
                self._connections.discard(tls)
            tls.close()

    def close_all(self, timeout: float = 5.0) -> None:
        """Cut every open connection and wait (bounded) for their threads to end."""
        with self._lock:
            connections = list(self._connections)
            workers = list(self._workers)
        for conn in connections:
            try:
                # The plain-socket shutdown: it wakes a thread blocked in an SSL read without
                # tearing down the SSL object under it.
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass
        for worker in workers:
            worker.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GlanceSimulator/0.1"
    sys_version = ""
    disable_nagle_algorithm = True
    server: SimulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Silent: a line per request on stderr would cost throughput and fill terminals."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_BODY:
            self.send_error(413)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        params: dict[str, str] = {}
        for source in (url.query, body.decode("utf-8", "replace")):
            for name, value in parse_qsl(source, keep_blank_values=True, errors="replace"):
                params.setdefault(name.lower(), value)
        answer = self.server.app.handle(OPERATIONS.get(url.path.lower()), params)
        if answer.drop:
            self.close_connection = True  # committed, but the client never hears of it
            return
        self._write(answer)

    def _write(self, answer: HttpAnswer) -> None:
        lines = [f"HTTP/1.1 {answer.status} {answer.reason}"]
        lines.append(f"Content-Type: {answer.content_type}")
        lines.append(f"Content-Length: {len(answer.body)}")
        lines.extend(f"{name}: {value}" for name, value in answer.headers)
        if self.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + answer.body
        if answer.byte_delay <= 0:
            self.wfile.write(data)
            return
        stopping = self.server.app.stopping
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            if stopping.wait(answer.byte_delay):
                self.close_connection = True
                return
