"""The ``--json`` document: one JSON object describing how a command ended.

Every command that takes ``--json`` (validate, run, plan, status, undo) prints exactly one such
document on stdout. The keys every document has::

    command      "run", "plan", ...
    tool_version
    exit_code    the command's exit code (errors.EXIT_CODES)
    ending       errors.Ending: "finished", "finished with failures", "usage", "invalid",
                 "stopped", "interrupted"
    meaning      the exit code in words (errors.EXIT_MEANING)
    counts       per outcome (run, status, undo --yes), per action (plan, undo), or rows
                 valid/invalid (validate)
    files        what the command wrote: {"results": path, ...}
    failed       [{"row", "key", "outcome", "message"}] rows Glance refused
    unfinished   the same for rows tried without a definite answer (a plain re-run finishes
                 them; rows never tried are only counted, as "not attempted")
    error        null, or the one-line error that ended the command early
    details      the reasons under a refusal (run --plan, undo), else []

No password or secret is ever in it: rows are named by their row number and PartnerUserID only.
(A second builder, for ``--notify``, may exist elsewhere; the two should be one.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulk_provision import __version__
from bulk_provision.errors import EXIT_CODES, EXIT_MEANING, Ending
from bulk_provision.model import Outcome, RowResult

if TYPE_CHECKING:
    from bulk_provision.validation import Problem


def document(
    command: str,
    ending: Ending,
    *,
    counts: Mapping[str, int] | None = None,
    files: Mapping[str, Path | str] | None = None,
    rows: Iterable[RowResult] = (),
    error: str | None = None,
    details: Iterable[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The document for ``command`` that ended with ``ending``; ``extra`` keys are added."""
    code = EXIT_CODES[ending]
    listed = list(rows)
    doc: dict[str, Any] = {
        "command": command,
        "tool_version": __version__,
        "exit_code": code,
        "ending": ending.value,
        "meaning": EXIT_MEANING[code],
        "counts": dict(counts or {}),
        "files": {name: str(path) for name, path in (files or {}).items()},
        "failed": [row_entry(r) for r in listed if r.outcome is Outcome.FAILED],
        "unfinished": [row_entry(r) for r in listed if r.outcome is Outcome.UNFINISHED],
        "error": error,
        "details": list(details),
    }
    doc.update(extra)
    return doc


def error_document(
    command: str, ending: Ending, error: str, details: Iterable[str] = ()
) -> dict[str, Any]:
    """A command that ended early: its exit code and the one-line error."""
    return document(command, ending, error=error, details=details)


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
