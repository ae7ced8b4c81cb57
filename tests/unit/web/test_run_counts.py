"""A run the server died under: its counts come from the journal and add up to its rows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action, ActionKind
from bulk_provision.web.runs import RunManager


def test_rows_left_sending_and_never_sent_are_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Checkpoint.open(path, roster_sha256="0" * 64, roster_path="r.csv", mode="create") as j:
        j.record_plan([Action(f"{i:03d}", i + 2, ActionKind.CREATE, {}) for i in range(10)])
        j.send("000")
        j.send("001")  # both left "sending", as a kill -9 leaves them
    holder = SimpleNamespace(workspace=SimpleNamespace(journal_path=lambda sha: path))
    counts = RunManager._journal_outcomes(holder, "0" * 64)  # type: ignore[arg-type]
    assert sum(counts.values()) == 10
    assert counts == {"unfinished": 2, "not attempted": 8}
