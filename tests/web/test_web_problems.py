"""Mistakes the page catches at upload, before Start: a misspelt role (checked against the roles
Glance lists) and an Employee ID that lost its leading zeros."""

from __future__ import annotations

import csv
import html
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulk_provision.simulator import Simulator
from tests.webtools import upload

pytestmark = pytest.mark.timeout(60)



def write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Employee ID", "Glance Address", "First Name", "Last Name", "Role"])
        for i, (key, role) in enumerate(rows):
            w.writerow([key, f"p{i}.demo.glance.net", "Ann", f"Lee{i}", role])
    return path


def test_a_misspelt_role_is_a_problem_at_upload_and_nothing_can_start(
    page: TestClient, simulator: Simulator, tmp_path: Path,
) -> None:
    simulator.add_user("900001", "boss.demo.glance.net", user_role="Supervisor")
    simulator.add_user("900002", "agent.demo.glance.net", user_role="Agent")
    roster = upload(page, write(tmp_path / "staff.csv", [
        ("000101", "Agent"), ("000102", "Supervisr"), ("000103", "Night Team")]))
    shown = html.unescape(page.get(roster.headers["location"]).text)
    assert "1 problem</strong>" in shown and "in 1 row." in shown
    assert "<li>Role is not a role in your Glance group: 1 row</li>" in shown
    assert "UserRole.known" not in shown
    assert '"Supervisr" is not a role in Glance: did you mean "Supervisor"?' in shown
    assert "Glance lists no one with these roles yet: Night Team" in shown
    assert not any(r.operation == "NewUser" for r in simulator.request_log)


def test_an_employee_id_that_lost_its_zeros_is_a_problem_by_name_at_upload(
    page: TestClient, simulator: Simulator, tmp_path: Path,
) -> None:
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Employee ID", "Glance Address", "First Name", "Last Name"])
    for i, key in enumerate(["000104", "000111", 125, "000130"]):
        sheet.append([key, f"p{i}.demo.glance.net", "Ann", f"Lee{i}"])
    path = tmp_path / "staff.xlsx"
    book.save(path)
    roster = upload(page, path)
    shown = html.unescape(page.get(roster.headers["location"]).text)
    assert "1 problem</strong>" in shown and "in 1 row." in shown
    assert "<li>Employee ID lost its leading zeros: 1 row</li>" in shown
    assert "PartnerUserID.zeros" not in shown
    assert "warning" not in shown  # the cell Excel stored as a number is told once, as a problem
    assert "125 looks like an ID that lost its leading zeros" in shown
    assert "type 000125" in shown
    assert not any(r.operation == "NewUser" for r in simulator.request_log)
