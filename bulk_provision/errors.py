"""The one exception tree of bulk-provision.

Every error a user can cause is one of these; ``cli`` turns each into one clear line on stderr and
the exit code carried on its class (DESIGN.md section 6). Lower-level errors (OSError, requests,
zipfile, XML) are mapped at the edge with ``raise ... from exc``; nothing else escapes to the user.

::

    BulkProvisionError                     exit 2 unless stated
    ├── UsageError                         bad option or combination of options
    ├── ConfigError                        bad config file, environment or base URL
    ├── RosterError                        roster unreadable: missing, corrupt, empty, bad header
    ├── ValidationFailed                   exit 3: rows break the rules, nothing was sent
    ├── CheckpointError                    checkpoint unusable (other roster, corrupt)
    ├── RunStopped                         exit 4: stopped early, resumable
    │   └── CheckpointLocked               exit 4: another run holds the checkpoint
    ├── Interrupted                        exit 130: Ctrl-C / SIGTERM, resumable
    └── GlanceError                        anything from talking to Glance
        ├── AuthError                      exit 4: credentials rejected (code AUTH)
        ├── PermanentApiError              an ERROR document: final for this request
        ├── TransientApiError              429, 5xx, connection error, timeout: retry later
        │   └── ResponseFormatError        the body could not be understood (garbage, bomb, too big)
        └── InsecureEndpointError          not https://, redirect to http://, bad certificate

Messages never contain a secret (PartnerPW, API key, LoginKey, UserPW).
"""

from __future__ import annotations


class BulkProvisionError(Exception):
    """Base of every error bulk-provision reports to a user."""

    exit_code = 2


class UsageError(BulkProvisionError):
    """A bad option or combination of options."""


class ConfigError(BulkProvisionError):
    """A bad configuration file, environment variable or endpoint."""


class RosterError(BulkProvisionError):
    """The roster cannot be read at all (missing, corrupt, empty, wrong columns)."""


class ValidationFailed(BulkProvisionError):
    """Rows break the rules; no write request was sent."""

    exit_code = 3


class CheckpointError(BulkProvisionError):
    """The checkpoint file cannot be used for this run."""


class RunStopped(BulkProvisionError):
    """The run stopped early on purpose; re-running the same command resumes it."""

    exit_code = 4


class CheckpointLocked(RunStopped):
    """Another run is using the same checkpoint."""


class Interrupted(BulkProvisionError):
    """Ctrl-C or SIGTERM; the checkpoint is resumable."""

    exit_code = 130


class GlanceError(BulkProvisionError):
    """Anything that went wrong talking to the Glance API."""


class AuthError(GlanceError):
    """Glance rejected the partner credentials: every further call would fail the same way."""

    exit_code = 4


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
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.maybe_committed = maybe_committed


class ResponseFormatError(TransientApiError):
    """The server answered with something that is not a usable Glance response."""


class InsecureEndpointError(GlanceError):
    """The endpoint is not https://, redirects to http://, or its certificate is not trusted."""
