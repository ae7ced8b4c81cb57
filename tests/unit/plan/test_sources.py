"""Where a run's plan comes from: a fresh plan or an approved one, each step in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_provision.errors import CheckpointError, Refused
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action, ActionKind
from bulk_provision.plan.approved import ApprovedPlan
from bulk_provision.plan.sources import ApprovedSource, FreshPlan, plan_source
from bulk_provision.report.plan_report import PlanHeader
from bulk_provision.settings.spec import JobSpec


def approved(tmp_path: Path, checksum: str = "c" * 64) -> ApprovedPlan:
    header = PlanHeader("staff.csv", "a" * 64, "upsert", {"rows_sha256": ""})
    return ApprovedPlan(tmp_path / "p.xlsx", header, checksum,
                        [Action("1", 2, ActionKind.CREATE, {"UserAddress": "a.x"})])


def test_without_a_plan_file_the_plan_is_made_fresh(tmp_path: Path) -> None:
    spec = JobSpec(roster_path=tmp_path / "staff.csv")
    source = plan_source(spec)
    assert isinstance(source, FreshPlan) and source.checksum is None
    assert source.spec_for(spec) is spec


def test_an_approved_plan_refuses_another_roster(tmp_path: Path) -> None:
    from tests.unit.roster.test_validation import roster_of

    roster = roster_of([{"PartnerUserID": "1", "UserAddress": "a.x"}])
    with pytest.raises(Refused, match="the roster is not the one the plan .* was made from"):
        ApprovedSource(approved(tmp_path)).check_roster(roster)


def test_an_approved_plan_records_its_checksum_and_refuses_another_plans_journal(
    tmp_path: Path,
) -> None:
    source = ApprovedSource(approved(tmp_path))
    with Checkpoint.open(tmp_path / "j.sqlite", roster_sha256="a" * 64, roster_path="staff.csv",
                         mode="upsert") as journal:
        source.before_recording(journal)
        assert journal.meta()["plan_checksum"] == "c" * 64
        source.check_resumed(journal)  # its own journal: resumed
        with pytest.raises(CheckpointError, match="unfinished run of another plan"):
            ApprovedSource(approved(tmp_path, "d" * 64)).check_resumed(journal)
