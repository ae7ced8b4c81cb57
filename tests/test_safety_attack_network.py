"""Holes a hostile review found in the network-side safety limits (issue 9, DESIGN.md section 11).

Each test was written against main before the fix and failed there: secrets echoed in another
code page, a log file on a full disk, Retry-After values too long to parse or repeated without
end, a results name too long for its temporary file, tracebacks from absurd settings, a listing
naming one user twice in two spellings, and a backoff that ``--max-wait 0`` switched off.
"""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from bulk_provision.cli import main
from bulk_provision.glance import wire
from bulk_provision.glance.wire import clean_text
from bulk_provision.simulator import Simulator
from tests import test_run, test_safety_network
from tests.hostile import ROLES_OK, HostileServer, xml_error, xml_ok
from tests.test_run import tuning
from tests.test_safety_network import run, write_roster
from tests.workbooks import sheet_rows

use_sim = test_run.use_sim  # the same fixtures
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
    from bulk_provision.calllog import CallLog
    from bulk_provision.glance.models import CallRecord

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
