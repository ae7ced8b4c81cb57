"""Small hostile HTTPS servers for tests: real TLS (trustme) on 127.0.0.1, a free port, threads.

    with HostileServer(never_answer) as server:
        client = GlanceClient(server.base_url, creds, ca_bundle=server.ca_bundle, ...)

A *behaviour* is a function taking a :class:`Conn` (one accepted connection, TLS handshake done)
and doing whatever a broken or malicious server would. Behaviours that must wait do so on
``conn.stopping`` (set when the server shuts down), never with bare sleeps, so shutdown is prompt.
Everything is closed on exit: sockets, threads and the temporary CA file.
"""

from __future__ import annotations

import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs

import trustme


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Conn:
    """One accepted connection handed to a behaviour."""

    sock: socket.socket
    server: HostileServer
    stopping: threading.Event
    buffer: bytes = b""
    sent: int = 0

    def read_request(self) -> Request | None:
        """Read one HTTP request (headers and Content-Length body); None if the peer closed."""
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            data = self.sock.recv(65536)
            if not data:
                return None
            rest += data
        self.buffer = rest[length:]
        request = Request(method, path, headers, rest[:length])
        with self.server.lock:
            self.server.requests.append(request)
        return request

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.sent += len(data)


Behaviour = Callable[[Conn], None]


def http_response(
    status: int,
    body: bytes = b"",
    *,
    reason: str = "X",
    content_type: str = "text/xml; charset=utf-8",
    headers: dict[str, str] | None = None,
    length: int | None = None,
) -> bytes:
    """The bytes of a complete HTTP/1.1 response (``length`` overrides Content-Length)."""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    lines.append("Connection: close")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def respond(
    status: int,
    body: bytes = b"",
    *,
    content_type: str = "text/xml; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Behaviour:
    """Answer the request with this response, then close."""
    raw = http_response(status, body, content_type=content_type, headers=headers)

    def behaviour(conn: Conn) -> None:
        if conn.read_request() is not None:
            conn.send(raw)

    return behaviour


def never_answer(conn: Conn) -> None:
    """Read the request, then say nothing until the server stops."""
    conn.read_request()
    conn.stopping.wait()


def silent_before_request(conn: Conn) -> None:
    """Accept (TLS done) but never even read the request."""
    conn.stopping.wait()


def drop_after_request(conn: Conn) -> None:
    """Read the request, then drop the connection without a word (hard reset)."""
    if conn.read_request() is not None:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def drip(payload: bytes, interval: float = 1.0, *, prefix: bytes = b"") -> Behaviour:
    """Read the request, send ``prefix`` at once, then ``payload`` one byte per ``interval``."""

    def behaviour(conn: Conn) -> None:
        if conn.read_request() is None:
            return
        if prefix:
            conn.send(prefix)
        for i in range(len(payload)):
            conn.send(payload[i : i + 1])
            if conn.stopping.wait(interval):
                return

    return behaviour


def endless_body(total: int, *, declare_length: bool) -> Behaviour:
    """Read the request, then stream ``total`` bytes of junk (stops when the client hangs up)."""

    def behaviour(conn: Conn) -> None:
        if conn.read_request() is None:
            return
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n"
        head += f"Content-Length: {total}\r\n".encode() if declare_length else b""
        conn.send(head + b"\r\n<response><status>OK</status><x>")
        chunk = b"A" * 65536
        while conn.sent < total and not conn.stopping.is_set():
            conn.send(chunk)

    return behaviour


@dataclass
class HostileServer:
    """A threaded TLS server on 127.0.0.1 running ``behaviour`` for each connection.

    ``cert_host`` is the name in the server certificate (another name makes a host mismatch);
    ``ca`` lets several servers share, or deliberately not share, one CA; ``tls=False`` accepts
    plain TCP and never starts a handshake.
    """

    behaviour: Behaviour
    cert_host: str = "127.0.0.1"
    ca: trustme.CA = field(default_factory=trustme.CA)
    tls: bool = True
    requests: list[Request] = field(default_factory=list)
    connections: list[Conn] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> HostileServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="hostile-")
        self.ca_bundle = Path(self._tmp.name) / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_bundle))
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(self.cert_host).configure_cert(self._context)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self._acceptor.join()
        self._listener.close()
        with self.lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in list(self._threads):
            thread.join()
        for sock in sockets:
            sock.close()
        self._tmp.cleanup()

    @property
    def bytes_sent(self) -> int:
        with self.lock:
            return sum(conn.sent for conn in self.connections)

    def _accept_loop(self) -> None:
        self._listener.settimeout(None)
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            with self.lock:
                self._sockets.append(raw)
            thread = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        sock = raw
        try:
            if self.tls:
                sock = self._context.wrap_socket(
                    raw, server_side=True, do_handshake_on_connect=False
                )
                with self.lock:
                    self._sockets.append(sock)
                sock.do_handshake()
            conn = Conn(sock, self, self._stopping)
            with self.lock:
                self.connections.append(conn)
            self.behaviour(conn)
        except (OSError, ValueError):
            pass  # the client hung up, refused our certificate, or we are shutting down
        finally:
            sock.close()


# --- a fake Glance that speaks PAPI, for servers hostile in what they say ------------------------

Answer = Callable[[str, dict[str, str]], bytes]


def papi(answer: Answer) -> Behaviour:
    """Answer each request with ``answer(operation, form fields)``: the raw HTTP response bytes.

    ``operation`` is the PAPI name from the path (``NewUser``...); the fields are the decoded
    form. One request per connection (every answer says ``Connection: close``).
    """

    def behaviour(conn: Conn) -> None:
        request = conn.read_request()
        if request is None:
            return
        operation = request.path.rsplit("/", 1)[-1].removesuffix(".asp")
        fields = {k: v[-1] for k, v in parse_qs(request.body.decode(), True).items()}
        conn.send(answer(operation, fields))

    return behaviour


def xml_ok(inner: str = "") -> bytes:
    """HTTP 200 with a PAPI success document holding ``inner``."""
    return http_response(200, f"<response><status>OK</status>{inner}</response>".encode())


def xml_error(code: str, message: str) -> bytes:
    """HTTP 200 with a PAPI ERROR document (``message`` is put in as given, unescaped)."""
    body = f"<response><status>ERROR</status><code>{code}</code><message>{message}</message>"
    return http_response(200, (body + "</response>").encode())


ROLES_OK = "<roles><role><name>Agent</name><activeusers>1</activeusers></role></roles>"


def user_xml(key: str, address: str, *, suspended: bool = False) -> str:
    """One ``<user>`` of a ShowUsers page (an empty key: a user without a PartnerUserID)."""
    return (f"<user><PartnerUserID>{key}</PartnerUserID><UserAddress>{address}</UserAddress>"
            f"<UserFirst>Ann</UserFirst><UserLast>Lee</UserLast><UserRole>Agent</UserRole>"
            f"<UserSuspended>{int(suspended)}</UserSuspended></user>")


def users_page(users: list[str], next_page_start: str | None = None) -> bytes:
    """HTTP 200 with a ShowUsers page of ``user_xml`` entries and an optional cursor."""
    cursor = f"<nextPageStart>{next_page_start}</nextPageStart>" if next_page_start else ""
    return xml_ok(f"<users>{''.join(users)}</users>{cursor}")


def tls_http_server(ca: trustme.CA, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A well-behaved HTTPS server on 127.0.0.1 (a certificate from ``ca``) serving ``handler``
    in threads of its own; the caller shuts it down (``shutdown()``, ``server_close()``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server
