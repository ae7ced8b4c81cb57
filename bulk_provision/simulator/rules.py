"""The parameter rules of glance-api.md section 3, each failure an ApiError with its code."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from bulk_provision.simulator.models import ApiError

NO_ROLE = "-none-"
_ADDRESS = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\Z")
# Characters XML 1.0 cannot carry: stored values must come back out in a well-formed document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BOOLEANS = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}
AUDIO_PROVIDERS = frozenset({"1", "666"})

Params = Mapping[str, str]  # lower-cased parameter name -> first value


def given(params: Params, name: str) -> str | None:
    """The value of parameter ``name`` (matched case-insensitively), or None when absent."""
    return params.get(name.lower())


def require(params: Params, name: str) -> str:
    """The value of a required parameter; MISSING when absent or blank."""
    value = given(params, name)
    if value is None or not value.strip():
        raise ApiError("MISSING", f"{name} is required")
    return value


def check_text(name: str, value: str, max_len: int) -> str:
    """INVALID when ``value`` is longer than ``max_len`` or holds characters XML cannot carry."""
    if len(value) > max_len:
        raise ApiError("INVALID", f"{name} is longer than {max_len} characters")
    if _NOT_XML.search(value):
        raise ApiError("INVALID", f"{name} contains control characters")
    return value


def check_address(value: str) -> str:
    """A Glance Address: letters, digits, '.' and '-', not first or last; at most 127."""
    check_text("UserAddress", value, 127)
    if not _ADDRESS.match(value):
        raise ApiError(
            "INVALID",
            "UserAddress may contain only letters, digits, '.' and '-', "
            "and may not start or end with '.' or '-'",
        )
    return value


def check_password(value: str) -> str:
    """UserPW, when given, is 8 to 49 characters."""
    check_text("UserPW", value, 49)
    if value and len(value) < 8:
        raise ApiError("INVALID", "UserPW must be at least 8 characters")
    return value


def parse_boolean(name: str, value: str) -> bool:
    """One of 1 0 yes no true false, in any case; INVALID otherwise."""
    try:
        return _BOOLEANS[value.strip().lower()]
    except KeyError:
        raise ApiError("INVALID", f"{name} must be one of 1, 0, yes, no, true, false") from None


def check_audio_provider(value: str | None) -> str:
    """AudioProvider: absent/empty for none, 1 (Glance Free Conferencing) or 666 (testing)."""
    value = (value or "").strip()
    if value and value not in AUDIO_PROVIDERS:
        raise ApiError("INVALID", "AudioProvider must be 1 or 666")
    return value


def resolve_role(value: str, roles: tuple[str, ...], max_len: int) -> str:
    """The canonical provisioned role for ``value`` ("" for none); NO_ROLE if unprovisioned."""
    check_text("UserRole", value, max_len)
    wanted = value.strip()
    if not wanted or wanted.lower() == NO_ROLE:
        return ""
    for role in roles:
        if role.lower() == wanted.lower():
            return role
    raise ApiError("NO_ROLE", f"role {wanted!r} is not provisioned in this group")


def audio_codes(partner_user_id: str) -> dict[str, str]:
    """Invented but deterministic audio account for a user, shaped like glance-api.md section 0."""
    digest = hashlib.sha256(partner_user_id.encode("utf-8")).digest()
    number = int.from_bytes(digest[:8], "big")
    guest = str(1_000_000 + number % 9_000_000)
    area = 200 + (number >> 24) % 800
    exchange = 200 + (number >> 34) % 800
    line = (number >> 44) % 10_000
    return {
        "dialIn": f"1 ({area}) {exchange}-{line:04d}",
        "hostCode": "*" + guest,
        "guestCode": guest,
    }


def wildcard_matcher(pattern: str, *, fold_case: bool) -> tuple[str, str]:
    """Split a ShowUsers criterion into (mode, text): exact, prefix, suffix, contains or any.

    Only a leading and/or trailing ``*`` is a wildcard (the documented forms); any other ``*``
    is literal.
    """
    text = pattern.lower() if fold_case else pattern
    starts, ends = text.startswith("*"), text.endswith("*") and len(text) > 1
    core = text[1 if starts else 0 : len(text) - 1 if ends else len(text)]
    if starts and ends:
        return ("contains", core)
    if starts:
        return ("suffix", core) if core else ("any", "")
    if ends:
        return ("prefix", core)
    return ("exact", core)


def matches(value: str, matcher: tuple[str, str], *, fold_case: bool) -> bool:
    """True if ``value`` satisfies a matcher made by ``wildcard_matcher``."""
    mode, core = matcher
    if fold_case:
        value = value.lower()
    if mode == "exact":
        return value == core
    if mode == "prefix":
        return value.startswith(core)
    if mode == "suffix":
        return value.endswith(core)
    if mode == "contains":
        return core in value
    return True
