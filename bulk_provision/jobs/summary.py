"""The one JSON summary of how a command ended: for ``--notify`` webhooks and emails, and for
``--json`` (DESIGN.md section 2: counts, exit code, files written, and the rows that need a
person or a re-run).

:func:`summary_document` describes a run that returned a result; :func:`error_document` a
command that ended with an error before it had one (bad option, roster unreadable, checkpoint
locked, sync refused). Both return plain JSON-able dicts with the same keys::

    {"tool": "bulk-provision", "version": "0.1.0", "command": "run",
     "roster": "staff.csv", "mode": "create", "endpoint": "https://www.glance.net",
     "ending": "finished with failures", "exit_code": 1, "exit_meaning": "...", "message": "",
     "counts": {"created": 10, "updated": 0, ..., "failed": 1, ...}, "total": 11,
     "files": {"results": "staff.results.xlsx", "failed_rows": "staff.failed.csv",
               "checkpoint": "staff.csv.checkpoint.sqlite"},
     "rows": [{"row": 3, "key": "00002", "outcome": "failed", "message": "NO_ROLE: ..."}],
     "rows_left_out": 0}

``rows`` lists failed, invalid and unfinished rows only (not the ``not attempted`` ones: the
counts say how many). No secret is ever in it, and no roster data beyond the keys of those rows:
an invalid row's message names the columns to fix, never their values.

``--json`` prints these same documents (``run``: :func:`summary_document`; a command that ended
early: :func:`error_document`), and for the other commands :func:`command_document`, with the
same keys (``counts`` and ``files`` then hold what that command counts and writes) plus
``details`` (the reasons under a refusal) and each command's own keys: ``problems``
(validate, an invalid run or plan: row, column, value with passwords masked, rule, message),
``refusal`` (plan, undo), ``checkpoint`` (status), ``not_undone`` and ``carried_out`` (undo).
``recipe`` (run, validate, plan) names the ``--recipe`` that read the roster, with its SHA-256,
its leavers and the export's unused columns, or is null. ``selection`` (run, plan) is a wave's
``--rows`` / ``--where`` / ``--first`` as plain text (``rows 2-21; Department=Sales``), or null.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bulk_provision import __version__
from bulk_provision.errors import EXIT_CODES, EXIT_MEANING, BulkProvisionError, Ending
from bulk_provision.jobs.run import JobResult
from bulk_provision.model import Outcome, RowResult
from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import Problem
from bulk_provision.settings.spec import JobSpec

LISTED = (Outcome.FAILED, Outcome.INVALID, Outcome.UNFINISHED)


def summary_document(
    result: JobResult, spec: JobSpec, *, command: str = "run", max_rows: int | None = None
) -> dict[str, Any]:
    """How a run ended; ``max_rows`` caps the rows listed (``rows_left_out`` says how many
    more there were)."""
    rows = _listed_rows(result)
    shown = rows if max_rows is None else rows[:max_rows]
    files = {
        "results": str(result.results_path) if result.results_path.exists() else None,
        "failed_rows": str(result.failed_rows_path) if result.failed_rows_path else None,
        "checkpoint": str(spec.checkpoint_path) if spec.checkpoint_path.exists() else None,
    }
    document = _base(command, spec.roster_path, spec.mode, spec.endpoint)
    document.update(
        ending=result.ending.value,
        exit_code=result.exit_code,
        exit_meaning=EXIT_MEANING[result.exit_code],
        message=result.message,
        counts={outcome.value: result.counts.get(outcome, 0) for outcome in Outcome},
        total=sum(result.counts.values()),
        files=files,
        rows=shown,
        rows_left_out=len(rows) - len(shown),
        details=[],
        recipe=recipe_entry(result.roster),
        profile=spec.profile or None,
        partner_login=spec.connection.login or None,
        selection=spec.selection_text or None,
    )
    return document


def recipe_entry(roster: Roster | None) -> dict[str, Any] | None:
    """Which recipe read the roster (``--json``'s ``recipe``), or None without one."""
    applied = roster.recipe if roster is not None else None
    if applied is None:
        return None
    return {"name": applied.recipe.name, "sha256": applied.recipe.sha256,
            "leavers": len(applied.leavers), "unused_columns": list(applied.unused)}


def command_document(
    command: str,
    ending: Ending,
    *,
    counts: Mapping[str, int] | None = None,
    files: Mapping[str, Path | str | None] | None = None,
    rows: Iterable[RowResult] = (),
    message: str = "",
    roster: Path | None = None,
    mode: str = "",
    endpoint: str = "",
    total: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """``--json`` of a command other than ``run`` (validate, plan, status, undo, export): the
    keys of :func:`summary_document`; ``extra`` keys are added."""
    code = EXIT_CODES[ending]
    listed = [row_entry(r) for r in rows if r.outcome in LISTED]
    document = _base(command, roster, mode, endpoint)
    document.update(
        ending=ending.value,
        exit_code=code,
        exit_meaning=EXIT_MEANING[code],
        message=message,
        counts=dict(counts or {}),
        total=sum((counts or {}).values()) if total is None else total,
        files={name: None if path is None else str(path) for name, path in (files or {}).items()},
        rows=listed,
        rows_left_out=0,
        details=[],
    )
    document.update(extra)
    return document


def row_entry(result: RowResult) -> dict[str, Any]:
    return {"row": result.row, "key": result.key, "outcome": result.outcome.value,
            "message": result.message}


def outcome_counts(counts: Mapping[Outcome, int]) -> dict[str, int]:
    """Every outcome, zeros included, in the results workbook's order."""
    return {o.value: int(counts.get(o, 0)) for o in Outcome}


def problem_entry(problem: Problem) -> dict[str, Any]:
    """A validation problem (its value is already masked for password columns)."""
    return {"row": problem.row, "column": problem.column, "value": problem.value,
            "rule": problem.rule, "message": problem.message}


def error_document(
    error: BulkProvisionError,
    *,
    command: str = "run",
    roster: Path | None = None,
    mode: str = "",
    endpoint: str = "",
    message: str | None = None,
) -> dict[str, Any]:
    """A command that ended with ``error`` (its message never holds a secret: errors.py);
    ``message`` is the error as the front end words it (with its hint), by default the bare
    message."""
    document = _base(command, roster, mode, endpoint)
    document.update(
        ending=error.ending.value,
        details=list(getattr(error, "details", None) or []),
        exit_code=error.exit_code,
        exit_meaning=EXIT_MEANING[error.exit_code],
        message=str(error) if message is None else message,
        counts={outcome.value: 0 for outcome in Outcome},
        total=0,
        files={"results": None, "failed_rows": None, "checkpoint": None},
        rows=[],
        rows_left_out=0,
    )
    return document


def notified(document: Mapping[str, Any]) -> dict[str, Any]:
    """``document`` as a notification carries it (DESIGN.md section 10: no roster data beyond
    the keys of failed rows): each refusal reason cut to the row and key it names (``row 3
    00001``), reasons naming no row left out. The full reasons stay on the operator's own
    terminal and ``--json``."""
    keys = [line.split(":", 1)[0] for line in document.get("details") or []
            if isinstance(line, str) and line.startswith("row ")]
    return {**document, "details": keys}


def _base(command: str, roster: Path | None, mode: str, endpoint: str) -> dict[str, Any]:
    return {
        "tool": "bulk-provision",
        "version": __version__,
        "command": command,
        "roster": str(roster) if roster is not None else None,
        "mode": mode,
        "endpoint": endpoint,
    }


def _listed_rows(result: JobResult) -> list[dict[str, Any]]:
    """Failed, invalid and unfinished rows in roster order (users without a row last)."""
    columns: dict[int, list[str]] = defaultdict(list)
    for problem in result.validation.problems:
        if problem.column not in columns[problem.row]:
            columns[problem.row].append(problem.column)
    frame = result.roster.frame if result.roster is not None else None
    has_keys = frame is not None and "PartnerUserID" in frame.columns
    listed: list[tuple[tuple[bool, int], dict[str, Any]]] = []
    for row, names in columns.items():
        known = has_keys and frame is not None and row in frame.index
        key = str(frame.at[row, "PartnerUserID"]) if known and frame is not None else ""
        entry = {"row": row, "key": key, "outcome": Outcome.INVALID.value,
                 "message": f"invalid: {', '.join(names)}"}
        listed.append(((False, row), entry))
    for row_result in result.rows:
        if row_result.outcome in LISTED:
            entry = {"row": row_result.row, "key": row_result.key,
                     "outcome": row_result.outcome.value, "message": row_result.message}
            listed.append(((row_result.row is None, row_result.row or 0), entry))
    listed.sort(key=lambda item: item[0])
    return [entry for _, entry in listed]
