"""R6: every broken roster of the CLI's R3 corpus, uploaded through the page: a clear message on
the page (or the problem rows), never a traceback, and the server keeps serving."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulk_provision.settings.config import Settings
from bulk_provision.web.app import WebConfig
from bulk_provision.web.auth import Access, allowed_hosts
from bulk_provision.web.engine import Connection
from tests.e2e.test_reliability_rosters import CASES, case_params
from tests.webtools import PORT, client_for, sign_in, upload

pytestmark = pytest.mark.timeout(60)
THROUGH_THE_PAGE = [name for name, case in CASES.items() if not case.args]
# the command line reads the first sheet unless --sheet; the page finds the roster's sheet
PAGE_FINDS_THE_SHEET = {"several sheets, notes first"}
GOES_TO_COLUMNS = {"missing required column"}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("web-rosters")
    config = WebConfig(
        workspace=folder / "ws", access=Access(), hosts=allowed_hosts("127.0.0.1", PORT),
        connection=Connection(Settings(), {"GLANCE_BASE_URL": "https://127.0.0.1:9"}),
    )
    with client_for(config) as client:
        sign_in(client, config)
        yield client


def test_the_corpus_is_large() -> None:
    assert len(THROUGH_THE_PAGE) >= 30


@pytest.mark.parametrize("name", case_params(THROUGH_THE_PAGE))
def test_a_broken_roster_through_the_page(name: str, page: TestClient, tmp_path: Path) -> None:
    case = CASES[name]
    path = case.build(tmp_path)
    answer = upload(page, path)
    text = html.unescape(answer.text)
    assert "Traceback" not in text and answer.status_code in (303, 400), text
    exit_code = 0 if name in PAGE_FINDS_THE_SHEET else case.exit
    if name in GOES_TO_COLUMNS:  # readable, not in Glance's shape: the Columns step
        assert answer.status_code == 303 and answer.headers["location"].endswith("/columns")
        assert case.says in html.unescape(page.get(answer.headers["location"][:-8]).text)
    elif exit_code == 2:
        assert answer.status_code == 400
        shown = text.split('role="alert"', 1)[1].split("</p>", 1)[0]
        assert case.says in shown or "not a roster file" in shown, shown
    else:
        roster = page.get(answer.headers["location"]).text
        if exit_code == 0:
            assert "0 problems</strong>" in roster
        else:
            assert re.search(r"<strong>[1-9][0-9,]* problems?</strong>", roster), roster
        if exit_code == 3:
            assert "0 problems" not in roster and 'id="problems"' in roster
    assert page.get("/").status_code == 200
