"""Plain data passed between the stages: actions planned for rows and what happened to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bulk_provision.glance.models import AudioCodes


class ActionKind(StrEnum):
    """What the run will do for one user."""

    CREATE = "create"
    UPDATE = "update"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    DELETE = "delete"
    NONE = "none"  # nothing to send: the user is already as the roster says
    SKIP = "skip"  # nothing to send: a leaver (or a suspend row) Glance does not know


NOT_IN_GLANCE = "left; not in Glance: nothing to suspend, not created"


class Outcome(StrEnum):
    """What happened to one row (the results workbook's ``Outcome`` column)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    DELETED = "deleted"
    EXISTS = "exists"
    SKIPPED = "skipped"  # nothing to do: a leaver Glance does not know ("left; not in Glance")
    INVALID = "invalid"
    FAILED = "failed"  # Glance refused it definitely; a person must fix the data
    UNFINISHED = "unfinished"  # no definite answer yet (retries ran out, stopped, in doubt)
    NOT_ATTEMPTED = "not attempted"  # never sent: the run stopped before reaching it


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
    """What is known about one planned action: journaled in the checkpoint, shown in the results.

    ``outcome`` is final (created, failed...) or open (unfinished, not attempted: a re-run still
    sends it); ``lifecycle.row_outcome`` derives it from the journal state.
    """

    key: str
    row: int | None
    kind: ActionKind
    outcome: Outcome
    message: str = ""
    audio: AudioCodes = field(default_factory=AudioCodes)
    attempts: int = 0


class Progress(Protocol):
    """What the engine tells whoever shows its progress (a bar, a page, a log)."""

    def start(self, total: int) -> None: ...

    def result(self, result: RowResult) -> None: ...

    def retrying(self, delta: int) -> None: ...

    def notice(self, message: str) -> None: ...


class StopReason(StrEnum):
    """Why the engine stopped; each row's own state is in the journal."""

    COMPLETED = "completed"
    AUTH = "auth"
    TRANSIENT = "transient"
    INTERRUPTED = "interrupted"
