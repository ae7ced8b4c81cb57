"""The page's Columns step against the real simulator: an HR export from upload to a run with
leavers, the recipe saved and offered again, downloaded and uploaded."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulk_provision.recipe.file import parse_recipe
from bulk_provision.simulator import Simulator
from tests.webtools import SAMPLES, csrf_of, finish, start, upload

pytestmark = pytest.mark.timeout(90)
EXPORT = SAMPLES / "hr_export.csv"



def choices(text: str) -> dict[str, str]:
    """The Columns form as the browser would send it unchanged."""
    form = text.split('id="columns-form"', 1)[1].split("</form>", 1)[0]
    data: dict[str, str] = {}
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', form,
                                 re.S):
        chosen = re.search(r'<option value="([^"]*)"\s+selected', body)
        data[name] = html.unescape(chosen.group(1)) if chosen else ""
    for name, value in re.findall(r'<input type="text" id="[^"]+" name="([^"]+)" value="([^"]*)"',
                                  form):
        data[name] = html.unescape(value)
    for name, value in re.findall(
            r'<input type="radio" name="([^"]+)" id="[^"]+" value="([^"]+)" checked', form):
        data[name] = value
    data["csrf"] = csrf_of(text)
    return data


def test_an_hr_export_goes_from_upload_to_a_run_with_leavers(
    page: TestClient, simulator: Simulator,
) -> None:
    simulator.add_user("E-10232", "siobhan.oneill.demo.glance.net")  # a leaver Glance knows
    answer = upload(page, EXPORT)
    assert answer.status_code == 303
    columns_url = answer.headers["location"]
    assert columns_url.endswith("/columns")
    text = page.get(columns_url).text
    form = choices(text)
    # the draft: the headers' fields, the leavers sorted, the departments listed
    assert form["field-0"] == "PartnerUserID" and form["field-3"] == "UserEmail"
    assert form["status_column"] == "Status" and form["role_column"] == "Department"
    assert "{your-company}" in form["address"]
    assert "Not ready yet" in text and "still says {your-company}" in html.unescape(text)
    # the live preview: the server computes the first rows from the admin's choices
    form["address"] = form["address"].replace("{your-company}", "demo")
    form["role-2"] = "Agent"  # Sales
    preview = page.post(f"{columns_url}/preview", data=form)
    shown = html.unescape(preview.text)
    assert preview.status_code == 200 and "jose.nunez.demo.glance.net" in shown
    assert "10 people; 2 leavers" in shown and "no problems" in shown
    # save: the roster is validated with the recipe
    form.update(do="save", name="Workday export")
    saved = page.post(columns_url, data=form)
    assert saved.status_code == 303, html.unescape(saved.text)[-2000:]
    roster_url = saved.headers["location"]
    roster = html.unescape(page.get(roster_url).text)
    assert "Read with the recipe “Workday export”: 2 leavers" in roster
    assert "10 rows, <strong>0 problems</strong>" in roster
    run = start(page, roster_url, mode="upsert")
    assert finish(page, run)["ending"].startswith("Finished: every row ended well")
    users = simulator.users()
    assert users["E-10232"].suspended
    assert "E-10236" not in users  # a leaver Glance did not know: skipped, never created
    assert users["E-10231"].user_role == "Agent" and users["000417"].user_role == ""
    assert users["000417"].user_address == "jose.nunez.demo.glance.net"


def test_the_saved_recipe_is_offered_for_the_next_export_and_travels_as_a_file(
    page: TestClient, tmp_path: Path,
) -> None:
    first = upload(page, EXPORT).headers["location"]
    form = choices(page.get(first).text)
    form.update(address="{UserFirst|ascii|lower}.{UserLast|slug}.demo.glance.net", do="save",
                name="Workday export")
    roster_url = page.post(first, data=form).headers["location"]
    recipe = page.get(f"{roster_url}/recipe")
    assert recipe.status_code == 200
    assert 'filename="workday-export.recipe.toml"' in recipe.headers["content-disposition"]
    parse_recipe(recipe.content, "downloaded")  # the command line reads what the page wrote
    # next month's export: other rows, the same headers
    later = tmp_path / "hr_export_december.csv"
    shutil.copy(EXPORT, later)
    with later.open("a", encoding="utf-8") as f:
        f.write("E-20001,Ann,Lee,ann.lee@example.com,Sales,Active,2026-12-01,CC-200\n")
    columns_url = upload(page, later).headers["location"]
    offer = page.get(columns_url).text
    assert "A saved recipe fits these columns" in offer and "Use “Workday export”" in \
        html.unescape(offer)
    used = page.post(f"{columns_url.rsplit('/', 1)[0]}/recipe",
                     data={"csrf": csrf_of(offer), "saved": "workday-export"})
    assert used.status_code == 303
    assert "11 rows, <strong>0 problems</strong>" in page.get(used.headers["location"]).text


def test_a_recipe_file_that_does_not_fit_is_refused_in_plain_words(page: TestClient) -> None:
    columns_url = upload(page, EXPORT).headers["location"]
    text = page.get(columns_url).text
    base = columns_url.rsplit("/", 1)[0]
    bad = b'[columns]\nPartnerUserID = "Staff Number"\n'
    answer = page.post(f"{base}/recipe", data={"csrf": csrf_of(text)},
                       files={"recipe": ("other.recipe.toml", bad, "application/toml")})
    shown = html.unescape(answer.text)
    assert answer.status_code == 400
    assert 'This recipe does not fit this file: PartnerUserID = "Staff Number", but ' \
           'hr_export.csv has no column "Staff Number"' in shown
    not_toml = page.post(f"{base}/recipe", data={"csrf": csrf_of(text)},
                         files={"recipe": ("x.toml", b"[columns\n", "application/toml")})
    assert not_toml.status_code == 400 and "is not valid TOML" in not_toml.text
    assert "Traceback" not in shown


def test_a_recipe_upload_is_bounded_before_it_is_read(page: TestClient) -> None:
    columns_url = upload(page, EXPORT).headers["location"]
    base = columns_url.rsplit("/", 1)[0]
    token = csrf_of(page.get(columns_url).text)
    big = b"# " + b"x" * (2 * 1024 * 1024)
    answer = page.post(f"{base}/recipe", data={"csrf": token},
                       files={"recipe": ("big.toml", big, "application/toml")})
    assert answer.status_code == 413 and "small text file" in answer.text
    forged = page.post(f"{base}/recipe", data={"csrf": "forged"},
                       files={"recipe": ("r.toml", b"[columns]\n", "application/toml")})
    assert forged.status_code == 403


def test_the_finished_run_lists_everyone_by_name_with_the_failed_rows_to_fix(
    page: TestClient, simulator: Simulator, tmp_path: Path,
) -> None:
    from tests.e2e.test_run import write_roster
    from tests.webtools import preview

    simulator.add_user("00002", "taken.demo.glance.net")  # exists: reported, not failed
    roster = upload(page, write_roster(tmp_path / "staff.csv", 6)).headers["location"]
    plan, _, plan_page = preview(page, roster)
    assert "To create (6)" in plan_page and "Zoë Lee0" in html.unescape(plan_page)
    found = page.get(f"{roster}/plans/{plan}/view?tab=create&q=zo%C3%AB%20lee").text
    assert "To create: 2 matching “zoë lee”" in html.unescape(found)
    run = start(page, roster)
    assert finish(page, run)["state"] == "finished"
    shown = html.unescape(page.get(run).text)
    assert "Everyone in this run" in shown and "Already in Glance (1)" in shown
    assert "Added (5)" in shown and "Ann Lee4" in shown and "Zoë Lee0" in shown
    only = html.unescape(page.get(f"{run}?show=exists").text)
    assert "1 person: Already in Glance" in only and "DUPLICATE_ID" in only
    assert page.get(f"{run}/failed").status_code == 404  # nothing failed: nothing to fix
    template = page.get("/template")
    assert template.status_code == 200 and template.content.startswith(b"PK")
