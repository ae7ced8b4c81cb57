"""Retry policy, the run-wide health, the call log and the progress line, each on its own."""

from __future__ import annotations

import io
import json
import random
import threading
from pathlib import Path

import pytest

from bulk_provision.cli.progress import LineProgress
from bulk_provision.errors import Interrupted, RunStopped, TransientApiError
from bulk_provision.glance.models import CallRecord
from bulk_provision.model import ActionKind, Outcome, RowResult
from bulk_provision.provision.calllog import CallLog
from bulk_provision.provision.retry import Health, backoff_delay, call_with_retries
from bulk_provision.settings.engine import EngineOptions

OPTIONS = EngineOptions(backoff_base=1.0, backoff_max=8.0, max_wait=300.0)


@pytest.mark.parametrize(("failures", "low", "high"), [(1, 0.5, 1.0), (2, 1.0, 2.0),
                                                       (3, 2.0, 4.0), (10, 4.0, 8.0)])
def test_backoff_doubles_with_jitter_up_to_its_cap(failures: int, low: float, high: float) -> None:
    rng = random.Random(1)
    delays = [backoff_delay(OPTIONS, failures, None, rng) for _ in range(200)]
    assert low <= min(delays) and max(delays) <= high
    assert len(set(delays)) > 100  # jittered: workers do not retry in lockstep


def test_retry_after_is_honoured_and_never_undercut() -> None:
    rng = random.Random(2)
    delays = [backoff_delay(OPTIONS, 1, 30.0, rng) for _ in range(100)]
    assert 30.0 <= min(delays) and max(delays) <= 36.0


def test_health_pauses_then_gives_up_and_a_success_resets_it() -> None:
    stop = threading.Event()
    health = Health(EngineOptions(max_consecutive_failures=3, pause_seconds=0.001), stop)
    notices = [health.failure() for _ in range(3)]
    assert notices[:2] == [None, None] and notices[2] is not None and "pausing" in notices[2]
    health.success()
    assert [health.failure() for _ in range(5)][-1] is None and not health.gave_up
    assert health.failure() == "6 requests in a row failed; stopping"
    assert health.gave_up and stop.is_set()


def test_a_read_is_retried_then_gives_up_resumably() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientApiError("HTTP 503", status=503)
        return "roles"

    fast = EngineOptions(max_retries=5, backoff_base=0.001, backoff_max=0.002)
    assert call_with_retries(flaky, fast, what="ShowRoles") == "roles" and len(calls) == 3

    def down() -> str:
        raise TransientApiError("HTTP 503", status=503)

    with pytest.raises(RunStopped, match="ShowRoles kept failing .*nothing was changed"):
        call_with_retries(down, EngineOptions(max_retries=1, backoff_base=0.001),
                          what="ShowRoles")
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        call_with_retries(down, fast, what="ShowRoles", stop=stop)


def test_the_call_log_writes_one_json_line_per_call_with_the_attempt(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls.jsonl")
    log.record(CallRecord("NewUser", "E1", 200, 0.0123, "ok", False, 2))
    log.record(CallRecord("ShowUsers", None, 503, 0.5, "http_503", False, None))
    log.close()
    log.record(CallRecord("NewUser", "E2", 200, 0.01, "ok"))  # after close: ignored, no crash
    text = (tmp_path / "calls.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(d["operation"], d["partner_user_id"], d["attempt"], d["outcome"],
             d["http_status"], d["duration_ms"]) for d in lines] == [
        ("NewUser", "E1", 2, "ok", 200, 12.3), ("ShowUsers", None, None, "http_503", 503, 500.0)]


def test_the_progress_line_counts_each_kind_of_outcome() -> None:
    stream = io.StringIO()
    progress = LineProgress(interval=3600, stream=stream)
    progress.start(4)
    for key, outcome in (("a", Outcome.CREATED), ("b", Outcome.UPDATED),
                         ("c", Outcome.FAILED), ("d", Outcome.UNFINISHED)):
        progress.result(RowResult(key, 2, ActionKind.CREATE, outcome))
    progress.notice("resuming \x1b[2J")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "bulk-provision: resuming \\x1b[2J"  # escaped, never a raw ESC
    assert lines[1].startswith("bulk-provision: 4/4 rows, ")
    assert lines[1].endswith("created=1 other-ok=1 failed=1 unfinished=1 retrying=0")
