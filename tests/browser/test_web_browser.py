"""The page in a real browser: headless system Chromium through Playwright, the real server and
the real simulator. Skipped without Chromium (`make browser`), failed without it under CI."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulk_provision.simulator import Simulator
from tests.browser.browser import LiveServer, ServeProcess, shot
from tests.e2e.test_run import write_roster
from tests.webtools import SAMPLES, sim_env
from tests.workbooks import sheet_rows

pytestmark = pytest.mark.timeout(60)


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def upload(page: Any, path: Path, name: str | None = None) -> None:
    page.get_by_role("link", name="Upload").click()
    page.get_by_label("Roster file").set_input_files(
        path if name is None else {"name": name, "mimeType": "application/octet-stream",
                                   "buffer": path.read_bytes()})
    page.get_by_role("button", name="Upload", exact=True).click()


def preview_and_start(page: Any) -> None:
    """Start goes through the plan's preview (DESIGN.md section 9)."""
    page.get_by_role("button", name="Preview plan").click()
    page.get_by_role("button", name="Start").click()


def wait_done_at_least(page: Any, count: int) -> None:
    """Until the live numbers say at least ``count`` (1-9) rows are done."""
    assert 1 <= count <= 9
    at_least = re.compile(rf"^([{count}-9]|[1-9][0-9]+) of")
    expect(page.locator("#numbers")).to_have_text(at_least, timeout=20_000)


def download(page: Any, name: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=name).first.click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def serious(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page (axe-core ships in the package)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def test_a_valid_roster_from_upload_to_results(
    open_page: Callable[[str], Any], make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(latency_ms=0)
    with LiveServer(tmp_path / "ws", sim) as server:
        page = open_page(server.login_url())
        expect(page.get_by_label("Roster file")).to_be_visible()
        shot(page, tmp_path, "upload")
        assert serious(page) == []
        upload(page, write_roster(tmp_path / "staff.csv", 40))
        expect(page.locator("#validation-summary")).to_contain_text("0 problems")
        page.get_by_role("button", name="Preview plan").click()
        expect(page.locator("#plan-counts")).to_contain_text("create")
        shot(page, tmp_path, "plan")
        assert serious(page) == []
        plan = download(page, "Download plan", tmp_path)
        assert len(sheet_rows(plan, "Plan")) == 40
        sim.set_faults(latency_ms=300)  # slow enough to look at the page while it runs
        page.get_by_role("button", name="Start").click()
        wait_done_at_least(page, 3)
        shot(page, tmp_path, "progress")
        assert serious(page) == []
        sim.set_faults(latency_ms=0)
        expect(page.locator("#bar")).to_have_attribute("value", "100")
        expect(page.locator("#state")).to_contain_text("Finished: every row ended well")
        shot(page, tmp_path, "done")
        rows = sheet_rows(download(page, "Download results", tmp_path))
        assert [r["Outcome"] for r in rows] == ["created"] * 40
        assert all(r["dialIn"] and r["hostCode"] for r in rows if r["Audio Provider"] == "666")
        page.get_by_role("link", name="History").click()
        expect(page.locator("#history")).to_contain_text("staff.csv")
        shot(page, tmp_path, "history")
        assert serious(page) == []
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(40)}


def test_the_roster_with_errors_shows_every_problem_and_start_is_disabled(
    open_page: Callable[[str], Any], simulator: Simulator, tmp_path: Path
) -> None:
    with LiveServer(tmp_path / "ws", simulator) as server:
        page = open_page(server.login_url())
        upload(page, SAMPLES / "roster_with_errors.xlsx")
        expect(page.locator("#problems tbody tr")).to_have_count(16)
        expect(page.locator("#problems")).to_contain_text("PartnerUserID D-1 also appears in row 5")
        expect(page.get_by_role("button", name="Start")).to_have_count(0)  # only on the plan
        expect(page.locator("#problems")).not_to_contain_text("abc")  # passwords masked: ***
        shot(page, tmp_path, "problems")
        assert serious(page) == []
        report = download(page, "Download report", tmp_path)
        assert report.name == "roster_with_errors.report.xlsx"
        page.get_by_role("button", name="Preview plan").click()
        expect(page.get_by_role("button", name="Start")).to_be_disabled()
        page.get_by_role("link", name="Change options").click()
        page.get_by_label("Skip rows with problems").check()
        page.get_by_role("button", name="Preview plan").click()
        expect(page.get_by_role("button", name="Start")).to_be_enabled()
    # the upload read the roles Glance lists; nothing was sent to Glance
    assert {r.operation for r in simulator.request_log} <= {"ShowRoles"}


def test_stop_mid_run_then_resume_creates_everyone_exactly_once(
    open_page: Callable[[str], Any], make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(latency_ms=300)
    with LiveServer(tmp_path / "ws", sim) as server:
        page = open_page(server.login_url())
        upload(page, write_roster(tmp_path / "s.csv", 60))
        preview_and_start(page)
        wait_done_at_least(page, 4)
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("#state")).to_contain_text("Stopped", timeout=20_000)
        sim.set_faults(latency_ms=0)
        page.get_by_role("button", name="Resume").click()
        expect(page.locator("#state")).to_contain_text("Finished", timeout=20_000)
    assert 4 <= len([r for r in sim.request_log if r.operation == "NewUser"])
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(60)}


def test_kill_9_of_the_server_mid_run_then_resume_from_history(
    open_page: Callable[[str], Any], make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(latency_ms=150)
    config = tmp_path / "bp.toml"
    config.write_text("workers = 2\nrate = 0\nbackoff_base = 0.01\nbackoff_max = 0.05\n",
                      encoding="utf-8")
    server = ServeProcess(tmp_path / "ws", sim_env(sim), config)
    try:
        page = open_page(server.start())
        upload(page, write_roster(tmp_path / "s.csv", 60))
        preview_and_start(page)
        wait_done_at_least(page, 4)
        server.kill()
        sim.set_faults(latency_ms=0)
        page = open_page(server.start())
        page.get_by_role("link", name="History").click()
        expect(page.locator("#history")).to_contain_text("Interrupted when the server stopped")
        page.get_by_role("button", name="Resume").click()
        expect(page.locator("#state")).to_contain_text("Finished", timeout=30_000)
    finally:
        server.stop()
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(60)}


def sideways_at_390(page: Any) -> int:
    """How far the page scrolls sideways on a 390 px wide phone (tables scroll in their own
    box, which does not count); the viewport is put back after."""
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 800})
    try:
        return int(page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"))
    finally:
        page.set_viewport_size(size)


def test_upsert_then_sync_with_the_guard_refusing(
    open_page: Callable[[str], Any], simulator: Simulator, tmp_path: Path
) -> None:
    for i in range(3):
        simulator.add_user(f"{i:05d}", f"user{i}.demo.glance.net", user_first="Old")
    for i, (first, last) in enumerate((("Maria", "Gonzalez"), ("Tom", "Becker"),
                                       ("Aiko", "Tanaka"), ("Sam", "Okafor"))):
        simulator.add_user(f"gone{i}", f"gone{i}.demo.glance.net", user_first=first,
                           user_last=last, user_email=f"{first.lower()}@example.com")
    with LiveServer(tmp_path / "ws", simulator) as server:
        page = open_page(server.login_url())
        upload(page, write_roster(tmp_path / "s.csv", 5))
        page.get_by_label("Add and update").check()
        page.get_by_role("button", name="Preview plan").click()
        page.get_by_role("link", name="To update (3)").click()
        expect(page.locator("#people")).to_contain_text("First name: Old →")
        assert serious(page) == []
        assert sideways_at_390(page) == 0
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#state")).to_contain_text("Finished", timeout=20_000)
        expect(page.locator("#counts")).to_contain_text("Updated")
        page.get_by_role("link", name="roster").click()
        page.get_by_label("Full sync (also suspends people missing from the file)").check()
        page.get_by_role("button", name="Preview plan").click()
        expect(page.locator("#guard")).to_contain_text("This would suspend 4 of the 9 people")
        expect(page.locator("#people")).to_contain_text("gone3.demo.glance.net")
        expect(page.get_by_role("button", name="Start")).to_be_disabled()
        assert serious(page) == []
        page.get_by_role("link", name="Change options").click()
        page.get_by_label("Full sync (also suspends people missing from the file)").check()
        page.get_by_label("Full sync: suspend at most").fill("4")
        page.get_by_role("button", name="Preview plan").click()
        expect(page.locator("#guard")).to_contain_text("Within the limit: 4 people")
        expect(page.get_by_role("button", name="Start")).to_be_disabled()
        page.get_by_label("Type 4 to confirm").fill("3")
        expect(page.get_by_role("button", name="Start")).to_be_disabled()
        page.get_by_label("Type 4 to confirm").fill("4")
        assert serious(page) == []
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#state")).to_contain_text("Finished", timeout=20_000)
        assert all(simulator.users()[f"gone{i}"].suspended for i in range(4))
        # it was wrong: undo it, after seeing who gets access back
        page.get_by_role("button", name="Undo this run").click()
        expect(page.locator("#undo-people")).to_contain_text("Reinstate (this run suspended them)")
        expect(page.locator("#undo-people")).to_contain_text("Sam Okafor")
        expect(page.locator("#undo-people")).to_contain_text("gone3.demo.glance.net")
        assert serious(page) == []
        assert sideways_at_390(page) == 0
        shot(page, tmp_path, "undo")
        page.get_by_role("button", name="Start undo").click()
        expect(page.locator("#state")).to_contain_text("Finished", timeout=20_000)
        expect(page.locator("#run-people")).to_contain_text("Reinstated")
        page.get_by_role("link", name="History").click()
        expect(page.locator("#history")).to_contain_text("Undo of an earlier run")
        assert serious(page) == []
    assert not any(simulator.users()[f"gone{i}"].suspended for i in range(4))
    assert simulator.created_counts() == {"00003": 1, "00004": 1}


def test_two_browsers_watch_one_run_and_it_outlives_a_closed_one(
    open_page: Callable[[str], Any], make_simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = make_simulator(latency_ms=200)
    with LiveServer(tmp_path / "ws", sim) as server:
        first = open_page(server.login_url())
        upload(first, write_roster(tmp_path / "s.csv", 40))
        preview_and_start(first)
        wait_done_at_least(first, 1)
        second = open_page(server.login_url())
        second.goto(first.url)
        for page in (first, second):  # both watch it live
            expect(page.get_by_role("button", name="Stop")).to_be_visible()
        wait_done_at_least(second, 5)
        first.context.close()  # closing a browser does not stop the run
        sim.set_faults(latency_ms=0)
        third = open_page(server.login_url())
        third.goto(second.url)
        for page in (second, third):
            expect(page.locator("#state")).to_contain_text("Finished", timeout=20_000)
            expect(page.get_by_role("link", name="Download results")).to_be_visible()
    assert sim.created_counts() == {f"{i:05d}": 1 for i in range(40)}


def test_bad_files_and_attacks_through_the_page(
    open_page: Callable[[str], Any], browser: Any, simulator: Simulator, tmp_path: Path
) -> None:
    with LiveServer(tmp_path / "ws", simulator, max_upload=50_000) as server:
        stranger = browser.new_context()
        try:
            visitor = stranger.new_page()
            visitor.goto(f"{server.url}/history")  # a bookmark, without a sign-in
            expect(visitor.get_by_role("heading", name="This page needs a sign-in link")
                   ).to_be_visible()
            expect(visitor.get_by_text("Ask the person who runs bulk-provision for a new "
                                       "sign-in link")).to_be_visible()
            assert stranger.request.get(f"{server.url}/runs/x/events",
                                        max_redirects=0).status == 401
        finally:
            stranger.close()
        page = open_page(server.login_url())
        cases = {
            "garbage.xlsx": (b"not a workbook" * 50, "cannot be used as a roster"),
            "empty.csv": (b"", "cannot be used as a roster"),
            "header.csv": (b"PartnerUserID,UserAddress\r\n", "no data rows"),
            "big.csv": (b"x" * 60_000, "larger than this server accepts"),
        }
        for name, (content, message) in cases.items():
            path = tmp_path / "upload.bin"
            path.write_bytes(content)
            upload(page, path, name)
            expect(page.get_by_role("alert")).to_contain_text(message)
        forged = page.request.post(f"{server.url}/check", form={"csrf": "forged"})
        assert forged.status == 403
        upload(page, SAMPLES / "roster.xlsx", "../../x.xlsx")
        expect(page.get_by_role("heading", name="x.xlsx")).to_be_visible()
        assert not (tmp_path / "x.xlsx").exists()
        assert len(list((tmp_path / "ws").glob("*/roster.xlsx"))) == 1
        page.get_by_role("link", name="History").click()
        expect(page.get_by_role("heading", name="History")).to_be_visible()


def test_the_login_page_and_the_run_list_pass_the_accessibility_check(
    browser: Any, simulator: Simulator, tmp_path: Path
) -> None:
    with LiveServer(tmp_path / "ws", simulator) as server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{server.url}/login")
            expect(page.get_by_role("heading", name="This page needs a sign-in link")
                   ).to_be_visible()
            assert serious(page) == []
        finally:
            context.close()


def test_a_roster_dropped_on_the_box_uploads(
    open_page: Callable[[str], Any], simulator: Simulator, tmp_path: Path
) -> None:
    text = write_roster(tmp_path / "s.csv", 3).read_text(encoding="utf-8")
    with LiveServer(tmp_path / "ws", simulator) as server:
        page = open_page(server.login_url())
        dropped = page.evaluate_handle(
            "(text) => { const d = new DataTransfer();"
            " d.items.add(new File([text], 'dropped.csv', {type: 'text/csv'})); return d; }",
            text)
        page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dropped})
        page.get_by_role("button", name="Upload", exact=True).click()
        expect(page.get_by_role("heading", name="dropped.csv")).to_be_visible()
        expect(page.locator("#validation-summary")).to_contain_text("3 rows")


def test_the_accessibility_check_would_catch_an_unlabelled_field(browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content('<html lang="en"><title>t</title><main><form>'
                         '<input type="text" name="x"></form></main></html>')
        assert any(v.startswith("label:") for v in serious(page))
    finally:
        context.close()


def test_the_sign_in_link_clicked_on_another_site_signs_in(
    browser: Any, simulator: Simulator, tmp_path: Path
) -> None:
    """Hostile review 6: a mail or chat page on another site links to the one-time URL; the
    SameSite=Strict cookie is not sent on a cross-site navigation, nor on its redirects."""
    import http.server
    import socketserver
    import threading

    with LiveServer(tmp_path / "ws", simulator) as live:
        html = f'<a id="go" href="{live.login_url()}">open the page</a>'.encode()

        class Mail(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the base class's name
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args: Any) -> None:
                pass

        with socketserver.TCPServer(("127.0.0.1", 0), Mail) as mail:
            threading.Thread(target=mail.serve_forever, args=(0.05,), daemon=True).start()
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(15_000)
            try:
                page.goto(f"http://localhost:{mail.server_address[1]}/")  # another site
                page.click("#go")
                page.wait_for_url(f"{live.url}/")
                expect(page).to_have_title(re.compile("^Upload"))
            finally:
                context.close()
                mail.shutdown()


def test_signing_in_to_a_second_server_does_not_sign_out_of_the_first(
    browser: Any, simulator: Simulator, tmp_path: Path
) -> None:
    """Hostile review 7: cookies ignore ports; two servers on 127.0.0.1 keep their sessions."""
    with LiveServer(tmp_path / "real", simulator) as real, \
            LiveServer(tmp_path / "demo", simulator) as demo:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            for server in (real, demo):
                page.goto(server.login_url())
                page.wait_for_url(f"{server.url}/")
            page.goto(real.url + "/")
            expect(page).to_have_title(re.compile("^Upload"))
        finally:
            context.close()


# Every GET route is a page (checked below) or a file or stream (a download, no HTML).
PAGES = ("/", "/history", "/rosters/{sha}", "/rosters/{sha}/plans/{plan}/view",
         "/rosters/{sha}/columns", "/runs/{run}", "/runs/{run}/undo", "/login")
NOT_PAGES = ("/rosters/{sha}/report", "/rosters/{sha}/plans/{plan}", "/rosters/{sha}/recipe",
             "/runs/{run}/events", "/runs/{run}/results", "/runs/{run}/failed",
             "/runs/{run}/undo/plan", "/template", "/healthz")


def test_every_page_passes_the_accessibility_check_and_fits_a_phone(
    open_page: Callable[[str], Any], simulator: Simulator, tmp_path: Path
) -> None:
    from bulk_provision.web.app import iter_routes

    gets = {path for path, methods in iter_routes() if "GET" in methods}
    assert gets == {*PAGES, *NOT_PAGES}, "a new page: add it to PAGES, so that it is checked"
    with LiveServer(tmp_path / "ws", simulator) as server:
        page = open_page(server.login_url())
        upload(page, write_roster(tmp_path / "staff.csv", 60))
        sha = page.url.rstrip("/").rsplit("/", 1)[1]
        page.get_by_role("button", name="Preview plan").click()
        page.get_by_role("link", name="To create (60)").click()
        plan = re.search(r"/plans/([^/]+)/view", page.url)
        assert plan, page.url
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#state")).to_contain_text("Finished", timeout=20_000)
        run = page.url.rstrip("/").rsplit("/", 1)[1]
        upload(page, SAMPLES / "hr_export.csv")
        expect(page.get_by_role("heading", name="hr_export.csv")).to_be_visible()
        export = re.search(r"/rosters/([0-9a-f]{64})", page.url)
        assert export, page.url
        page.goto(f"{server.url}/runs/no-such-run")  # the message page
        seen = {"a page that is not there": (serious(page), sideways_at_390(page))}
        for path in PAGES:
            url = (path.replace("{plan}", plan.group(1)).replace("{run}", run)
                   .replace("{sha}", export.group(1) if path.endswith("/columns") else sha))
            if path == "/login":
                page.get_by_role("button", name="Sign out").click()
            page.goto(server.url + url)
            seen[path] = (serious(page), sideways_at_390(page))
    assert seen == {path: ([], 0) for path in seen}
