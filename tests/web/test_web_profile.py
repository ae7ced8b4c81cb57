"""A production profile on the page: named on every screen, a banner that cannot be missed, and
Start asks for the number of people the plan changes (checked by the server too)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from starlette.testclient import TestClient

from bulk_provision.settings.config import Settings
from bulk_provision.simulator import Simulator
from bulk_provision.web.engine import Connection
from tests.e2e.test_run import write_roster
from tests.webtools import FAST, client_for, csrf_of, preview, sign_in, sim_env, upload, web_config


def test_a_production_profile_is_shown_everywhere_and_every_start_is_typed(
    simulator: Simulator, tmp_path: Path,
) -> None:
    settings = Settings(values=dict(FAST), profile="production", production=True)
    config = web_config(tmp_path / "ws", simulator,
                        connection=Connection(settings, sim_env(simulator)))
    with client_for(config) as page:
        sign_in(page, config)
        for path in ("/", "/history"):
            shown = page.get(path).text
            assert "profile <strong>production</strong>" in shown and 'id="production"' in shown
        roster = upload(page, write_roster(tmp_path / "staff.csv", 3)).headers["location"]
        plan, count, text = preview(page, roster, mode="create")
        assert count == 3  # three people added: typed, though nobody is suspended
        assert "Production: this changes 3 people in the real Glance." in html.unescape(text)
        refused = page.post(f"{roster}/start", data={"csrf": csrf_of(text), "plan": plan})
        assert refused.status_code == 400 and "Type 3 to confirm" in refused.text
        assert not [r for r in simulator.request_log if r.operation == "NewUser"]
        started = page.post(f"{roster}/start", data={"csrf": csrf_of(text), "plan": plan,
                                                      "confirm": "3"})
        assert started.status_code == 303 and re.match(r"/runs/", started.headers["location"])


def test_without_a_production_profile_only_suspensions_are_typed(
    page: TestClient, tmp_path: Path,
) -> None:
    assert 'id="production"' not in page.get("/").text
    roster = upload(page, write_roster(tmp_path / "staff.csv", 3)).headers["location"]
    _, count, text = preview(page, roster, mode="create")
    assert count == 0 and 'id="confirm"' not in text
