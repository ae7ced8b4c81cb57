"""Holes a hostile review found in the network-side safety limits (issue 9, DESIGN.md section 11).

Each test was written against main before the fix and failed there: secrets echoed in another
code page, a log file on a full disk, Retry-After values too long to parse or repeated without
end, a results name too long for its temporary file, tracebacks from absurd settings, a listing
naming one user twice in two spellings, and a backoff that ``--max-wait 0`` switched off.
"""

from __future__ import annotations

import math
import random
import sqlite3
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulk_provision.cli import main
from bulk_provision.errors import RunStopped, TransientApiError
from bulk_provision.glance import wire
from bulk_provision.glance.transport import retry_after_seconds
from bulk_provision.glance.wire import clean_text
from bulk_provision.provision.retry import backoff_delay, call_with_retries
from bulk_provision.settings.engine import EngineOptions
from bulk_provision.simulator import Simulator
from tests.e2e import test_safety_network
from tests.e2e.test_run import tuning
from tests.e2e.test_safety_network import lister, operations, run, write_roster, writes
from tests.fake_glance import FakeGlance, Throttled
from tests.hostile import ROLES_OK, HostileServer, http_response, user_xml, xml_error, xml_ok
from tests.workbooks import sheet_rows

workdir, glance = test_safety_network.workdir, test_safety_network.glance

# --- a password echoed in another code page, case or escape -------------------------------------

ROW_PW = "Zoë-Sekret-4711"
ECHOES = {
    "cp1252 percent": ROW_PW.replace("ë", "%EB"),  # classic ASP
    "mojibake": ROW_PW.encode("utf-8").decode("latin-1"),  # ZoÃ«-Sekret-4711
    "nfd": "Zoe\u0308-Sekret-4711",
    "upper case": ROW_PW.upper(),
    "lower case": ROW_PW.lower(),
    "json escape": "Zo\\u00eb-Sekret-4711",
    "backslash escapes": "Zo\\u00eb\\-Sekret\\-4711",
    "full width": "Ｚｏë-Ｓｅｋｒｅｔ-４７１１",
    "zero-width spaces": "Zo\u200bë-Sek\u200bret-4711",
    "accent dropped": "Zoe-Sekret-4711",
    "most of it": "Sekret-471",
}


@pytest.mark.parametrize("name", list(ECHOES))
def test_clean_text_masks_a_password_in_any_code_page_case_or_escape(name: str) -> None:
    text = f"BAD_PASSWORD: password {ECHOES[name]} is not allowed"
    assert clean_text(text, [ROW_PW]) == "BAD_PASSWORD: password *** is not allowed"


def test_clean_text_leaves_no_readable_half_of_a_secret() -> None:
    secret = "Correct-Horse-Battery-Staple-42"  # 31 characters: any 16 in a row are masked
    for start in range(len(secret) - 16 + 1):
        piece = secret[start : start + 16]
        assert piece.lower() not in clean_text(f"echo [{piece}] end", [secret]).lower()
    # shorter pieces and unrelated words stay readable
    assert clean_text("Battery low, try later", [secret]) == "Battery low, try later"


@pytest.mark.parametrize("escape", ["\\UFFFFFFFF", "\\U0011ffff", "\\ud800\\udc00", "&#9999999;",
                                    "%FF%FE%00", "\\", "%", "\\u12", "&amp;amp;#235;"])
def test_escapes_that_decode_to_nothing_are_no_crash(escape: str) -> None:
    text = f"{escape} Zo\\U000000eb-Sekret-4711 {escape}"
    assert clean_text(text, [ROW_PW]) == f"{escape} *** {escape}"


def test_audio_codes_sharing_digits_with_a_password_are_kept() -> None:
    def answer(dial_in: str, host_code: str, guest_code: str) -> bytes:
        return (f"<result><status>OK</status><dialIn>{dial_in}</dialIn><hostCode>{host_code}"
                f"</hostCode><guestCode>{guest_code}</guestCode></result>").encode()

    codes = wire.parse_new_user(answer("+1 555 0100", "4711", "Sekret-47"), secrets=[ROW_PW])
    assert (codes.dial_in, codes.host_code, codes.guest_code) == ("+1 555 0100", "4711",
                                                                  "Sekret-47")
    leaky = answer(ROW_PW.upper(), "1", "2")
    assert wire.parse_new_user(leaky, secrets=[ROW_PW]).dial_in == "***"


@pytest.mark.parametrize("name", ["cp1252 percent", "mojibake", "nfd", "upper case",
                                  "json escape"])
def test_a_password_echoed_in_another_code_page_reaches_no_output(
    name: str, workdir: Path, glance: Callable[..., HostileServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    def answer(operation: str, fields: dict[str, str]) -> bytes:
        if operation == "NewUser":
            return xml_error("BAD_PASSWORD", f"password {ECHOES[name]} is not allowed")
        return xml_ok(ROLES_OK)

    glance(answer)
    roster = write_roster(workdir / "staff.csv", ["001"], pw=ROW_PW)
    assert run(workdir, roster) == 1
    main(["status", str(workdir / "staff.csv.checkpoint.sqlite")])
    out, err = capsys.readouterr()
    texts = {"stdout": out.encode(), "stderr": err.encode()}
    with zipfile.ZipFile(workdir / "staff.results.xlsx") as book:
        texts.update({n: book.read(n) for n in book.namelist()})
    for path in workdir.glob("staff.csv.checkpoint.sqlite*"):
        texts[path.name] = path.read_bytes()
    with sqlite3.connect(workdir / "staff.csv.checkpoint.sqlite") as db:
        [(message,)] = db.execute("SELECT message FROM rows").fetchall()
    assert message == "BAD_PASSWORD: password *** is not allowed"
    for where, blob in texts.items():
        assert b"sekret" not in blob.lower(), f"the password is in {where}"


# --- --log-file on a full disk --------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_log_file_on_a_full_disk_loses_no_answer(
    simulator: Simulator, use_sim: Callable[..., None], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    use_sim(simulator)
    roster = write_roster(tmp_path / "staff.csv", [f"{i:03d}" for i in range(6)])
    code = main(["run", str(roster), "--rate", "0", "--no-progress", "--workers", "2",
                 "--config", str(tuning(tmp_path / "tuning.toml")), "--log-file", "/dev/full"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert sorted(simulator.users()) == [f"{i:03d}" for i in range(6)]
    rows = sheet_rows(tmp_path / "staff.results.xlsx")
    assert [r["Outcome"] for r in rows] == ["created"] * 6
    assert "Traceback" not in err
    [warning] = [line for line in err.splitlines() if "/dev/full" in line]
    assert warning == ("bulk-provision: warning: the log file /dev/full could not be written "
                       "(No space left on device); logging stopped")


def test_the_call_log_hook_never_raises(tmp_path: Path) -> None:
    from bulk_provision.glance.models import CallRecord
    from bulk_provision.provision.calllog import CallLog

    log = CallLog(tmp_path / "calls.jsonl")

    class FullDisk:
        closed = False

        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            raise OSError(28, "No space left on device")

    log.close()
    log._file = FullDisk()  # type: ignore[assignment]
    record = CallRecord("NewUser", "001", 200, 0.01, "ok", False, 1)
    log.record(record)
    log.record(record)  # once stopped, quietly nothing
    log.close()
    assert log.failure is not None and "No space left on device" in log.failure


# --- Retry-After too long to parse, and Retry-After repeated without end ------------------------


@pytest.mark.parametrize("value", ["9999999999", "99999999999999999999", "9" * 400,
                                   "Fri, 31 Dec 99999 23:59:59 GMT"])
def test_a_retry_after_too_long_to_parse_still_stops_the_run(
    value: str, workdir: Path, glance: Callable[..., HostileServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    def answer(operation: str, fields: dict[str, str]) -> bytes:
        if operation == "NewUser":
            return http_response(429, b"slow down", headers={"Retry-After": value})
        return xml_ok(ROLES_OK)

    server = glance(answer)
    roster = write_roster(workdir / "staff.csv", ["001"])
    code = run(workdir, roster, "--workers", "1")
    err = capsys.readouterr().err
    assert code == 4
    assert operations(server).count("NewUser") == 1
    assert "(Retry-After), more than --max-wait 300 s; stopped rather than wait" in err
    assert ("longer than any limit" in err) == (value == "9" * 400 or "GMT" in value)


def test_retry_after_values_are_read_as_the_server_wrote_them() -> None:
    assert retry_after_seconds("9999999999") == 9_999_999_999
    assert retry_after_seconds("Fri, 31 Dec 99999 23:59:59 GMT") == math.inf
    assert retry_after_seconds("9" * 400) == math.inf
    assert retry_after_seconds("soon") is None  # not a wait at all: the usual backoff


def test_waits_just_under_max_wait_are_bounded_in_total_for_a_row(
    tmp_path: Path,
) -> None:
    from bulk_provision.journal.checkpoint import Checkpoint
    from bulk_provision.model import Action, ActionKind, StopReason
    from bulk_provision.provision.engine import Engine

    fake = FakeGlance()
    fake.script("NewUser", "u1", *[Throttled(0.002)] * 60)  # every answer: "wait 0.002 s"
    options = EngineOptions(workers=1, rate=0, max_retries=3, backoff_base=0.001,
                            backoff_max=0.002, max_wait=0.005)
    with Checkpoint.open(tmp_path / "j.sqlite", roster_sha256="a" * 64, roster_path="r.csv",
                         mode="create") as journal:
        journal.record_plan([Action("u1", 2, ActionKind.CREATE,
                                    {"UserAddress": "u1.demo.glance.net"})])
        report = Engine(fake, journal, {}, options).run(journal.todo())
        assert journal.results()["u1"].outcome.value == "unfinished"
    assert report.reason is StopReason.TRANSIENT
    assert len(fake.ops("NewUser")) == 3  # waited 0.002 twice; a third would make 0.006
    assert report.message == (
        "Glance asked to wait 0.006 s in all (Retry-After, 3 times for one request), more than "
        "--max-wait 0.005 s; stopped rather than wait")


def test_a_read_throttled_without_end_is_bounded_in_total() -> None:
    calls = []

    def throttled() -> None:
        calls.append(1)
        raise TransientApiError("ShowRoles: HTTP 429", status=429, retry_after=0.002)

    options = EngineOptions(max_retries=50, backoff_base=0.001, backoff_max=0.002,
                            max_wait=0.005)
    with pytest.raises(RunStopped, match=r"0\.006 s in all .* nothing was changed"):
        call_with_retries(throttled, options, what="ShowRoles")
    assert len(calls) == 3


def test_retry_after_just_under_max_wait_cannot_hold_a_row_for_hours(
    workdir: Path, glance: Callable[..., HostileServer], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import bulk_provision.provision.engine as provision

    waited: list[float] = []
    real = provision.backoff_delay

    def recorded(*args: Any) -> float:
        waited.append(real(*args))
        return 0.0  # no sleep: the test adds up what the run would have slept

    monkeypatch.setattr(provision, "backoff_delay", recorded)

    def answer(operation: str, fields: dict[str, str]) -> bytes:
        if operation == "NewUser":
            return http_response(429, b"busy", headers={"Retry-After": "299"})
        return xml_ok(ROLES_OK)

    server = glance(answer)
    roster = write_roster(workdir / "staff.csv", ["001"])
    assert run(workdir, roster, "--workers", "1") == 4
    assert operations(server).count("NewUser") == 2
    assert sum(waited) <= 300
    assert "598 s in all" in capsys.readouterr().err


# --- --max-wait 0 and the config file's tuning values --------------------------------------------


def test_max_wait_zero_keeps_the_backoff_after_failures() -> None:
    options = EngineOptions(max_wait=0.0)  # backoff_base 0.5, backoff_max 30 (defaults)
    delays = [backoff_delay(options, failures, None, random.Random(7)) for failures in (1, 3, 5)]
    assert 0.25 <= delays[0] <= 0.5 and 1 <= delays[1] <= 2 and 4 <= delays[2] <= 8
    # a Retry-After within --max-wait: at least that, its jitter never past --max-wait
    assert backoff_delay(EngineOptions(max_wait=10.0), 1, 10.0, random.Random(7)) == 10.0
    assert backoff_delay(EngineOptions(), 10_000, None, random.Random(7)) <= 30.0


@pytest.mark.parametrize(("line", "message"), [
    ("backoff_max = nan", "backoff_max in the config file must be 0 to 604800 (got nan)"),
    ("backoff_max = -1", "backoff_max in the config file must be 0 to 604800 (got -1)"),
    ("backoff_base = -1", "backoff_base in the config file must be 0 to 3600 (got -1)"),
    ("pause_seconds = -5", "pause_seconds in the config file must be 0 to 604800 (got -5)"),
    ("max_consecutive_failures = -1",
     "max_consecutive_failures in the config file must be 1 to 100000 (got -1)"),
    ("progress_interval = nan",
     "progress_interval in the config file must be 0.01 to 86400 (got nan)"),
    ("rate = 1e-300", "--rate must be 0 (no cap) or 0.01 to 100000 requests per second"),
    ("rate = inf", "--rate must be 0 (no cap) or 0.01 to 100000 requests per second"),
])
def test_config_tuning_values_are_checked(
    line: str, message: str, workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write_roster(workdir / "staff.csv", ["001"])
    config = workdir / "k.toml"
    config.write_text(line + "\n", encoding="utf-8")
    assert main(["validate", str(roster), "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"bulk-provision: error: {message}\n"


def test_a_tiny_rate_is_refused_before_anything_is_sent(
    simulator: Simulator, use_sim: Callable[..., None], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    use_sim(simulator)
    roster = write_roster(tmp_path / "staff.csv", [f"{i:03d}" for i in range(30)])
    code = main(["run", str(roster), "--rate", "1e-300", "--no-progress"])
    assert code == 2
    assert not simulator.users()
    assert "--rate must be 0 (no cap) or 0.01" in capsys.readouterr().err


def test_the_rate_limiter_never_overflows() -> None:
    from bulk_provision.provision.ratelimit import RateLimiter

    class Stop(threading.Event):
        """Checks the wait asked for as a real wait would, then ends it at once (a Ctrl-C)."""

        def __init__(self) -> None:
            super().__init__()
            self.asked: list[float] = []

        def wait(self, timeout: float | None = None) -> bool:
            self.asked.append(timeout or 0.0)
            threading.Lock().acquire(timeout=timeout or -1)  # OverflowError when too long
            return True

    limiter = RateLimiter(1e-300, burst=1)
    assert limiter.acquire() is True  # the burst
    stop = Stop()
    assert limiter.acquire(stop) is False  # a wait of 1e300 s, cut short, no OverflowError
    assert stop.asked == [threading.TIMEOUT_MAX]


# --- one line, exit 2, never a traceback ----------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "run", "plan"])
@pytest.mark.parametrize("url", ["https://[::1", "https://glance.example:abc/"])
def test_a_base_url_that_is_not_a_url_is_one_line_exit_2(
    command: str, url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GLANCE_BASE_URL", url)
    roster = write_roster(workdir / "staff.csv", ["001"])
    args = ["check"] if command == "check" else [command, str(roster)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("bulk-provision: error: the Glance base URL is not a valid URL (")
    assert err.endswith("); check GLANCE_BASE_URL or base_url\n") and err.count("\n") == 1


def test_a_checkpoint_through_a_symlink_loop_is_one_line_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write_roster(workdir / "staff.csv", ["001"])
    (workdir / "a.sqlite").symlink_to(workdir / "b.sqlite")
    (workdir / "b.sqlite").symlink_to(workdir / "a.sqlite")
    assert run(workdir, roster, "--checkpoint", str(workdir / "a.sqlite")) == 2
    assert capsys.readouterr().err == (
        f"bulk-provision: error: --checkpoint {workdir / 'a.sqlite'}: its symbolic links cannot "
        "be followed (a loop?); choose another file\n")


# --- a long --out name ----------------------------------------------------------------------------


def test_a_long_legal_results_name_gets_its_workbook(
    simulator: Simulator, use_sim: Callable[..., None], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    use_sim(simulator)
    roster = write_roster(tmp_path / "staff.csv", ["001", "002"], pw="Roster-pw-123")
    (tmp_path / "staff.csv").write_text(
        (tmp_path / "staff.csv").read_text(encoding="utf-8") + "003,bad address,x,Ann,Lee\n",
        encoding="utf-8")  # an invalid row: the failed-rows file is written too
    out = tmp_path / ("r" * 245 + ".xlsx")  # 250 bytes: legal
    code = main(["run", str(roster), "--rate", "0", "--no-progress", "--skip-invalid",
                 "--config", str(tuning(tmp_path / "tuning.toml")), "--out", str(out)])
    assert code == 1, capsys.readouterr()
    assert [r["Outcome"] for r in sheet_rows(out)] == ["created", "created", "invalid"]
    assert (tmp_path / "staff.failed.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_results_name_the_file_system_refuses_is_refused_before_any_write(
    simulator: Simulator, use_sim: Callable[..., None], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    use_sim(simulator)
    roster = write_roster(tmp_path / "staff.csv", ["001", "002"])
    out = tmp_path / ("r" * 300 + ".xlsx")
    code = main(["run", str(roster), "--rate", "0", "--no-progress",
                 "--config", str(tuning(tmp_path / "tuning.toml")), "--out", str(out)])
    assert code == 2
    assert not simulator.users()
    err = capsys.readouterr().err
    assert err == f"bulk-provision: error: cannot write {out}: File name too long\n"


def test_temporary_files_beside_any_legal_name_are_legal(tmp_path: Path) -> None:
    from bulk_provision.report.common import temp_beside

    for name in ("r" * 250 + ".xlsx", "ü" * 125 + ".xlsx"):  # 255 bytes each
        temp = temp_beside(tmp_path / name)
        assert temp.parent == tmp_path and temp.name.startswith(".") and temp.exists()
        temp.unlink()


# --- a listing naming one user in two spellings the roster reads as one -------------------------


@pytest.mark.parametrize("variant", ["001 ", "\u00a0001", "001\u200b", "００１"])
def test_a_listing_naming_a_user_in_two_spellings_stops_sync_before_any_write(
    variant: str, workdir: Path, glance: Callable[..., HostileServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    users = [user_xml(f"{i:03d}", f"u{i:03d}.demo.glance.net") for i in range(20)]
    users.append(user_xml(variant, "u001.demo.glance.net"))  # the same person, padded
    server = glance(lister(users))
    roster = write_roster(workdir / "staff.csv", [f"{i:03d}" for i in range(20)])
    assert run(workdir, roster, "--mode", "sync") == 4
    assert writes(server) == []
    assert (f"ShowUsers listed PartnerUserID '001' (also as {variant!r}) 2 times; a listing "
            "with duplicates cannot be trusted") in capsys.readouterr().err


def test_sync_never_suspends_a_user_the_roster_names_in_another_spelling() -> None:
    from bulk_provision.glance.models import GlanceUser
    from bulk_provision.plan.actions import suspensions

    snapshot = {key: GlanceUser(key, f"u{i}.demo.glance.net") for i, key in
                enumerate(["001 ", "００２", "003"])}
    planned = suspensions(snapshot, {"001", "002"}, protect=())
    assert [action.key for action in planned] == ["003"]
