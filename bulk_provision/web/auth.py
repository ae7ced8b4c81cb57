"""Who may use the page, and the guard in front of every route.

- Without ``--users``: the server prints a URL with a one-time token; opening it exchanges the
  token for a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS). The token works once.
- With ``--users FILE``: named accounts, ``name:scrypt$n$r$p$salt$hash`` one a line, made by
  ``bulk-provision serve --add-user NAME``; the login form's button reads "Sign in".
- :class:`Guard` (ASGI middleware) checks the Host header (DNS rebinding), refuses cross-site
  state-changing requests, requires a session everywhere but the login page and the static
  files, and adds the security headers (a CSP without inline script, ``frame-ancestors 'none'``).
  Each form carries the session's CSRF token, checked by :func:`check_csrf` in the routes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from bulk_provision.errors import ConfigError

COOKIE = "bp_session"
SESSION_SECONDS = 12 * 3600
LOCKOUT_FAILURES = 5
LOCKOUT_SECONDS = 300
NAME_PATTERN = re.compile(r"[A-Za-z0-9._@-]{1,64}")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
PUBLIC_PATHS = ("/login",)
PUBLIC_PREFIXES = ("/static/",)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=64 << 20, **SCRYPT)
    parts = [str(SCRYPT["n"]), str(SCRYPT["r"]), str(SCRYPT["p"]),
             base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    return "scrypt$" + "$".join(parts)


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or int(n) > 2**20:
            return False
        found = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                               r=int(r), p=int(p), dklen=32, maxmem=128 << 20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, base64.b64decode(digest))


def read_users(path: Path) -> dict[str, str]:
    """name -> stored hash; a missing or malformed file is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"users file {path} does not exist; create it with "
                          f"`bulk-provision serve --users {path} --add-user NAME`") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read users file {path}: {exc.strerror}") from exc
    users = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, _, stored = line.partition(":")
        if not NAME_PATTERN.fullmatch(name) or not stored.startswith("scrypt$"):
            raise ConfigError(f"users file {path}, line {number}: expected NAME:scrypt$...")
        users[name] = stored
    if not users:
        raise ConfigError(f"users file {path} has no accounts; add one with --add-user NAME")
    return users


def add_user(path: Path, name: str, password: str) -> None:
    """Add or replace ``name`` in the users file (created owner-only)."""
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError("user names are 1-64 letters, digits, '.', '_', '@' or '-'")
    if len(password) < 10:
        raise ConfigError("choose a password of at least 10 characters")
    lines = []
    if path.is_file():
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                 if ln.partition(":")[0] != name]
    lines.append(f"{name}:{hash_password(password)}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


@dataclass
class Session:
    user: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    expires: float = field(default_factory=lambda: time.monotonic() + SESSION_SECONDS)


class Access:
    """Sessions, one-time login tokens and (optionally) named accounts."""

    def __init__(self, users: dict[str, str] | None = None, *, secure: bool = False) -> None:
        self.users = users
        self.secure = secure
        self._sessions: dict[str, Session] = {}
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._dummy = hash_password(secrets.token_hex(8))
        self._failures: dict[str, list[float]] = {}

    def locked(self, name: str) -> bool:
        """True after LOCKOUT_FAILURES wrong passwords for ``name`` within LOCKOUT_SECONDS."""
        cutoff = time.monotonic() - LOCKOUT_SECONDS
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if t > cutoff]
            self._failures[name] = recent
            return len(recent) >= LOCKOUT_FAILURES

    def new_token(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens.add(token)
        return token

    def redeem(self, token: str) -> str | None:
        """A new session id for a valid one-time token (which is then spent), else None."""
        with self._lock:
            match = next((t for t in self._tokens if hmac.compare_digest(t, token)), None)
            if match is None or self.users is not None:
                return None
            self._tokens.discard(match)
        return self._open("local admin")

    def sign_in(self, name: str, password: str) -> str | None:
        stored = (self.users or {}).get(name)
        ok = verify_password(password, stored or self._dummy)  # same work for unknown names
        if ok and stored is not None:
            return self._open(name)
        with self._lock:
            self._failures.setdefault(name[:64], []).append(time.monotonic())
        return None

    def _open(self, user: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[sid] = Session(user)
        return sid

    def session(self, scope: Scope) -> Session | None:
        sid = cookies(scope).get(COOKIE)
        if not sid:
            return None
        with self._lock:
            found = self._sessions.get(sid)
            if found is None or found.expires < time.monotonic():
                self._sessions.pop(sid, None)
                return None
            return found

    def end(self, scope: Scope) -> None:
        with self._lock:
            self._sessions.pop(cookies(scope).get(COOKIE, ""), None)

    def cookie(self, sid: str) -> str:
        secure = "; Secure" if self.secure else ""
        return f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict{secure}"


def cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is no session
                return {}
            return {k: m.value for k, m in jar.items()}
    return {}


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Guard:
    """Host check, cross-site refusal, session requirement and security headers."""

    def __init__(self, app: App, access: Access, hosts: Iterable[str]) -> None:
        self.app, self.access = app, access
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        refusal = self.refusal(scope)
        if refusal is not None:
            status, text, location = refusal
            headers = [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS]
            if location:
                headers.append((b"location", location.encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": text.encode()})
            return
        scope.setdefault("state", {})["session"] = self.access.session(scope)
        await self.app(scope, receive, send_with_headers)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        host = (header(scope, b"host") or "").lower()
        if host not in self.hosts:
            return 400, "Refused: this server does not answer to that host name.\n", ""
        if scope["method"] not in ("GET", "HEAD"):
            origin = header(scope, b"origin")
            scheme = "https" if self.access.secure else "http"
            if origin is not None and origin.lower() != f"{scheme}://{host}":
                return 403, "Refused: a request from another site.\n", ""
            if header(scope, b"sec-fetch-site") in ("cross-site", "same-site"):
                return 403, "Refused: a request from another site.\n", ""
        path = scope["path"]
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if public or self.access.session(scope) is not None:
            return None
        if scope["method"] == "GET" and not path.endswith("/events"):
            return 303, "Sign in first.\n", "/login"
        return 401, "Refused: sign in first.\n", ""


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> list[str]:
    """Host header values this server answers to: its own address, loopback names, extras."""
    names = {host, *extra}
    if host in ("127.0.0.1", "localhost", "::1"):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    shown = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names}
    return sorted(f"{n}:{port}" for n in shown)
