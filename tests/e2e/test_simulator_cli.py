"""``bulk-provision simulate`` as a user runs it: a real subprocess, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bulk_provision.cli import main

STARTUP_TIMEOUT = 30.0


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bulk_provision", "simulate", "--port", "0", *args]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def _read_banner(proc: subprocess.Popen[bytes]) -> str:
    """Stdout up to the 'Press Ctrl-C' line, bounded by STARTUP_TIMEOUT."""
    assert proc.stdout is not None
    data = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while b"Press Ctrl-C" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AssertionError(f"no banner in time; got {data!r}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"simulator exited early; got {data!r}")
            data += chunk
    return data.decode()


def _exports(banner: str) -> dict[str, str]:
    found = {}
    for line in banner.splitlines():
        if line.strip().startswith("export "):
            name, _, value = line.strip()[len("export ") :].partition("=")
            found[name] = value.split()[0] if value.split() else ""
    return found


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out.decode(), err.decode()


def test_simulate_serves_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    state = tmp_path / "sim-state.json"
    proc = _start("--roles", "Agent,Trainer", "--state", str(state), "--seed", "3")
    try:
        banner = _read_banner(proc)
        env = _exports(banner)
        assert env["GLANCE_BASE_URL"].startswith("https://127.0.0.1:")
        assert Path(env["GLANCE_CA_BUNDLE"]).is_file()
        assert env["GLANCE_PARTNER_LOGIN"] == "admin.demo.glance.net"
        assert env["GLANCE_PARTNER_PW"] == "demo-password"
        assert "PROVISIONAL" in banner
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                env["GLANCE_BASE_URL"] + "/PAPI/NewUser.asp",
                data={
                    "PartnerLogin": env["GLANCE_PARTNER_LOGIN"],
                    "PartnerPW": env["GLANCE_PARTNER_PW"],
                    "PartnerUserID": "t1",
                    "UserAddress": "t1.demo.glance.net",
                    "UserRole": "trainer",
                },
                verify=env["GLANCE_CA_BUNDLE"],
                timeout=10,
            )
        assert b"<status>OK</status>" in response.content
    finally:
        code, out, err = _stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    assert "stopped" in out
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert [(u["partner_user_id"], u["user_role"]) for u in saved["users"]] == [("t1", "Trainer")]
    # with --state the CA lives beside it, at a path a restart reuses (new content each start)
    assert env["GLANCE_CA_BUNDLE"] == f"{state}.ca.pem"
    again = _start("--roles", "Agent,Trainer", "--state", str(state))
    try:
        restarted = _exports(_read_banner(again))
        assert restarted["GLANCE_CA_BUNDLE"] == env["GLANCE_CA_BUNDLE"]
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                restarted["GLANCE_BASE_URL"] + "/PAPI/ShowUsers.asp",
                data={"PartnerLogin": env["GLANCE_PARTNER_LOGIN"],
                      "PartnerPW": env["GLANCE_PARTNER_PW"], "PageCount": "10"},
                verify=env["GLANCE_CA_BUNDLE"],  # the same path, still trusted
                timeout=10,
            )
        assert b"<PartnerUserID>t1</PartnerUserID>" in response.content
    finally:
        code, _, err = _stop(again)
    assert code == 0, err


def test_password_from_environment_is_used_but_never_printed() -> None:
    secret = "env-only-Secret-42"
    proc = _start(env={"GLANCE_SIM_PARTNER_PW": secret})
    try:
        banner = _read_banner(proc)
        env = _exports(banner)
        assert secret not in banner
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                env["GLANCE_BASE_URL"] + "/PAPI/ShowRoles.asp",
                data={"PartnerLogin": "admin.demo.glance.net", "PartnerPW": secret},
                verify=env["GLANCE_CA_BUNDLE"],
                timeout=10,
            )
        assert b"<status>OK</status>" in response.content
    finally:
        code, out, err = _stop(proc)
    assert code == 0 and secret not in out + err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fail-rate", "2"], "fail_rate must be between 0 and 1"),
        (["--roles", " , "], "--roles needs at least one role"),
        (["--roles", "Agent,-none-"], "role names"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--port", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--help"])
    assert exit_info.value.code == 0
    assert "bulk-provision simulate --port" in capsys.readouterr().out
