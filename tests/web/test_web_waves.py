"""The page's "Run only the rows shown": a plan tab under a search becomes a wave of the file,
and Start carries out that wave alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulk_provision.simulator import Simulator
from tests.e2e.test_run import write_roster
from tests.webtools import csrf_of, finish, preview, upload

pytestmark = pytest.mark.timeout(90)


def test_run_only_the_rows_shown_sends_those_people_alone(
    page: TestClient, simulator: Simulator, tmp_path: Path,
) -> None:
    roster = upload(page, write_roster(tmp_path / "staff.csv", 30)).headers["location"]
    plan, _, whole = preview(page, roster, mode="create")
    assert "Run only the rows shown" not in whole  # the whole plan is shown: nothing to narrow
    shown = page.get(f"{roster}/plans/{plan}/view?tab=create&q=Lee1").text
    assert "Run only the rows shown" in shown and "these 11 people only" in shown
    answer = page.post(f"{roster}/plans/{plan}/only",
                       data={"csrf": csrf_of(shown), "tab": "create", "q": "Lee1"})
    assert answer.status_code == 200, answer.text
    wave = answer.text
    assert "Only some rows of the file: rows 3,12-21 (11 people)" in wave
    assert "--rows" not in wave and "--where" not in wave  # the page's words, not options
    narrowed = re.search(r'name="plan" value="([^"]+)"', wave)
    assert narrowed and narrowed.group(1) != plan
    started = page.post(f"{roster}/start", data={"csrf": csrf_of(wave),
                                                  "plan": narrowed.group(1), "confirm": "0"})
    assert started.status_code == 303, started.text
    assert finish(page, started.headers["location"])["state"] == "finished"
    for screen in (started.headers["location"], "/history"):  # the run says it was a wave
        assert "only rows 3,12-21 of the file" in page.get(screen).text
    made = sorted(r.partner_user_id for r in simulator.request_log
                  if r.operation == "NewUser" and r.committed)
    assert made == [f"{i:05d}" for i in (1, *range(10, 20))]


def test_a_full_sync_is_never_narrowed(page: TestClient, tmp_path: Path) -> None:
    roster = upload(page, write_roster(tmp_path / "staff.csv", 10)).headers["location"]
    plan, _, _ = preview(page, roster, mode="sync", max_suspend="100%")
    shown = page.get(f"{roster}/plans/{plan}/view?tab=create&q=Lee1").text
    assert "Run only the rows shown" not in shown
    answer = page.post(f"{roster}/plans/{plan}/only",
                       data={"csrf": csrf_of(shown), "tab": "create", "q": "Lee1"})
    assert answer.status_code == 400
    assert "Full sync takes the whole file" in answer.text


def test_nobody_shown_is_nothing_to_run(page: TestClient, tmp_path: Path) -> None:
    roster = upload(page, write_roster(tmp_path / "staff.csv", 10)).headers["location"]
    plan, _, whole = preview(page, roster, mode="create")
    answer = page.post(f"{roster}/plans/{plan}/only",
                       data={"csrf": csrf_of(whole), "tab": "create", "q": "nobody-at-all"})
    assert answer.status_code == 400 and "Nobody is shown here" in answer.text
