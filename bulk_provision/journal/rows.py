"""The journal's rows on disk: the table, and rows read back as actions, todo items and results.

Only ``checkpoint`` uses this; it keeps the SQL layout and the decoding out of the journal's
logic. No password is ever in a row: ``Action`` carries none, and ``row_hash`` leaves it out.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bulk_provision.columns import PASSWORD_COLUMNS
from bulk_provision.glance.models import AudioCodes
from bulk_provision.journal.lifecycle import RowState, row_outcome
from bulk_provision.model import NOT_IN_GLANCE, Action, ActionKind, Outcome, RowResult

SCHEMA = (
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
    state TEXT NOT NULL,              -- lifecycle.RowState
    doubted INTEGER NOT NULL DEFAULT 0, -- 1 once any attempt may have been carried out
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

ACTION_COLUMNS = "key, row, action, fields, send_password, changes"
RESULT_COLUMNS = (
    "key, row, action, state, outcome, message, dial_in, host_code, guest_code, attempts"
)


def now() -> str:
    """The current time as an ISO 8601 UTC string (what every timestamp in the file is)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def row_hash(values: Mapping[str, str], *, excluded: Collection[str] = PASSWORD_COLUMNS) -> str:
    """SHA-256 of a roster row's fields but the ``excluded`` (password) ones, to notice a row
    that reads differently on a resume (``resume.row_hashes`` computes the same in bulk)."""
    names = sorted(k for k in values if k not in excluded)
    return hash_cells(names, [values[n] for n in names])


def hash_cells(names: Sequence[str], cells: Sequence[str]) -> str:
    """The row hash of ``cells`` under the column ``names`` (sorted, passwords left out)."""
    text = "\x1f".join(names) + "\x1e" + "\x1f".join(cells)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def plan_digest(rows: Iterable[Sequence[Any]]) -> str:
    """SHA-256 over the planned rows as stored (``ACTION_COLUMNS``, in plan order): recorded
    with the plan, so ``undo`` notices a journal whose rows were edited since (a row that names
    another user). It detects edits; it is not a signature."""
    digest = hashlib.sha256()
    for key, number, kind, fields, send_password, changes in rows:
        text = "\x1f".join((str(key), str(number), str(kind), str(fields),
                             str(int(send_password)), str(changes)))
        digest.update(text.encode("utf-8", "surrogatepass") + b"\x1e")
    return digest.hexdigest()


# Resume reads up to every row back: plain dict look-ups and the bare JSON scanner keep a
# 100,000-row load well under a second.
_KINDS = {k.value: k for k in ActionKind}
OUTCOMES = {o.value: o for o in Outcome}
STATES_BY_NAME = {s.value: s for s in RowState}
_scan_json = json.JSONDecoder().raw_decode


def action_from(row: tuple[Any, ...]) -> Action:
    key, number, kind, fields, send_password, changes = row
    changed = _scan_json(changes)[0] if changes != "{}" else {}
    return Action(key, number, _KINDS[kind], _scan_json(fields)[0], bool(send_password),
                  {k: (v[0], v[1]) for k, v in changed.items()})


IN_FLIGHT = (
    "outcome unknown: the run stopped while this request was in flight; a re-run checks with "
    "ShowUsers before sending again"
)


def result_from(row: tuple[Any, ...]) -> RowResult:
    key, number, kind, state, outcome, message, dial_in, host_code, guest_code, attempts = row
    shown = row_outcome(STATES_BY_NAME[state], OUTCOMES.get(outcome), attempts)
    if state == RowState.SENDING:
        message = IN_FLIGHT
    elif shown is Outcome.SKIPPED and not message:
        message = NOT_IN_GLANCE
    audio = AudioCodes(dial_in, host_code, guest_code)
    return RowResult(key, number, _KINDS[kind], shown, message, audio, attempts)


@dataclass(frozen=True)
class Todo:
    """An open row of the plan: its action, its state, and whether an earlier attempt may have
    been carried out (then a DUPLICATE_ID or NOT_FOUND answer may be our own doing)."""

    action: Action
    state: RowState
    doubted: bool


def planned_state(action: Action) -> tuple[str, str | None]:
    """A new plan row's state and outcome: nothing to send is already done, ``unchanged``."""
    if action.kind is ActionKind.NONE:
        return RowState.DONE.value, Outcome.UNCHANGED.value
    if action.kind is ActionKind.SKIP:
        return RowState.DONE.value, Outcome.SKIPPED.value
    return RowState.PENDING.value, None


def migrate(conn: sqlite3.Connection, tables: set[str]) -> None:
    """Version 1 -> 2: the ``doubted`` column (its ``sending`` rows are recovered as usual)."""
    if "rows" not in tables:
        return
    columns = {name for _, name, *_ in conn.execute("PRAGMA table_info(rows)")}
    if "doubted" not in columns:
        conn.execute("ALTER TABLE rows ADD COLUMN doubted INTEGER NOT NULL DEFAULT 0")
        # Version 1 sent nothing for these and left them pending until the engine reached
        # them; they are recorded done with the plan now.
        conn.execute(
            "UPDATE rows SET state='done', outcome='unchanged' WHERE action='none'"
            " AND state='pending'"
        )


SETTLE = ("outcome=?, message=?, dial_in=?, host_code=?, guest_code=?,"
          " attempts=MAX(attempts, ?), finished_at=?")


def settled(result: RowResult, finished_at: str) -> tuple[Any, ...]:
    """The values of ``SETTLE`` for a final ``result``."""
    audio = result.audio
    return (result.outcome.value, result.message, audio.dial_in, audio.host_code,
            audio.guest_code, result.attempts, finished_at)
