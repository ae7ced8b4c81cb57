"""``bulk-provision serve`` without a browser: the routes, their security, runs and restarts,
through Starlette's TestClient against the real simulator."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulk_provision.simulator import Simulator
from bulk_provision.web.app import iter_routes
from bulk_provision.web.auth import Access, add_user, read_users
from tests.e2e.test_run import write_roster
from tests.webtools import (
    SAMPLES,
    client_for,
    csrf_of,
    events,
    finish,
    open_link,
    preview,
    sign_in,
    start,
    token,
    upload,
    web_config,
)
from tests.workbooks import sheet_rows

RUN_RECORDS = "*/runs/*[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].json"  # run records only


@pytest.fixture
def page(tmp_path: Path, simulator: Simulator) -> Iterator[TestClient]:
    config = web_config(tmp_path / "ws", simulator)
    with client_for(config) as client:
        sign_in(client, config)
        client.config = config  # type: ignore[attr-defined]
        yield client


def roster_url(answer: object) -> str:
    location = str(answer.headers["location"])  # type: ignore[attr-defined]
    assert location.startswith("/rosters/"), location
    return location


def test_a_valid_roster_uploads_runs_and_its_results_download(
    page: TestClient, simulator: Simulator, tmp_path: Path
) -> None:
    roster = roster_url(upload(page, write_roster(tmp_path / "staff.csv", 6)))
    shown = page.get(roster).text
    assert "6 rows, <strong>0 problems</strong>" in shown
    run = start(page, roster)
    assert finish(page, run)["state"] == "finished"
    done = page.get(run).text
    assert "Finished: every row ended well" in done and "Download results" in done
    answer = page.get(f"{run}/results")
    assert answer.status_code == 200
    assert 'filename="staff.results.xlsx"' in answer.headers["content-disposition"]
    saved = tmp_path / "got.xlsx"
    saved.write_bytes(answer.content)
    rows = sheet_rows(saved)
    assert [r["Outcome"] for r in rows] == ["created"] * 6
    assert all(r["dialIn"] for r in rows if r["Audio Provider"] == "666")
    assert simulator.created_counts() == {f"{i:05d}": 1 for i in range(6)}
    assert "staff.csv" in page.get("/history").text


def test_the_roster_with_errors_shows_every_problem_and_no_start(page: TestClient) -> None:
    roster = roster_url(upload(page, SAMPLES / "roster_with_errors.xlsx"))
    shown = page.get(roster).text
    assert "<strong>16 problems</strong>" in shown
    for row in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19):
        assert f"<tr><td>{row}</td>" in shown
    assert 'id="start"' not in shown  # Start is only on the plan's page
    assert "<li>Employee ID is used by more than one row: 2 rows</li>" in shown
    report = page.get(f"{roster}/report")
    assert report.status_code == 200 and report.content.startswith(b"PK")
    plan, _, plan_page = preview(page, roster)
    assert 'id="start" disabled' in plan_page and "fix them, or tick" in plan_page
    refused = page.post(f"{roster}/start", data={"csrf": token(page), "plan": plan})
    assert refused.status_code == 409 and "cannot be started" in refused.text
    no_plan = page.post(f"{roster}/start", data={"csrf": token(page), "mode": "create"})
    assert no_plan.status_code == 400 and "Preview the plan first" in no_plan.text


def test_every_route_refuses_a_visitor_without_a_session(page: TestClient) -> None:
    roster = roster_url(upload(page, SAMPLES / "roster.xlsx"))
    run = start(page, roster)
    finish(page, run)
    sha, run_id = roster.rsplit("/", 1)[1], run.rsplit("/", 1)[1]
    page.cookies.clear()
    for path, methods in iter_routes():
        if path.startswith("/login") or path == "/healthz":  # public, and tested below
            continue
        url = path.replace("{sha}", sha).replace("{run}", run_id).replace("{plan}", "x")
        for method in methods:
            answer = page.request(method, url, data={"csrf": "x"} if method == "POST" else None)
            assert answer.status_code in (303, 401), (method, url)
            assert answer.headers.get("location") in (None, "/login")
            assert b"PK" not in answer.content[:2] and b"data:" not in answer.content


def test_a_post_without_the_right_csrf_token_is_refused(
    page: TestClient, tmp_path: Path, simulator: Simulator
) -> None:
    roster = roster_url(upload(page, write_roster(tmp_path / "s.csv", 2)))
    for data in ({}, {"csrf": "wrong"}):
        answer = page.post(f"{roster}/start", data={"mode": "create", **data})
        assert answer.status_code == 403
        assert "security token" in answer.text
    with (tmp_path / "s.csv").open("rb") as f:
        assert page.post("/upload", files={"roster": ("s.csv", f)}).status_code == 403
    # only the first upload's read of the roles (ShowRoles); nothing was written
    assert [r.operation for r in simulator.request_log] == ["ShowRoles"]


def test_a_wrong_host_and_a_cross_site_post_are_refused(page: TestClient) -> None:
    assert page.get("/", headers={"host": "evil.example:8750"}).status_code == 400
    assert page.get("/", headers={"host": "127.0.0.1:9999"}).status_code == 400
    data = {"csrf": token(page)}
    cross = page.post("/check", data=data, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403
    fetched = page.post("/check", data=data, headers={"sec-fetch-site": "cross-site"})
    assert fetched.status_code == 403
    assert page.post("/check", data=data, headers={"origin": "http://127.0.0.1:8750"}).is_success


def test_security_headers_and_the_one_time_token(tmp_path: Path, simulator: Simulator) -> None:
    config = web_config(tmp_path / "ws", simulator)
    with client_for(config) as client:
        once = config.access.new_token()
        first = open_link(client, once)
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        assert cookie.startswith(config.access.cookie_name + "=")
        client.cookies.clear()
        again = client.get(f"/login?token={once}")
        assert again.status_code == 401 and "set-cookie" not in again.headers
        csp = again.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert again.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("garbage.xlsx", b"this is not a workbook at all" * 10, "cannot be used as a roster"),
        ("empty.csv", b"", "cannot be used as a roster"),
        ("header.csv", b"PartnerUserID,UserAddress\r\n", "no data rows"),
        ("roster.exe", b"MZ", "not a roster file"),
    ],
)
def test_broken_files_get_a_clear_message_and_the_server_keeps_serving(
    page: TestClient, tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    answer = upload(page, path, name)
    assert answer.status_code == 400
    assert expected in answer.text and 'role="alert"' in answer.text
    assert "Traceback" not in answer.text
    assert page.get("/").status_code == 200
    workspace = page.config.workspace  # type: ignore[attr-defined]
    assert [p.name for p in workspace.iterdir() if not p.name.startswith(".")] == []


def test_a_file_not_in_glances_shape_goes_to_the_columns_step(
    page: TestClient, tmp_path: Path
) -> None:
    """Readable, but without PartnerUserID or UserAddress: an HR export. Kept, and the admin is
    asked which column holds what (not refused: that is the Columns step's job)."""
    path = tmp_path / "notes.csv"
    path.write_bytes(b"name,colour\r\nann,red\r\n")
    answer = upload(page, path)
    assert answer.status_code == 303 and answer.headers["location"].endswith("/columns")
    columns = page.get(answer.headers["location"]).text
    assert '<label for="field-0">name</label>' in columns and "Not ready yet" in columns
    roster = page.get(answer.headers["location"].rsplit("/", 1)[0]).text
    assert "has no PartnerUserID" in roster and 'id="to-columns"' in roster
    assert 'id="options-form"' not in roster  # nothing to start before the columns are said


def test_an_oversized_upload_gets_413_and_a_clear_message(
    tmp_path: Path, simulator: Simulator
) -> None:
    config = web_config(tmp_path / "ws", simulator, max_upload=100_000)
    with client_for(config) as client:
        sign_in(client, config)
        big = tmp_path / "big.csv"
        big.write_bytes(b"PartnerUserID,UserAddress\r\n" + b"x,y.demo.glance.net\r\n" * 20_000)
        answer = upload(client, big)
        assert answer.status_code == 413
        assert "larger than this server accepts (0.1 MB)" in answer.text
        assert client.get("/").status_code == 200


def test_an_uploaded_name_is_never_a_path_and_files_are_owner_only(
    page: TestClient, tmp_path: Path
) -> None:
    roster = roster_url(upload(page, SAMPLES / "roster.xlsx", "../../x.xlsx"))
    workspace: Path = page.config.workspace  # type: ignore[attr-defined]
    assert not (tmp_path / "x.xlsx").exists() and not (workspace.parent / "x.xlsx").exists()
    folder = workspace / roster.rsplit("/", 1)[1]
    assert sorted(p.name for p in folder.iterdir()) == ["roster.json", "roster.xlsx",
                                                        "validation.json"]
    assert "x.xlsx" in page.get(roster).text
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_stop_then_resume_creates_every_user_exactly_once(
    tmp_path: Path, make_simulator: object
) -> None:
    sim = make_simulator(latency_ms=30)  # 400 rows: answers are committed (and shown) in groups  # type: ignore[operator]
    config = web_config(tmp_path / "ws", sim)
    with client_for(config) as client:
        sign_in(client, config)
        roster = roster_url(upload(client, write_roster(tmp_path / "s.csv", 400)))
        run = start(client, roster)
        for snap in events(client, run):
            if snap["done"] >= 5:
                client.post(f"{run}/stop", data={"csrf": token(client)})
                break
        assert finish(client, run)["state"] == "stopped"
        page = client.get(run).text
        assert "Resume" in page and "Download results" in page
        resumed = client.post(f"{run}/resume", data={"csrf": csrf_of(page)})
        assert resumed.status_code == 303
        assert finish(client, resumed.headers["location"])["state"] == "finished"
        again = client.post(f"{run}/resume", data={"csrf": token(client)})  # an old tab
        assert again.status_code == 303  # shows the run that resumed it; nothing is sent again
        assert again.headers["location"] == resumed.headers["location"]
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(400)}


def test_a_run_the_server_died_under_is_listed_and_resumes_once(
    tmp_path: Path, make_simulator: object
) -> None:
    sim = make_simulator(latency_ms=30)  # type: ignore[operator]
    config = web_config(tmp_path / "ws", sim)
    with client_for(config) as client:
        sign_in(client, config)
        roster = roster_url(upload(client, write_roster(tmp_path / "s.csv", 30)))
        run = start(client, roster)
        for snap in events(client, run):
            if snap["done"] >= 3:
                break
    # the app's shutdown stopped the run resumably; make its record say "running", as after
    # a kill -9, to check that a restarted server lists it as interrupted
    record = next((tmp_path / "ws").glob(RUN_RECORDS))
    record.write_text(record.read_text(encoding="utf-8").replace('"stopped"', '"running"'))
    config = web_config(tmp_path / "ws", sim)
    with client_for(config) as client:
        sign_in(client, config)
        history = client.get("/history").text
        assert "Interrupted when the server stopped" in history and "Resume" in history
        assert "Added:" in history and ("Not finished (Resume finishes it):" in history
                                        or "Not reached (Resume):" in history)  # journal
        resumed = client.post(f"{run}/resume", data={"csrf": csrf_of(history)})
        assert finish(client, resumed.headers["location"])["state"] == "finished"
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(30)}


def test_stopping_the_server_stops_a_run_resumably_with_its_workbook(
    tmp_path: Path, make_simulator: object
) -> None:
    sim = make_simulator(latency_ms=30)  # type: ignore[operator]
    config = web_config(tmp_path / "ws", sim)
    with client_for(config) as client:
        sign_in(client, config)
        roster = roster_url(upload(client, write_roster(tmp_path / "s.csv", 40)))
        run = start(client, roster)
        for snap in events(client, run):
            if snap["done"] >= 3:
                break
    folder = tmp_path / "ws" / roster.rsplit("/", 1)[1]
    assert '"state": "stopped"' in next(folder.glob(RUN_RECORDS[2:])).read_text(encoding="utf-8")
    rows = sheet_rows(next(folder.glob("results-*.xlsx")))
    assert {r["Outcome"] for r in rows} >= {"created"}
    assert len(sim.created_counts()) < 40


def test_sync_through_the_page_shows_the_plan_and_the_guard_refusing(
    page: TestClient, simulator: Simulator, tmp_path: Path
) -> None:
    for i in range(10):
        simulator.add_user(f"old{i}", f"old{i}.demo.glance.net")
    roster = roster_url(upload(page, write_roster(tmp_path / "s.csv", 3)))
    data = {"csrf": token(page), "mode": "sync", "max_suspend": "10%"}
    refused = page.post(f"{roster}/plan", data=data).text
    assert "Not allowed: This would suspend 10 of the 10 people" in refused
    assert "--" not in refused.split('id="guard"', 1)[1].split("</p>", 1)[0]  # no options
    assert 'id="start" disabled' in refused and "Download plan" in refused
    allowed = page.post(f"{roster}/plan", data={**data, "max_suspend": "10"}).text
    assert "Within the limit: 10 people to suspend" in allowed and "old3" in allowed
    assert "Type 10 to confirm" in allowed
    plan = re.search(r'name="plan" value="([^"]+)"', allowed)
    assert plan is not None
    unconfirmed = page.post(f"{roster}/start", data={"csrf": token(page),
                                                     "plan": plan.group(1), "confirm": "9"})
    assert unconfirmed.status_code == 400 and "Type 10 to confirm" in unconfirmed.text
    run = start(page, roster, mode="sync", max_suspend="10")
    assert finish(page, run)["counts"] == {"created": 3, "suspended": 10}
    assert all(u.suspended for k, u in simulator.users().items() if k.startswith("old"))


def test_named_accounts_sign_in_with_scrypt_hashes(tmp_path: Path, simulator: Simulator) -> None:
    users = tmp_path / "users.txt"
    add_user(users, "alice", "correct horse battery")
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    stored = users.read_text(encoding="utf-8")
    assert "correct horse" not in stored and "scrypt$" in stored
    access = Access(read_users(users))
    config = web_config(tmp_path / "ws", simulator, access=access)
    with client_for(config) as client:
        assert client.get(f"/login?token={access.new_token()}").status_code == 401
        form = client.get("/login").text
        assert "Sign in" in form
        wrong = client.post("/login", data={"name": "alice", "password": "nope"})
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
        right = client.post("/login", data={"name": "alice", "password": "correct horse battery"})
        assert right.status_code == 303
        assert "alice" in client.get("/").text
        for _ in range(5):  # a success cleared the count; five wrong ones lock the name
            client.post("/login", data={"name": "alice", "password": "guess"})
        locked = client.post("/login", data={"name": "alice", "password": "correct horse battery"})
        assert locked.status_code == 429 and "wait 5 minutes" in locked.text


def test_one_run_at_a_time_others_queue_visibly_and_start_twice_is_one_run(
    tmp_path: Path, make_simulator: object
) -> None:
    sim = make_simulator(latency_ms=200)  # type: ignore[operator]
    config = web_config(tmp_path / "ws", sim)
    with client_for(config) as client:
        sign_in(client, config)
        first = start(client, roster_url(upload(client, write_roster(tmp_path / "a.csv", 8))))
        second_roster = roster_url(upload(client, SAMPLES / "roster.csv"))
        second = start(client, second_roster)
        assert "number 1 in the queue" in client.get(second).text
        twice = client.post(f"{second_roster}/start", data={"csrf": token(client)})
        assert twice.status_code == 303 and twice.headers["location"] == second  # same run
        sim.set_faults(latency_ms=0)
        assert finish(client, first)["state"] == "finished"
        assert finish(client, second)["state"] == "finished"
        assert len(client.get("/history").text.split("Finished: every row ended well")) == 3


def test_demo_samples_are_offered_and_nothing_else_is(
    page: TestClient, tmp_path: Path, simulator: Simulator
) -> None:
    assert "Use sample roster_with_errors.xlsx" in page.get("/").text
    answer = page.post("/samples", data={"csrf": token(page), "sample": "roster.xlsx"})
    assert "0 problems" in page.get(roster_url(answer)).text
    for name in ("../pyproject.toml", "/etc/passwd", "roster.json"):
        assert page.post("/samples", data={"csrf": token(page), "sample": name}).status_code == 404
    config = web_config(tmp_path / "ws2", simulator, samples=None)
    with client_for(config) as plain:
        sign_in(plain, config)
        assert "Use sample" not in plain.get("/").text
        refused = plain.post("/samples", data={"csrf": token(plain), "sample": "roster.xlsx"})
        assert refused.status_code == 404


def test_no_secret_reaches_a_page_or_a_workspace_record(
    page: TestClient, simulator: Simulator, tmp_path: Path
) -> None:
    from tests.e2e.test_run import PASSWORDS

    roster = write_roster(tmp_path / "s.csv", 12, extra=[["x1", "bad address!", "short"]])
    url = roster_url(upload(page, roster))
    seen = [page.get(url).text]
    data = {"csrf": token(page), "mode": "create", "skip_invalid": "on"}
    seen.append(page.post(f"{url}/plan", data=data).text)
    run = start(page, url, skip_invalid="on")
    seen += [str(s) for s in events(page, run)]
    checked = page.post("/check", data={"csrf": token(page)}).text
    assert "Connected to" in checked
    seen += [page.get(run).text, page.get("/history").text, checked]
    workspace: Path = page.config.workspace  # type: ignore[attr-defined]
    seen += [p.read_text(encoding="utf-8") for p in workspace.rglob("*.json")]
    secrets = [simulator.config.partner_pw, "short", *PASSWORDS[:12]]
    for text in seen:
        for secret in secrets:
            assert secret not in text


def test_a_server_without_credentials_validates_but_says_what_is_missing(
    tmp_path: Path, simulator: Simulator
) -> None:
    from bulk_provision.settings.config import Settings
    from bulk_provision.web.engine import Connection

    connection = Connection(Settings(), {"GLANCE_BASE_URL": simulator.base_url})
    config = web_config(tmp_path / "ws", simulator, connection=connection)
    with client_for(config) as client:
        sign_in(client, config)
        url = roster_url(upload(client, write_roster(tmp_path / "s.csv", 2)))
        assert "0 problems" in client.get(url).text
        checked = client.post("/check", data={"csrf": token(client)}).text
        assert "Cannot connect: the server has no Glance credentials" in checked
        last = finish(client, start(client, url))
        assert last["state"] == "error" and "GLANCE_PARTNER_LOGIN" in last["message"]
    assert simulator.request_log == []


def test_an_unfinished_run_is_finished_in_its_own_mode_first(
    tmp_path: Path, make_simulator: object
) -> None:
    sim = make_simulator(latency_ms=100)  # type: ignore[operator]
    config = web_config(tmp_path / "ws", sim)
    with client_for(config) as client:
        sign_in(client, config)
        roster = roster_url(upload(client, write_roster(tmp_path / "s.csv", 30)))
        run = start(client, roster)
        for snap in events(client, run):
            if snap["done"] >= 2:
                client.post(f"{run}/stop", data={"csrf": token(client)})
                break
        assert finish(client, run)["state"] == "stopped"
        plan, suspending, _ = preview(client, roster, mode="sync")
        refused = client.post(f"{roster}/start", data={"csrf": token(client), "plan": plan,
                                                       "confirm": str(suspending)})
        assert refused.status_code == 409
        assert ("this roster has an unfinished run (Add new people only): press Resume"
                in refused.text)
        sim.set_faults(latency_ms=0)
        assert finish(client, start(client, roster))["state"] == "finished"
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(30)}


def test_the_config_file_protects_accounts_and_sets_the_page_defaults(
    tmp_path: Path, simulator: Simulator
) -> None:
    from bulk_provision.settings.config import Settings
    from bulk_provision.web.engine import Connection
    from tests.webtools import FAST, sim_env

    for name in ("old0", "old1", "boss"):
        simulator.add_user(name, f"{name}.demo.glance.net")
    settings = Settings(values={**FAST, "protect": ["boss"], "mode": "sync",
                                "max_suspend": "100%"})
    config = web_config(tmp_path / "ws", simulator, connection=Connection(settings,
                                                                          sim_env(simulator)))
    with client_for(config) as client:
        sign_in(client, config)
        url = roster_url(upload(client, write_roster(tmp_path / "s.csv", 2)))
        shown = client.get(url).text
        assert 'value="sync"\n      checked' in shown and 'value="100%"' in shown
        run = start(client, url, mode="sync", max_suspend="100%", protect="old1")
        assert finish(client, run)["counts"] == {"created": 2, "suspended": 1}
    users = simulator.users()
    assert users["old0"].suspended and not users["old1"].suspended
    assert not users["boss"].suspended


def test_healthz_answers_a_monitor_without_a_sign_in_and_tells_nothing_else(
    page: TestClient,
) -> None:
    from bulk_provision import __version__

    page.cookies.clear()
    answer = page.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": __version__}
    assert page.get("/healthz", headers={"host": "evil.example.com"}).status_code == 400
    assert page.post("/healthz").status_code in (401, 405)
