"""Who may use the page, and the guard in front of every route.

- Without ``--users``: the server prints a URL with a one-time token; opening it exchanges the
  token for a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS). The token works once.
  ``bulk-provision serve --new-link`` makes more while the server runs (:mod:`links`).
- Sessions last a working day and outlive a restart: :mod:`sessions` keeps them in the
  workspace, hashed. A session counts only for the way the server now signs people in: after a
  restart with ``--users``, only for a name still in the file; without, only for link sign-ins.
- With ``--users FILE``: named accounts, ``name:scrypt$n$r$p$salt$hash`` one a line, made by
  ``bulk-provision serve --add-user NAME``; the login form's button reads "Sign in". The file
  is refused when others may change it (like the config file).
- Password guessing: every attempt is counted *before* its scrypt check, so a burst of
  parallel guesses gets no more checks than a slow one. Wrong passwords lock a name for one
  client address (LOCKOUT_FAILURES within LOCKOUT_SECONDS), so a stranger cannot lock the
  real user out from their own machine; a name is locked for every address only after
  USER_FAILURES wrong passwords from anywhere in that window (a distributed guesser gets no
  more than that). At most HASHING_SLOTS scrypt checks run at once; more wait briefly, then
  get 429. Without named accounts the form checks no password at all.
- The session cookie's name is random per workspace (two servers on one machine do not sign
  each other out: cookies ignore ports), with the ``__Host-`` prefix over HTTPS.
- :class:`Guard` (ASGI middleware) checks the Host header (DNS rebinding), refuses cross-site
  state-changing requests, requires a session everywhere but the login page and the static
  files, and adds the security headers (a CSP without inline script, ``frame-ancestors 'none'``).
  Each form carries the session's CSRF token, checked by :func:`check_csrf` in the routes.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from bulk_provision.errors import ConfigError
from bulk_provision.settings import paths
from bulk_provision.web import links
from bulk_provision.web.sessions import DEFAULT_HOURS, SESSIONS_NAME, Session, SessionStore

__all__ = ["Access", "Guard", "Session", "SignIn", "allowed_hosts"]
COOKIE = "bp_session"
LINK_USER = "local admin"  # who signed in with a link (no named accounts)
START_LINK_MINUTES = 60  # the link serve prints at start works once, within this
LOCKOUT_FAILURES = 5  # per (name, client address) within LOCKOUT_SECONDS
USER_FAILURES = 50  # per name, from all addresses together, within LOCKOUT_SECONDS
LOCKOUT_SECONDS = 300
HASHING_SLOTS = 4  # scrypt checks at once (16 MB each)
HASHING_WAIT = 2.0  # seconds a sign-in waits for a slot before 429
MAX_TRACKED = 10_000  # (name, address) pairs remembered before old ones are forgotten
NAME_PATTERN = re.compile(r"[A-Za-z0-9._@-]{1,64}")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
PUBLIC_PATHS = ("/login", "/login/link", "/healthz")
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
HSTS = (b"strict-transport-security", b"max-age=31536000")

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
    check_owner_only(path)
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


def check_owner_only(path: Path) -> None:
    """Refuse a users file that others may change: they could add an account of their own.
    On Windows, as for the config file, it must lie inside the user's profile."""
    paths.check_not_shared(path, "users file")


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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                     | getattr(os, "O_BINARY", 0), 0o600)  # Windows: no \r\n
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


class SignIn(enum.Enum):
    """How a named account's sign-in ended (the session id comes separately)."""

    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    BUSY = "busy"


class Access:
    """Sessions, one-time login tokens and (optionally) named accounts."""

    def __init__(self, users: dict[str, str] | None = None, *, secure: bool = False,
                 session_hours: float = DEFAULT_HOURS) -> None:
        self.users = users
        self.secure = secure
        self.session_hours = session_hours
        self.workspace: Path | None = None
        self._sessions = SessionStore(hours=session_hours)
        self.cookie_name = self._name_cookie()
        self._tokens: dict[str, float] = {}  # token -> the monotonic second it ends
        self._lock = threading.Lock()
        self._hashing = threading.BoundedSemaphore(HASHING_SLOTS)
        self._dummy = hash_password(secrets.token_hex(8)) if users is not None else ""
        self._attempts: dict[tuple[str, str], list[float]] = {}

    def use_workspace(self, root: Path) -> None:
        """Keep sessions in workspace ``root`` (they outlive a restart) and accept the links
        ``--new-link`` leaves there. The server calls this once it holds the workspace."""
        self._sessions = SessionStore(root / SESSIONS_NAME, hours=self.session_hours)
        self.workspace = root
        self.cookie_name = self._name_cookie()

    def _name_cookie(self) -> str:
        prefix = "__Host-" if self.secure else ""
        return f"{prefix}{COOKIE}_{self._sessions.cookie_suffix}"

    def new_token(self, minutes: float = START_LINK_MINUTES) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + minutes * 60
        return token

    def _live_tokens(self) -> list[str]:
        """The unspent tokens still in their time (the others are forgotten); under the lock."""
        now = time.monotonic()
        for token in [t for t, ends in self._tokens.items() if ends <= now]:
            del self._tokens[token]
        return list(self._tokens)

    def redeem(self, token: str) -> str | None:
        """A new session id for a valid one-time token (which is then spent), else None."""
        if self.users is not None:
            return None
        with self._lock:
            match = next((t for t in self._live_tokens() if hmac.compare_digest(t, token)), None)
            self._tokens.pop(match or "", None)
        if match is None and not (self.workspace and links.spend_link(self.workspace, token)):
            return None
        return self._sessions.open(LINK_USER)

    def token_valid(self, token: str) -> bool:
        """True for an unspent one-time token (it stays unspent)."""
        if self.users is not None:
            return False
        with self._lock:
            if any(hmac.compare_digest(t, token) for t in self._live_tokens()):
                return True
        return self.workspace is not None and links.link_waiting(self.workspace, token)

    def sign_in(self, name: str, password: str, address: str = "") -> tuple[SignIn, str]:
        """Check a named account's password: (SignIn.OK, session id) or why not (and "").

        The attempt is counted before the password is checked, atomically with the lockout
        test, so parallel guesses cannot overtake the count."""
        stored = (self.users or {}).get(name)
        if self.users is None:
            return SignIn.WRONG, ""  # no named accounts: nothing to check, no scrypt
        key = (name[:64], address[:64])
        if not self._count_attempt(key):
            return SignIn.LOCKED, ""
        if not self._hashing.acquire(timeout=HASHING_WAIT):
            self._forget_attempt(key)
            return SignIn.BUSY, ""
        try:
            ok = verify_password(password, stored or self._dummy)  # same work for unknown names
        finally:
            self._hashing.release()
        if ok and stored is not None:
            with self._lock:
                self._attempts.pop(key, None)
            return SignIn.OK, self._sessions.open(name)
        return SignIn.WRONG, ""

    def _count_attempt(self, key: tuple[str, str]) -> bool:
        """Record an attempt for (name, address); False (not recorded) when locked."""
        now = time.monotonic()
        cutoff = now - LOCKOUT_SECONDS
        with self._lock:
            if len(self._attempts) > MAX_TRACKED:
                self._attempts = {k: [t for t in v if t > cutoff]
                                  for k, v in self._attempts.items() if v and v[-1] > cutoff}
            mine = [t for t in self._attempts.get(key, []) if t > cutoff]
            by_name = sum(1 for k, times in self._attempts.items() if k[0] == key[0]
                          for t in times if t > cutoff)
            if len(mine) >= LOCKOUT_FAILURES or by_name >= USER_FAILURES:
                return False
            self._attempts[key] = [*mine, now]
            return True

    def _forget_attempt(self, key: tuple[str, str]) -> None:
        with self._lock:
            times = self._attempts.get(key)
            if times:
                times.pop()

    def session(self, scope: Scope) -> Session | None:
        found = self._sessions.find(cookies(scope).get(self.cookie_name, ""))
        if found is None:
            return None
        if self.users is None and found.user != LINK_USER:
            return None  # a named account's session, from before a restart without --users
        if self.users is not None and found.user not in self.users:
            return None  # a link's session, or a name since taken out of the users file
        return found

    def ended(self, scope: Scope) -> bool:
        """True when the browser still holds this server's cookie but its session is over
        (expired, signed out elsewhere, or from before the way of signing in changed)."""
        return self.cookie_name in cookies(scope) and self.session(scope) is None

    def end(self, scope: Scope) -> None:
        """Sign this browser out for good (also after a restart)."""
        self._sessions.end(cookies(scope).get(self.cookie_name, ""))

    def cookie(self, sid: str) -> str:
        secure = "; Secure" if self.secure else ""
        return f"{self.cookie_name}={sid}; Path=/; HttpOnly; SameSite=Strict{secure}"

    def cleared_cookie(self) -> str:
        secure = "; Secure" if self.secure else ""
        return f"{self.cookie_name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"


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

    def __init__(self, app: App, access: Access, hosts: Iterable[str],
                 refused_page: Callable[[Scope], bytes] | None = None) -> None:
        self.app, self.access, self.refused_page = app, access, refused_page
        self.hosts = {h.lower() for h in hosts}
        self.headers = [*HEADERS, HSTS] if access.secure else list(HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        refusal = self.refusal(scope)
        if refusal is not None:
            status, text, location = refusal
            kind, body = b"text/plain; charset=utf-8", text.encode()
            if status == 401 and scope["method"] == "POST" and self.refused_page is not None:
                # a form sent after the sign-in ended: the sign-in page, not a bare line
                kind, body = b"text/html; charset=utf-8", self.refused_page(scope)
            headers = [(b"content-type", kind), (b"cache-control", b"no-store"), *self.headers]
            if location:
                headers.append((b"location", location.encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
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
    """Host header values this server answers to: its own address, loopback names, extras.

    Browsers leave out the scheme's default port (``https://name`` sends ``Host: name``), and
    a reverse proxy in front passes the name browsers used: the ``--allow-host`` names are
    accepted without a port too, and every name is on port 443 or 80. Only the name matters
    against DNS rebinding (the attacker's name is never on the list)."""
    names = {host, *extra}
    if host in ("127.0.0.1", "localhost", "::1"):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    shown = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names}
    allowed = {f"{n}:{port}" for n in shown}
    bare = shown if port in (80, 443) else {
        f"[{n}]" if ":" in n and not n.startswith("[") else n for n in extra}
    return sorted(allowed | bare)
