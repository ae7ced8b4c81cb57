"""Secrets never reach an artefact (R4), with either kind of partner credentials.

``test_run.py`` scans one PartnerPW ``run``. Here each credential kind (PartnerPW, and an API key
from which the client signs LoginKeys) drives every command that leaves something behind, each
as a real subprocess: ``validate --report``, ``plan`` (before, and as ``upsert --set-passwords``
after), ``run --log-file`` (create, then upsert sending every password again) and ``status``.
Then every byte they produced is searched: stdout and stderr of each command, and every file in
the folder but the roster itself (log files, checkpoints with their -wal/-shm/lock companions,
and each workbook unzipped, part by part). There must be no PartnerPW, no API key, no LoginKey
(any ``$1$`` key the client could have made), and no UserPW, valid or not.
"""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from bulk_provision.simulator import Simulator

pytestmark = pytest.mark.timeout(120)

PARTNER_PW = "Sim-Partner-PW-4711-q"
API_KEY = "Sim-API-key-0815-zzXy"
PARTNER_ID = "24680"
ADMIN_ID = "admin-0001"
VALID_PASSWORDS = [f"UserPW-secret-{i:02d}-Jk" for i in range(8)]
SHORT_PASSWORD = "Qx7-pw!"  # 7 characters: invalid, and still a secret
LONG_PASSWORD = "Long-UserPW-" + "z" * 38  # 50 characters: invalid
ALL_PASSWORDS = [*VALID_PASSWORDS, SHORT_PASSWORD, LONG_PASSWORD]
LOGIN_KEY_PREFIX = "$1$"  # every LoginKey the client makes: $ver$expiry$signature


def write_roster(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Employee ID", "Glance Address", "Password", "First Name", "Notes"])
        for i, password in enumerate(ALL_PASSWORDS):
            writer.writerow([f"S{i:03d}", f"s{i}.demo.glance.net", password, f"Name {i}",
                             f"note {i}"])
    return path


def environment(sim: Simulator, auth: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GLANCE_") and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env.update(GLANCE_BASE_URL=sim.base_url, GLANCE_CA_BUNDLE=str(sim.ca_bundle),
               GLANCE_PARTNER_LOGIN=sim.config.partner_login)
    if auth == "PartnerPW":
        env["GLANCE_PARTNER_PW"] = PARTNER_PW
    else:
        env.update(GLANCE_API_KEY=API_KEY, GLANCE_PARTNER_ID=PARTNER_ID,
                   GLANCE_PARTNER_USER_ID=ADMIN_ID)
    return env


def parts(path: Path) -> dict[str, bytes]:
    """A file's bytes; for a workbook, also each part unzipped (the XML is compressed)."""
    found = {str(path): path.read_bytes()}
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                found[f"{path.name}!{name}"] = archive.read(name)
    return found


@pytest.mark.parametrize("auth", ["PartnerPW", "LoginKey"])
def test_no_secret_in_any_artefact_of_any_command(
    auth: str, make_simulator: Callable[..., Simulator], tmp_path: Path,
) -> None:
    sim = make_simulator(partner_pw=PARTNER_PW, api_key=API_KEY, partner_id=PARTNER_ID,
                         admin_partner_user_id=ADMIN_ID)
    env = environment(sim, auth)
    roster = write_roster(tmp_path / "staff.csv")
    (tmp_path / "tuning.toml").write_text("backoff_base = 0.01\nbackoff_max = 0.05\n",
                                          encoding="utf-8")
    outputs: dict[str, bytes] = {}

    def cli(*commands: tuple[int, tuple[str, ...]]) -> None:
        """Each (expected exit, arguments) as its own process, all at once: a group holds only
        commands that neither write what another reads nor send anything to Glance but reads,
        so running them side by side changes nothing but the wall time of the interpreters'
        start-up (about 2 s each)."""
        started = [(expect, args, subprocess.Popen(
            [sys.executable, "-m", "bulk_provision", *args], env=env, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)) for expect, args in commands]
        try:
            for expect, args, proc in started:
                stdout, stderr = proc.communicate(timeout=60)
                label = " ".join(args)  # each command's own: two plans, two runs
                assert proc.returncode == expect, (label, stdout, stderr)
                assert b"Traceback" not in stderr
                outputs[f"{label} stdout"] = stdout
                outputs[f"{label} stderr"] = stderr
        finally:
            for _, _, proc in started:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

    # Neither touches Glance's state: validate never calls it, plan only reads.
    cli((3, ("validate", str(roster), "--report", "staff.problems.xlsx")),
        (0, ("plan", str(roster), "--skip-invalid", "--out", "before.plan.xlsx")))
    cli((1, ("run", str(roster), "--skip-invalid", "--rate", "0", "--no-progress",
             "--log-file", "create.calls.jsonl", "--config", "tuning.toml")))
    cli((1, ("run", str(roster), "--mode", "upsert", "--set-passwords", "--skip-invalid",
             "--rate", "0", "--no-progress", "--checkpoint", "upsert.checkpoint.sqlite",
             "--out", "upsert.results.xlsx", "--log-file", "upsert.calls.jsonl",
             "--config", "tuning.toml")))
    # All three only read: Glance (plan) and the checkpoints (status opens a read-only copy).
    cli((0, ("plan", str(roster), "--mode", "upsert", "--set-passwords", "--skip-invalid",
             "--out", "after.plan.xlsx")),
        (0, ("status", "staff.csv.checkpoint.sqlite")),
        (0, ("status", "upsert.checkpoint.sqlite")))

    # The passwords did travel, and this is the credential that carried them.
    users = sim.users()
    assert {k: users[k].user_pw for k in users} == {
        f"S{i:03d}": pw for i, pw in enumerate(VALID_PASSWORDS)}
    operations = {(r.operation, r.result) for r in sim.request_log}
    assert ("NewUser", "OK") in operations and ("UpdateUser", "OK") in operations
    assert all(result != "AUTH" for _, result in operations)
    if auth == "LoginKey":
        assert "GLANCE_PARTNER_PW" not in env  # nothing but LoginKeys could have signed in

    # The failed-rows file is a piece of the roster, to fix and run again: it keeps the roster's
    # own UserPW cells of its rows (README), owner-only, and nothing else secret.
    failed = tmp_path / "staff.failed.csv"
    assert stat.S_IMODE(failed.stat().st_mode) == 0o600
    assert not any(s.encode() in failed.read_bytes()
                   for s in (PARTNER_PW, API_KEY, LOGIN_KEY_PREFIX))
    blobs = dict(outputs)
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path not in (roster, failed):
            blobs.update(parts(path))
    expected = {"staff.problems.xlsx", "before.plan.xlsx", "after.plan.xlsx",
                "staff.results.xlsx", "upsert.results.xlsx", "create.calls.jsonl",
                "upsert.calls.jsonl", "staff.csv.checkpoint.sqlite", "upsert.checkpoint.sqlite"}
    assert expected <= {Path(name).name for name in blobs}
    assert any(name.endswith("!xl/worksheets/sheet2.xml") for name in blobs)
    secrets = [PARTNER_PW, API_KEY, LOGIN_KEY_PREFIX, *ALL_PASSWORDS]
    leaks = [(secret, where) for secret in secrets for where, blob in blobs.items()
             if secret.encode() in blob]
    assert leaks == []
    # The scan looked where a leak would be: the same bytes hold the secrets in the roster, and
    # the artefacts hold the password column, masked, and the password changes, unnamed.
    assert all(pw.encode() in roster.read_bytes() for pw in ALL_PASSWORDS)
    assert b">***<" in blobs["staff.results.xlsx!xl/worksheets/sheet2.xml"]
    assert b">***<" in blobs["upsert.results.xlsx!xl/worksheets/sheet2.xml"]
    assert any(b">***<" in blob for name, blob in blobs.items()
               if name.startswith("staff.problems.xlsx!xl/worksheets/"))
    assert any(b"UserPW" in blob for name, blob in blobs.items()
               if name.startswith("after.plan.xlsx!xl/worksheets/"))
    assert b'"UpdateUser"' in blobs[str(tmp_path / "upsert.calls.jsonl")]
