"""The one exception tree of bulk-provision, and the one table of how a command ends.

Every way a command can end is an :class:`Ending`; :data:`EXIT_CODES` maps each to its exit code
and :data:`EXIT_MEANING` words each code (DESIGN.md section 6). Every error a user can cause is
one of the classes below, each carrying its ending; ``cli`` turns it into one clear line on stderr
and that ending's exit code. Lower-level errors (OSError, requests, zipfile, XML) are mapped at the
edge with ``raise ... from exc``; nothing else escapes to the user.

::

    BulkProvisionError                     exit 2 unless stated
    ├── UsageError                         bad option or combination of options
    │   ├── Refused                        a whole plan or undo refused; the reasons listed
    │   └── UploadTooLarge                 an upload to the page over --max-upload
    ├── ConfigError                        bad config file, environment or base URL
    ├── RosterError                        roster unreadable: missing, corrupt, empty, bad header
    ├── ValidationFailed                   exit 3: rows break the rules, nothing was sent
    ├── CheckpointError                    checkpoint unusable (other roster, corrupt)
    ├── LifecycleError                     a row moved from a state it may not leave (a bug)
    ├── RunStopped                         exit 4: stopped early, resumable
    │   └── CheckpointLocked               exit 4: another run holds the checkpoint
    ├── Interrupted                        exit 130: Ctrl-C / SIGTERM, resumable
    └── GlanceError                        anything from talking to Glance
        ├── AuthError                      exit 4: credentials rejected (code AUTH)
        ├── PermanentApiError              an ERROR document: final for this request
        ├── TransientApiError              429, 5xx, connection error, timeout: retry later
        │   ├── ResponseFormatError        the body could not be understood (garbage, bomb, too big)
        │   └── StopRequested              internal: a stop while a row waited to send
        └── InsecureEndpointError          not https://, redirect to http://, bad certificate

Messages never contain a secret (PartnerPW, API key, LoginKey, UserPW).

An error carries structure, not a front end's wording: its message says what failed; ``where``
(a :class:`Where`: file, row, column, setting) says where, and ``hint`` (a :class:`Hint`) what
the user can do about it, as a kind. The command line words a hint with its options
(``cli/hints.py``), the page with its buttons (``web/hints.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class Ending(StrEnum):
    """How a command ended; the exit code is ``EXIT_CODES[ending]``."""

    FINISHED = "finished"  # every row ended well
    FINISHED_WITH_FAILURES = "finished with failures"  # every row final, some failed or invalid
    USAGE = "usage"  # bad option, configuration or input; nothing was done
    INVALID = "invalid"  # rows break the rules; nothing was sent
    STOPPED = "stopped"  # stopped early or rows left unfinished; resumable
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM; resumable
    PIPE_CLOSED = "pipe closed"  # the reader of the output went away (``... | head``)


EXIT_CODES: dict[Ending, int] = {
    Ending.FINISHED: 0,
    Ending.FINISHED_WITH_FAILURES: 1,
    Ending.USAGE: 2,
    Ending.INVALID: 3,
    Ending.STOPPED: 4,
    Ending.INTERRUPTED: 130,
    Ending.PIPE_CLOSED: 141,
}

EXIT_MEANING: dict[int, str] = {
    0: "every row ended well",
    1: "finished; some rows failed or were invalid (see the Results sheet)",
    2: "usage, configuration or unreadable input; nothing was changed",
    3: "invalid rows; nothing was sent",
    4: "stopped early or rows left unfinished; resumable: re-run the same command",
    130: "interrupted; resumable: re-run the same command",
    141: "the program reading the output went away (a closed pipe)",
}


class Hint(StrEnum):
    """What the user can do next, as a kind; each front end says it in its own words."""

    PICK_SHEET = "pick-sheet"  # the first sheet holds no roster: choose the one that does
    UNHIDE_SHEET = "unhide-sheet"  # every worksheet is hidden: unhide the roster's, or choose it
    NO_SHEETS = "no-sheets"  # a sheet was chosen for a CSV file, which has none
    MAP_HEADER = "map-header"  # a required column is missing: rename its header, or map it
    MAP_IN_RECIPE = "map-in-recipe"  # the same, while a recipe reads the export: in the recipe
    OTHER_GLANCE = "other-glance"  # a journal or plan made against another Glance: start anew


@dataclass(frozen=True)
class Where:
    """Where an error is: a file, a row and column of it, or a setting (``JobSpec`` field)."""

    file: str | None = None
    row: int | None = None
    column: str | None = None
    setting: str | None = None


class BulkProvisionError(Exception):
    """Base of every error bulk-provision reports to a user: a message (what failed), and
    optionally ``where`` it is and a ``hint`` of what to do (worded by each front end)."""

    ending: ClassVar[Ending] = Ending.USAGE
    where: Where | None = None
    hint: Hint | None = None

    def __init__(self, *args: object, where: Where | None = None, hint: Hint | None = None) -> None:
        super().__init__(*args)
        if where is not None:
            self.where = where
        if hint is not None:
            self.hint = hint

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.ending]


def worded(error: BulkProvisionError, words: Mapping[Hint, str]) -> str:
    """``error``'s message followed by its hint in a front end's ``words`` (each entry starts
    with the punctuation that joins it to the message)."""
    hint = error.hint
    return str(error) + words[hint] if hint is not None and hint in words else str(error)


class UsageError(BulkProvisionError):
    """A bad option or combination of options."""


class Refused(UsageError):
    """A plan (``run --plan``) or an undo refused as a whole before any write.

    ``details`` are the reasons, one short line each (the CLI prints a few, then "and N more").
    """

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = list(details or [])


class UploadTooLarge(UsageError):
    """An upload to the page over ``serve --max-upload``."""


class ConfigError(BulkProvisionError):
    """A bad configuration file, environment variable or endpoint."""


class RosterError(BulkProvisionError):
    """The roster cannot be read at all (missing, corrupt, empty, wrong columns)."""


class ValidationFailed(BulkProvisionError):
    """Rows break the rules; no write request was sent (``plan`` on an invalid roster)."""

    ending = Ending.INVALID


class CheckpointError(BulkProvisionError):
    """The checkpoint file cannot be used for this run."""


class LifecycleError(CheckpointError):
    """A journal transition refused: the row was not in a state it may leave that way.

    Never a user's doing: it means the engine tried to move a row wrongly, and the run stops
    (resumably) rather than record something untrue.
    """

    ending = Ending.STOPPED


class RunStopped(BulkProvisionError):
    """The run stopped early on purpose; re-running the same command resumes it."""

    ending = Ending.STOPPED


class CheckpointLocked(RunStopped):
    """Another run is using the same checkpoint."""


class Interrupted(BulkProvisionError):
    """Ctrl-C or SIGTERM; the checkpoint is resumable."""

    ending = Ending.INTERRUPTED


class GlanceError(BulkProvisionError):
    """Anything that went wrong talking to the Glance API."""


class AuthError(GlanceError):
    """Glance rejected the partner credentials: every further call would fail the same way."""

    ending = Ending.STOPPED


class PermanentApiError(GlanceError):
    """Glance answered with an ERROR document: final for this request."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class TransientApiError(GlanceError):
    """A failure worth retrying later: HTTP 429 or 5xx, connection error, timeout.

    ``maybe_committed`` is True when the request may have reached the server and been carried
    out (a timeout or dropped connection after sending): the outcome is ambiguous, so a NewUser
    must be verified with ShowUsers before it is ever sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        maybe_committed: bool = False,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.maybe_committed = maybe_committed
        self.timed_out = timed_out  # no answer in time (else: the connection failed or broke)


class ResponseFormatError(TransientApiError):
    """The server answered with something that is not a usable Glance response."""


class StopRequested(TransientApiError):
    """Internal to the engine: the run was asked to stop while a row waited for a send slot
    (nothing was sent for it). Never reaches a user: the row stays open and resumable."""

    def __init__(self) -> None:
        super().__init__("stopped before sending")


class InsecureEndpointError(GlanceError):
    """The endpoint is not https://, redirects to http://, or its certificate is not trusted."""
