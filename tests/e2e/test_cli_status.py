"""``bulk-provision status``: exact output for a real checkpoint, clean errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_provision.cli import main
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action, ActionKind, Outcome, RowResult

SHA = "0123456789abcdef" * 4


def build(path: Path, *, failures: int, in_doubt: int, created: int, pending: int) -> str:
    """A checkpoint with rows in every state; returns its last-update time."""
    total = failures + in_doubt + created + pending
    actions = [Action(f"u{i:02d}", i + 2, ActionKind.CREATE) for i in range(total)]
    actions.append(Action("gone", None, ActionKind.SUSPEND))
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="staff.xlsx", mode="sync") as cp:
        cp.record_plan(actions)
        for a in actions[:failures]:
            cp.send(a.key)
            cp.answer(RowResult(a.key, a.row, a.kind, Outcome.FAILED, f"INVALID: {a.key}"))
        for a in actions[failures : failures + in_doubt]:
            cp.send(a.key)
            cp.doubt(a.key, "outcome unknown (timeout)")
        for a in actions[failures + in_doubt : failures + in_doubt + created]:
            cp.send(a.key)
            cp.answer(RowResult(a.key, a.row, a.kind, Outcome.CREATED))
        retried = actions[failures + in_doubt + created]
        cp.send(retried.key)
        cp.not_sent(retried.key, "HTTP 503; a re-run sends it again")
        cp.send("gone")
        cp.answer(RowResult("gone", None, ActionKind.SUSPEND, Outcome.SUSPENDED))
        cp.set_meta(last_exit_code="1")
        return cp.meta()["updated"]


def test_status_prints_counts_in_doubt_and_failed_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "staff.checkpoint.sqlite"
    updated = build(path, failures=22, in_doubt=2, created=3, pending=2)
    assert main(["status", str(path)]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    unknown = "outcome unknown (timeout)"
    assert out.out.splitlines() == [
        f"Checkpoint: {path}",
        "Roster: staff.xlsx (SHA-256 0123456789ab)",
        "Mode: sync",
        f"Last update: {updated}",
        "Last exit code: 1",
        "Rows: 30 (final 26, left for a re-run 4, 2 of them in doubt)",
        "Outcomes: created 3, suspended 1, failed 22, unfinished 3, not attempted 1",
        "Unfinished (3): a re-run finishes them",
        f"  row 24  u22  {unknown}",
        f"  row 25  u23  {unknown}",
        "  row 29  u27  HTTP 503; a re-run sends it again",
        "Failed (22):",
        *[f"  row {i + 2}  u{i:02d}  INVALID: u{i:02d}" for i in range(20)],
        "  and 2 more",
    ]


def test_status_of_a_checkpoint_without_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new.sqlite"
    Checkpoint.open(path, roster_sha256=SHA, roster_path="r.csv", mode="create").close()
    assert main(["status", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["Roster: r.csv (SHA-256 0123456789ab)", "Mode: create"]
    assert lines[4:] == ["Rows: 0 (final 0, left for a re-run 0)", "Outcomes: none yet"]


def test_status_while_the_run_holds_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "busy.sqlite"
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="r.csv", mode="create") as cp:
        cp.record_plan([Action("a", 2, ActionKind.CREATE)])
        assert main(["status", str(path)]) == 0
    assert "Rows: 1 (final 0, left for a re-run 1)" in capsys.readouterr().out


def test_missing_checkpoint_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.sqlite"
    assert main(["status", str(path)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == f"bulk-provision: error: checkpoint {path} does not exist\n"


def test_corrupt_checkpoint_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"PK\x03\x04 not sqlite" * 200)
    assert main(["status", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith(
        f"bulk-provision: error: {path} is not a readable bulk-provision checkpoint"
    )
    assert "give the .checkpoint.sqlite file a run wrote" in err
    assert "remove" not in err  # it may be the user's roster, given by mistake


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["status", "--help"])
    assert info.value.code == 0
    assert "bulk-provision status staff.checkpoint.sqlite" in capsys.readouterr().out
