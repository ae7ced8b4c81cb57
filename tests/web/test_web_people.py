"""The people tables of the plan and the run page through on the server: 50 a screen, the
Next/Previous links keep the tab, the filter and the search, and a search narrows by name."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.e2e.test_run import write_roster
from tests.webtools import finish, preview, start, upload

pytestmark = pytest.mark.timeout(90)


def links(text: str) -> dict[str, str]:
    """The pager's links by their words: {"Next": href, "Previous": href}."""
    return {word: html.unescape(href) for href, word in
            re.findall(r'<a href="([^"]*offset=[^"]*)">(Next|Previous)</a>', text)}


def test_the_plan_and_the_run_page_through_people_keeping_tab_filter_and_search(
    page: TestClient, tmp_path: Path,
) -> None:
    roster = upload(page, write_roster(tmp_path / "staff.csv", 120)).headers["location"]
    plan, _, _ = preview(page, roster, mode="create")
    first = page.get(f"{roster}/plans/{plan}/view?tab=create").text
    assert "People 1–50 of 120" in first and "Previous" not in links(first)
    assert links(first)["Next"] == f"{roster}/plans/{plan}/view?tab=create&q=&offset=50"
    middle = page.get(links(first)["Next"]).text
    assert "People 51–100 of 120" in middle and "Lee50" in middle and "Lee49<" not in middle
    assert links(middle)["Previous"].endswith("tab=create&q=&offset=0")
    found = page.get(f"{roster}/plans/{plan}/view?tab=create&q=Lee11").text
    assert "Lee11<" in found and "Lee110<" in found and "Lee12<" not in found
    assert "class=\"pager\"" not in found  # 11 people: one screen, no pager

    run = start(page, roster, mode="create")
    assert finish(page, run)["state"] == "finished"
    done = page.get(f"{run}?show=created").text
    assert "People 1–50 of 120" in done
    assert links(done)["Next"] == f"{run}?show=created&q=&offset=50"
    last = page.get(f"{run}?show=created&offset=100").text
    assert "People 101–120 of 120" in last and "Next" not in links(last)


def test_an_offset_that_is_no_plain_number_is_the_first_screen(
    page: TestClient, tmp_path: Path,
) -> None:
    roster = upload(page, write_roster(tmp_path / "staff.csv", 3)).headers["location"]
    plan, _, _ = preview(page, roster, mode="create")
    for offset in ("%C2%B2", "9" * 5000, "-1", "1e3"):  # "²": str.isdigit says yes
        answer = page.get(f"{roster}/plans/{plan}/view?tab=create&offset={offset}")
        assert answer.status_code == 200 and "Lee0<" in answer.text, offset
