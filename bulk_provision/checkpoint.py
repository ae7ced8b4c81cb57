"""The checkpoint: an SQLite journal of one run's plan and of every row's progress.

One row per planned action, keyed by PartnerUserID, moving ``pending -> sending -> done | failed``
(DESIGN.md section 6). ``sending`` is committed before a request leaves and the outcome as soon as
it arrives, so after any crash a row is either untouched (``pending``), finished (``done`` /
``failed``), or in doubt (``sending``: the request may or may not have been carried out, and the
engine verifies it with ShowUsers before sending again).

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. Every commit is appended
to the WAL through ``write()`` before ``commit`` returns, so it lives in the operating system's
page cache and survives the process being killed (``kill -9``, a crash, Ctrl-C). Only an OS crash
or power loss can drop the last few commits, which ``synchronous=FULL`` would prevent at the cost
of an fsync per row; a lost ``sending`` mark then at worst repeats a NewUser that the server
refuses with DUPLICATE_ID, reported as ``exists``.

Concurrency: one connection shared by the worker threads, serialised by a lock; each ``mark_*``
is one committed statement. A second process is kept out by an exclusive lock on the file
``<resolved checkpoint>.lock`` (``journal_files``), held for the life of the object; the
operating system drops it when the holder dies, even by ``kill -9``.

No password is ever stored: ``Action`` carries none, and ``row_hash`` excludes UserPW.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulk_provision import __version__
from bulk_provision.errors import CheckpointError
from bulk_provision.journal_files import Lock, ReadOnlyCopy, connect, create_private, take_lock, uri
from bulk_provision.model import GOOD_OUTCOMES, Action, ActionKind, AudioCodes, Outcome, RowResult

SCHEMA_VERSION = "1"
STATES = ("pending", "sending", "done", "failed")
PASSWORD_COLUMNS = frozenset({"UserPW"})

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS rows (
    seq INTEGER PRIMARY KEY,          -- plan order
    key TEXT NOT NULL UNIQUE,         -- PartnerUserID
    row INTEGER,                      -- spreadsheet row; NULL for sync-only users
    row_hash TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    fields TEXT NOT NULL,             -- JSON; never a password
    send_password INTEGER NOT NULL,
    changes TEXT NOT NULL,            -- JSON: field -> [before, after]
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    message TEXT NOT NULL DEFAULT '',
    dial_in TEXT NOT NULL DEFAULT '',
    host_code TEXT NOT NULL DEFAULT '',
    guest_code TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    sent_at TEXT,
    finished_at TEXT
)""",
    "CREATE INDEX IF NOT EXISTS rows_by_state ON rows (state, seq)",
)

_ACTION_COLUMNS = "key, row, action, fields, send_password, changes"
_RESULT_COLUMNS = "key, row, action, outcome, message, dial_in, host_code, guest_code, attempts"


def now() -> str:
    """The current time as an ISO 8601 UTC string (what every timestamp in the file is)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def row_hash(values: Mapping[str, str]) -> str:
    """SHA-256 of a roster row's non-password fields, to notice a row that changed."""
    kept = {k: v for k, v in values.items() if k not in PASSWORD_COLUMNS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


# Resume reads up to every row back: plain dict look-ups and the bare JSON scanner keep a
# 100,000-row load well under a second.
_KINDS = {k.value: k for k in ActionKind}
_OUTCOMES = {o.value: o for o in Outcome}
_scan_json = json.JSONDecoder().raw_decode


def _action_from(row: tuple[Any, ...]) -> Action:
    key, number, kind, fields, send_password, changes = row
    changed = _scan_json(changes)[0] if changes != "{}" else {}
    return Action(key, number, _KINDS[kind], _scan_json(fields)[0], bool(send_password),
                  {k: (v[0], v[1]) for k, v in changed.items()})


def _result_from(row: tuple[Any, ...]) -> RowResult:
    key, number, kind, outcome, message, dial_in, host_code, guest_code, attempts = row
    audio = AudioCodes(dial_in, host_code, guest_code)
    return RowResult(key, number, _KINDS[kind], _OUTCOMES[outcome], message, audio, attempts)


class Checkpoint:
    """One run's journal. Open with :meth:`open` (a run) or :meth:`read_only` (``status``)."""

    def __init__(
        self, path: Path, conn: sqlite3.Connection, lock: Lock | None,
        copy: ReadOnlyCopy | None = None,
    ) -> None:
        self.path = path
        self._conn = conn
        self._lock: Lock | None = lock
        self._copy = copy
        self._mutex = threading.Lock()


    @classmethod
    def open(
        cls, path: Path, *, roster_sha256: str, roster_path: str, mode: str, fresh: bool = False
    ) -> Checkpoint:
        """Create or reopen the checkpoint at ``path`` for a run, holding its lock.

        Raises CheckpointLocked if another run holds it, CheckpointError if the file is not a
        checkpoint, or was made for another roster or mode (unless ``fresh``: then it is reset).
        """
        path = Path(path)
        lock = take_lock(path)
        try:
            create_private(path)  # before SQLite: it gives -wal and -shm the same bits
            self = cls(path, connect(uri(path, "mode=rwc"), path), lock)
        except BaseException:
            lock.release()
            raise
        try:
            self._prepare(roster_sha256=roster_sha256, roster_path=roster_path, mode=mode,
                          fresh=fresh)
        except BaseException:
            self.close()
            raise
        return self

    @classmethod
    def read_only(cls, path: Path) -> Checkpoint:
        """Open for reading only: no lock taken, nothing changed. Missing file: CheckpointError."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path} does not exist")
        copy = ReadOnlyCopy()
        self = cls(path, copy.open(path), None, copy)
        try:
            self._check_format()
        except BaseException:
            self.close()
            raise
        return self

    def _prepare(self, *, roster_sha256: str, roster_path: str, mode: str, fresh: bool) -> None:
        with self._database_errors():
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            existing = self._table_names()
            if existing and "meta" not in existing:
                raise CheckpointError(self._not_ours())
            if existing and fresh:
                self._reset()
            elif existing:
                self._check_format()
                self._check_same_run(self.meta(), roster_sha256=roster_sha256, mode=mode)
            with self._transaction():
                for statement in _SCHEMA:
                    self._conn.execute(statement)
                self._put_meta_defaults(roster_sha256, roster_path, mode)

    def _put_meta_defaults(self, roster_sha256: str, roster_path: str, mode: str) -> None:
        stamp = now()
        self._conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('created', ?), ('schema_version', ?)",
            (stamp, SCHEMA_VERSION),
        )
        values = {"roster_sha256": roster_sha256, "roster_path": roster_path, "mode": mode,
                  "tool_version": __version__, "updated": stamp}
        self._conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def _check_same_run(self, stored: Mapping[str, str], *, roster_sha256: str, mode: str) -> None:
        old_sha = stored.get("roster_sha256", "")
        if old_sha != roster_sha256:
            raise CheckpointError(
                f"checkpoint {self.path} was made for a different roster "
                f"({stored.get('roster_path', '?')}, SHA-256 {old_sha[:12]}). "
                "Use --fresh to start over, or pass the original roster"
            )
        old_mode = stored.get("mode", "")
        if self.has_plan and old_mode != mode:
            raise CheckpointError(
                f"checkpoint {self.path} holds a --mode {old_mode} run. "
                f"Re-run with --mode {old_mode} to finish it, or use --fresh to start over"
            )

    def _reset(self) -> None:
        with self._transaction():
            self._conn.execute("DROP TABLE IF EXISTS rows")
            self._conn.execute("DELETE FROM meta")

    def _table_names(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        return {name for (name,) in rows}

    def _check_format(self) -> None:
        with self._database_errors():
            names = self._table_names()
            if "meta" not in names:
                raise CheckpointError(self._not_ours())
            version = self._conn.execute(
                "SELECT value FROM meta WHERE key='schema_version'"
            ).fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            raise CheckpointError(
                f"checkpoint {self.path} was written by an incompatible version of "
                "bulk-provision; use --fresh to start over"
            )

    def _not_ours(self) -> str:
        return (
            f"{self.path} is not a bulk-provision checkpoint: give the .checkpoint.sqlite "
            "file a run wrote, or let run use another path with --checkpoint"
        )

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:  # locked, read-only, disk full...
            raise CheckpointError(f"checkpoint {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise CheckpointError(
                f"{self.path} is not a readable bulk-provision checkpoint ({exc}): give the "
                ".checkpoint.sqlite file a run wrote, or let run use another path with --checkpoint"
            ) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._mutex:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _write(self, sql: str, params: Sequence[Any]) -> tuple[int, list[tuple[Any, ...]]]:
        """One statement run to completion under the thread lock: committed when this returns.

        Never hand out a live cursor: SQLite commits an autocommit statement only when it
        finishes, an ``UPDATE ... RETURNING`` finishes only once its rows are fetched, and while
        any statement on the connection is unfinished nothing else is committed either.
        Returns the row count and the rows (of a RETURNING clause).
        """
        with self._mutex, self._database_errors():
            cursor = self._conn.execute(sql, params)
            rows = cursor.fetchall()
            return cursor.rowcount, rows

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex, self._database_errors():
            return self._conn.execute(sql, params).fetchall()


    @property
    def has_plan(self) -> bool:
        return bool(self._read("SELECT 1 FROM meta WHERE key='plan_recorded'"))

    def record_plan(
        self, actions: Sequence[Action], *, row_hashes: Mapping[str, str] | None = None
    ) -> None:
        """Store every action as ``pending``, in plan order, in one transaction."""
        if self.has_plan:
            raise CheckpointError(f"checkpoint {self.path} already holds a plan")
        hashes = row_hashes or {}
        stamp = now()
        records = [
            (a.key, a.row, hashes.get(a.key, ""), a.kind.value, json.dumps(a.fields),
             int(a.send_password), json.dumps(a.changes), "pending", stamp)
            for a in actions
        ]
        with self._database_errors(), self._transaction() as conn:
            conn.executemany(
                "INSERT INTO rows (key, row, row_hash, action, fields, send_password, changes,"
                " state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                records,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("plan_recorded", stamp), ("updated", stamp)],
            )

    def load_plan(self) -> list[Action]:
        """Every planned action, in plan order."""
        rows = self._read(f"SELECT {_ACTION_COLUMNS} FROM rows ORDER BY seq")
        return [_action_from(r) for r in rows]

    def pending(self) -> list[Action]:
        """Actions not yet sent (state ``pending``), in plan order."""
        return self._in_state("pending")

    def in_doubt(self) -> list[Action]:
        """Actions whose request may have been sent but whose outcome is unknown (``sending``)."""
        return self._in_state("sending")

    def _in_state(self, state: str) -> list[Action]:
        rows = self._read(
            f"SELECT {_ACTION_COLUMNS} FROM rows WHERE state = ? ORDER BY seq", (state,)
        )
        return [_action_from(r) for r in rows]

    def attempts(self, key: str) -> int:
        """How many times ``key``'s request was sent so far (0 for an unknown key)."""
        found = self._read("SELECT attempts FROM rows WHERE key=?", (key,))
        return int(found[0][0]) if found else 0

    def unfinished_attempts(self) -> dict[str, int]:
        """PartnerUserID -> attempts so far, for rows not finished (pending or sending)."""
        rows = self._read("SELECT key, attempts FROM rows WHERE state IN ('pending', 'sending')")
        return {key: int(attempts) for key, attempts in rows}

    def row_hashes(self) -> dict[str, str]:
        """PartnerUserID -> the row hash recorded with the plan ('' when none was given)."""
        return dict(self._read("SELECT key, row_hash FROM rows"))


    def mark_sending(self, key: str) -> int:
        """Commit that ``key``'s request is about to leave; returns its attempt number."""
        _, found = self._write(
            "UPDATE rows SET state='sending', attempts=attempts+1, sent_at=?"
            " WHERE key=? RETURNING attempts",
            (now(), key),
        )
        if not found:
            raise CheckpointError(f"PartnerUserID {key!r} is not in the checkpoint's plan")
        return int(found[0][0])

    def mark_done(self, result: RowResult) -> None:
        """Commit a final outcome: ``done`` for a good outcome, ``failed`` otherwise."""
        state = "done" if result.outcome in GOOD_OUTCOMES else "failed"
        audio = result.audio
        self._update_known(
            "UPDATE rows SET state=?, outcome=?, message=?, dial_in=?, host_code=?,"
            " guest_code=?, attempts=MAX(attempts, ?), finished_at=? WHERE key=?",
            (state, result.outcome.value, result.message, audio.dial_in, audio.host_code,
             audio.guest_code, result.attempts, now(), result.key),
            result.key,
        )

    def mark_pending(self, key: str, message: str = "") -> None:
        """Back to ``pending``: a transient failure that surely did not reach the server."""
        self._update_known(
            "UPDATE rows SET state='pending', message=? WHERE key=?", (message, key), key
        )

    def _update_known(self, sql: str, params: Sequence[Any], key: str) -> None:
        if self._write(sql, params)[0] != 1:
            raise CheckpointError(f"PartnerUserID {key!r} is not in the checkpoint's plan")

    def reset_failed(self) -> int:
        """``--retry-failed``: every failed row back to ``pending``; returns how many."""
        sql = "UPDATE rows SET state='pending', outcome=NULL, finished_at=NULL WHERE state='failed'"
        return self._write(sql, ())[0]


    def results(self) -> dict[str, RowResult]:
        """Every finished row (``done`` or ``failed``), keyed by PartnerUserID, in plan order."""
        rows = self._read(
            f"SELECT {_RESULT_COLUMNS} FROM rows WHERE state IN ('done', 'failed') ORDER BY seq"
        )
        return {r[0]: _result_from(r) for r in rows}

    def failed(self, limit: int | None = None) -> list[RowResult]:
        """Failed rows in plan order, at most ``limit`` of them."""
        rows = self._read(
            f"SELECT {_RESULT_COLUMNS} FROM rows WHERE state='failed' ORDER BY seq LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [_result_from(r) for r in rows]

    def state_counts(self) -> dict[str, int]:
        """Rows per state, every state present (zeros included)."""
        counts = dict.fromkeys(STATES, 0)
        counts.update(self._read("SELECT state, COUNT(*) FROM rows GROUP BY state"))
        return counts

    def outcome_counts(self) -> dict[Outcome, int]:
        """Finished rows per outcome, every outcome present in ``Outcome`` order."""
        found = dict(self._read(
            "SELECT outcome, COUNT(*) FROM rows WHERE outcome IS NOT NULL GROUP BY outcome"
        ))
        return {o: found.get(o.value, 0) for o in Outcome}

    def counts(self) -> dict[str, int]:
        """States under their own names (``pending``...) plus ``outcome:<outcome>`` keys."""
        counts = self.state_counts()
        counts.update({f"outcome:{o.value}": n for o, n in self.outcome_counts().items()})
        return counts

    def meta(self) -> dict[str, str]:
        """Roster path/SHA-256, mode, created/updated times, tool version, last exit code...

        ``updated`` is the latest of the stored value and the newest row timestamp.
        """
        values = dict(self._read("SELECT key, value FROM meta"))
        newest = self._read("SELECT MAX(MAX(COALESCE(sent_at, '')), MAX(COALESCE(finished_at,"
                            " ''))) FROM rows")
        if newest and newest[0][0] and newest[0][0] > values.get("updated", ""):
            values["updated"] = newest[0][0]
        return values

    def set_meta(self, **values: str) -> None:
        """Store free-form facts about the run (e.g. ``last_exit_code="0"``)."""
        items = [(k, str(v)) for k, v in values.items()] + [("updated", now())]
        with self._database_errors(), self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", items)


    def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        with self._mutex:
            self._conn.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            if self._copy is not None:
                self._copy.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

