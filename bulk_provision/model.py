"""Plain data passed between the stages: actions planned for rows and what happened to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ActionKind(StrEnum):
    """What the run will do for one user."""

    CREATE = "create"
    UPDATE = "update"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    DELETE = "delete"
    NONE = "none"  # nothing to send: the user is already as the roster says


class Outcome(StrEnum):
    """What happened to one row (the results workbook's ``Outcome`` column)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    DELETED = "deleted"
    EXISTS = "exists"
    INVALID = "invalid"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"


GOOD_OUTCOMES = frozenset(
    {
        Outcome.CREATED,
        Outcome.UPDATED,
        Outcome.UNCHANGED,
        Outcome.SUSPENDED,
        Outcome.REINSTATED,
        Outcome.DELETED,
        Outcome.EXISTS,
    }
)


@dataclass(frozen=True)
class AudioCodes:
    """The audio-conferencing account Glance returns for NewUser with an AudioProvider."""

    dial_in: str = ""
    host_code: str = ""
    guest_code: str = ""

    def __bool__(self) -> bool:
        return bool(self.dial_in or self.host_code or self.guest_code)


@dataclass(frozen=True)
class Action:
    """One request to make for one user.

    ``key`` is the PartnerUserID. ``row`` is the roster's spreadsheet row number, or None for a
    user that only exists in Glance (sync suspensions). ``fields`` are the API parameters to send
    besides PartnerUserID; a password is never in ``fields``: ``send_password`` says the roster's
    UserPW for this row is to be sent, read from the roster at the moment of sending.
    ``changes`` records, for updates, field -> (before, after) for the plan workbook.
    """

    key: str
    row: int | None
    kind: ActionKind
    fields: dict[str, str] = field(default_factory=dict)
    send_password: bool = False
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RowResult:
    """The final word on one action, as journaled in the checkpoint and shown in the results."""

    key: str
    row: int | None
    action: ActionKind
    outcome: Outcome
    message: str = ""
    audio: AudioCodes = field(default_factory=AudioCodes)
    attempts: int = 0
