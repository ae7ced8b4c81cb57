"""``export``: every Glance user as roster rows, ready to edit and run again (DESIGN.md 10).

The library half of ``bulk-provision export``: read ShowUsers page after page (bounded), keep the
users matching every ``--filter FIELD=PATTERN``, and hand them to the workbook writer
(``report/export_report.py``). No files, no printing here.

Users without a PartnerUserID cannot be addressed through PAPI (no roster row could update
them); they are kept apart so the workbook can list them on a sheet of their own, after the
roster sheet the reader takes.
"""

from __future__ import annotations

import itertools
import queue
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bulk_provision.columns import normalize_header
from bulk_provision.errors import RunStopped, UsageError
from bulk_provision.glance.models import GlanceUser
from bulk_provision.provision.retry import call_with_retries
from bulk_provision.roster.headers import canonical_column
from bulk_provision.roster.read import _TRIM as ROSTER_TRIM
from bulk_provision.schemas.checks import is_email
from bulk_provision.settings.engine import EngineOptions

#: filter field -> the user's value for it
FILTER_FIELDS: dict[str, Callable[[GlanceUser], str]] = {
    "PartnerUserID": lambda u: u.partner_user_id,
    "UserAddress": lambda u: u.user_address,
    "UserRole": lambda u: u.user_role,
    "UserEmail": lambda u: u.user_email,
    "UserFirst": lambda u: u.user_first,
    "UserLast": lambda u: u.user_last,
    "Suspended": lambda u: "yes" if u.suspended else "no",
}
T = TypeVar("T")
NO_ROLE = "-none-"
PAGE_COUNT = 1000
#: More users than any Glance group holds: a server that keeps paging past it is broken.
MAX_USERS = 5_000_000


@dataclass(frozen=True)
class UserFilter:
    """One ``--filter FIELD=PATTERN``: ``*`` wildcards, case-insensitive."""

    field: str
    pattern: str
    regex: re.Pattern[str]

    def __call__(self, user: GlanceUser) -> bool:
        value = FILTER_FIELDS[self.field](user)
        if self.field == "UserRole" and self.pattern.strip().lower() == NO_ROLE:
            return value == ""
        return self.regex.fullmatch(value) is not None

    def __str__(self) -> str:
        return f"{self.field}={self.pattern}"


def parse_filter(text: str) -> UserFilter:
    """``FIELD=PATTERN``; FIELD may be any header the roster reader knows (``Role``)."""
    name, equals, pattern = text.partition("=")
    if not equals or not name.strip():
        raise UsageError(f"--filter {text!r}: write FIELD=PATTERN, e.g. UserRole=Agent")
    field_name = canonical_column(name) or name.strip()
    if normalize_header(field_name) == normalize_header("Suspended"):
        field_name = "Suspended"
    if field_name not in FILTER_FIELDS:
        raise UsageError(
            f"--filter {text!r}: {name.strip()} is not one of {', '.join(FILTER_FIELDS)}"
        )
    pattern = pattern.strip()
    if field_name == "Suspended":
        pattern = _yes_no(text, pattern)
    parts = (re.escape(part) for part in pattern.split("*"))
    return UserFilter(field_name, pattern, re.compile(".*".join(parts), re.IGNORECASE | re.DOTALL))


def _yes_no(text: str, pattern: str) -> str:
    """``Suspended``'s pattern as the column spells it (yes/no), from any of Glance's boolean
    spellings; anything else would match nobody and is refused."""
    spelled = BOOLEANS.get(pattern.lower())
    if spelled is None:
        raise UsageError(
            f"--filter {text!r}: Suspended is yes or no (also 1/0, true/false), "
            f"not {pattern[:40]!r}"
        )
    return spelled


BOOLEANS = {"yes": "yes", "1": "yes", "true": "yes", "y": "yes",
            "no": "no", "0": "no", "false": "no", "n": "no"}
#: What an exported user may hold that will not come back from the roster as it is in Glance.
SPACED, NOT_EMAIL = "outer spaces", "an email address validation refuses"


@dataclass
class Tally:
    """What the listing saw, filled in while the users stream past; ``odd`` counts the exported
    users whose values will not round-trip (outer spaces, an email validation refuses)."""

    seen: int = 0
    exported: int = 0
    without_key: list[GlanceUser] = field(default_factory=list)
    odd: Counter[str] = field(default_factory=Counter)


def oddities(user: GlanceUser) -> list[str]:
    """Why ``user``'s exported row will not read back as Glance holds it: a value with outer
    spaces (the reader trims them), an email address the roster validation refuses."""
    values = (user.partner_user_id, user.user_address, user.user_first, user.user_last,
              user.user_email, user.user_role)
    found = [SPACED] if any(v != v.strip(ROSTER_TRIM) for v in values) else []
    if not is_email(user.user_email.strip(ROSTER_TRIM)):
        found.append(NOT_EMAIL)
    return found


def matching_users(
    users: Iterable[GlanceUser],
    filters: Sequence[UserFilter],
    tally: Tally,
    *,
    max_users: int = MAX_USERS,
) -> Iterator[GlanceUser]:
    """The users with a PartnerUserID that pass every filter, in ShowUsers order; the filtered
    users without one are collected in ``tally.without_key``.

    Stops with RunStopped (exit 4) past ``max_users`` users or on a PartnerUserID listed twice
    (a server paging in circles): never an endless listing, never a roster with one key twice.
    """
    keys: set[str] = set()
    for user in users:
        tally.seen += 1
        if tally.seen > max_users:
            raise RunStopped(
                f"ShowUsers went on past {max_users:,} users, more than a Glance group holds; "
                "nothing was written: the server seems to page in circles, try again later"
            )
        key = user.partner_user_id
        if key:
            if key in keys:
                raise RunStopped(
                    f"ShowUsers listed PartnerUserID {key!r} twice; the listing cannot be "
                    "trusted and nothing was written: try again later"
                )
            keys.add(key)
        if not all(test(user) for test in filters):
            continue
        if key:
            tally.exported += 1
            tally.odd.update(oddities(user))
            yield user
        else:
            tally.without_key.append(user)


def export_users(
    show_users: Callable[..., Iterable[GlanceUser]],
    write: Callable[[Iterable[GlanceUser], Iterable[GlanceUser]], object],
    filters: Sequence[UserFilter] = (),
    options: EngineOptions | None = None,
    stop: threading.Event | None = None,
) -> Tally:
    """List the users (``show_users``: the client's paging iterator) into ``write(users,
    without_key)``, which must write atomically; returns what was seen.

    A temporary failure (503, a timeout, a dropped connection) starts the listing over after a
    backoff, as often as ``options.max_retries`` allows, then RunStopped (exit 4). A cursor
    cannot be trusted across a failure, and a read-only listing is cheap to redo.
    """

    def attempt() -> Tally:
        tally = Tally()
        listing = prefetched(show_users(page_count=PAGE_COUNT))
        write(matching_users(listing, filters, tally), tally.without_key)
        return tally

    return call_with_retries(attempt, options or EngineOptions(), what="ShowUsers (export)",
                             stop=stop)


def prefetched(
    source: Iterable[T], *, batch: int = PAGE_COUNT, depth: int = 8
) -> Iterator[T]:
    """``source`` read ahead in a thread, ``depth`` batches at most: the next ShowUsers page
    travels while the workbook is written. Errors of ``source`` are raised here; leaving the
    loop early stops the reader (after its current request)."""
    chunks: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    gone = threading.Event()

    def hand_over(kind: str, value: Any) -> bool:
        while not gone.is_set():
            try:
                chunks.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            iterator = iter(source)
            while chunk := list(itertools.islice(iterator, batch)):
                if not hand_over("items", chunk):
                    return
            hand_over("end", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            hand_over("error", exc)

    threading.Thread(target=read, name="export-reader", daemon=True).start()
    try:
        while True:
            kind, value = chunks.get()
            if kind == "error":
                raise value
            if kind == "end":
                return
            yield from value
    finally:
        gone.set()
