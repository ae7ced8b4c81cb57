"""Where a run's plan comes from: made fresh from the roster and Glance, or a plan a person
approved (``run --plan``), checked against Glance as it is now.

The run job takes one :class:`PlanSource` and goes in a straight line (load -> plan -> engine ->
report); what differs between the two is here, so the engine and the report never ask which it
was. (An undo's reversal plan is the third source; it has its own journal and job, ``jobs/undo``.)
"""

from __future__ import annotations

import threading
from typing import Protocol

from bulk_provision.errors import CheckpointError, UsageError
from bulk_provision.glance.api import GlanceApi
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action
from bulk_provision.plan.approved import (
    ApprovedPlan,
    applied,
    check_plan,
    check_planned_rows,
    check_roster,
    read_plan,
)
from bulk_provision.plan.planner import build_plan, fresh_snapshot
from bulk_provision.plan.resume import row_hashes
from bulk_provision.roster.read import Roster
from bulk_provision.roster.validation import ValidationResult
from bulk_provision.settings.spec import JobSpec


class PlanSource(Protocol):
    """The steps of a run that depend on where its plan comes from."""

    checksum: str | None  # the approved plan's, or None for a fresh plan

    def spec_for(self, spec: JobSpec) -> JobSpec:
        """The run's settings with what the plan decides (an approved plan's mode, options)."""

    def check_roster(self, roster: Roster) -> None:
        """Refuse a roster the plan was not made from (an approved plan only)."""

    def check_resumed(self, journal: Checkpoint) -> None:
        """Refuse resuming a journal of another plan (an approved plan only)."""

    def actions(self, spec: JobSpec, roster: Roster, validation: ValidationResult,
                api: GlanceApi, stop: threading.Event | None) -> list[Action]:
        """The actions to journal, checked against Glance now; a refusal raises."""

    def before_recording(self, journal: Checkpoint) -> None:
        """What the journal records of the plan before its actions (its checksum and path)."""


class FreshPlan:
    """A plan made now from the roster (and, for upsert and sync, Glance's snapshot)."""

    checksum: str | None = None

    def spec_for(self, spec: JobSpec) -> JobSpec:
        return spec

    def check_roster(self, roster: Roster) -> None:
        return None

    def check_resumed(self, journal: Checkpoint) -> None:
        return None

    def actions(self, spec: JobSpec, roster: Roster, validation: ValidationResult,
                api: GlanceApi, stop: threading.Event | None) -> list[Action]:
        actions, refusal = build_plan(spec, roster, validation, api, stop)
        if refusal is not None:
            raise UsageError(refusal)
        return actions

    def before_recording(self, journal: Checkpoint) -> None:
        return None


class ApprovedSource:
    """``run --plan PLAN.xlsx``: exactly the approved plan, or a refusal with no write."""

    def __init__(self, plan: ApprovedPlan) -> None:
        self.plan = plan
        self.checksum: str | None = plan.checksum

    def spec_for(self, spec: JobSpec) -> JobSpec:
        return applied(spec, self.plan)

    def check_roster(self, roster: Roster) -> None:
        check_roster(self.plan, roster.sha256)
        check_planned_rows(self.plan, row_hashes(roster, self.plan.actions))

    def check_resumed(self, journal: Checkpoint) -> None:
        if journal.meta().get("plan_checksum") != self.plan.checksum:
            raise CheckpointError(
                f"checkpoint {journal.path} holds an unfinished run of another plan or roster: "
                "finish it first (re-run that command) or use --fresh to start over"
            )

    def actions(self, spec: JobSpec, roster: Roster, validation: ValidationResult,
                api: GlanceApi, stop: threading.Event | None) -> list[Action]:
        snapshot = fresh_snapshot(api, spec.engine, stop)
        check_plan(self.plan, snapshot, protect=spec.protect, max_suspend=spec.max_suspend)
        return self.plan.actions

    def before_recording(self, journal: Checkpoint) -> None:
        # Before the actions: a plan is never recorded without its checksum.
        journal.set_meta(plan_checksum=self.plan.checksum, plan_path=str(self.plan.path))


def plan_source(spec: JobSpec) -> PlanSource:
    """The source ``spec`` asks for: its ``--plan`` workbook, read and checked, or a fresh plan."""
    return FreshPlan() if spec.plan is None else ApprovedSource(read_plan(spec.plan))
