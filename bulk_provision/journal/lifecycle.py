"""The row lifecycle: journal states, the transitions between them, and what they mean to users.

Every planned row moves through these states (DESIGN.md section 6)::

                 send              answer
    pending ------------> sending --------> done | failed
       ^                   |   |
       |     not_sent      |   | doubt (the request may have been carried out)
       +-------------------+   v
       |                    in_doubt ----- confirm (verified: Glance has it) ----> done
       +------ release (verified absent, or safe to resend) --+
       ^
       +------ retry_failed (``--retry-failed``) ------ failed

A run that dies leaves rows ``sending``; the next run first moves them to ``in_doubt``
(``recover``), so nothing that may have been carried out is ever sent again unverified. Rows that
need no request (``unchanged``) are recorded ``done`` with the plan.

:data:`TRANSITIONS` is the only definition of which moves exist; the journal applies each one as
one guarded statement (``UPDATE ... WHERE state IN (...)``) and raises LifecycleError when the row
was elsewhere. :func:`row_outcome` is the only mapping from a row's journal state to the Outcome
users see, and :func:`ending_for` the only one from a run's outcomes to how it ended (and so, via
``errors.EXIT_CODES``, its exit code).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from bulk_provision.errors import Ending
from bulk_provision.model import Outcome


class RowState(StrEnum):
    """Where a planned row stands in the journal."""

    PENDING = "pending"  # not sent, or surely not carried out
    SENDING = "sending"  # committed just before the request leaves
    IN_DOUBT = "in_doubt"  # sent, and it may or may not have been carried out
    DONE = "done"  # a good, final outcome
    FAILED = "failed"  # Glance refused it definitely (an ERROR document)


FINAL_STATES = frozenset({RowState.DONE, RowState.FAILED})
OPEN_STATES = frozenset({RowState.PENDING, RowState.SENDING, RowState.IN_DOUBT})

#: transition -> (the states a row may leave by it, the state it arrives in). ``answer`` arrives
#: in DONE or FAILED depending on the outcome; its entry names DONE.
TRANSITIONS: dict[str, tuple[frozenset[RowState], RowState]] = {
    "send": (frozenset({RowState.PENDING}), RowState.SENDING),
    "answer": (frozenset({RowState.SENDING}), RowState.DONE),
    "not_sent": (frozenset({RowState.SENDING}), RowState.PENDING),
    "doubt": (frozenset({RowState.SENDING}), RowState.IN_DOUBT),
    "recover": (frozenset({RowState.SENDING}), RowState.IN_DOUBT),
    "confirm": (frozenset({RowState.IN_DOUBT}), RowState.DONE),
    "release": (frozenset({RowState.IN_DOUBT}), RowState.PENDING),
    "retry_failed": (frozenset({RowState.FAILED}), RowState.PENDING),
}

GOOD_OUTCOMES = frozenset(
    {
        Outcome.CREATED,
        Outcome.UPDATED,
        Outcome.UNCHANGED,
        Outcome.SUSPENDED,
        Outcome.REINSTATED,
        Outcome.DELETED,
        Outcome.EXISTS,
        Outcome.SKIPPED,
    }
)
#: Outcomes of rows a plain re-run would still send.
OPEN_OUTCOMES = frozenset({Outcome.UNFINISHED, Outcome.NOT_ATTEMPTED})


def state_after_answer(outcome: Outcome) -> RowState:
    """``answer`` lands a row in DONE for a good outcome and FAILED for a refusal."""
    if outcome in GOOD_OUTCOMES:
        return RowState.DONE
    if outcome is Outcome.FAILED:
        return RowState.FAILED
    raise ValueError(f"{outcome.value!r} is not a final outcome")


def row_outcome(state: RowState, outcome: Outcome | None, attempts: int) -> Outcome:
    """What users are told about a planned row in ``state`` (workbook, status, --json, page)."""
    if state is RowState.DONE:
        if outcome is None or outcome not in GOOD_OUTCOMES:
            raise ValueError(f"a done row must carry a good outcome, not {outcome!r}")
        return outcome
    if state is RowState.FAILED:
        return Outcome.FAILED
    if state is RowState.PENDING and attempts == 0:
        return Outcome.NOT_ATTEMPTED
    return Outcome.UNFINISHED


def ending_for(outcomes: Mapping[Outcome, int], *, interrupted: bool, stopped: bool) -> Ending:
    """How a run ended, from the outcomes of every roster row (and sync-only user).

    Interrupted (Ctrl-C) wins; then any row a re-run would still send, or a stop, means the run
    is resumable (STOPPED); with every row final, any failed or invalid row means
    FINISHED_WITH_FAILURES.
    """
    if interrupted:
        return Ending.INTERRUPTED
    if stopped or any(outcomes.get(o, 0) for o in OPEN_OUTCOMES):
        return Ending.STOPPED
    if outcomes.get(Outcome.FAILED, 0) or outcomes.get(Outcome.INVALID, 0):
        return Ending.FINISHED_WITH_FAILURES
    return Ending.FINISHED
