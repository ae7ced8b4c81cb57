"""``bulk-provision serve`` from the command line: access rules, accounts, Ctrl-C, imports."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from bulk_provision.cli import main
from bulk_provision.simulator import Simulator
from bulk_provision.web.auth import add_user, read_users, verify_password
from tests.browser import browser
from tests.browser.browser import ServeProcess
from tests.e2e.test_run import write_roster
from tests.webtools import REPO, csrf_of, follow_link, http_start, sim_env


def loopback_session() -> requests.Session:
    """A client that ignores any proxy of the environment: the server is on loopback."""
    http = requests.Session()
    http.trust_env = False
    return http


def serve_process(tmp_path: Path, sim: Simulator, settings: str,
                  ) -> tuple[ServeProcess, requests.Session]:
    """A ``bulk-provision serve`` subprocess on the workspace ``tmp_path/ws`` with a config file
    of ``settings``, pointed at ``sim``, and a loopback client for it (not started yet)."""
    config = tmp_path / "bp.toml"
    config.write_text(settings, encoding="utf-8")
    return ServeProcess(tmp_path / "ws", sim_env(sim), config), loopback_session()


def test_other_machines_need_tls_and_named_accounts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--host 0.0.0.0 lets other machines in: it needs --tls-cert and --tls-key" in err
    assert main(["serve", "--tls-cert", str(tmp_path / "no.pem"), "--tls-key", "k"]) == 2
    assert "does not exist" in capsys.readouterr().err
    for name in ("cert.pem", "key.pem", "users.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    tls = ["--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"),
           "--users", str(tmp_path / "users.txt")]
    assert main(["serve", "--host", "0.0.0.0", *tls]) == 2
    assert "--allow-host NAME" in capsys.readouterr().err
    (tmp_path / "bp.toml").write_text("workers = 500\n", encoding="utf-8")
    assert main(["serve", "--config", str(tmp_path / "bp.toml"), "--workspace",
                 str(tmp_path / "ws")]) == 2
    assert "workers must be between 1 and 64" in capsys.readouterr().err


def test_add_user_stores_an_scrypt_hash_owner_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    users = tmp_path / "users.txt"
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    assert main(["serve", "--users", str(users), "--add-user", "alice"]) == 0
    assert "alice can now sign in" in capsys.readouterr().out
    stored = read_users(users)["alice"]
    assert verify_password("a long enough password", stored)
    assert not verify_password("a long enough passwort", stored)
    assert users.stat().st_mode & 0o077 == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["serve", "--users", str(users), "--add-user", "bob"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err


def test_importing_the_page_does_not_load_the_simulator() -> None:
    code = ("import sys, bulk_provision.web.app, bulk_provision.cli.serve; "
            "print([m for m in sys.modules if 'simulator' in m])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         encoding="utf-8",
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]"


def test_a_missing_browser_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        next(browser.chromium())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI: no"):
        next(browser.chromium())


def test_ctrl_c_stops_the_run_resumably_and_ends_the_event_streams(
    make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(latency_ms=100)
    server, http = serve_process(tmp_path, sim, "workers = 2\nrate = 0\n")
    try:
        follow_link(http, server.start())
        token = csrf_of(http.get(f"{server.url}/", timeout=10).text)
        with write_roster(tmp_path / "s.csv", 60).open("rb") as f:
            roster = http.post(f"{server.url}/upload", data={"csrf": token},
                               files={"roster": ("s.csv", f)}, timeout=30).url
        run = http_start(http, roster, token)
        with http.get(f"{run}/events", stream=True, timeout=30) as stream:
            lines = stream.iter_lines(decode_unicode=True)
            for line in lines:
                if line.startswith("data: ") and json.loads(line[6:]).get("done", 0) >= 3:
                    break
            assert server.proc is not None
            server.proc.send_signal(signal.SIGINT)
            for _ in lines:  # the stream ends instead of holding the shutdown up
                pass
        assert server.proc.wait(30) == 0
    finally:
        http.close()
        server.stop()
    run_records = "*/runs/*" + "[0-9a-f]" * 6 + ".json"  # not the plan or people copies beside them
    record = json.loads(next((tmp_path / "ws").glob(run_records)).read_text(encoding="utf-8"))
    assert record["state"] == "stopped" and record["results"] is True
    assert len(sim.created_counts()) < 60
    written = list((tmp_path / "ws").rglob("*"))
    assert any(p.name == "journal.sqlite" for p in written)
    for path in written:  # journal, results workbook, records: personal data, owner-only
        assert path.stat().st_mode & 0o077 == 0, path


def test_https_with_named_accounts_sets_a_secure_cookie(tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    users = tmp_path / "users.txt"
    add_user(users, "alice", "a long enough password")
    command = [sys.executable, "-m", "bulk_provision", "serve", "--port", "0", "--workspace",
               str(tmp_path / "ws"), "--users", str(users), "--tls-cert",
               str(tmp_path / "server.pem"), "--tls-key", str(tmp_path / "server.pem")]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    http = loopback_session()
    http.verify = str(tmp_path / "ca.pem")
    http.headers["Connection"] = "close"  # no idle TLS connection for the shutdown to wait on
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "open https://127.0.0.1:" in line and "token" not in line
        url = line.split("open ", 1)[1].strip()
        assert "Sign in" in http.get(f"{url}login", timeout=10).text
        answer = http.post(f"{url}login", data={"name": "alice",
                                                 "password": "a long enough password"},
                           allow_redirects=False, timeout=10)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    finally:
        http.close()
        proc.terminate()
        assert proc.wait(30) == 0
        proc.stdout.close()  # type: ignore[union-attr]


def test_serve_demo_runs_a_sample_roster_into_its_own_simulator(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bulk_provision", "serve", "--demo", "--port", "0",
               "--latency-ms", "0", "--workspace", str(tmp_path / "ws")]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8")
    http = loopback_session()
    http.headers["Connection"] = "close"
    try:
        assert proc.stdout is not None
        login = proc.stdout.readline().split("open ", 1)[1].strip()
        assert "demo simulator" in follow_link(http, login).text
        token = csrf_of(http.get(login.split("/login")[0] + "/", timeout=10).text)
        roster = http.post(login.split("/login")[0] + "/samples",
                           data={"csrf": token, "sample": "roster.xlsx"}, timeout=30).url
        assert "0 problems" in http.get(roster, timeout=10).text
        run = http_start(http, roster, token)
        with http.get(f"{run}/events", stream=True, timeout=60) as stream:
            snaps = [json.loads(line[6:]) for line in stream.iter_lines(decode_unicode=True)
                     if line.startswith("data: {\"")]
        assert snaps[-1]["state"] == "finished" and snaps[-1]["counts"] == {"created": 25}
        results = http.get(f"{run}/results", timeout=10)
        assert results.status_code == 200 and results.content.startswith(b"PK")
    finally:
        http.close()
        proc.terminate()
        assert proc.wait(30) == 0
        proc.stdout.close()  # type: ignore[union-attr]


def new_link(capsys: pytest.CaptureFixture[str], workspace: Path) -> tuple[int, str, str]:
    code = main(["serve", "--new-link", "--workspace", str(workspace)])
    out, err = capsys.readouterr()
    return code, out, err


def test_new_link_without_a_running_server_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = new_link(capsys, tmp_path / "nowhere")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "no bulk-provision serve is running with workspace" in err
    assert not (tmp_path / "nowhere").exists()  # asking created nothing
    from bulk_provision.web.links import record_server

    workspace = tmp_path / "ws"
    workspace.mkdir(mode=0o700)
    record_server(workspace, "http://127.0.0.1:1", accounts=False)  # left by a killed server
    code, out, err = new_link(capsys, workspace)
    assert code == 2 and "no bulk-provision serve is running" in err and "token" not in out


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_new_link_refuses_a_workspace_that_is_not_owner_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir(mode=0o755)
    workspace.chmod(0o755)
    code, out, err = new_link(capsys, workspace)
    assert (code, out) == (2, "")
    assert f"workspace {workspace} is not owner-only" in err and "chmod 700" in err
    assert not (workspace / ".sign-in-links").exists()


def test_new_link_for_a_server_with_named_accounts_says_to_add_an_account(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from bulk_provision.web.links import record_server
    from bulk_provision.web.workspace import Workspace

    running = Workspace(tmp_path / "ws")
    running.take()
    try:
        record_server(running.root, "https://hr-tools.example.com:8750", accounts=True)
        code, out, err = new_link(capsys, tmp_path / "ws")
    finally:
        running.release()
    assert (code, out) == (2, "") and "--add-user NAME" in err


def test_new_link_lets_someone_in_without_a_restart_and_sign_ins_survive_one(
    capsys: pytest.CaptureFixture[str], simulator: Simulator, tmp_path: Path
) -> None:
    server, http = serve_process(tmp_path, simulator, "rate = 0\nsession_hours = 9\n")
    config = tmp_path / "bp.toml"  # the restarted server reads it too
    try:
        server.start()
        code, out, err = new_link(capsys, tmp_path / "ws")
        assert (code, err) == (0, "")
        link = out.splitlines()[0]
        assert link.startswith(f"bulk-provision serve: open {server.url}/login?token=")
        assert "works once, within 15 minutes" in out
        url = link.split("open ", 1)[1]
        assert follow_link(http, url).url == f"{server.url}/"  # signed in
        assert "Upload" in http.get(f"{server.url}/", timeout=10).text
        other = loopback_session()
        spent = other.get(url, timeout=10)  # once
        assert spent.status_code == 401 and "already used" in spent.text
        server.kill()  # even kill -9
        assert new_link(capsys, tmp_path / "ws")[0] == 2  # nobody answers that link now
        again = ServeProcess(tmp_path / "ws", sim_env(simulator), config)
        try:
            again.start()  # a new port: cookies ignore ports, as browsers do
            answer = http.get(f"{again.url}/", timeout=10, allow_redirects=False)
            assert answer.status_code == 200 and "Sign out" in answer.text
        finally:
            again.stop()
    finally:
        http.close()
        server.stop()
    assert not (tmp_path / "ws" / ".server.json").exists()  # a stopped server is forgotten


def test_session_hours_out_of_range_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["serve", "--session-hours", "0", "--workspace", str(tmp_path / "ws")]) == 2
    assert "--session-hours must be more than 0 and at most 168" in capsys.readouterr().err
    (tmp_path / "bp.toml").write_text("session_hours = 1000\n", encoding="utf-8")
    assert main(["serve", "--config", str(tmp_path / "bp.toml"), "--workspace",
                 str(tmp_path / "ws")]) == 2
    assert "session_hours in the config file must be" in capsys.readouterr().err
