"""What a run keeps when its journal or its results path fails under it (a full disk).

The run must still end in one clear line, exit 4 (a re-run resumes), and a results workbook of
what is known: written elsewhere, and said where, when it cannot go where it was asked.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from bulk_provision.errors import CheckpointError, RunStopped, UsageError
from bulk_provision.report.common import TEMP_PREFIX_CHARS


def user_error(exc: Exception, checkpoint: Path) -> Exception:
    """A failure inside the workers as the error the user is shown (bugs stay as they are)."""
    if isinstance(exc, sqlite3.Error | CheckpointError):
        if disk_full(exc):
            why = (
                f"the checkpoint {checkpoint} could not be written: the disk is full "
                f"({_sqlite_text(exc)}); free some space"
            )
        else:
            why = f"the checkpoint {checkpoint} could not be written ({_sqlite_text(exc)})"
        error = RunStopped(why)
        error.__cause__ = exc
        return error
    return exc


def _sqlite_errors(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def disk_full(exc: BaseException) -> bool:
    return any(
        getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
        or "disk is full" in str(e) or getattr(e, "errno", None) == errno.ENOSPC
        for e in _sqlite_errors(exc)
    )


def _sqlite_text(exc: BaseException) -> str:
    """The innermost database message ("database or disk is full"), without our prefix."""
    return str(_sqlite_errors(exc)[-1])


def write_elsewhere(wanted: Path, write: Callable[[Path], None], error: OSError) -> Path:
    """The results where they can be written when ``wanted`` cannot (its disk is full, its
    folder is gone): a new file in the temporary folder, owner-only. The caller says where."""
    name = ""
    try:
        prefix = f"{wanted.stem[:TEMP_PREFIX_CHARS]}."  # any legal --out: a legal name here
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=wanted.suffix)
        os.close(handle)
        write(Path(name))
    except OSError as exc:
        if name:
            Path(name).unlink(missing_ok=True)
        raise UsageError(
            f"cannot write the results workbook {wanted}: {error.strerror or error} (nor in the "
            f"temporary folder: {exc.strerror or exc}); the checkpoint has every outcome "
            "recorded: re-run the same command with another --out"
        ) from error
    return Path(name)
