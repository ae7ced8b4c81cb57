"""The checkpoint: an SQLite journal of one run's plan and of every row's progress.

One row per planned action, keyed by PartnerUserID, moving through the states of
``lifecycle.RowState`` (DESIGN.md section 6): each transition is one method here (``send``,
``answer``, ``not_sent``, ``doubt``, ``confirm``, ``release``, ``recover``, ``retry_failed``) and
one guarded statement that refuses a row in any other state (LifecycleError). ``sending`` is
committed before a request leaves and the outcome once it arrives (the engine's answers are
group-committed, ``answer_soon``: many rows in one transaction, each reported done only once
committed), so after any crash a row is untouched (``pending``), final (``done`` / ``failed``),
or was being sent: the next run moves it to ``in_doubt`` and the engine verifies it with
ShowUsers before sending again.

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. Every commit is appended
to the WAL through ``write()`` before ``commit`` returns, so it lives in the operating system's
page cache and survives the process being killed (``kill -9``, a crash, Ctrl-C). Only an OS crash
or power loss can drop the last few commits, which ``synchronous=FULL`` would prevent at the cost
of an fsync per row; a lost ``sending`` mark then at worst repeats a NewUser that the server
refuses with DUPLICATE_ID, reported as ``exists``.

Concurrency: one connection shared by the worker threads, serialised by a lock; each transition
is one committed statement. A second process is kept out by an exclusive lock on the file
``<resolved checkpoint>.lock`` (``journal_files``), held for the life of the object; the
operating system drops it when the holder dies, even by ``kill -9``.

No password is ever stored: ``Action`` carries none, and ``row_hash`` excludes UserPW.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bulk_provision import __version__
from bulk_provision.errors import CheckpointError, LifecycleError
from bulk_provision.journal.files import Lock, ReadOnlyCopy, connect, create_private, take_lock, uri
from bulk_provision.journal.group import GroupCommit, Queued
from bulk_provision.journal.identity import check_same_run, check_same_wave
from bulk_provision.journal.lifecycle import TRANSITIONS, RowState, state_after_answer
from bulk_provision.journal.reads import JournalReads
from bulk_provision.journal.rows import (
    SCHEMA,
    SETTLE,
    Todo,
    migrate,
    now,
    plan_digest,
    planned_state,
    row_hash,
    settled,
)
from bulk_provision.model import Action, RowResult

__all__ = ["Checkpoint", "Todo", "row_hash"]

SCHEMA_VERSION = "2"
READABLE_VERSIONS = ("1", "2")  # version 1 had no in_doubt state and no doubted column
STATES = tuple(RowState)


class Checkpoint(JournalReads):
    """One run's journal. Open with :meth:`open` (a run) or :meth:`read_only` (``status``)."""

    #: group commit of ``answer_soon``: at most this many seconds, or this many answers, wait
    ANSWER_WINDOW = 0.1
    ANSWER_BATCH = 256

    def __init__(
        self, path: Path, conn: sqlite3.Connection, lock: Lock | None,
        copy: ReadOnlyCopy | None = None,
    ) -> None:
        self.path = path
        self._conn = conn
        self._lock: Lock | None = lock
        self._copy = copy
        self._mutex = threading.Lock()
        self._answers = GroupCommit(lambda batch: self._commit_answers(batch),
                                    window=self.ANSWER_WINDOW, batch=self.ANSWER_BATCH)

    @classmethod
    def open(
        cls, path: Path, *, roster_sha256: str, roster_path: str, mode: str, fresh: bool = False,
        glance: str = "", recipe_sha256: str = "", selection: str = "",
    ) -> Checkpoint:
        """Create or reopen the checkpoint at ``path`` for a run, holding its lock.

        ``glance`` names where the run sends (endpoint and partner login: see
        ``glance_identity``); ``selection`` is a wave's (``Selection.text``, "" for the whole
        roster). Raises CheckpointLocked if another run holds it, CheckpointError if the file is
        not a checkpoint, or was made for another roster, mode, Glance or selection (unless
        ``fresh``: then it is reset).
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
                          fresh=fresh, glance=glance, recipe=recipe_sha256,
                          selection=selection)
        except BaseException:
            self.close()
            raise
        return self

    @classmethod
    def read_only(cls, path: Path) -> Checkpoint:
        """Open for reading only: no lock taken, nothing changed. Missing file: CheckpointError."""
        path = Path(path)
        if path.is_dir():
            raise CheckpointError(f"checkpoint {path} is a folder; name the .sqlite file")
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

    def _prepare(
        self, *, roster_sha256: str, roster_path: str, mode: str, fresh: bool, glance: str,
        recipe: str = "", selection: str = "",
    ) -> None:
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
                check_same_run(self.path, self.meta(), self.has_plan,
                               roster_sha256=roster_sha256, mode=mode, glance=glance,
                               recipe=recipe)
                check_same_wave(self.path, self.meta().get("selection", ""), selection,
                                self.has_plan)
            with self._transaction():
                migrate(self._conn, self._table_names())
                for statement in SCHEMA:
                    self._conn.execute(statement)
                self._put_meta_defaults(roster_sha256, roster_path, mode, glance, recipe)
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('selection', ?)",
                                   (selection,))
            self.recover()

    def _put_meta_defaults(
        self, roster_sha256: str, roster_path: str, mode: str, glance: str, recipe: str = ""
    ) -> None:
        stamp = now()
        self._conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('created', ?)", (stamp,)
        )
        self._conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
        )
        values = {"roster_sha256": roster_sha256, "roster_path": roster_path, "mode": mode,
                  "tool_version": __version__, "updated": stamp, "recipe_sha256": recipe}
        if glance:
            values["glance"] = glance
        self._conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

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
        if version is None or version[0] not in READABLE_VERSIONS:
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


    def record_plan(
        self, actions: Sequence[Action], *, row_hashes: Mapping[str, str] | None = None
    ) -> list[Todo]:
        """Store every action in plan order, in one transaction: ``pending``, or ``done`` as
        ``unchanged`` for an action that needs no request. Returns the open rows once they are
        committed: what :meth:`todo` would read back, without decoding the plan again."""
        if self.has_plan:
            raise CheckpointError(f"checkpoint {self.path} already holds a plan")
        hashes = row_hashes or {}
        stamp = now()
        records = [
            (a.key, a.row, hashes.get(a.key, ""), a.kind.value, json.dumps(a.fields),
             int(a.send_password), json.dumps(a.changes) if a.changes else "{}",
             *planned_state(a), stamp)
            for a in actions
        ]
        digest = plan_digest((r[0], r[1], r[3], r[4], r[5], r[6]) for r in records)
        with self._database_errors(), self._transaction() as conn:
            conn.executemany(
                "INSERT INTO rows (key, row, row_hash, action, fields, send_password, changes,"
                " state, outcome, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                records,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("plan_recorded", stamp), ("updated", stamp), ("plan_digest", digest)],
            )
        pending = RowState.PENDING.value
        return [Todo(a, RowState.PENDING, False) for a, r in zip(actions, records, strict=True)
                if r[7] == pending]

    # -- the lifecycle: one guarded statement per transition (lifecycle.TRANSITIONS) --------

    def send(self, key: str) -> int:
        """pending -> sending, committed before the request leaves; returns the attempt number."""
        return self._move("send", key, "attempts=attempts+1, sent_at=?", (now(),))

    def answer(self, result: RowResult) -> None:
        """sending -> done | failed: Glance's definite answer."""
        self._settle("answer", result)

    def answer_soon(
        self, result: RowResult, on_durable: Callable[[RowResult], None] | None = None
    ) -> None:
        """sending -> done | failed, group-committed: queued now, committed with others within
        ``ANSWER_WINDOW`` seconds; ``on_durable(result)`` is called once it is committed. Until
        then a crash leaves the row ``sending`` (in doubt for the next run). Raises an earlier
        group commit's failure."""
        self._answers.put(Queued(result, now(), on_durable))

    def flush(self) -> None:
        """Commit every queued answer now (and report them); raises a failed commit."""
        self._answers.flush()

    def _commit_answers(self, batch: Sequence[Queued]) -> None:
        sources = TRANSITIONS["answer"][0]
        sql = (f"UPDATE rows SET state=?, {SETTLE} WHERE key=? AND state IN"
               f" ({', '.join('?' * len(sources))}) RETURNING attempts")
        refused = []
        with self._database_errors(), self._transaction() as conn:
            for item in batch:
                result = item.result
                params = (state_after_answer(result.outcome), *settled(result, item.finished_at),
                          result.key, *sources)
                if len(conn.execute(sql, params).fetchall()) != 1:
                    refused.append(result.key)
        if refused:
            raise LifecycleError(
                f"checkpoint {self.path}: PartnerUserID {refused[0]!r} cannot take the "
                "transition 'answer' (it is not sending)"
            )

    def confirm(self, result: RowResult) -> None:
        """in_doubt -> done: ShowUsers shows the request was carried out after all."""
        self._settle("confirm", result)

    def not_sent(self, key: str, message: str) -> None:
        """sending -> pending: surely not carried out (503, 429, AUTH, no connection)."""
        self._move("not_sent", key, "message=?", (message,))

    def doubt(self, key: str, message: str) -> None:
        """sending -> in_doubt: the request may have been carried out; verify before resending."""
        self._move("doubt", key, "doubted=1, message=?", (message,))

    def release(self, key: str, message: str = "") -> None:
        """in_doubt -> pending: verified not carried out, or safe to send again."""
        self._move("release", key, "message=?", (message,))

    def recover(self) -> int:
        """Every row a dead run left ``sending`` -> in_doubt; returns how many."""
        return self._move_all("recover", "doubted=1")

    def retry_failed(self) -> int:
        """``--retry-failed``: every failed row -> pending; returns how many."""
        return self._move_all("retry_failed", "outcome=NULL, finished_at=NULL")

    def _settle(self, transition: str, result: RowResult) -> None:
        self._move(transition, result.key, SETTLE, settled(result, now()),
                   target=state_after_answer(result.outcome))

    def _move(
        self,
        transition: str,
        key: str,
        assignments: str,
        params: Sequence[Any],
        *,
        target: RowState | None = None,
    ) -> int:
        """Apply one transition to one row, only from the states it may leave; returns the
        row's attempts. A row elsewhere (or unknown) is a LifecycleError: a bug, never data."""
        sources, arrival = TRANSITIONS[transition]
        marks = ", ".join("?" * len(sources))
        _, found = self._write(
            f"UPDATE rows SET state=?, {assignments} WHERE key=? AND state IN ({marks})"
            " RETURNING attempts",
            (target or arrival, *params, key, *sources),
        )
        if len(found) != 1:
            state = self._read("SELECT state FROM rows WHERE key=?", (key,))
            where = f"it is {state[0][0]}" if state else "it is not in the plan"
            raise LifecycleError(
                f"checkpoint {self.path}: PartnerUserID {key!r} cannot take the transition "
                f"{transition!r} ({where})"
            )
        return int(found[0][0])

    def _move_all(self, transition: str, assignments: str) -> int:
        sources, arrival = TRANSITIONS[transition]
        marks = ", ".join("?" * len(sources))
        return self._write(
            f"UPDATE rows SET state=?, {assignments} WHERE state IN ({marks})",
            (arrival, *sources),
        )[0]

    def set_meta(self, **values: str) -> None:
        """Store free-form facts about the run (e.g. ``last_exit_code="0"``)."""
        items = [(k, str(v)) for k, v in values.items()] + [("updated", now())]
        with self._database_errors(), self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", items)


    def close(self) -> None:
        """Commit the queued answers, close the database and release the lock (idempotent).

        A queued answer that cannot be committed now (a full disk) stays ``sending`` in the
        file, in doubt for the next run; the engine's own ``flush`` has reported that error."""
        try:
            self._answers.close()
        except Exception:  # noqa: BLE001, S110 - see above: in doubt, verified on resume
            pass
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

