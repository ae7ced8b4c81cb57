"""Issue 17: the page speaks an HR admin's words where the engine and Glance speak in codes, and
keeps the code one click away for IT."""

from __future__ import annotations

import csv
import html
from pathlib import Path

from starlette.testclient import TestClient

from bulk_provision.simulator import Simulator
from bulk_provision.web.words import glance_words, rule_words
from tests.webtools import finish, start, token, upload


def test_rules_and_glance_codes_in_words() -> None:
    assert rule_words("PartnerUserID.zeros") == "Employee ID lost its leading zeros"
    assert rule_words("UserAddress.unique") == "Glance user name is used by more than one row"
    assert rule_words("a message, not a rule") == "a message, not a rule"
    assert rule_words("Cost Centre.control") == "Cost Centre has invisible control characters"
    words, detail = glance_words("NO_ROLE: role 'Night Team' is not provisioned in this group")
    assert words.startswith("The role is not set up in your Glance group")
    assert detail == "NO_ROLE: role 'Night Team' is not provisioned in this group"
    assert glance_words("timed out after 3 tries") == ("timed out after 3 tries", "")
    assert glance_words("INVALID: UserFirst too long")[0] == (
        "Glance refused a value in this row: UserFirst too long")


def test_check_connection_says_when_glance_lists_no_roles(page: TestClient) -> None:
    checked = html.unescape(page.post("/check", data={"csrf": token(page)}).text)
    assert "Glance lists no roles yet" in checked and "cannot be checked" in checked
    assert "roles: ." not in checked


def test_a_role_glance_lacks_fails_in_words_with_the_code_one_click_away(
    page: TestClient, simulator: Simulator, tmp_path: Path,
) -> None:
    simulator.add_user("900001", "boss.demo.glance.net", user_role="Supervisor")
    path = tmp_path / "staff.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Employee ID", "Glance Address", "First Name", "Last Name", "Role"])
        w.writerow(["000101", "ann.demo.glance.net", "Ann", "Lee", "Night Team"])
    answer = upload(page, path)
    roster = answer.headers["location"]
    run = start(page, roster)
    assert finish(page, run)["state"] in ("finished", "failed")
    shown = html.unescape(page.get(run).text)
    assert ('<details class="why"><summary>The role is not set up in your Glance group'
            in shown)
    assert "<code>NO_ROLE: " in shown  # the code, for IT, inside the disclosure
    assert [r.operation for r in simulator.request_log].count("NewUser") == 1
