"""The Columns step in a real browser: an HR export's columns chosen, the user-name template
previewed live as it is typed (no inline script: the CSP holds), the recipe saved, the people
provisioned with their leavers suspended, and the recipe downloaded for IT."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulk_provision.simulator import Simulator
from tests.browser.browser import LiveServer, shot
from tests.browser.test_web_browser import download, expect, serious, upload
from tests.webtools import SAMPLES

pytestmark = pytest.mark.timeout(90)


def test_an_hr_export_through_the_columns_step(
    open_page: Callable[[str], Any], make_simulator: Callable[..., Simulator],
    tmp_path: Path,
) -> None:
    sim = make_simulator(latency_ms=0)
    sim.add_user("E-10232", "siobhan.oneill.demo.glance.net")  # she left; Glance knows her
    sim.add_user("lead-1", "lead.demo.glance.net", user_role="Supervisor")  # ShowRoles lists
    sim.add_user("agent-1", "agent.demo.glance.net", user_role="Agent")  # roles somebody has
    with LiveServer(tmp_path / "ws", sim) as server:
        page = open_page(server.login_url())
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        upload(page, SAMPLES / "hr_export.csv")
        expect(page.get_by_role("heading", name="Columns of hr_export.csv")).to_be_visible()
        # the draft's choices, in the admin's words
        expect(page.get_by_label("Employee ID", exact=True)).to_have_value("PartnerUserID")
        expect(page.get_by_label("Work Email")).to_have_value("UserEmail")
        expect(page.locator("#preview-error")).to_contain_text("{your-company}")
        assert serious(page) == []
        shot(page, tmp_path, "columns")
        # typing the domain updates the preview without a click
        address = page.get_by_label("Built from the fields above (each in braces)")
        address.fill("{UserFirst|ascii|lower}.{UserLast|slug}.demo.glance.net")
        expect(page.locator("#preview-rows")).to_contain_text("amelie.dubois.demo.glance.net")
        expect(page.locator("#preview-summary")).to_contain_text("2 leavers")
        # roles from the values of Department, offering the roles Glance lists
        page.get_by_label("Sales", exact=True).select_option("Agent")
        page.get_by_label("Team Leads").select_option("Supervisor")
        expect(page.locator("#preview-rows")).to_contain_text("Supervisor")
        page.get_by_label("Save as (a name your team will recognise)").fill("Workday export")
        page.get_by_role("button", name="Save recipe and check the people").click()
        expect(page.locator("#recipe-note")).to_contain_text(
            "Read with the recipe “Workday export”: 2 leavers")
        expect(page.locator("#validation-summary")).to_contain_text("0 problems")
        assert serious(page) == []
        recipe = tomllib.loads(download(page, "Download the recipe", tmp_path).read_text())
        assert recipe["lookup"]["UserRole"]["map"] == {"Sales": "Agent",
                                                       "Team Leads": "Supervisor"}
        page.get_by_label("Add and update").check()
        page.get_by_role("button", name="Preview plan").click()
        page.get_by_role("link", name="To suspend (1)").click()
        expect(page.locator("#people")).to_contain_text("Siobhán O'Neill")
        page.get_by_role("link", name="Left, not in Glance (1)").click()
        expect(page.locator("#people")).to_contain_text("Tereza Škoda")
        page.get_by_label("Type 1 to confirm").fill("1")
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#state")).to_contain_text("Finished: every row ended well")
        # the page's own requests all succeeded (Chromium's own /favicon.ico is not one)
        assert failed == [] and [e for e in errors if "Failed to load resource" not in e] == []
    users = sim.users()
    assert users["E-10232"].suspended  # the leaver Glance knew
    assert "E-10236" not in users  # the leaver it did not: skipped, never created
    assert users["E-10234"].user_role == "Supervisor"
    assert sim.created_counts() == dict.fromkeys(
        ["000417", "000418", "000512", "E-10231", "E-10233", "E-10234", "E-10235", "E-10237"], 1)


def test_a_status_value_is_sorted_by_clicking_and_the_table_follows_the_chosen_column(
    open_page: Callable[[str], Any], make_simulator: Callable[..., Simulator],
    tmp_path: Path,
) -> None:
    sim = make_simulator(latency_ms=0)
    export = tmp_path / "export.csv"
    export.write_text("Staff No,First Name,Last Name,Employment Status\n"
                      "1,Ann,Lee,Active\n2,Bo,Ng,Gone Fishing\n", encoding="utf-8")
    with LiveServer(tmp_path / "ws", sim) as server:
        page = open_page(server.login_url())
        upload(page, export)
        page.get_by_label("Staff No").select_option("PartnerUserID")
        page.get_by_role("button", name="Update preview").click()
        expect(page.locator("#status-values")).to_contain_text("Gone Fishing")
        page.get_by_label("Built from the fields above (each in braces)").fill(
            "{UserFirst|lower}.{UserLast|lower}.demo.glance.net")
        expect(page.locator("#preview-error")).to_contain_text(
            "say which values of “Employment Status” mean that the person left")
        page.locator("#status-1-leaver").check()
        expect(page.locator("#preview-summary")).to_contain_text("1 leaver")
        expect(page.locator("#preview-summary")).to_contain_text("no problems")
        page.locator("#status-column").select_option("")
        expect(page.locator("#status-values")).to_have_count(0)
