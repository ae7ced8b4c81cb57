"""Undo this run, on the page, against the real simulator: the undo plan by name first, the
typed confirmation, then a run of its own in History that puts Glance back."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulk_provision.simulator import Simulator
from tests.e2e.test_run import write_roster
from tests.webtools import csrf_of, finish, start, upload

pytestmark = pytest.mark.timeout(90)



def test_a_run_is_undone_after_its_people_are_checked_and_their_number_typed(
    page: TestClient, simulator: Simulator, tmp_path: Path,
) -> None:
    simulator.add_user("00003", "kept.demo.glance.net", user_first="Old", user_last="Timer",
                       user_email="old@example.com")
    roster = upload(page, write_roster(tmp_path / "staff.csv", 5)).headers["location"]
    run = start(page, roster, mode="upsert")
    assert finish(page, run)["state"] == "finished"
    assert not simulator.users()["00001"].suspended
    run_page = page.get(run).text
    assert "Undo this run" in run_page

    planned = page.post(f"{run}/undo", data={"csrf": csrf_of(run_page)})
    assert planned.status_code == 303 and planned.headers["location"] == f"{run}/undo"
    shown = html.unescape(page.get(f"{run}/undo").text)
    # the four people it added are suspended; the one it changed gets its old fields back
    assert shown.count("Suspend (this run added or reinstated them)") == 4
    assert "Zoë Lee0" in shown and "Ann Lee4" in shown
    assert "Change back" in shown and "Email: u3@example.com → old@example.com" in shown
    assert "Type 4 to confirm" in shown
    assert page.get(f"{run}/undo/plan").content.startswith(b"PK")
    before = len(simulator.request_log)

    refused = page.post(f"{run}/undo/start", data={"csrf": csrf_of(shown), "confirm": "5"})
    assert refused.status_code == 400
    assert "Type 4 to confirm that 4 people lose access" in html.unescape(refused.text)
    assert len(simulator.request_log) == before  # nothing was sent

    answer = page.post(f"{run}/undo/start", data={"csrf": csrf_of(shown), "confirm": "4"})
    assert answer.status_code == 303
    undo_run = str(answer.headers["location"])
    assert finish(page, undo_run)["state"] == "finished"
    assert all(simulator.users()[k].suspended for k in ("00000", "00001", "00002", "00004"))
    kept = simulator.users()["00003"]
    assert not kept.suspended and kept.user_email == "old@example.com"
    assert kept.user_first == "Old"

    done = html.unescape(page.get(undo_run).text)
    assert "Undo of the run of staff.csv" in done and "Undo of an earlier run" in done
    assert "Suspended (4)" in done and "Updated (1)" in done and "Zoë Lee0" in done
    assert "Download results" in done and "Undo this run" not in done
    original = html.unescape(page.get(run).text)
    assert "Undone:" in original and "Undo this run" not in original
    assert "Undo of an earlier run" in html.unescape(page.get("/history").text)
    again = page.post(f"{run}/undo", data={"csrf": csrf_of(original)})
    assert again.status_code == 409 and "Only the latest finished run" in again.text


def test_an_undo_with_nothing_to_put_back_says_so(
    page: TestClient, simulator: Simulator, tmp_path: Path,
) -> None:
    for i in range(3):
        simulator.add_user(f"{i:05d}", f"user{i}.demo.glance.net")
    roster = upload(page, write_roster(tmp_path / "staff.csv", 3)).headers["location"]
    run = start(page, roster)  # add new people only: all three exist already
    assert finish(page, run)["state"] == "finished"
    page.post(f"{run}/undo", data={"csrf": csrf_of(page.get(run).text)})
    shown = page.get(f"{run}/undo").text
    assert "Nothing to undo" in shown and 'id="start"' not in shown


def test_only_the_latest_run_of_a_roster_offers_undo(
    page: TestClient, simulator: Simulator, tmp_path: Path,
) -> None:
    roster = upload(page, write_roster(tmp_path / "staff.csv", 2)).headers["location"]
    first = start(page, roster)
    finish(page, first)
    second = start(page, roster)
    finish(page, second)
    assert "Undo this run" not in page.get(first).text
    assert "Undo this run" in page.get(second).text
    refused = page.post(f"{first}/undo", data={"csrf": csrf_of(page.get(first).text)})
    assert refused.status_code == 409
    assert re.search(r"a later run of the\s+same roster", refused.text)
