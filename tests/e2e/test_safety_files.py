"""DESIGN.md section 11 for files: no output over an input or another output, owner-only
personal data, one lock per journal whatever the path, status on read-only journals, config
files holding secrets, and no traceback when the environment or the disk misbehaves."""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest

from bulk_provision.cli import main
from bulk_provision.errors import CheckpointLocked
from bulk_provision.glance.models import AudioCodes
from bulk_provision.jobs import run as job
from bulk_provision.journal import files as journal_files
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.model import Action, ActionKind, Outcome, RowResult
from bulk_provision.simulator import Simulator
from tests.e2e.test_run import env_for, tuning, write_roster

SHA = "a" * 64
ROSTER_ROWS = [["PartnerUserID", "UserAddress", "UserFirst", "UserLast", "UserEmail"],
               ["00001", "ann.demo.glance.net", "Ann", "Lee", "ann@example.com"]]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)  # a usual umask: files would be 0644 unless created owner-only
    try:
        yield tmp_path
    finally:
        os.umask(old)


def xlsx_roster(path: Path) -> Path:
    wb = openpyxl.Workbook()
    for row in ROSTER_ROWS:
        wb.active.append(row)
    wb.save(path)
    return path


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# -- item 2: no output may be the roster, the journal or another output -----------------------

CLASHES = [
    (["--out", "staff.xlsx"], "--out staff.xlsx is the roster itself"),
    (["--out", "sub/../staff.xlsx"], "--out sub/../staff.xlsx is the roster itself"),
    (["--out", "link.xlsx"], "--out link.xlsx is the roster itself"),
    (["--out", "hard.xlsx"], "--out hard.xlsx is the roster itself"),
    (["--checkpoint", "staff.xlsx"], "--checkpoint staff.xlsx is the roster itself"),
    (["--checkpoint", "j.xlsx", "--out", "j.xlsx"], "--out j.xlsx is the checkpoint (journal)"),
    (["--log-file", "staff.xlsx"], "--log-file staff.xlsx is the roster itself"),
    (["--log-file", "link.xlsx"], "--log-file link.xlsx is the roster itself"),
    (["--checkpoint", "j.sqlite", "--log-file", "j.sqlite"],
     "--log-file j.sqlite is the checkpoint (journal)"),
    (["--out", "r.xlsx", "--log-file", "r.xlsx"], "--log-file r.xlsx is the results workbook"),
    (["--log-file", "staff.results.xlsx"], "--log-file staff.results.xlsx is the results workbook"),
    (["--checkpoint", "j.sqlite", "--log-file", "j.sqlite-wal"],
     "--log-file j.sqlite-wal is a side file of the checkpoint j.sqlite"),
    (["--checkpoint", "j.sqlite", "--log-file", "j.sqlite.lock"],
     "--log-file j.sqlite.lock is a side file of the checkpoint j.sqlite"),
    (["--checkpoint", "jlink.sqlite", "--log-file", "real.sqlite-shm"],
     "--log-file real.sqlite-shm is a side file of the checkpoint jlink.sqlite"),
    (["--log-file", "t.toml"], "--log-file t.toml is the config file"),
]


@pytest.mark.parametrize(("options", "message"), CLASHES, ids=[m for _, m in CLASHES])
def test_run_refuses_an_output_that_is_an_input_or_another_output_and_writes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str,
) -> None:
    roster = xlsx_roster(workdir / "staff.xlsx")
    (workdir / "sub").mkdir()
    (workdir / "link.xlsx").symlink_to(roster)
    os.link(roster, workdir / "hard.xlsx")
    (workdir / "real.sqlite").write_bytes(b"")
    (workdir / "jlink.sqlite").symlink_to(workdir / "real.sqlite")
    config = tuning(workdir / "t.toml")
    before = listing(workdir)
    code = main(["run", "staff.xlsx", "--config", str(config), "--no-progress", *options])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"bulk-provision: error: {message}; choose another file\n"
    assert listing(workdir) == before  # nothing written, nothing created (no log, no journal)


@pytest.mark.parametrize("out", ["staff.xlsx", "link.xlsx", "./sub/../staff.xlsx"])
def test_plan_refuses_to_write_over_the_roster(
    workdir: Path, capsys: pytest.CaptureFixture[str], out: str,
) -> None:
    roster = xlsx_roster(workdir / "staff.xlsx")
    (workdir / "sub").mkdir()
    (workdir / "link.xlsx").symlink_to(roster)
    before = listing(workdir)
    assert main(["plan", "staff.xlsx", "--out", out]) == 2
    shown = str(Path(out))
    assert capsys.readouterr().err == (
        f"bulk-provision: error: --out {shown} is the roster itself; choose another file\n"
    )
    assert listing(workdir) == before


@pytest.mark.parametrize("report", ["staff.xlsx", "link.xlsx", "hard.xlsx"])
def test_validate_refuses_a_report_over_the_roster(
    workdir: Path, capsys: pytest.CaptureFixture[str], report: str,
) -> None:
    roster = xlsx_roster(workdir / "staff.xlsx")
    (workdir / "link.xlsx").symlink_to(roster)
    os.link(roster, workdir / "hard.xlsx")
    before = listing(workdir)
    assert main(["validate", "staff.xlsx", "--report", report]) == 2
    assert capsys.readouterr().err == (
        f"bulk-provision: error: --report {report} is the roster itself; choose another file\n"
    )
    assert listing(workdir) == before


# -- item 6: personal data is owner-only ------------------------------------------------------

def test_a_real_run_creates_journal_log_lock_and_results_owner_only(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 3)
    side_modes: dict[str, int] = {}
    real_results = Checkpoint.results

    def results(journal: Checkpoint, *args: Any) -> Any:  # read at the end, the journal open
        for side in ("-wal", "-shm"):
            side_modes[side] = mode_of(journal.path.with_name(journal.path.name + side))
        return real_results(journal, *args)

    monkeypatch.setattr(Checkpoint, "results", results)
    code = main(["run", str(roster), "--config", str(tuning(workdir / "t.toml")),
                 "--log-file", "calls.jsonl", "--no-progress", "--rate", "0"])
    assert code == 0
    assert side_modes == {"-wal": 0o600, "-shm": 0o600}
    for name in ("staff.csv.checkpoint.sqlite", "staff.csv.checkpoint.sqlite.lock",
                 "calls.jsonl", "staff.results.xlsx"):
        assert mode_of(workdir / name) == 0o600, name
    assert mode_of(roster) == 0o644  # the test's own file: the umask is in force


def test_validate_report_is_owner_only(workdir: Path) -> None:
    write_roster(workdir / "staff.csv", 2)
    assert main(["validate", "staff.csv", "--report", "problems.xlsx"]) == 0
    assert mode_of(workdir / "problems.xlsx") == 0o600
    assert listing(workdir).keys() == {"staff.csv", "problems.xlsx"}  # no temp file left


def test_an_existing_journal_keeps_the_permissions_its_owner_gave_it(workdir: Path) -> None:
    path = workdir / "j.sqlite"
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="r", mode="create") as cp:
        cp.record_plan([Action("u1", 2, ActionKind.CREATE)])
    assert mode_of(path) == 0o600
    path.chmod(0o640)
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="r", mode="create") as cp:
        assert [t.action.key for t in cp.todo()] == ["u1"]
        assert mode_of(path.with_name("j.sqlite-wal")) == 0o640  # SQLite copies the bits
    assert mode_of(path) == 0o640


def test_check_saves_responses_owner_only_in_new_private_folders(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
) -> None:
    use_sim(simulator)
    assert main(["check", "--save-responses", "saved/raw"]) == 0
    assert mode_of(workdir / "saved") == 0o700
    assert mode_of(workdir / "saved" / "raw") == 0o700
    for name in ("ShowRoles.xml", "ShowUsers.xml"):
        assert mode_of(workdir / "saved" / "raw" / name) == 0o600


# -- item 11: one lock per journal, whatever the path; no POSIX-only import -------------------

def test_a_symlink_to_a_journal_in_use_is_locked_too(workdir: Path) -> None:
    path = workdir / "j.sqlite"
    (workdir / "other").mkdir()
    link = workdir / "other" / "alias.sqlite"
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="r", mode="create"):
        link.symlink_to(path)
        for alias in (link, workdir / "other" / ".." / "j.sqlite"):
            with pytest.raises(CheckpointLocked, match="in use by another run"):
                Checkpoint.open(alias, roster_sha256=SHA, roster_path="r", mode="create")
    with Checkpoint.open(link, roster_sha256=SHA, roster_path="r", mode="create"):
        pass  # released with the first


def test_run_through_a_symlinked_journal_in_use_exits_4_and_sends_nothing(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 2)
    (workdir / "alias.sqlite").symlink_to(workdir / "staff.csv.checkpoint.sqlite")
    config = str(tuning(workdir / "t.toml"))
    with Checkpoint.open(workdir / "staff.csv.checkpoint.sqlite", roster_sha256=SHA,
                         roster_path=str(roster), mode="create"):
        code = main(["run", str(roster), "--checkpoint", "alias.sqlite", "--config", config,
                     "--no-progress"])
    assert code == 4
    assert "in use by another run" in capsys.readouterr().err
    assert [r for r in simulator.request_log if r.operation == "NewUser"] == []


NO_FCNTL = """
import sys
sys.modules["fcntl"] = None  # as on Windows: importing it fails
from bulk_provision.cli import main
code = main(sys.argv[1:])
assert "fcntl" not in sys.modules or sys.modules["fcntl"] is None
sys.exit(code)
"""


def test_validate_run_and_status_work_without_fcntl(
    simulator: Simulator, workdir: Path,
) -> None:
    roster = write_roster(workdir / "staff.csv", 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLANCE_", "REQUESTS_"))}
    env.update(env_for(simulator), PYTHONPATH=str(Path(__file__).resolve().parents[2]))

    def cli(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", NO_FCNTL, *words], env=env, cwd=workdir,
                              capture_output=True, text=True,
                                  encoding="utf-8", timeout=60, check=False)

    checked = cli("validate", str(roster))
    assert checked.returncode == 0, checked.stderr
    ran = cli("run", str(roster), "--config", str(tuning(workdir / "t.toml")), "--no-progress")
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    status = cli("status", "staff.csv.checkpoint.sqlite")
    assert status.returncode == 0, status.stderr
    assert "created 2" in status.stdout
    assert sorted(simulator.users()) == ["00000", "00001"]


# -- status reads a journal it cannot write beside --------------------------------------------

def journal_with_wal(folder: Path) -> Path:
    """A copy of a live journal: its last commits only in the -wal file."""
    live = folder / "live" / "j.sqlite"
    live.parent.mkdir()
    target = folder / "ro"
    target.mkdir()
    with Checkpoint.open(live, roster_sha256=SHA, roster_path="r", mode="create") as cp:
        cp.record_plan([Action("u1", 2, ActionKind.CREATE), Action("u2", 3, ActionKind.CREATE)])
        cp.send("u1")
        cp.answer(RowResult("u1", 2, ActionKind.CREATE, Outcome.CREATED, "", AudioCodes(), 1))
        for name in ("j.sqlite", "j.sqlite-wal"):
            shutil.copyfile(live.with_name(name), target / name)
    return target / "j.sqlite"


def finished_journal(folder: Path) -> Path:
    path = folder / "ro" / "j.sqlite"
    path.parent.mkdir()
    with Checkpoint.open(path, roster_sha256=SHA, roster_path="r", mode="create") as cp:
        cp.record_plan([Action("u1", 2, ActionKind.CREATE), Action("u2", 3, ActionKind.CREATE)])
        cp.send("u1")
        cp.answer(RowResult("u1", 2, ActionKind.CREATE, Outcome.CREATED, "", AudioCodes(), 1))
    assert not path.with_name("j.sqlite-wal").exists()
    return path


@pytest.mark.parametrize("make", [journal_with_wal, finished_journal])
def test_status_reads_a_journal_whose_shm_file_cannot_be_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], Path],
) -> None:
    path = make(tmp_path)
    # SQLite cannot open or create its -shm (and -wal) file: what a read-only folder or
    # filesystem does, made so that root sees it too (root ignores permission bits).
    for side in ("j.sqlite-shm", "j.sqlite-wal"):
        if not path.with_name(side).exists():
            path.with_name(side).mkdir()
    before = sorted(p.name for p in path.parent.iterdir())
    assert main(["status", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Rows: 2 (final 1, left for a re-run 1)" in out
    assert "Outcomes: created 1" in out
    assert sorted(p.name for p in path.parent.iterdir()) == before


@pytest.mark.parametrize("make", [journal_with_wal, finished_journal])
def test_status_reads_a_journal_in_a_read_only_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], Path],
) -> None:
    path = make(tmp_path)
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        assert main(["status", str(path)]) == 0
    finally:
        path.parent.chmod(0o755)
    assert "Rows: 2 (final 1, left for a re-run 1)" in capsys.readouterr().out


@pytest.mark.parametrize("make", [journal_with_wal, finished_journal])
def test_status_falls_back_when_sqlite_cannot_open_the_journal_read_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Path], Path],
) -> None:
    """What a read-only filesystem does to a plain ``mode=ro`` open, whoever runs the test:
    the fallback (immutable, or a private copy with the -wal commits) still reads every row."""
    path = make(tmp_path)
    real_connect = sqlite3.connect
    copies: list[str] = []

    def read_only_filesystem(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if "/ro/" in database and database.endswith("?mode=ro"):
            raise sqlite3.OperationalError("unable to open database file")
        if "/ro/" not in database:
            copies.append(database)
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(journal_files.sqlite3, "connect", read_only_filesystem)
    before = listing(path.parent)
    assert main(["status", str(path)]) == 0
    assert "Rows: 2 (final 1, left for a re-run 1)" in capsys.readouterr().out
    assert listing(path.parent) == before
    assert len(copies) == (1 if make is journal_with_wal else 0)
    assert all(not Path(unquote(c[5:].split("?")[0])).parent.exists() for c in copies)


# -- item 14: a config file holding a secret ---------------------------------------------------

def config_with(path: Path, mode: int, secret: str = 'partner_pw = "Secret-pw-1"\n') -> Path:
    path.write_text(f'{secret}workers = 2\n', encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602, 0o660])
@pytest.mark.parametrize("secret", ['partner_pw = "Secret-pw-1"\n', 'api_key = "k-123456"\n'])
def test_a_config_file_with_a_secret_that_others_can_change_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str], mode: int, secret: str,
) -> None:
    write_roster(workdir / "staff.csv", 1)
    config_with(workdir / "bulk-provision.toml", mode, secret)  # auto-loaded from here
    assert main(["validate", "staff.csv"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "other users can change it" in lines[0]
    assert f"run: chmod 600 {Path.cwd() / 'bulk-provision.toml'}" in lines[0]
    assert "Secret-pw-1" not in lines[0] and "k-123456" not in lines[0]


def test_a_config_file_with_a_secret_owned_by_someone_else_is_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_roster(workdir / "staff.csv", 1)
    config = config_with(workdir / "c.toml", 0o600)
    owner = config.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1000 if owner == 0 else owner + 1)
    if owner == 0:  # a root-owned file is trusted (root may change anything): make it another's
        os.chown(config, 4242, -1)
    assert main(["validate", "staff.csv", "--config", "c.toml"]) == 2
    assert "belongs to another user" in capsys.readouterr().err


def test_a_config_file_with_a_secret_readable_by_others_is_used_with_a_warning(
    workdir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write_roster(workdir / "staff.csv", 1)
    config_with(workdir / "c.toml", 0o644)
    assert main(["validate", "staff.csv", "--config", "c.toml"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("bulk-provision: warning: config file c.toml")
    assert "other users can read it" in err[0] and "chmod 600 c.toml" in err[0]


@pytest.mark.parametrize(("mode", "secret"), [(0o600, 'partner_pw = "x"\n'), (0o644, "")])
def test_a_private_config_or_one_without_a_secret_is_used_silently(
    workdir: Path, capsys: pytest.CaptureFixture[str], mode: int, secret: str,
) -> None:
    write_roster(workdir / "staff.csv", 1)
    config_with(workdir / "c.toml", mode, secret)
    assert main(["validate", "staff.csv", "--config", "c.toml"]) == 0
    assert capsys.readouterr().err == ""


# -- item 13: one line, never a traceback -------------------------------------------------------

@pytest.mark.parametrize("variable", ["GLANCE_PARTNER_PW", "GLANCE_PARTNER_LOGIN",
                                      "GLANCE_API_KEY"])
def test_a_non_utf8_byte_in_a_connection_variable_is_one_line_naming_it(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str], variable: str,
) -> None:
    value = os.fsdecode(b"Secret-\xff-pw")  # what os.environ holds for a Latin-1 byte
    use_sim(simulator, **{variable: value})
    roster = write_roster(workdir / "staff.csv", 2)
    code = main(["run", str(roster), "--config", str(tuning(workdir / "t.toml")),
                 "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == (f"bulk-provision: error: {variable} holds bytes that are not UTF-8 "
                            "text; set it again, typed as UTF-8\n")
    assert "Secret" not in captured.out + captured.err
    assert simulator.request_log == []


def test_the_out_folder_deleted_mid_run_ends_in_one_line_and_no_traceback(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sim(simulator)
    roster = write_roster(workdir / "staff.csv", 3)
    (workdir / "out").mkdir()
    real_provision = job._provision
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def provision_then_lose_the_folder(*args: Any, **kwargs: Any) -> Any:
        report = real_provision(*args, **kwargs)
        shutil.rmtree(workdir / "out")
        return report

    monkeypatch.setattr(job, "_provision", provision_then_lose_the_folder)
    spare = workdir / "spare"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    code = main(["run", str(roster), "--out", "out/results.xlsx", "--config",
                 str(tuning(workdir / "t.toml")), "--no-progress", "--rate", "0"])
    gc.collect()  # openpyxl's abandoned row writers complained here
    err = capsys.readouterr().err
    assert code == 4  # every user was created, but the workbook is not where asked: not 0
    [elsewhere] = spare.glob("results.*.xlsx")
    assert (f"bulk-provision: warning: the results could not be written to out/results.xlsx; "
            f"they are in {elsewhere}") in err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert unraisable == []
    assert sorted(simulator.users()) == ["00000", "00001", "00002"]
