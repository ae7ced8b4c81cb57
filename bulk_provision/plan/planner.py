"""Reading what a run needs before it changes anything: the roster checked against the roles
Glance knows, and the plan, from a ShowUsers snapshot for upsert and sync, with the sync guard.

Read-only: every call here is a read (ShowRoles, ShowUsers), retried like any other; the pure
decisions (what to create, update, suspend) are in ``plan``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from bulk_provision.errors import Interrupted
from bulk_provision.glance.api import GlanceApi
from bulk_provision.glance.models import GlanceUser
from bulk_provision.model import Action, ActionKind
from bulk_provision.plan.actions import (
    KnownUser,
    glance_spellings,
    keyed_snapshot,
    plan_create,
    plan_upsert,
    same_key,
    suspensions,
)
from bulk_provision.plan.guard import guard
from bulk_provision.provision.retry import call_with_retries
from bulk_provision.roster.read import Roster
from bulk_provision.roster.recipe import leavers_of, read_with_recipe
from bulk_provision.roster.selection import select_rows
from bulk_provision.roster.validation import ValidationResult, validate_roster
from bulk_provision.settings.engine import EngineOptions
from bulk_provision.settings.spec import JobSpec


def server_roles(
    api: GlanceApi,
    configured: Sequence[str] | None,
    options: EngineOptions,
    stop: threading.Event | None = None,
) -> list[str]:
    """Roles Glance lists (ShowRoles omits roles nobody has) plus the ones configured."""
    listed = call_with_retries(api.show_roles, options, what="ShowRoles", stop=stop)
    names = [r.name for r in listed if r.name != "-none-"]
    return sorted({*names, *(configured or ())}, key=str.lower)


def load_and_validate(
    spec: JobSpec, api: GlanceApi | None = None, stop: threading.Event | None = None
) -> tuple[Roster, ValidationResult]:
    roster = read_with_recipe(spec.roster_path, sheet=spec.sheet, recipe=spec.reading)
    roster = select_rows(roster, spec.selection)  # a wave: only its rows, from here on
    roles = spec.roles
    if spec.check_roles and api is not None:
        roles = server_roles(api, spec.roles, spec.engine, stop)
    return roster, validate_roster(roster, roles=roles, schema=spec.schema,
                                   listed_roles=spec.listed_roles)


def every_user(api: GlanceApi, stop: threading.Event | None) -> list[GlanceUser]:
    """Every user ShowUsers lists (the client bounds the paging, DESIGN.md section 11)."""
    users = []
    for user in api.show_users(page_count=1000):
        if stop is not None and stop.is_set():
            raise Interrupted("interrupted while reading the users from Glance; nothing changed")
        users.append(user)
    return users


def fresh_snapshot(
    api: GlanceApi, options: EngineOptions, stop: threading.Event | None = None
) -> dict[str, KnownUser]:
    """One fresh ShowUsers snapshot, PartnerUserID -> user, read with retries; a listing with
    duplicate keys stops the run (RunStopped). Used by upsert/sync plans, ``run --plan`` and
    ``undo``."""
    users = call_with_retries(
        lambda: every_user(api, stop), options, what="ShowUsers (snapshot)", stop=stop
    )
    return keyed_snapshot(users)


def leaver_suspensions(actions: Sequence[Action], leavers: frozenset[int]) -> int:
    """The recipe's leavers this plan suspends: in sync they count against --max-suspend like
    the users the roster leaves out (DESIGN.md section 12)."""
    return sum(1 for a in actions if a.kind is ActionKind.SUSPEND and a.row in leavers)


def build_plan(
    spec: JobSpec,
    roster: Roster,
    validation: ValidationResult,
    api: GlanceApi | None,
    stop: threading.Event | None = None,
    seen: list[Mapping[str, KnownUser]] | None = None,
) -> tuple[list[Action], str | None]:
    """The actions for the valid rows; upsert and sync read a ShowUsers snapshot first, and so
    does a wave (``--rows``/``--where``/``--first``) in create mode: whom Glance already has
    (an earlier wave created them) is left as it is, not sent again.

    The second value is why sync must refuse this plan (more suspensions than --max-suspend
    allows), or None. ``run`` refuses it before any write; ``plan`` still shows it.
    """
    invalid = validation.invalid_rows
    frame = roster.frame
    rows = [n for n in frame.index if n not in invalid]
    if spec.mode == "create":
        created = plan_create(frame, rows, audio_provider=spec.audio_provider)
        if spec.selection is None or api is None:
            return created, None
        # a wave: the people an earlier wave (or anyone) already created are left as they are
        snapshot = fresh_snapshot(api, spec.engine, stop)
        if seen is not None:
            seen.append(snapshot)
        spelled = glance_spellings(snapshot)
        return [Action(a.key, a.row, ActionKind.NONE)
                if a.kind is ActionKind.CREATE
                and (a.key in snapshot or same_key(a.key) in spelled) else a
                for a in created], None
    assert api is not None
    snapshot = fresh_snapshot(api, spec.engine, stop)
    if seen is not None:  # whoever shows the plan names the people Glance has
        seen.append(snapshot)
    actions = plan_upsert(
        frame,
        rows,
        snapshot,
        audio_provider=spec.audio_provider,
        set_passwords=spec.set_passwords,
        reinstate=spec.mode == "sync" or (roster.recipe is not None and roster.recipe.has_status),
    )
    if spec.mode == "sync":
        keys = set(frame["PartnerUserID"]) if "PartnerUserID" in frame.columns else set()
        extra = suspensions(snapshot, keys, spec.protect)
        leaving = leaver_suspensions(actions, leavers_of(roster))
        actions.extend(extra)
        verdict = guard(len(extra) + leaving, snapshot, spec.protect, spec.max_suspend)
        if not verdict.allowed:
            marked = (f" {leaving} of them are leavers by the recipe's [status] and "
                      f"{len(extra)} are missing from the roster." if leaving else "")
            return actions, (
                verdict.exceeded("sync would suspend") + f"; nothing was changed.{marked} "
                "Check the roster is complete (bulk-provision plan lists them), use --protect, "
                "or raise --max-suspend"
            )
    return actions, None
