"""Signed-in sessions that outlive the server: kept in the workspace, hashed at rest.

::

    <workspace>/.sessions.json    0600, replaced atomically on every change
      {"cookie": "<8 hex>",                       the random part of the cookie's name
       "sessions": {"<SHA-256 of the id>": {"user": "alice", "since": <epoch seconds>}}}

Only the SHA-256 of each session id is written, never the id the browser holds, so a copy of
the file lets nobody in. The form's CSRF token is derived from the id (HMAC), so it is not
stored either. A session lasts ``hours`` from its sign-in (a working day by default; the
``serve --session-hours`` option or the config file's ``session_hours``), in wall-clock time,
so a restart neither ends nor extends it (a restart with other hours applies them to every
session). Signing out removes it from the file at once: the
cookie is worth nothing afterwards, after a restart too. At most MAX_SESSIONS are kept; a new
one beyond that pushes out the one that would end first.

The cookie's name keeps its random part per workspace (two servers on one machine still do not
sign each other out, and one workspace has one server at a time): after a restart the
browser's cookie names this server again.

Without a file (``path`` None) the store lives in memory only, as for a test's app.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulk_provision.settings import paths
from bulk_provision.web.workspace import write_json

SESSIONS_NAME = ".sessions.json"
DEFAULT_HOURS = 10.0
MAX_HOURS = 7 * 24.0
MAX_SESSIONS = 1000
log = logging.getLogger("bulk_provision.web")


@dataclass(frozen=True)
class Session:
    """One signed-in browser: who, the token its forms carry, when it ends (epoch seconds)."""

    user: str
    csrf: str
    expires: float


def digest(secret: str) -> str:
    """What is stored of a session id or a sign-in link's token: its SHA-256 (hex). The
    secrets are 256 random bits, so a fast hash is enough: there is nothing to guess."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_for(sid: str) -> str:
    return hmac.new(sid.encode("utf-8"), b"bulk-provision csrf", hashlib.sha256).hexdigest()


class SessionStore:
    """Session ids -> :class:`Session`, persisted in ``path`` (or in memory without one)."""

    def __init__(self, path: Path | None = None, *, hours: float = DEFAULT_HOURS,
                 clock: Callable[[], float] = time.time) -> None:
        self.path, self.seconds, self.clock = path, hours * 3600, clock
        self._lock = threading.Lock()
        self._sessions: dict[str, dict[str, Any]] = {}
        self.cookie_suffix = secrets.token_hex(4)
        if path is not None:
            self._load(path)

    def open(self, user: str) -> str:
        """A new session for ``user``; returns its id (for the cookie, never stored)."""
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._drop_expired()
            while len(self._sessions) >= MAX_SESSIONS:
                first = min(self._sessions, key=lambda k: self._sessions[k]["since"])
                del self._sessions[first]
            self._sessions[digest(sid)] = {"user": user, "since": self.clock()}
            self._save()
        return sid

    def find(self, sid: str) -> Session | None:
        """The live session of ``sid``, or None (an expired one is removed)."""
        if not sid:
            return None
        key = digest(sid)
        with self._lock:
            found = self._sessions.get(key)
            if found is None:
                return None
            expires = found["since"] + self.seconds
            if expires <= self.clock():
                del self._sessions[key]
                self._save()
                return None
            return Session(found["user"], csrf_for(sid), expires)

    def end(self, sid: str) -> None:
        """Sign ``sid`` out for good (the file is rewritten before this returns)."""
        with self._lock:
            if self._sessions.pop(digest(sid), None) is not None:
                self._save()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _drop_expired(self) -> None:
        cutoff = self.clock() - self.seconds
        for key in [k for k, v in self._sessions.items() if v["since"] <= cutoff]:
            del self._sessions[key]

    def _load(self, path: Path) -> None:
        # whoever may write this file could add a session of their own: refused like the
        # users file (ConfigError, exit 2 at start); on Windows, as the workspace, unchecked
        if not paths.WINDOWS:
            paths.check_not_shared(path, "sessions file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            log.warning("sign-ins in %s were unreadable (%s); everyone signs in again", path, exc)
            data = {}
        cookie = data.get("cookie") if isinstance(data, dict) else None
        if isinstance(cookie, str) and len(cookie) == 8 and all(
                c in "0123456789abcdef" for c in cookie):
            self.cookie_suffix = cookie
        stored = data.get("sessions") if isinstance(data, dict) else None
        for key, value in (stored if isinstance(stored, dict) else {}).items():
            if (isinstance(key, str) and len(key) == 64 and isinstance(value, dict)
                    and isinstance(value.get("user"), str)
                    and isinstance(value.get("since"), int | float)
                    and not isinstance(value["since"], bool)):
                self._sessions[key] = {"user": value["user"], "since": float(value["since"])}
        with self._lock:
            self._drop_expired()
            self._save()  # also records the cookie name a fresh workspace got

    def _save(self) -> None:
        if self.path is not None:
            write_json(self.path, {"cookie": self.cookie_suffix, "sessions": self._sessions})
