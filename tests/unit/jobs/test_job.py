"""The whole job against the in-memory fake: each ending and its exit code, from the journal."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bulk_provision.errors import EXIT_CODES, CheckpointError, Ending, UsageError
from bulk_provision.glance.models import GlanceUser
from bulk_provision.jobs.run import run_job
from bulk_provision.model import Outcome
from bulk_provision.settings.engine import EngineOptions
from bulk_provision.settings.spec import JobSpec
from tests.fake_glance import AUTH, UNAVAILABLE, Error, FakeGlance
from tests.workbooks import sheet_rows

FAST = EngineOptions(workers=2, rate=0, max_retries=2, backoff_base=0.001, backoff_max=0.002,
                     max_consecutive_failures=100, pause_seconds=0.001)


def roster(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "staff.csv"
    lines = ["PartnerUserID,UserAddress,UserRole"]
    lines += [f"{key},{key}.demo.glance.net,{role}" for key, role in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def spec(path: Path, **overrides: object) -> JobSpec:
    base = JobSpec(roster_path=path, engine=FAST)
    for name, value in overrides.items():
        setattr(base, name, value)
    return base


def outcomes(path: Path) -> dict[str, str]:
    return {str(r["PartnerUserID"]): str(r["Outcome"])
            for r in sheet_rows(path.with_name("staff.results.xlsx"))}


def test_every_row_created_is_finished_exit_0(tmp_path: Path) -> None:
    path = roster(tmp_path, [("u1", "Agent"), ("u2", "")])
    fake = FakeGlance()
    result = run_job(spec(path), lambda: fake)
    assert (result.ending, result.exit_code) == (Ending.FINISHED, 0)
    assert result.counts == {Outcome.CREATED: 2}
    assert outcomes(path) == {"u1": "created", "u2": "created"}
    assert [c.operation for c in fake.calls][0] == "ShowRoles"  # first contact before writes


def test_a_refused_row_is_failed_exit_1_and_a_rerun_does_not_resend_it(tmp_path: Path) -> None:
    path = roster(tmp_path, [("u1", "Boss"), ("u2", "")])
    fake = FakeGlance()
    fake.script("NewUser", "u1", Error("NO_ROLE", "role 'Boss' is not provisioned"))
    result = run_job(spec(path), lambda: fake)
    assert (result.ending, result.exit_code) == (Ending.FINISHED_WITH_FAILURES, 1)
    assert outcomes(path) == {"u1": "failed", "u2": "created"}
    again = run_job(spec(path), lambda: fake)
    assert again.exit_code == 1 and len(fake.ops("NewUser")) == 2
    retried = run_job(spec(path, retry_failed=True), lambda: fake)
    assert retried.exit_code == 0 and fake.created == {"u1": 1, "u2": 1}


def test_rows_without_a_definite_answer_are_unfinished_exit_4_never_failed(
    tmp_path: Path,
) -> None:
    path = roster(tmp_path, [("u1", ""), ("u2", "")])
    fake = FakeGlance()
    fake.script("NewUser", "u1", *[UNAVAILABLE] * 3)
    result = run_job(spec(path), lambda: fake)
    assert (result.ending, result.exit_code) == (Ending.STOPPED, 4)
    assert outcomes(path) == {"u1": "unfinished", "u2": "created"}
    assert result.counts[Outcome.FAILED] == 0
    finished = run_job(spec(path), lambda: fake)  # a plain re-run finishes it
    assert finished.exit_code == 0 and fake.created == {"u1": 1, "u2": 1}


def test_invalid_rows_send_nothing_exit_3_or_are_skipped_exit_1(tmp_path: Path) -> None:
    path = roster(tmp_path, [("u1", ""), ("", "")])
    fake = FakeGlance()
    result = run_job(spec(path), lambda: fake)
    assert (result.ending, result.exit_code) == (Ending.INVALID, 3)
    assert fake.calls == []
    assert outcomes(path) == {"u1": "not attempted", "None": "invalid"}
    skipped = run_job(spec(path, skip_invalid=True), lambda: fake)
    assert (skipped.ending, skipped.exit_code) == (Ending.FINISHED_WITH_FAILURES, 1)
    assert outcomes(path) == {"u1": "created", "None": "invalid"}


def test_rejected_credentials_at_first_contact_stop_with_zero_writes_exit_4(
    tmp_path: Path,
) -> None:
    path = roster(tmp_path, [("u1", ""), ("u2", "")])
    fake = FakeGlance()
    fake.script("ShowRoles", None, AUTH)
    result = run_job(spec(path), lambda: fake)
    assert (result.ending, result.exit_code) == (Ending.STOPPED, 4)
    assert "AUTH" in result.message
    assert fake.ops("NewUser") == []
    assert outcomes(path) == {"u1": "not attempted", "u2": "not attempted"}


def test_a_stop_request_is_interrupted_exit_130_and_resumable(tmp_path: Path) -> None:
    path = roster(tmp_path, [(f"u{i}", "") for i in range(6)])
    fake = FakeGlance()
    stop = threading.Event()
    fake.before_call = lambda call: stop.set() if call.key == "u1" else None
    result = run_job(spec(path, engine=EngineOptions(workers=1, rate=0)), lambda: fake,
                     stop=stop)
    assert (result.ending, result.exit_code) == (Ending.INTERRUPTED, 130)
    assert outcomes(path)["u5"] == "not attempted"
    assert run_job(spec(path), lambda: fake).exit_code == 0
    assert fake.created == {f"u{i}": 1 for i in range(6)}


def test_the_sync_guard_refuses_before_any_write_exit_2(tmp_path: Path) -> None:
    path = roster(tmp_path, [("u1", "")])
    fake = FakeGlance({f"old{i}": GlanceUser(f"old{i}", f"old{i}.x.glance.net")
                       for i in range(5)})
    with pytest.raises(UsageError, match="sync would suspend 5 of 5 active users") as info:
        run_job(spec(path, mode="sync"), lambda: fake)
    assert info.value.exit_code == EXIT_CODES[Ending.USAGE] == 2
    assert [c.operation for c in fake.calls] == ["ShowUsers"]


def test_every_ending_has_an_exit_code_and_a_meaning() -> None:
    from bulk_provision.errors import EXIT_MEANING

    assert set(EXIT_CODES) == set(Ending)
    assert set(EXIT_MEANING) == set(EXIT_CODES.values())


def test_a_resume_that_reads_the_rows_differently_is_refused(tmp_path: Path) -> None:
    """Same file, other --columns: the roster's hash matches, its rows do not."""
    path = tmp_path / "staff.csv"
    path.write_text("PartnerUserID,UserAddress,Nick\n" + "".join(
        f"u{i},u{i}.demo.glance.net,N{i}\n" for i in range(4)), encoding="utf-8")
    fake = FakeGlance()
    stop = threading.Event()
    fake.before_call = lambda call: stop.set() if call.key == "u0" else None
    first = run_job(spec(path, engine=EngineOptions(workers=1, rate=0)), lambda: fake, stop=stop)
    assert first.exit_code == 130
    with pytest.raises(CheckpointError, match=r"row 3 \(PartnerUserID u1\) no longer reads as"):
        run_job(spec(path, column_map={"Nick": "UserLast"}), lambda: fake)
    assert len(fake.ops("NewUser")) == 1
    assert run_job(spec(path), lambda: fake).exit_code == 0  # the original settings resume


def test_a_journal_made_against_another_glance_never_counts_as_done_here(
    tmp_path: Path,
) -> None:
    """A rehearsal against the simulator (or staging), then the real run: all sent again."""
    from bulk_provision.settings.connection import Connection

    path = roster(tmp_path, [("u1", ""), ("u2", "")])
    staging, production = FakeGlance(), FakeGlance()
    rehearsal = Connection("https://staging.example", env={"GLANCE_PARTNER_LOGIN": "a.x"})
    real = Connection("https://www.glance.net", env={"GLANCE_PARTNER_LOGIN": "a.x"})
    assert run_job(spec(path, connection=rehearsal), lambda: staging).exit_code == 0
    assert run_job(spec(path, connection=real), lambda: production).exit_code == 0
    assert production.created == {"u1": 1, "u2": 1}  # finished elsewhere: started over here
    # an unfinished one is refused, never mixed
    stop = threading.Event()
    staging.before_call = lambda call: stop.set() if call.operation == "NewUser" else None
    interrupted = run_job(spec(path, connection=rehearsal, fresh=True,
                               engine=EngineOptions(workers=1, rate=0)), lambda: staging,
                          stop=stop)
    assert interrupted.exit_code == 130
    with pytest.raises(CheckpointError, match="holds a run against https://staging.example"):
        run_job(spec(path, connection=real), lambda: production)


def test_row_hashes_in_bulk_are_the_journals_row_hash(tmp_path: Path) -> None:
    from bulk_provision.journal.checkpoint import row_hash
    from bulk_provision.plan.actions import plan_create
    from bulk_provision.plan.resume import row_hashes
    from bulk_provision.roster.read import read_roster

    path = tmp_path / "staff.csv"
    path.write_text("PartnerUserID,UserAddress,Password,Notes\nu1,u1.x.glance.net,Secret-pw-1,"
                    "Zoë\nu2,u2.x.glance.net,,\n", encoding="utf-8")
    loaded = read_roster(path)
    actions = plan_create(loaded.frame, list(loaded.frame.index))
    hashes = row_hashes(loaded, actions)
    records = loaded.frame.to_dict("index")
    assert hashes == {a.key: row_hash(records[a.row]) for a in actions if a.row is not None}
    assert row_hash({**records[2], "UserPW": "other"}) == hashes["u1"]  # passwords left out
    assert row_hash({**records[2], "Notes": "Zoe"}) != hashes["u1"]
