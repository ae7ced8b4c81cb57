"""The plan job: read and validate a roster, plan it against Glance, write the plan workbook.

``bulk-provision plan`` and the page's plan step both call :func:`plan_job`; neither assembles
the steps itself. A plan written here carries its header (roster hash, options, rows digest), so
``run --plan`` can carry out any plan, whichever front end made it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bulk_provision import __version__
from bulk_provision.errors import UsageError
from bulk_provision.glance.api import GlanceApi
from bulk_provision.model import Action
from bulk_provision.plan.actions import KnownUser
from bulk_provision.plan.approved import plan_options
from bulk_provision.plan.planner import build_plan, load_and_validate
from bulk_provision.plan.resume import row_hashes
from bulk_provision.report.plan_report import SHOWN, PlanHeader, write_plan
from bulk_provision.roster.read import Roster
from bulk_provision.roster.recipe import leavers_of
from bulk_provision.roster.validation import ValidationResult
from bulk_provision.settings.spec import JobSpec


@dataclass
class Planned:
    """A roster read, validated and (unless it was invalid) planned.

    ``actions`` is None when invalid rows stopped the plan (``skip_invalid`` not chosen);
    ``refusal`` is why ``run`` would refuse the plan (the suspension guard), or None.
    """

    roster: Roster
    validation: ValidationResult
    actions: list[Action] | None = None
    refusal: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    glance: Mapping[str, KnownUser] = field(default_factory=dict)  # the snapshot, if read

    @property
    def invalid(self) -> int:
        return len(self.validation.invalid_rows)


def plan_job(
    spec: JobSpec, api: GlanceApi | None, *, stop: threading.Event | None = None,
    stop_if_invalid: bool = True,
) -> Planned:
    """Read and validate ``spec``'s roster, then plan its valid rows (upsert and sync read a
    ShowUsers snapshot through ``api``). With ``stop_if_invalid`` and invalid rows (and no
    ``skip_invalid``), stops after validation: nothing is planned."""
    roster, validation = load_and_validate(spec, api, stop)
    planned = Planned(roster, validation)
    if stop_if_invalid and planned.invalid and not spec.skip_invalid:
        return planned
    seen: list[Mapping[str, KnownUser]] = []
    actions, refusal = build_plan(spec, roster, validation, api, stop, seen)
    counts = Counter(SHOWN[a.kind] for a in actions)
    planned.actions, planned.refusal = actions, refusal
    planned.glance = seen[0] if seen else {}
    planned.counts = {name: counts.get(name, 0) for name in SHOWN.values()}
    return planned


def write_plan_workbook(out: Path, spec: JobSpec, planned: Planned) -> None:
    """The plan workbook ``out``, with the header ``run --plan`` checks it by."""
    actions = planned.actions or []
    options = plan_options(spec, row_hashes(planned.roster, actions),
                           leavers_of(planned.roster))
    header = PlanHeader(str(spec.roster_path), planned.roster.sha256, spec.mode, options,
                        __version__)
    try:
        write_plan(out, actions, header, endpoint=spec.endpoint, refusal=planned.refusal)
    except OSError as exc:  # checked before; the disk may still fill up or the folder go
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from exc
