"""Holes a hostile review found in DESIGN.md section 11 (issue 9) on the file and input side:
config files others can change, password-like headers, unchecked workbook paths, checkpoint
folders, terminal escapes, hard links to one journal, invisible look-alike IDs."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.errors import CheckpointError, CheckpointLocked
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action, ActionKind
from bulk_provision.report import problems
from bulk_provision.report.common import BAD_FILL
from bulk_provision.roster.headers import looks_like_password
from bulk_provision.simulator import Simulator
from tests.conftest import point_at
from tests.unit.journal.test_checkpoint import kill, start_holder
from tests.workbooks import sheet_rows

PARTNER_PW = "Environment-partner-PW-1"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder, a usual umask, the environment of a cron job (password, no endpoint)."""
    monkeypatch.chdir(tmp_path)
    for key in ("GLANCE_API_KEY", "GLANCE_PARTNER_ID", "GLANCE_PARTNER_USER_ID",
                "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GLANCE_BASE_URL", "GLANCE_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GLANCE_PARTNER_LOGIN", "admin.demo.glance.net")
    monkeypatch.setenv("GLANCE_PARTNER_PW", PARTNER_PW)
    old = os.umask(0o022)
    try:
        yield tmp_path
    finally:
        os.umask(old)


def roster_csv(path: Path, keys: list[str], *, header: str = "UserPW",
               pw: str = "Roster-pw-123") -> Path:
    lines = [f"PartnerUserID,UserAddress,{header},UserFirst,UserLast"]
    lines += [f"{k},u{k}.demo.glance.net,{pw},Ann,Lee" for k in keys]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- a config file others can change is refused whatever it holds ------------------------------

@pytest.mark.parametrize("auto_loaded", [True, False])
@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602])
def test_a_config_others_can_change_cannot_redirect_the_environment_password(
    make_simulator: Callable[..., Simulator], workdir: Path, capsys: pytest.CaptureFixture[str],
    auto_loaded: bool, mode: int,
) -> None:
    attacker = make_simulator()
    config = workdir / "bulk-provision.toml"
    config.write_text(f'base_url = "{attacker.base_url}"\nca_bundle = "{attacker.ca_bundle}"\n',
                      encoding="utf-8")
    config.chmod(mode)
    code = main(["check"] if auto_loaded else ["check", "--config", str(config)])
    assert code == 2
    assert attacker.request_log == []  # not even a connection attempt reached it
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "other users can change it" in lines[0], captured.err
    assert f"chmod 600 {config}" in lines[0] and PARTNER_PW not in captured.err + captured.out


@pytest.mark.parametrize("content", ["workers = 2\n", 'log_file = "calls.jsonl"\n', ""])
def test_a_config_of_another_user_is_refused_whatever_it_holds(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    content: str,
) -> None:
    roster_csv(workdir / "staff.csv", ["001"])
    config = workdir / "c.toml"
    config.write_text(content, encoding="utf-8")
    config.chmod(0o600)
    owner = config.stat().st_uid
    if owner == 0:  # a root-owned file is trusted (root may change anything): make it another's
        os.chown(config, 4242, -1)
    monkeypatch.setattr(os, "geteuid", lambda: 4343 if owner == 0 else owner + 1)
    assert main(["validate", "staff.csv", "--config", "c.toml"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "belongs to another user" in err[0] and "chown" in err[0]


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o400])
def test_a_config_only_its_owner_can_change_is_used(
    workdir: Path, capsys: pytest.CaptureFixture[str], mode: int,
) -> None:
    roster_csv(workdir / "staff.csv", ["001"])
    config = workdir / "bulk-provision.toml"
    config.write_text("workers = 2\n", encoding="utf-8")
    config.chmod(mode)
    assert main(["validate", "staff.csv"]) == 0
    assert capsys.readouterr().err == ""


# -- password-like headers: an exemption must describe the whole header -------------------------

ATTACK_HEADERS = ["Initial Password (change at first login)",
                  "Temporary Password - expires in 7 days", "Hasło", "Пароль", "Temp Pass"]


@pytest.mark.parametrize("header", [
    *ATTACK_HEADERS, "Kennwort", "Contraseña", "Senha", "Mot de passe", "Wachtwoord", "Lösenord",
    "Salasana", "Parola", "Heslo", "Jelszó", "Passord", "密码", "パスワード", "비밀번호",
    "Nowe hasło",
    "Новый пароль", "User Pass", "Default Pass", "Pass", "InitialPassword", "Password Hash",
    "Change Password", "Password (change at next login)",
])
def test_password_headers_in_any_wording_are_recognised(header: str) -> None:
    assert looks_like_password(header)


@pytest.mark.parametrize("header", [
    "Password Hint", "Password Last Changed", "Password Expiry Date", "Must Change Password",
    "Password Reset Required", "Last Password Change", "Password Never Expires",
    "Password Changed On", "User must change password at next logon", "ChangePasswordAtLogon",
    "Parking Pass", "Passport Number", "Compass", "Bypass", "Expires", "Start Date",
])
def test_headers_about_the_password_or_not_about_it_are_ordinary(header: str) -> None:
    assert not looks_like_password(header)


@pytest.mark.parametrize("header", ATTACK_HEADERS)
def test_a_password_under_such_a_header_fails_validation_and_stays_out_of_the_report(
    workdir: Path, header: str, capsys: pytest.CaptureFixture[str],
) -> None:
    path = workdir / "staff.csv"
    path.write_text(f"PartnerUserID,UserAddress,UserFirst,UserLast,{header}\n"
                    "001,u001.demo.glance.net,Ann,Lee,Clear-Text-Pw-9\n", encoding="utf-8")
    report = workdir / "report.xlsx"
    assert main(["validate", str(path), "--report", str(report)]) == 3
    with zipfile.ZipFile(report) as z:
        text = b"".join(z.read(name) for name in z.namelist())
    assert b"Clear-Text-Pw-9" not in text
    out = capsys.readouterr().out
    assert "looks like a password column" in out and "Clear-Text-Pw-9" not in out


# -- every workbook path gets run's checks: plan --out, validate --report, export --out ---------

def bad_workbook_path(workdir: Path, case: str) -> tuple[Path, str]:
    """A workbook path that cannot work, and what the one-line refusal says."""
    if case == "missing folder":
        return workdir / "no" / "such" / "p.xlsx", "does not exist"
    if case == "a folder":
        (workdir / "p.xlsx").mkdir()
        return workdir / "p.xlsx", "it is a folder"
    if case == "name too long":  # more than the file system's 255 bytes
        return workdir / ("p" * 260 + ".xlsx"), "cannot write"
    if case == "journal":
        return workdir / "staff.csv.checkpoint.sqlite", "Excel file, name it .xlsx"
    return workdir / "contractors.csv", "Excel file, name it .xlsx"  # another roster


CASES = ["missing folder", "a folder", "name too long", "journal", "another roster"]


@pytest.mark.parametrize("case", CASES)
def test_plan_out_that_cannot_work_is_refused_before_anything(
    simulator: Simulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, case: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(monkeypatch, simulator)
    roster = roster_csv(workdir / "staff.csv", ["001", "002"])
    roster_csv(workdir / "contractors.csv", ["900"])
    (workdir / "staff.csv.checkpoint.sqlite").write_bytes(b"journal")
    out, says = bad_workbook_path(workdir, case)
    before = {p: p.read_bytes() for p in workdir.iterdir() if p.is_file()}
    assert main(["plan", str(roster), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and says in err, err
    assert {p: p.read_bytes() for p in workdir.iterdir() if p.is_file()} == before
    assert simulator.request_log == []


def test_a_long_but_legal_workbook_name_is_written(
    simulator: Simulator, workdir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """245 characters: legal, and the temporary file beside it has a short name."""
    point_at(monkeypatch, simulator)
    roster = roster_csv(workdir / "staff.csv", ["001"])
    for command, option in (("plan", "--out"), ("validate", "--report")):
        out = workdir / (command[0] * 245 + ".xlsx")
        assert main([command, str(roster), option, str(out)]) == 0
        assert out.is_file()


def test_plan_out_through_a_workbook_named_link_to_the_journal_is_refused(
    simulator: Simulator, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(monkeypatch, simulator)
    roster = roster_csv(workdir / "staff.csv", ["001"])
    journal = workdir / "staff.csv.checkpoint.sqlite"
    journal.write_bytes(b"journal")
    (workdir / "link.xlsx").symlink_to(journal)
    assert main(["plan", str(roster), "--out", "link.xlsx"]) == 2
    assert journal.read_bytes() == b"journal"
    assert "--out link.xlsx is the checkpoint (journal); choose" in capsys.readouterr().err


@pytest.mark.parametrize("case", CASES)
def test_validate_report_that_cannot_work_is_refused(
    workdir: Path, case: str, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = roster_csv(workdir / "staff.csv", ["001"])
    roster_csv(workdir / "contractors.csv", ["900"])
    (workdir / "staff.csv.checkpoint.sqlite").write_bytes(b"journal")
    out, says = bad_workbook_path(workdir, case)
    before = {p: p.read_bytes() for p in workdir.iterdir() if p.is_file()}
    assert main(["validate", str(roster), "--report", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and says in err, err
    assert {p: p.read_bytes() for p in workdir.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("case", ["a folder", "name too long"])
def test_export_out_that_cannot_work_is_refused_before_any_request(
    simulator: Simulator, workdir: Path, monkeypatch: pytest.MonkeyPatch, case: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(monkeypatch, simulator)
    out, says = bad_workbook_path(workdir, case)
    assert main(["export", "--out", str(out)]) == 2
    assert says in capsys.readouterr().err
    assert simulator.request_log == []


# -- a missing --checkpoint folder is refused, like --out's and --log-file's -------------------

def test_a_missing_checkpoint_folder_is_refused_and_not_created(
    simulator: Simulator, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(monkeypatch, simulator)
    roster = roster_csv(workdir / "staff.csv", ["001"])
    journal = workdir / "state" / "nightly" / "j.sqlite"
    old = os.umask(0)
    try:
        code = main(["run", str(roster), "--no-progress", "--checkpoint", str(journal)])
    finally:
        os.umask(old)
    assert code == 2
    assert not (workdir / "state").exists()
    err = capsys.readouterr().err
    assert err == (f"bulk-provision: error: --checkpoint {journal}: folder {journal.parent} does "
                   "not exist; create it (mkdir -m 700) or choose another\n")
    assert simulator.request_log == []


# -- nothing printed carries a terminal escape ------------------------------------------------

ESC_NAME = "st\x1b]0;pwned\x07aff\x1b[2J"  # retitles the window, clears the screen


def no_escape(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text, text


def test_progress_bar_notices_are_escaped(
    simulator: Simulator, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The bar (the default on a terminal) prints notices; the "nothing left to send" notice
    names the checkpoint, i.e. the roster's name."""
    point_at(monkeypatch, simulator)
    roster = roster_csv(workdir / f"{ESC_NAME}.csv", ["001"])
    assert main(["run", str(roster), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["run", str(roster), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "nothing left to send" in err
    no_escape(err)


def test_argparse_messages_are_escaped(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``bulk-provision validate uploads/*.csv`` with a hostile file name among the uploads."""
    roster = roster_csv(workdir / "staff.csv", ["001"])
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", str(roster), ESC_NAME])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: st\\x1b]0;pwned\\x07aff\\x1b[2J" in err
    no_escape(err)


def test_the_config_warning_names_the_file_escaped(
    workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster_csv(workdir / "staff.csv", ["001"])
    config = workdir / f"c{ESC_NAME}.toml"
    config.write_text('partner_pw = "x-secret-pw"\n', encoding="utf-8")
    config.chmod(0o644)  # readable by others: the warning names the file
    assert main(["validate", "staff.csv", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "other users can read it" in err
    no_escape(err)


def test_template_check_and_export_lines_are_escaped(
    simulator: Simulator, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(monkeypatch, simulator)
    assert main(["template", f"{ESC_NAME}.xlsx"]) == 0
    assert main(["check", "--save-responses", ESC_NAME]) == 0
    assert main(["export", "--out", f"e{ESC_NAME}.xlsx"]) == 0
    out = capsys.readouterr().out
    assert "Template written" in out and "Saved the raw responses" in out
    assert "exported to" in out
    no_escape(out)


def test_the_demo_table_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    from bulk_provision.cli.demo import print_table
    from bulk_provision.model import ActionKind, Outcome, RowResult

    print_table([RowResult(key=f"k{ESC_NAME}", row=2, kind=ActionKind.CREATE,
                           outcome=Outcome.FAILED, message=f"m{ESC_NAME}")])
    out = capsys.readouterr().out
    assert "k" in out
    no_escape(out)


# -- invisible look-alike IDs clash; direction overrides are refused where they mislead --------

def people_csv(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = ["PartnerUserID,UserAddress,UserFirst,UserEmail"]
    lines += [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("twin", ["ab\u034fc", "a\u3164bc", "abc\u115f", "a\uffa0bc",
                                  "ab\ufe0fc", "abc\U000e0041", "a\u2064bc", "ab\u17b4c"])
def test_an_id_with_an_invisible_character_clashes_with_its_twin(
    workdir: Path, twin: str, capsys: pytest.CaptureFixture[str],
) -> None:
    path = people_csv(workdir / "staff.csv", [("abc", "u1.demo.glance.net", "Ann", ""),
                                              (twin, "u2.demo.glance.net", "Ann", "")])
    assert main(["validate", str(path)]) == 3
    out = capsys.readouterr().out
    assert "PartnerUserID.unique" in out
    assert "\\u" in out or "\\U" in out  # the message shows where the invisible character is


@pytest.mark.parametrize(("column", "value"), [
    (0, "\u202e1234"), (0, "12\u2066a\u206934"), (0, "1234\u200f"), (3, "ann@exa\u202emple.com"),
])
def test_a_direction_control_in_an_id_or_email_is_a_problem(
    workdir: Path, column: int, value: str, capsys: pytest.CaptureFixture[str],
) -> None:
    row = ["1234", "u1.demo.glance.net", "Ann", "ann@example.com"]
    row[column] = value
    path = people_csv(workdir / "staff.csv", [(row[0], row[1], row[2], row[3])])
    assert main(["validate", str(path)]) == 3
    out = capsys.readouterr().out
    assert "contains text-direction characters (\\u" in out
    no_escape(out)
    assert "\u202e" not in out and "\u2066" not in out


def test_a_direction_mark_in_a_name_is_fine(workdir: Path) -> None:
    """Right-to-left names may need a mark: names are free text."""
    path = people_csv(workdir / "staff.csv",
                      [("1234", "u1.demo.glance.net", "\u05d0\u05d1\u200f (Avi)", "")])
    assert main(["validate", str(path)]) == 0


# -- a journal has one name: hard links are refused, so no two names can take two locks ---------

SHA = "a" * 64


def open_journal(path: Path, *, fresh: bool = False) -> Checkpoint:
    return Checkpoint.open(path, roster_sha256=SHA, roster_path="r", mode="create", fresh=fresh)


def test_a_journal_with_a_hard_link_is_refused_through_either_name(tmp_path: Path) -> None:
    """E.g. a backup script hard-links the nightly journal into another folder."""
    journal = tmp_path / "staff.csv.checkpoint.sqlite"
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "nightly.sqlite"
    with open_journal(journal) as held:
        held.record_plan([Action("k1", 2, ActionKind.CREATE)])
        os.link(journal, link)  # made while the run holds the journal
        for name in (link, journal):
            with pytest.raises(CheckpointError, match="has 2 names"):
                open_journal(name, fresh=True)  # --fresh would have wiped the running plan
        assert held.has_plan
    link.unlink()
    with open_journal(journal) as again, Checkpoint.read_only(journal) as reader:
        assert again.has_plan and reader.has_plan


def test_a_run_through_a_hard_link_while_another_process_runs_sends_nothing(
    simulator: Simulator, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(monkeypatch, simulator)
    roster = roster_csv(workdir / "staff.csv", ["001"])
    journal = workdir / "staff.csv.checkpoint.sqlite"
    (workdir / "backup").mkdir()
    link = workdir / "backup" / "nightly.sqlite"
    holder = start_holder(journal, "send")  # another process, mid-run
    try:
        os.link(journal, link)
        code = main(["run", str(roster), "--no-progress", "--fresh", "--checkpoint", str(link)])
        assert code == 2
        err = capsys.readouterr().err
        assert f"checkpoint {link} has 2 names (hard links)" in err
        assert len(err.splitlines()) == 1
        assert simulator.request_log == []
    finally:
        kill(holder)
    link.unlink()
    with open_journal(journal) as journal_now:  # its plan survived the refused --fresh
        assert [t.action.key for t in journal_now.todo()] == ["u1", "u2"]


def test_symlinks_and_dotted_paths_still_share_the_lock(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "alias.sqlite").symlink_to(journal)
    with open_journal(journal):
        for alias in (tmp_path / "b" / "alias.sqlite", tmp_path / "b" / ".." / "j.sqlite"):
            with pytest.raises(CheckpointLocked):
                open_journal(alias)


# -- validate --report stays near-linear: comments are capped, the Problems sheet lists all ------

def test_the_report_comments_the_first_broken_cells_and_lists_every_problem(
    workdir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(problems, "MAX_COMMENTS", 3)
    path = people_csv(workdir / "staff.csv",
                      [("SAME", f"u{i}.demo.glance.net", "Ann", "") for i in range(6)])
    report = workdir / "report.xlsx"
    assert main(["validate", str(path), "--report", str(report)]) == 3
    sheet = openpyxl.load_workbook(report)["Roster"]
    flagged = [row[0] for row in sheet.iter_rows(min_row=2) if row[0].fill.fgColor.rgb.endswith(
        BAD_FILL.fgColor.rgb[-6:])]
    assert len(flagged) == 6
    assert [cell.comment is not None for cell in flagged] == [True] * 3 + [False] * 3
    assert len(sheet_rows(report, "Problems")) == 6
