"""What a journal says, read: its plan, its open rows, its results and counts, its facts.

``checkpoint.Checkpoint`` inherits these queries (and ``read_only`` journals are used for them
alone: ``status``, the page's History); the writes and the lifecycle transitions stay in
``checkpoint``. Every query goes through ``_read``, one statement run to completion under the
journal's lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bulk_provision.journal.lifecycle import RowState, row_outcome
from bulk_provision.journal.rows import (
    ACTION_COLUMNS,
    OUTCOMES,
    RESULT_COLUMNS,
    STATES_BY_NAME,
    Todo,
    action_from,
    plan_digest,
    result_from,
)
from bulk_provision.model import Action, Outcome, RowResult


class JournalReads:
    """The read-side queries of a journal."""

    path: Path

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    @property
    def has_plan(self) -> bool:
        return bool(self._read("SELECT 1 FROM meta WHERE key='plan_recorded'"))

    def plan_intact(self) -> bool:
        """False when the planned rows were edited since they were recorded (``plan_digest``);
        True also for a journal recorded before the digest existed (nothing to compare)."""
        recorded = dict(self._read("SELECT key, value FROM meta WHERE key = 'plan_digest'"))
        if "plan_digest" not in recorded:
            return True
        rows = self._read(f"SELECT {ACTION_COLUMNS} FROM rows ORDER BY seq")
        return plan_digest(rows) == recorded["plan_digest"]

    def todo(self) -> list[Todo]:
        """The open rows (``in_doubt`` first, then ``pending``), each in plan order.

        A resumed run reads only these, never the whole plan (DESIGN P3).
        """
        rows = self._read(
            f"SELECT {ACTION_COLUMNS}, state, doubted FROM rows WHERE state IN (?, ?)"
            " ORDER BY state = ?, seq",
            (RowState.IN_DOUBT, RowState.PENDING, RowState.PENDING),
        )
        return [Todo(action_from(r[:6]), STATES_BY_NAME[r[6]], bool(r[7])) for r in rows]

    def in_state(self, state: RowState, limit: int | None = None) -> list[Action]:
        """The actions of the rows in ``state``, in plan order, at most ``limit`` of them."""
        rows = self._read(
            f"SELECT {ACTION_COLUMNS} FROM rows WHERE state = ? ORDER BY seq LIMIT ?",
            (state, -1 if limit is None else limit),
        )
        return [action_from(r) for r in rows]

    def row_hashes(self, keys: Sequence[str] | None = None) -> dict[str, str]:
        """PartnerUserID -> the row hash recorded with the plan ('' when none was given), for
        ``keys`` (default: every row)."""
        if keys is None:
            return dict(self._read("SELECT key, row_hash FROM rows"))
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of parameters
            chunk = list(keys[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            found.update(self._read(f"SELECT key, row_hash FROM rows WHERE key IN ({marks})",
                                    chunk))
        return found

    def results(self, known: Mapping[str, RowResult] | None = None) -> dict[str, RowResult]:
        """Every planned row, keyed by PartnerUserID, in plan order, with the Outcome users see
        (``lifecycle.row_outcome``: open rows are ``unfinished`` or ``not attempted``).

        ``known``: outcomes the caller holds (the answers of this very run), taken as they are
        for their rows instead of being decoded from the file again."""
        rows = self._read(f"SELECT {RESULT_COLUMNS} FROM rows ORDER BY seq")
        known = known or {}
        return {r[0]: known[r[0]] if r[0] in known else result_from(r) for r in rows}

    def failed(self, limit: int | None = None) -> list[RowResult]:
        """Failed rows in plan order, at most ``limit`` of them."""
        return self._results_in(RowState.FAILED, limit)

    def unfinished(self, limit: int | None = None) -> list[RowResult]:
        """Open rows that were tried (in doubt, sending, or pending after attempts)."""
        rows = self._read(
            f"SELECT {RESULT_COLUMNS} FROM rows WHERE state IN (?, ?)"
            " OR (state = ? AND attempts > 0) ORDER BY seq LIMIT ?",
            (RowState.SENDING, RowState.IN_DOUBT, RowState.PENDING,
             -1 if limit is None else limit),
        )  # fmt: skip
        return [result_from(r) for r in rows]

    def _results_in(self, state: RowState, limit: int | None) -> list[RowResult]:
        rows = self._read(
            f"SELECT {RESULT_COLUMNS} FROM rows WHERE state = ? ORDER BY seq LIMIT ?",
            (state, -1 if limit is None else limit),
        )
        return [result_from(r) for r in rows]

    def state_counts(self) -> dict[RowState, int]:
        """Rows per state, every state present (zeros included)."""
        found = dict(self._read("SELECT state, COUNT(*) FROM rows GROUP BY state"))
        return {state: int(found.get(state.value, 0)) for state in RowState}

    def outcome_counts(self) -> dict[Outcome, int]:
        """Planned rows per Outcome users see, every outcome present in ``Outcome`` order."""
        found: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        rows = self._read(
            "SELECT state, outcome, attempts > 0, COUNT(*) FROM rows GROUP BY 1, 2, 3"
        )
        for state, outcome, tried, count in rows:
            shown = row_outcome(STATES_BY_NAME[state], OUTCOMES.get(outcome), int(tried))
            found[shown] += int(count)
        return found

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
