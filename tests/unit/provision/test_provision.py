"""The provisioner against the in-memory fake: every lifecycle path, exactly once, every stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulk_provision.errors import CheckpointError, ConfigError
from bulk_provision.glance.models import GlanceUser
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import RowState
from bulk_provision.model import Action, ActionKind, Outcome, RowResult, StopReason
from bulk_provision.provision.engine import MESSAGES, Engine
from bulk_provision.settings.engine import EngineOptions
from tests.fake_glance import (
    AUTH,
    DROP_BEFORE_SEND,
    THROTTLED,
    TIMEOUT_AFTER_COMMIT,
    TIMEOUT_BEFORE_COMMIT,
    UNAVAILABLE,
    Call,
    Error,
    FakeGlance,
    Throttled,
)

FAST = EngineOptions(workers=1, rate=0, max_retries=3, backoff_base=0.001, backoff_max=0.002,
                     max_consecutive_failures=50, pause_seconds=0.001)


def create(key: str, row: int = 2, audio: str = "") -> Action:
    fields = {"UserAddress": f"{key}.demo.glance.net", "UserFirst": "Ann"}
    if audio:
        fields["AudioProvider"] = audio
    return Action(key, row, ActionKind.CREATE, fields, send_password=True)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Checkpoint]:
    with Checkpoint.open(tmp_path / "j.sqlite", roster_sha256="a" * 64, roster_path="r.csv",
                         mode="create") as cp:
        yield cp


class Recorder:
    """The engine's Progress protocol, remembering what it was told."""

    def __init__(self) -> None:
        self.results: list[RowResult] = []
        self.notices: list[str] = []
        self.total = -1

    def start(self, total: int) -> None:
        self.total = total

    def result(self, result: RowResult) -> None:
        self.results.append(result)

    def retrying(self, delta: int) -> None:
        pass

    def notice(self, message: str) -> None:
        self.notices.append(message)


def run(journal: Checkpoint, fake: FakeGlance, actions: list[Action] | None = None,
        options: EngineOptions = FAST, stop: threading.Event | None = None,
        passwords: dict[str, str] | None = None) -> tuple[StopReason, Recorder]:
    if actions is not None:
        journal.record_plan(actions)
    progress = Recorder()
    engine = Engine(fake, journal, passwords or {}, options, progress=progress, stop=stop)
    return engine.run(journal.todo()).reason, progress


def outcome(journal: Checkpoint, key: str) -> RowResult:
    return journal.results()[key]


def state(journal: Checkpoint, key: str) -> RowState:
    return next(s for s in RowState if key in {a.key for a in journal.in_state(s)})


# -- pending -> sending -> done | failed --------------------------------------------------

def test_a_create_is_sent_once_with_its_password_and_the_audio_codes_are_journaled(
    journal: Checkpoint,
) -> None:
    fake = FakeGlance()
    reason, progress = run(journal, fake, [create("u1", audio="666")],
                           passwords={"u1": "Secret-pw-1"})
    assert reason is StopReason.COMPLETED
    sent = fake.ops("NewUser")[0].fields
    assert sent["UserPW"] == "Secret-pw-1" and sent["PartnerUserID"] == "u1"
    result = outcome(journal, "u1")
    assert (result.outcome, result.attempts) == (Outcome.CREATED, 1)
    assert result.audio.dial_in and result.audio.host_code.startswith("*")
    assert fake.calls[0].attempt == 1  # passed to the client for the call log
    assert [r.outcome for r in progress.results] == [Outcome.CREATED]


def test_an_error_document_is_final_failed_and_not_retried(journal: Checkpoint) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", Error("NO_ROLE", "role 'Boss' is not provisioned"))
    run(journal, fake, [create("u1")])
    result = outcome(journal, "u1")
    assert result.outcome is Outcome.FAILED
    assert result.message == "NO_ROLE: role 'Boss' is not provisioned"
    assert len(fake.ops("NewUser")) == 1 and state(journal, "u1") is RowState.FAILED


def test_duplicate_id_for_a_user_we_did_not_create_is_exists(journal: Checkpoint) -> None:
    fake = FakeGlance({"u1": GlanceUser("u1", "someone.else.glance.net")})
    run(journal, fake, [create("u1")])
    assert outcome(journal, "u1").outcome is Outcome.EXISTS
    assert outcome(journal, "u1").message == MESSAGES["exists"]
    assert fake.ops("ShowUsers") == []  # nothing was in doubt: no need to look


# -- sending -> pending: a definite "not carried out" --------------------------------------

@pytest.mark.parametrize("failure", [UNAVAILABLE, DROP_BEFORE_SEND, THROTTLED])
def test_a_failure_that_did_nothing_is_simply_sent_again(
    journal: Checkpoint, failure: str,
) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", failure)
    run(journal, fake, [create("u1")])
    assert outcome(journal, "u1").outcome is Outcome.CREATED
    assert outcome(journal, "u1").attempts == 2
    assert [c.attempt for c in fake.ops("NewUser")] == [1, 2]
    assert fake.ops("ShowUsers") == [] and fake.created["u1"] == 1


def test_throttling_does_not_use_up_the_retries(journal: Checkpoint) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", *[Throttled(0.0)] * 10)  # more than max_retries (3)
    run(journal, fake, [create("u1")])
    assert outcome(journal, "u1").outcome is Outcome.CREATED
    assert len(fake.ops("NewUser")) == 11


# -- sending -> in_doubt -> confirm | release ------------------------------------------------

def test_a_lost_answer_after_commit_is_verified_not_resent(journal: Checkpoint) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", TIMEOUT_AFTER_COMMIT)
    run(journal, fake, [create("u1")])
    result = outcome(journal, "u1")
    assert result.outcome is Outcome.CREATED and result.message == MESSAGES["verified"]
    assert len(fake.ops("NewUser")) == 1 and len(fake.ops("ShowUsers")) == 1
    assert fake.created["u1"] == 1


def test_a_lost_answer_before_commit_is_verified_then_sent_again(journal: Checkpoint) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", TIMEOUT_BEFORE_COMMIT)
    run(journal, fake, [create("u1")])
    assert outcome(journal, "u1").outcome is Outcome.CREATED
    assert [c.operation for c in fake.calls] == ["NewUser", "ShowUsers", "NewUser"]
    assert fake.created["u1"] == 1


def test_duplicate_id_after_a_doubt_is_checked_and_counted_as_ours(journal: Checkpoint) -> None:
    """The first request landed late: the second gets DUPLICATE_ID, but the user is ours."""
    fake = FakeGlance()
    fake.script("NewUser", "u1", TIMEOUT_BEFORE_COMMIT)

    def land_late(call: Call) -> None:
        if call.operation == "NewUser" and call.attempt == 2:  # after the check said "absent"
            fake.users["u1"] = GlanceUser("u1", "u1.demo.glance.net")

    fake.before_call = land_late
    run(journal, fake, [create("u1")])
    assert [c.operation for c in fake.calls] == ["NewUser", "ShowUsers", "NewUser", "ShowUsers"]
    result = outcome(journal, "u1")
    assert result.outcome is Outcome.CREATED and result.message == MESSAGES["verified"]


def test_an_update_in_doubt_is_simply_sent_again(journal: Checkpoint) -> None:
    fake = FakeGlance({"u1": GlanceUser("u1", "u1.demo.glance.net", "Old")})
    fake.script("UpdateUser", "u1", TIMEOUT_BEFORE_COMMIT)
    update = Action("u1", 2, ActionKind.UPDATE, {"UserFirst": "New"})
    run(journal, fake, [update])
    assert outcome(journal, "u1").outcome is Outcome.UPDATED
    assert fake.users["u1"].user_first == "New"
    assert fake.ops("ShowUsers") == []  # only a NewUser needs a look first


def test_a_delete_whose_answer_was_lost_is_deleted_on_not_found(journal: Checkpoint) -> None:
    fake = FakeGlance({"u1": GlanceUser("u1", "u1.demo.glance.net")})
    fake.script("DeleteUser", "u1", TIMEOUT_AFTER_COMMIT)
    run(journal, fake, [Action("u1", 2, ActionKind.DELETE)])
    assert outcome(journal, "u1").outcome is Outcome.DELETED
    assert "u1" not in fake.users


def test_deleting_an_unknown_user_without_doubt_is_failed(journal: Checkpoint) -> None:
    run(journal, FakeGlance(), [Action("ghost", 2, ActionKind.DELETE)])
    assert outcome(journal, "ghost").outcome is Outcome.FAILED


def test_a_resumed_row_in_doubt_is_verified_before_anything_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    fake = FakeGlance()
    with Checkpoint.open(path, roster_sha256="a" * 64, roster_path="r", mode="create") as cp:
        cp.record_plan([create("u1"), create("u2", 3)])
        cp.send("u1")  # the process dies here, after u1's request left
    fake.new_user({"PartnerUserID": "u1", "UserAddress": "u1.demo.glance.net"})
    fake.calls.clear()
    with Checkpoint.open(path, roster_sha256="a" * 64, roster_path="r", mode="create") as cp:
        assert [t.state for t in cp.todo()] == [RowState.IN_DOUBT, RowState.PENDING]
        run(cp, fake)
        assert [(c.operation, c.key) for c in fake.calls] == [
            ("ShowUsers", "u1.demo.glance.net"), ("NewUser", "u2")]
        assert cp.results()["u1"].outcome is Outcome.CREATED
    assert fake.created == {"u1": 1, "u2": 1}


# -- open rows: unfinished, never "failed" ---------------------------------------------------

def test_retries_running_out_leave_the_row_unfinished_and_pending(journal: Checkpoint) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", *[UNAVAILABLE] * 4)
    reason, progress = run(journal, fake, [create("u1"), create("u2", 3)])
    assert reason is StopReason.COMPLETED
    result = outcome(journal, "u1")
    assert result.outcome is Outcome.UNFINISHED and result.attempts == 4
    assert "HTTP 503; a re-run sends it again" in result.message
    assert state(journal, "u1") is RowState.PENDING
    assert progress.results[0].outcome is Outcome.UNFINISHED
    assert outcome(journal, "u2").outcome is Outcome.CREATED
    run(journal, fake)  # a plain re-run finishes it
    assert outcome(journal, "u1").outcome is Outcome.CREATED and fake.created["u1"] == 1


def test_retries_running_out_after_a_doubt_leave_it_in_doubt(journal: Checkpoint) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", TIMEOUT_BEFORE_COMMIT)
    fake.script("ShowUsers", "u1.demo.glance.net", *[UNAVAILABLE] * 4)
    run(journal, fake, [create("u1")])
    assert state(journal, "u1") is RowState.IN_DOUBT
    assert outcome(journal, "u1").outcome is Outcome.UNFINISHED
    assert outcome(journal, "u1").message.startswith("outcome unknown")
    run(journal, fake)
    assert outcome(journal, "u1").outcome is Outcome.CREATED and fake.created["u1"] == 1


# -- stops -----------------------------------------------------------------------------------

def test_auth_stops_the_run_at_once_and_the_row_is_not_in_doubt(journal: Checkpoint) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", AUTH)
    reason, _ = run(journal, fake, [create("u1"), create("u2", 3), create("u3", 4)])
    assert reason is StopReason.AUTH
    assert state(journal, "u1") is RowState.PENDING
    assert outcome(journal, "u1").outcome is Outcome.UNFINISHED
    assert outcome(journal, "u3").outcome is Outcome.NOT_ATTEMPTED
    assert len(fake.ops("NewUser")) == 1


def test_many_failures_in_a_row_pause_then_stop_resumably(journal: Checkpoint) -> None:
    fake = FakeGlance()
    keys = [f"u{i}" for i in range(10)]
    for key in keys:
        fake.script("NewUser", key, *[UNAVAILABLE] * 10)
    options = EngineOptions(workers=1, rate=0, max_retries=10, backoff_base=0.001,
                            backoff_max=0.002, max_consecutive_failures=3, pause_seconds=0.001)
    reason, progress = run(journal, fake, [create(k, i + 2) for i, k in enumerate(keys)],
                           options=options)
    assert reason is StopReason.TRANSIENT
    assert progress.notices[0] == "3 requests in a row failed; pausing 0.001 s before trying again"
    assert progress.notices[-1] == "6 requests in a row failed; stopping"
    assert len(fake.ops("NewUser")) == 6  # stopped instead of burning through the roster
    assert {r.outcome for r in journal.results().values()} <= {
        Outcome.UNFINISHED, Outcome.NOT_ATTEMPTED}


def test_a_stop_request_lets_the_request_in_flight_finish_and_sends_nothing_new(
    journal: Checkpoint,
) -> None:
    fake = FakeGlance()
    stop = threading.Event()
    fake.before_call = lambda call: stop.set() if call.key == "u2" else None
    reason, _ = run(journal, fake, [create(f"u{i}", i + 2) for i in range(1, 6)], stop=stop)
    assert reason is StopReason.INTERRUPTED
    assert [c.key for c in fake.ops("NewUser")] == ["u1", "u2"]
    assert outcome(journal, "u2").outcome is Outcome.CREATED  # its answer was journaled
    assert outcome(journal, "u3").outcome is Outcome.NOT_ATTEMPTED


def test_a_journal_that_cannot_be_written_stops_the_run_and_the_row_stays_sending(
    journal: Checkpoint, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def full(self: Checkpoint, batch: object) -> None:
        raise CheckpointError("database or disk is full")

    monkeypatch.setattr(Checkpoint, "_commit_answers", full)  # the group commit of answers
    fake = FakeGlance()
    progress = Recorder()
    engine = Engine(fake, journal, {}, FAST, progress=progress)
    journal.record_plan([create("u1"), create("u2", 3)])
    with pytest.raises(CheckpointError, match="disk is full"):
        engine.run(journal.todo())
    # No answer became durable: nothing is reported done, every sent row stays sending (the
    # next run verifies it first), and the run stopped.
    assert progress.results == []
    assert state(journal, "u1") is RowState.SENDING
    assert len(fake.ops("NewUser")) <= 2


def test_a_redirect_stops_the_run_with_the_row_in_doubt(journal: Checkpoint) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", Error("REDIRECT", "moved to https://elsewhere"))
    with pytest.raises(ConfigError, match="elsewhere"):
        run(journal, fake, [create("u1"), create("u2", 3)])
    assert state(journal, "u1") is RowState.IN_DOUBT
    assert fake.ops("NewUser", "u2") == []


def test_many_workers_create_every_user_exactly_once_under_faults(journal: Checkpoint) -> None:
    fake = FakeGlance()
    faults = [UNAVAILABLE, TIMEOUT_AFTER_COMMIT, TIMEOUT_BEFORE_COMMIT, DROP_BEFORE_SEND,
              Throttled(0.0)]
    actions = [create(f"u{i:03d}", i + 2) for i in range(200)]
    for i, action in enumerate(actions):
        if i % 3 == 0:
            fake.script("NewUser", action.key, faults[i % len(faults)])
    options = EngineOptions(workers=8, rate=0, max_retries=5, backoff_base=0.001,
                            backoff_max=0.002, max_consecutive_failures=500, pause_seconds=0)
    assert run(journal, fake, actions, options=options)[0] is StopReason.COMPLETED
    assert fake.created == dict.fromkeys((a.key for a in actions), 1)
    assert {r.outcome for r in journal.results().values()} == {Outcome.CREATED}


def test_a_permanent_error_on_the_verification_is_retried_like_a_transient_one(
    journal: Checkpoint,
) -> None:
    fake = FakeGlance()
    fake.script("NewUser", "u1", TIMEOUT_AFTER_COMMIT)
    fake.script("ShowUsers", "u1.demo.glance.net", Error("ODD"))
    run(journal, fake, [create("u1")])
    assert outcome(journal, "u1").outcome is Outcome.CREATED
    assert len(fake.ops("ShowUsers")) == 2 and fake.created["u1"] == 1
