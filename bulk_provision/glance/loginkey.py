"""Glance LoginKey (glance-api.md section 6): a time-limited HMAC-SHA256 key sent as PartnerAuth.

Format: ``$ver$expiration$signature`` where signature is the Base64URL (unpadded) HMAC-SHA256 of
``partnerid + partneruserid + ver + expiration`` under the group's API key, both UTF-8 encoded.
The simulator imports :func:`verify_login_key`; the client uses :class:`LoginKeySource`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

DEFAULT_TTL = 3600
RENEW_MARGIN = 300


def _signature(
    partner_id: str | int, partner_user_id: str, api_key: str, ver: int, exp: int
) -> str:
    message = f"{partner_id}{partner_user_id}{ver}{exp}".encode()
    mac = hmac.new(api_key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def login_key(
    partner_id: str | int,
    partner_user_id: str,
    api_key: str,
    *,
    ttl: int | None = None,
    exp: int | None = None,
    ver: int = 1,
) -> str:
    """Return a LoginKey valid until ``exp`` (epoch seconds), or for ``ttl`` seconds from now.

    Exactly one of ``ttl`` and ``exp`` must be given. Like Glance's sample code, ``now + ttl`` is
    rounded, not floored.
    """
    if (ttl is None) == (exp is None):
        raise ValueError("give exactly one of ttl and exp")
    expiration = int(exp) if exp is not None else round(time.time()) + int(ttl or 0)
    return f"${ver}${expiration}$" + _signature(
        partner_id, partner_user_id, api_key, ver, expiration
    )


def key_expiration(key: str) -> int | None:
    """The expiration epoch written in a ``$ver$exp$sig`` key, or None if it is not that shape."""
    parts = key.split("$")
    if len(parts) != 4 or parts[0] != "" or not parts[2].isdigit():
        return None
    return int(parts[2])


def verify_login_key(
    key: str,
    partner_id: str | int,
    partner_user_id: str,
    api_key: str,
    *,
    now: float,
    max_ttl: int = 86400,
    skew: int = 300,
) -> bool:
    """True if ``key`` is a valid, unexpired LoginKey for these inputs at time ``now``.

    Valid means: ``$1$exp$sig`` shape, ``now < exp``, ``exp`` at most ``max_ttl + skew`` seconds
    ahead (Glance caps keys at one day), and a signature equal (in constant time) to the expected
    one.
    """
    parts = key.split("$")
    if len(parts) != 4 or parts[0] != "" or parts[1] != "1":
        return False
    exp_text, given = parts[2], parts[3]
    if not exp_text.isdigit() or len(exp_text) > 12:
        return False
    exp = int(exp_text)
    if not now < exp or exp > now + max_ttl + skew:
        return False
    expected = _signature(partner_id, partner_user_id, api_key, 1, exp)
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


class LoginKeySource:
    """Hands out a LoginKey, minting a fresh one when the current one has under ``renew_margin``
    seconds left. Thread-safe: worker threads share one source.

    ``repr`` never shows the API key or the current key.
    """

    def __init__(
        self,
        partner_id: str | int,
        partner_user_id: str,
        api_key: str,
        *,
        ttl: int = DEFAULT_TTL,
        renew_margin: int = RENEW_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if renew_margin >= ttl:
            raise ValueError("renew_margin must be shorter than ttl")
        self._partner_id = partner_id
        self._partner_user_id = partner_user_id
        self._api_key = api_key
        self._ttl = ttl
        self._renew_margin = renew_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._key = ""
        self._exp = 0

    def __repr__(self) -> str:
        return f"LoginKeySource(partner_id={self._partner_id!r}, ttl={self._ttl})"

    def current(self) -> str:
        """A key valid for at least ``renew_margin`` more seconds."""
        with self._lock:
            now = self._clock()
            if self._exp - now < self._renew_margin:
                self._exp = round(now) + self._ttl
                self._key = login_key(
                    self._partner_id, self._partner_user_id, self._api_key, exp=self._exp
                )
            return self._key
