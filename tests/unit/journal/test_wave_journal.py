"""A wave's journal is that wave's alone: the selection is part of a run's identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_provision.errors import CheckpointError
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action, ActionKind, Outcome, RowResult
from bulk_provision.plan.resume import start_over

SHA = "a" * 64


def actions(rows: range) -> list[Action]:
    return [Action(key=f"{r:03d}", row=r, kind=ActionKind.CREATE,
                   fields={"UserAddress": f"u{r}.demo.glance.net"}) for r in rows]


def open_wave(path: Path, selection: str, *, fresh: bool = False) -> Checkpoint:
    return Checkpoint.open(path, roster_sha256=SHA, roster_path="staff.xlsx", mode="create",
                           selection=selection, fresh=fresh)


def test_an_unfinished_wave_is_resumed_by_the_same_wave_only(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with open_wave(path, "rows 2-3") as journal:
        journal.record_plan(actions(range(2, 4)))
        assert journal.meta()["selection"] == "rows 2-3"
    with open_wave(path, "rows 2-3") as journal:  # the same wave: resumed
        assert len(journal.todo()) == 2
    for other in ("rows 4-5", ""):
        with pytest.raises(CheckpointError) as caught:
            open_wave(path, other)
        assert "holds an unfinished run of the wave rows 2-3" in str(caught.value)
        assert "use --fresh" in str(caught.value)
    assert not start_over(path, SHA, "create", selection="rows 4-5")  # refused, not replaced


def test_a_finished_wave_gives_way_to_another_wave_but_not_to_itself(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with open_wave(path, "rows 2-3") as journal:
        journal.record_plan(actions(range(2, 4)))
        for action in actions(range(2, 4)):
            journal.send(action.key)
            journal.answer(RowResult(action.key, action.row, action.kind, Outcome.CREATED, ""))
    assert not start_over(path, SHA, "create", selection="rows 2-3")  # nothing left: no resend
    assert start_over(path, SHA, "create", selection="rows 4-5")
    assert start_over(path, SHA, "create", selection="")  # the whole roster is another run
    with open_wave(path, "rows 4-5", fresh=True) as journal:
        assert journal.meta()["selection"] == "rows 4-5" and not journal.has_plan


def test_a_journal_without_a_selection_is_the_whole_rosters(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="staff.xlsx",
                         mode="create") as journal:
        journal.record_plan(actions(range(2, 4)))
        assert journal.meta()["selection"] == ""
    with pytest.raises(CheckpointError, match="unfinished run of the whole roster, and this "
                                              "run takes the wave rows 2-3"):
        open_wave(path, "rows 2-3")
