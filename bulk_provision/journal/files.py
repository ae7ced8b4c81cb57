"""The checkpoint's files on disk: its lock, owner-only creation, and opening it read-only.

Lock: an exclusive lock on ``<resolved journal>.lock`` taken with ``filelock`` (``flock`` on
POSIX, ``LockFileEx`` on Windows), held for the run's life. Every path to one journal (a
symlink, ``./a/../x``) resolves to one lock file; the operating system drops the lock when the
holder dies, even by ``kill -9``. The lock file itself is left in place (deleting it would race).
The folder must exist: it is never created here (filelock would make it 0755).

Hard links: a journal with two names (``ln``, maybe in two folders) is refused (CheckpointError,
exit 2) before SQLite opens it. The two names would resolve to two lock files, and, worse, SQLite
keeps a WAL journal's latest commits in ``<name>-wal`` beside the name it was opened by: through
the other name a run sees an old journal (after a crash, rows already sent look unsent) and
writes a second ``-wal`` that corrupts the first. One name per journal makes "two paths to one
journal share one lock" hold for every path there can be: symlinks and ``a/../x`` resolve to
the one name. (A link made while a run holds the journal is caught by the next open.)

Permissions: the journal holds names, emails and audio host codes, so a new one is created 0600
before SQLite opens it; SQLite gives its ``-wal`` and ``-shm`` files the journal's permission
bits. An existing journal keeps the permissions its owner gave it.

Read-only: ``status`` must read a journal on a read-only filesystem or in a folder it may not
write, where SQLite cannot create the ``-shm`` file a WAL database needs. Then the file is opened
``immutable`` when no ``-wal`` file holds commits, or else read from a private copy of the
journal and its ``-wal``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import warnings
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from bulk_provision.errors import CheckpointError, CheckpointLocked
from bulk_provision.settings.paths import PRIVATE_FILE


class Lock(Protocol):
    def release(self, force: bool = False) -> None: ...


def lock_path(path: Path) -> Path:
    """The lock file of the journal at ``path``: beside the journal its links lead to."""
    real = Path(path).resolve()
    return real.with_name(real.name + ".lock")


def take_lock(path: Path) -> Lock:
    """Hold the journal's lock, or raise CheckpointLocked at once if another run holds it.

    Refuses a journal with more than one name (CheckpointError, see the module docstring)."""
    where = lock_path(path)
    if not where.parent.is_dir():
        raise CheckpointError(f"cannot use checkpoint {path}: folder {where.parent} does not exist")
    check_one_name(path)
    lock = _acquire(where, path)
    try:
        check_one_name(path)  # a link made while waiting for nothing: checked under the lock
    except BaseException:
        lock.release()
        raise
    return lock


def check_one_name(path: Path) -> None:
    """Refuse a journal that has hard links: it must be reachable by one name only."""
    try:
        links = os.stat(path).st_nlink
    except OSError:
        return  # not there yet (created next), or unreadable: opening it says so
    if links > 1:
        raise CheckpointError(
            f"checkpoint {path} has {links} names (hard links); SQLite keeps the latest commits "
            "beside the name a run uses, so through another name a run would see an old "
            f"journal: delete the other names (find / -samefile {path}), or copy the file "
            "instead of linking it"
        )


def _acquire(where: Path, path: Path) -> Lock:
    with warnings.catch_warnings():  # no flock at all: filelock falls back to a lock file
        warnings.simplefilter("ignore")
        from filelock import FileLock, Timeout
    lock = FileLock(where, timeout=0, mode=PRIVATE_FILE, thread_local=False)
    try:
        lock.acquire()
    except Timeout as exc:
        raise CheckpointLocked(
            f"checkpoint {path} is in use by another run; wait for it to finish"
        ) from exc
    except OSError as exc:
        raise CheckpointError(
            f"cannot create the lock file {where}: {exc.strerror or exc}"
        ) from exc
    return lock


def create_private(path: Path) -> None:
    """Create an empty journal file owner-only, unless it exists (then it is left as it is)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    except OSError as exc:
        raise CheckpointError(f"cannot create checkpoint {path}: {exc.strerror or exc}") from exc


def connect(uri: str, path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise CheckpointError(f"cannot open checkpoint {path}: {exc}") from exc


def uri(path: Path, query: str) -> str:
    """``path`` as an SQLite ``file:`` URI with ``query`` (e.g. ``mode=ro``)."""
    return f"file:{quote(os.fspath(Path(path).absolute()))}?{query}"


class ReadOnlyCopy:
    """Where a read-only open reads from, and what to clean up after (a private copy or none)."""

    def __init__(self) -> None:
        self.folder: str | None = None

    def open(self, path: Path) -> sqlite3.Connection:
        """A read-only connection to ``path`` that works where SQLite may not create files."""
        try:
            conn = sqlite3.connect(uri(path, "mode=ro"), uri=True, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.OperationalError:
            pass  # the fallbacks below say what is wrong if they fail too
        else:
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:  # cannot open or create the -shm/-wal files here
                conn.close()
            except sqlite3.DatabaseError:
                return conn  # not a database at all: the format check says so
            else:
                return conn
        wal = path.with_name(path.name + "-wal")
        if not (wal.is_file() and wal.stat().st_size > 0):
            return connect(uri(path, "mode=ro&immutable=1"), path)
        return connect(uri(self._copy(path, wal), "mode=ro"), path)

    def _copy(self, path: Path, wal: Path) -> Path:
        self.folder = tempfile.mkdtemp(prefix="bulk-provision-status-")  # 0700
        copy = Path(self.folder) / "journal.sqlite"
        try:
            shutil.copyfile(path, copy)
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        except OSError as exc:
            self.close()
            raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
        return copy

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
