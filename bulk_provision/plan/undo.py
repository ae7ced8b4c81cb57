"""``undo CHECKPOINT``: the reversal of a finished run, planned from its journal.

Each row the run changed (journal outcome ``created``, ``updated``, ``suspended``,
``reinstated``) gets its reverse action: a created user is suspended (deleted only with
``--delete-created``), updated fields go back to the before-values the journal recorded, a
suspended user is reinstated and a reinstated one suspended again. What cannot be reversed is
listed instead (:class:`Note`): deleted users, passwords (Glance never tells what they were),
fields that were empty before (an empty value cannot be sent to clear them), updates whose
before-values were never read (an ``Action=update`` row in ``--mode create``).

Before anything is planned, one fresh ShowUsers snapshot must show each user as the run left it;
a user changed since is skipped and listed, never overwritten (:func:`check_targets`). Suspensions
stay under ``--max-suspend`` and ``--protect`` like sync's. Carrying the undo out is
``undo_run``'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bulk_provision.errors import CheckpointError, Refused, UsageError
from bulk_provision.glance.models import NO_ROLE
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import OPEN_STATES, RowState
from bulk_provision.model import Action, ActionKind, Outcome
from bulk_provision.plan.actions import PROFILE_FIELDS, KnownUser, protected, same_value
from bulk_provision.plan.guard import guard

UNDO_MODE = "undo"
SUSPEND = {"UserSuspended": "1"}
REINSTATE = {"UserSuspended": "0"}


@dataclass(frozen=True)
class Note:
    """A row the undo leaves as it is, and why."""

    row: int | None
    key: str
    reason: str


@dataclass(frozen=True)
class Reversal:
    """One reverse action and how the user must look for it to be safe (as the run left it)."""

    action: Action
    expect: Mapping[str, str] = field(default_factory=dict)  # profile field -> value now
    suspended: bool | None = None  # the suspension the run left, None: not checked


def reached(action: Action, user: KnownUser | None) -> bool:
    """True when ``user`` already shows the reverse ``action`` carried out (an undo killed with
    the request in flight is verified this way, never sent twice)."""
    if action.kind is ActionKind.DELETE:
        return user is None
    if user is None:
        return False
    current = profile(user)
    fields = action.fields
    if "UserSuspended" in fields and user.suspended != (fields["UserSuspended"] == "1"):
        return False
    return all(same_value(name, current[name], value)
               for name, value in fields.items() if name in current)


@dataclass
class UndoPlan:
    """The reversals to send and the rows left alone, for one finished journal."""

    source: Path
    meta: Mapping[str, str]
    reversals: list[Reversal]
    notes: list[Note]

    @property
    def actions(self) -> list[Action]:
        return [r.action for r in self.reversals]


def profile(user: KnownUser) -> dict[str, str]:
    values = (user.user_address, user.user_first, user.user_last, user.user_email,
              user.user_role)
    return dict(zip(PROFILE_FIELDS, values, strict=True))


def read_undo_plan(checkpoint: Path, *, delete_created: bool) -> UndoPlan:
    """The reversals of every done change in the finished journal at ``checkpoint``."""
    with Checkpoint.read_only(checkpoint) as journal:
        meta = journal.meta()
        if meta.get("mode") == UNDO_MODE:
            raise UsageError(f"{checkpoint} is the journal of an undo; an undo is not undone: "
                             "re-run the original roster instead")
        if not journal.has_plan:
            raise UsageError(f"checkpoint {checkpoint} holds no plan: the run sent nothing")
        if not journal.plan_intact():
            raise Refused(
                f"checkpoint {checkpoint} was edited after the run recorded its plan (its rows "
                "no longer match the digest recorded with them); nothing was changed. An "
                "edited journal cannot say what the run did: undo by hand from the results "
                "workbook"
            )
        states = journal.state_counts()
        left = sum(states[s] for s in OPEN_STATES)
        if left:
            raise UsageError(
                f"checkpoint {checkpoint} still has {left} unfinished row"
                f"{'s' if left != 1 else ''}: finish the run first (re-run the same command), "
                "then undo it"
            )
        outcomes = {key: r.outcome for key, r in journal.results().items()}
        done = journal.in_state(RowState.DONE)
    plan = UndoPlan(checkpoint, meta, [], [])
    for action in done:
        reversal_of(action, outcomes.get(action.key), plan, delete_created=delete_created)
    return plan


def reversal_of(
    action: Action, outcome: Outcome | None, plan: UndoPlan, *, delete_created: bool
) -> None:
    """Add ``action``'s reversal (and any note) to ``plan``; rows that changed nothing add none."""
    key, row = action.key, action.row

    def note(reason: str) -> None:
        plan.notes.append(Note(row, key, reason))

    if outcome is Outcome.DELETED:
        note("deleted by the run: a deleted user cannot be restored")
    elif outcome is Outcome.CREATED:
        expect = {k: v for k, v in action.fields.items() if k in PROFILE_FIELDS}
        if delete_created:
            undo = Action(key, row, ActionKind.DELETE, {}, changes={"UserAddress": (
                expect.get("UserAddress", ""), "(deleted)")})
        else:
            undo = Action(key, row, ActionKind.SUSPEND, dict(SUSPEND),
                          changes={"UserSuspended": ("0", "1")})
        plan.reversals.append(Reversal(undo, expect, suspended=False))
    elif outcome in (Outcome.UPDATED, Outcome.REINSTATED, Outcome.SUSPENDED):
        _reverse_change(action, outcome, plan, note)


def _reverse_change(action: Action, outcome: Outcome, plan: UndoPlan, note: object) -> None:
    assert callable(note)
    restore: dict[str, str] = {}
    expect: dict[str, str] = {}
    changes: dict[str, tuple[str, str]] = {}
    for name, (before, after) in action.changes.items():
        if name == "UserPW":
            note("the password the run set cannot be restored (Glance never returns passwords)")
        elif name in PROFILE_FIELDS and before == after:
            continue  # carried along to name the user (sync suspensions)
        elif name in PROFILE_FIELDS and not before and name != "UserRole":
            note(f"{name} was empty before the run; an empty value cannot be sent to clear it")
            expect[name] = after
        elif name in PROFILE_FIELDS:
            restore[name] = before or NO_ROLE
            expect[name] = after
            changes[name] = (after, before or NO_ROLE)
    kind = {Outcome.UPDATED: ActionKind.UPDATE, Outcome.SUSPENDED: ActionKind.REINSTATE,
            Outcome.REINSTATED: ActionKind.SUSPEND}[outcome]
    if kind is ActionKind.UPDATE and not restore:
        if not action.changes:
            note("the run did not record the values before this update (an Action=update row "
                 "in --mode create): it cannot be undone")
        return
    suspended = None
    if kind is ActionKind.REINSTATE:
        restore.update(REINSTATE)
        changes["UserSuspended"] = ("1", "0")
        suspended = True
    elif kind is ActionKind.SUSPEND:
        restore.update(SUSPEND)
        changes["UserSuspended"] = ("0", "1")
        suspended = False
    undo = Action(action.key, action.row, kind, restore, changes=changes)
    plan.reversals.append(Reversal(undo, expect, suspended))


def check_targets(
    plan: UndoPlan, snapshot: Mapping[str, KnownUser], *, protect: Sequence[str],
    max_suspend: str,
) -> str | None:
    """Drop (and list) the reversals whose user changed since the run or is protected; returns
    why the suspensions left exceed ``--max-suspend``, or None."""
    kept = []
    for reversal in plan.reversals:
        action = reversal.action
        user = snapshot.get(action.key)
        why = changed_since(reversal, user)
        if why is None and user is not None and action.kind in (
                ActionKind.SUSPEND, ActionKind.DELETE) and protected(action.key, user, protect):
            why = "protected (--protect, or the signed-in account): left as it is"
        if why is None:
            kept.append(reversal)
        else:
            plan.notes.append(Note(action.row, action.key, why))
    plan.reversals = kept
    removals = sum(1 for r in kept if r.action.kind in (ActionKind.SUSPEND, ActionKind.DELETE))
    verdict = guard(removals, snapshot, protect, max_suspend)
    if verdict.allowed:
        return None
    return (verdict.exceeded("the undo would suspend or delete") + "; nothing was changed. "
            f"If that is intended, add --max-suspend {removals}")


def changed_since(reversal: Reversal, user: KnownUser | None) -> str | None:
    """Why ``user`` no longer looks as the run left it, or None."""
    if user is None:
        return "changed since the run: Glance no longer has this user; left as it is"
    if reversal.suspended is not None and user.suspended != reversal.suspended:
        state = "suspended" if user.suspended else "active"
        return f"changed since the run: the user is now {state}; left as it is"
    current = profile(user)
    for name, value in reversal.expect.items():
        if not same_value(name, current[name], value):
            return (f"changed since the run: {name} is now {current[name]!r}, the run set "
                    f"{value!r}; left as it is")
    return None


def refuse(plan: UndoPlan, why: str) -> Refused:
    return Refused(f"undo of {plan.source}: {why}")


def source_identity(meta: Mapping[str, str], checkpoint: Path) -> str:
    """What ties an undo journal to the one run it reverses (roster hash and start time)."""
    if "roster_sha256" not in meta:
        raise CheckpointError(f"checkpoint {checkpoint} has no roster hash: not a run's journal")
    return f"{meta.get('roster_sha256', '')}@{meta.get('created', '')}"
