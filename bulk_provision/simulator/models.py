"""Plain records of the simulator: a user, a request-log entry, an error answer, a reply."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimUser:
    """One Glance account as the simulator stores it (records are replaced, never mutated)."""

    partner_user_id: str
    user_address: str
    user_pw: str = ""
    user_first: str = ""
    user_last: str = ""
    user_email: str = ""
    user_role: str = ""  # canonical provisioned role name, "" for none
    suspended: bool = False
    audio: dict[str, str] | None = None  # dialIn, hostCode, guestCode
    seq: int = 0  # creation order: the ShowUsers order and paging cursor


@dataclass(frozen=True)
class RequestRecord:
    """One request the simulator received, including faulted ones.

    ``committed`` is True only when the request changed the state; ``result`` is ``"OK"``, an
    error code (``"AUTH"``, ``"MISSING"``...), ``"HTTP503"``/``"HTTP500"``/``"HTTP429"``/
    ``"HTTP404"``, or ``"DROPPED"`` (committed or not, then closed without an answer).
    ``fields`` are the names of the parameters received (never their values), credentials
    left out: what tests read to prove an UpdateUser carried only the changed fields.
    """

    time: float
    operation: str
    partner_user_id: str
    committed: bool
    result: str
    fields: tuple[str, ...] = ()


class ApiError(Exception):
    """An ERROR document: ``code`` from glance-api.md section 4.4 and a human message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Reply:
    """What an operation produced: the XML body, whether state changed, and an optional redirect."""

    body: bytes
    result: str = "OK"
    committed: bool = False
    location: str | None = None
