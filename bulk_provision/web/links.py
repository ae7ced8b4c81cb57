"""Sign-in links made while the server runs (``bulk-provision serve --new-link``), and the
server's address they need.

::

    <workspace>/.server.json           0600: {"url": "http://127.0.0.1:8750", "accounts": false}
    <workspace>/.sign-in-links/        0700
      <SHA-256 of the token>           0600: the epoch second the link stops working

The running server writes ``.server.json`` at start (and removes it when it stops);
``--new-link``, another process, reads it for the link's address. It writes one file per link,
named by the token's SHA-256 (the token itself is printed, never stored), and the server spends
a link by deleting its file: deletion succeeds once, so a link works once even when two
browsers race, with no lock shared between the two processes. A link works for LINK_MINUTES
and at most MAX_LINKS wait at once (the oldest give way).

Whoever may write the folder could add a link of their own: the workspace and the folder must
be owner-only (:func:`check_private_folder`), both when a link is made and when one is spent.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from bulk_provision.errors import ConfigError
from bulk_provision.settings import paths
from bulk_provision.web.sessions import digest
from bulk_provision.web.workspace import make_dir, write_json

SERVER_NAME = ".server.json"
LINKS_NAME = ".sign-in-links"
LINK_MINUTES = 15
MAX_LINKS = 100


def record_server(root: Path, url: str, *, accounts: bool) -> None:
    """Note the running server's address (and whether it uses named accounts)."""
    write_json(root / SERVER_NAME, {"url": url, "accounts": accounts})


def forget_server(root: Path) -> None:
    (root / SERVER_NAME).unlink(missing_ok=True)


def recorded_server(root: Path) -> dict[str, Any] | None:
    """What the server recorded at start, or None when none has (or the record is broken)."""
    try:
        found = json.loads((root / SERVER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or not isinstance(found.get("url"), str):
        return None
    return found


def issue_link(root: Path, *, now: float | None = None) -> str:
    """A new one-time token for the server of workspace ``root``; only its hash is written."""
    paths.check_private_folder(root, "workspace")
    paths.check_private_folder(root / LINKS_NAME, "sign-in links folder")  # before make_dir
    folder = make_dir(root / LINKS_NAME)  # would make it owner-only, but not its files
    now = time.time() if now is None else now
    waiting = sorted(_waiting(folder, now), key=lambda item: item[1])
    for path, _ in waiting[:max(0, len(waiting) - MAX_LINKS + 1)]:
        path.unlink(missing_ok=True)
    token = secrets.token_urlsafe(32)
    fd = paths.create_private(folder / digest(token), os.O_WRONLY | os.O_EXCL)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(str(int(now + LINK_MINUTES * 60)))
    return token


def link_waiting(root: Path, token: str) -> bool:
    """True for a link made by ``--new-link`` that is unspent and unexpired (it stays so)."""
    path = _link_path(root, token)
    return path is not None and _expiry(path) > time.time()


def spend_link(root: Path, token: str) -> bool:
    """Spend a ``--new-link`` link: True once for an unexpired one, False ever after."""
    path = _link_path(root, token)
    if path is None:
        return False
    expires = _expiry(path)
    try:
        path.unlink()  # the one spender: a second unlink finds nothing
    except OSError:
        return False
    return expires > time.time()


def _link_path(root: Path, token: str) -> Path | None:
    if not token or len(token) > 100:
        return None
    folder = root / LINKS_NAME
    try:
        paths.check_private_folder(root, "workspace")
        paths.check_private_folder(folder, "sign-in links folder")
    except ConfigError:
        return None  # a folder others may write: its links are not trusted
    return folder / digest(token)


def _expiry(path: Path) -> float:
    try:
        return float(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return 0.0


def _waiting(folder: Path, now: float) -> list[tuple[Path, float]]:
    """The unexpired links in ``folder`` (expired ones are removed on the way)."""
    found = []
    for path in folder.iterdir():
        expires = _expiry(path)
        if expires <= now:
            path.unlink(missing_ok=True)
        else:
            found.append((path, expires))
    return found
