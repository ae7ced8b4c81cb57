"""Helpers for the page's tests: an app over the real simulator, sign-in, CSRF tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from bulk_provision.settings.config import Settings
from bulk_provision.simulator import Simulator
from bulk_provision.web.app import WebConfig, create_app
from bulk_provision.web.auth import Access, allowed_hosts
from bulk_provision.web.engine import Connection

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"
PORT = 8750
BASE = f"http://127.0.0.1:{PORT}"
FAST = {"rate": 0, "backoff_base": 0.01, "backoff_max": 0.05, "pause_seconds": 0.05,
        "workers": 4}


def sim_env(sim: Simulator) -> dict[str, str]:
    return {"GLANCE_BASE_URL": sim.base_url, "GLANCE_CA_BUNDLE": str(sim.ca_bundle),
            "GLANCE_PARTNER_LOGIN": sim.config.partner_login,
            "GLANCE_PARTNER_PW": sim.config.partner_pw}


def web_config(workspace: Path, sim: Simulator, *, port: int = PORT, **overrides: Any) -> WebConfig:
    settings = Settings(values=dict(FAST))
    values: dict[str, Any] = {
        "workspace": workspace, "connection": Connection(settings, sim_env(sim)),
        "access": Access(), "hosts": allowed_hosts("127.0.0.1", port), "samples": SAMPLES,
    }
    values.update(overrides)
    return WebConfig(**values)


def client_for(config: WebConfig) -> TestClient:
    return TestClient(create_app(config), base_url=BASE, follow_redirects=False)


def sign_in(client: TestClient, config: WebConfig) -> None:
    """Open the one-time link, then send its page's form (as app.js does at once)."""
    answer = open_link(client, config.access.new_token())
    assert answer.status_code == 303, answer.text


def open_link(client: TestClient, once: str) -> Any:
    """The one-time link: its page, then the same-site POST that spends the token."""
    page = client.get(f"/login?token={once}")
    assert page.status_code == 200 and "set-cookie" not in page.headers, page.text
    found = re.search(r'name="token" value="([^"]+)"', page.text)
    assert found, page.text
    return client.post("/login/link", data={"token": found.group(1)})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def token(client: TestClient) -> str:
    return csrf_of(client.get("/").text)


def upload(client: TestClient, path: Path, name: str | None = None) -> Any:
    with path.open("rb") as f:
        return client.post("/upload", data={"csrf": token(client)},
                           files={"roster": (name or path.name, f, "application/octet-stream")})


def events(client: TestClient, run_path: str) -> Iterator[dict[str, Any]]:
    """The run's server-sent snapshots until the stream ends."""
    with client.stream("GET", f"{run_path}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and line != "data: {}":
                yield json.loads(line[6:])


def preview(client: TestClient, roster_path: str, **options: str) -> tuple[str, int, str]:
    """Preview the plan as the page does: (plan id, people it suspends, the plan page)."""
    data = {"csrf": token(client), "mode": "create", "max_suspend": "10%", **options}
    page = client.post(f"{roster_path}/plan", data=data)
    assert page.status_code == 200, page.text
    plan = re.search(r'name="plan" value="([^"]+)"', page.text)
    count = re.search(r'data-confirm-count="(\d+)"', page.text)
    assert plan and count, page.text
    return plan.group(1), int(count.group(1)), page.text


def start(client: TestClient, roster_path: str, **options: str) -> str:
    """Preview the plan, then Start it (typing the number of suspensions when there are)."""
    plan, suspending, page = preview(client, roster_path, **options)
    answer = client.post(f"{roster_path}/start", data={
        "csrf": csrf_of(page), "plan": plan, "confirm": str(suspending)})
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def finish(client: TestClient, run_path: str) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for snap in events(client, run_path):
        last = snap
    return last


def follow_link(http: Any, login_url: str) -> Any:
    """The one-time link in a ``requests`` session: its page, then the form app.js sends."""
    page = http.get(login_url, timeout=10)
    found = re.search(r'name="token" value="([^"]+)"', page.text)
    assert found, page.text
    base = login_url.split("/login", 1)[0]
    return http.post(f"{base}/login/link", data={"token": found.group(1)}, timeout=10)


def http_start(http: Any, roster_url: str, token: str, **options: str) -> str:
    """Preview then Start through a ``requests`` session (a real server); the run's URL."""
    data = {"csrf": token, "mode": "create", "max_suspend": "10%", **options}
    page = http.post(f"{roster_url}/plan", data=data, timeout=30).text
    plan = re.search(r'name="plan" value="([^"]+)"', page)
    count = re.search(r'data-confirm-count="(\d+)"', page)
    assert plan and count, page
    answer = http.post(f"{roster_url}/start", timeout=10, data={
        "csrf": token, "plan": plan.group(1), "confirm": count.group(1)})
    return str(answer.url)
