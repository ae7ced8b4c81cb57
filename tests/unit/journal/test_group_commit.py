"""The group commit of the journal's answers (``Checkpoint.answer_soon``): a row is reported done
only once its answer is committed, and a kill -9 between the answer and its commit leaves the row
in doubt, verified with ShowUsers on resume: created exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulk_provision.errors import LifecycleError
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import RowState
from bulk_provision.model import Action, ActionKind, Outcome, RowResult, StopReason
from bulk_provision.provision.engine import Engine
from bulk_provision.settings.engine import EngineOptions
from tests.fake_glance import FakeGlance

SHA = "a" * 64
ONE = EngineOptions(workers=1, rate=0, max_retries=3, backoff_base=0.001, backoff_max=0.002)


def create(key: str, row: int = 2) -> Action:
    return Action(key, row, ActionKind.CREATE, {"UserAddress": f"{key}.demo.glance.net"})


def created(action: Action) -> RowResult:
    return RowResult(action.key, action.row, action.kind, Outcome.CREATED, "", attempts=1)


def open_cp(path: Path) -> Checkpoint:
    return Checkpoint.open(path, roster_sha256=SHA, roster_path="r.csv", mode="create")


def state_on_disk(path: Path, key: str) -> str:
    """The row's state as another process would read it from the file (committed only)."""
    with Checkpoint.read_only(path) as view:
        return next(s.value for s in RowState if key in {a.key for a in view.in_state(s)})


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> None:
    """No group commit but an explicit flush (or close) within the test."""
    monkeypatch.setattr(Checkpoint, "ANSWER_WINDOW", 3600.0)
    monkeypatch.setattr(Checkpoint, "ANSWER_BATCH", 10**6)


def test_an_answer_is_reported_only_once_it_is_committed(tmp_path: Path, held: None) -> None:
    path = tmp_path / "j.sqlite"
    told: list[str] = []
    with open_cp(path) as cp:
        cp.record_plan([create("u1"), create("u2", 3)])
        for key in ("u1", "u2"):
            cp.send(key)
        cp.answer_soon(created(create("u1")), lambda r: told.append(r.key))
        cp.answer_soon(created(create("u2", 3)), lambda r: told.append(r.key))
        assert told == []
        assert state_on_disk(path, "u1") == "sending"  # the send mark is, the answer is not
        cp.flush()
        assert told == ["u1", "u2"]
        assert state_on_disk(path, "u1") == state_on_disk(path, "u2") == "done"
        assert cp.results()["u1"].outcome is Outcome.CREATED


def test_the_flusher_commits_within_its_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Checkpoint, "ANSWER_WINDOW", 0.05)
    path = tmp_path / "j.sqlite"
    told: list[str] = []
    with open_cp(path) as cp:
        cp.record_plan([create("u1"), create("u2", 3)])
        for n, key in enumerate(("u1", "u2"), start=1):  # each its own window, none full
            cp.send(key)
            cp.answer_soon(created(create(key)), lambda r: told.append(r.key))
            deadline = time.monotonic() + 5
            while len(told) < n and time.monotonic() < deadline:
                time.sleep(0.01)
            assert told == ["u1", "u2"][:n]
            assert state_on_disk(path, key) == "done"


def test_close_commits_what_is_still_queued(tmp_path: Path, held: None) -> None:
    path = tmp_path / "j.sqlite"
    with open_cp(path) as cp:
        cp.record_plan([create("u1")])
        cp.send("u1")
        cp.answer_soon(created(create("u1")))
    assert state_on_disk(path, "u1") == "done"


def test_an_answer_for_a_row_not_sending_is_refused_at_its_commit(
    tmp_path: Path, held: None,
) -> None:
    with open_cp(tmp_path / "j.sqlite") as cp:
        cp.record_plan([create("u1")])
        cp.answer_soon(created(create("u1")))  # never sent
        with pytest.raises(LifecycleError, match="u1"):
            cp.flush()


DIES_HOLDING_AN_ANSWER = """
import os, signal, sys
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action, ActionKind, Outcome, RowResult
Checkpoint.ANSWER_WINDOW = 3600.0  # the group commit would come later
action = Action("u1", 2, ActionKind.CREATE, {"UserAddress": "u1.demo.glance.net"})
cp = Checkpoint.open(sys.argv[1], roster_sha256="a" * 64, roster_path="r.csv", mode="create")
cp.record_plan([action, Action("u2", 3, ActionKind.CREATE, {"UserAddress": "u2.demo.glance.net"})])
cp.send("u1")  # committed; the NewUser leaves and Glance carries it out...
cp.answer_soon(RowResult("u1", 2, ActionKind.CREATE, Outcome.CREATED, "", attempts=1))
print("held", flush=True)  # ...its answer arrived and waits for the group commit
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kill_between_the_answer_and_its_group_commit_creates_the_user_exactly_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    child = subprocess.run([sys.executable, "-c", DIES_HOLDING_AN_ANSWER, str(path)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "held"
    fake = FakeGlance()
    fake.new_user({"PartnerUserID": "u1", "UserAddress": "u1.demo.glance.net"})  # it went out
    fake.calls.clear()
    with open_cp(path) as cp:  # resume: the answer never became durable
        assert [(t.action.key, t.state) for t in cp.todo()] == [
            ("u1", RowState.IN_DOUBT), ("u2", RowState.PENDING)]
        report = Engine(fake, cp, {}, ONE).run(cp.todo())
        assert report.reason is StopReason.COMPLETED
        assert [(c.operation, c.key) for c in fake.calls] == [
            ("ShowUsers", "u1.demo.glance.net"), ("NewUser", "u2")]
        assert cp.results()["u1"].outcome is Outcome.CREATED
    assert fake.created == {"u1": 1, "u2": 1}
