"""Shared fixtures: a real in-process HTTPS simulator per test, on a free loopback port.

The layers are folders, and each folder gives its tests a marker: ``tests/unit`` (the library,
package by package, against in-memory fakes or loopback servers of its own), ``tests/e2e`` and
``tests/web`` (``simulator``: the CLI and the page against the real HTTPS simulator),
``tests/browser`` (``browser``: headless Chromium). ``slow`` marks the few tests that take
seconds each; ``make test-fast`` runs the unit layer without them. ``scale`` marks the few
tests whose point is size (a million rows, 10,000 columns): ``make test`` leaves them out,
``make chaos`` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import defusedxml.ElementTree as DefusedET
import pytest
import requests

from bulk_provision.simulator import Simulator, SimulatorConfig

LAYER_MARKERS = {"e2e": "simulator", "web": "simulator", "browser": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the layer its folder is."""
    for item in items:
        parts = item.path.parts
        layer = parts[parts.index("tests") + 1] if "tests" in parts else ""
        if layer in LAYER_MARKERS:
            item.add_marker(LAYER_MARKERS[layer])


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A fresh simulator with the default configuration (demo account, roles Agent, Supervisor)."""
    with Simulator(SimulatorConfig()) as sim:
        yield sim


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., Simulator]]:
    """A factory: ``make_simulator(fail_rate=1.0, seed=3)`` starts a simulator with those
    SimulatorConfig overrides; every one started is stopped at teardown."""
    started: list[Simulator] = []

    def factory(**overrides: Any) -> Simulator:
        sim = Simulator(SimulatorConfig(), **overrides).start()
        started.append(sim)
        return sim

    yield factory
    for sim in reversed(started):
        sim.stop()


class RawPapi:
    """A bare PAPI caller for simulator tests: requests over real TLS, XML parsed here with
    defusedxml (never the project's wire.py, so a mistake on one side cannot cancel out)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.session.verify = str(sim.ca_bundle)
        self.auth = {"PartnerLogin": sim.config.partner_login, "PartnerPW": sim.config.partner_pw}

    def call(
        self,
        operation: str,
        *,
        method: str = "POST",
        auth: dict[str, str] | None = None,
        **params: str,
    ) -> requests.Response:
        """One request; ``auth`` replaces the default PartnerLogin/PartnerPW pair."""
        fields = {**(self.auth if auth is None else auth), **params}
        url = f"{self.sim.base_url}/PAPI/{operation}.asp"
        if method == "GET":
            return self.session.get(url, params=fields, timeout=10, allow_redirects=False)
        return self.session.post(url, data=fields, timeout=10, allow_redirects=False)

    def xml(self, operation: str, **kwargs: Any) -> ElementTree.Element:
        """The parsed XML answer of a call that must be HTTP 200 text/xml."""
        response = self.call(operation, **kwargs)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert response.content.startswith(b'<?xml version="1.0" standalone="yes"?>')
        root = DefusedET.fromstring(response.content)
        assert root.tag == "response"
        assert root[0].tag == "status"
        return root

    def ok(self, operation: str, **kwargs: Any) -> ElementTree.Element:
        root = self.xml(operation, **kwargs)
        assert root.findtext("status") == "OK", ElementTree.tostring(root)
        return root

    def error(self, operation: str, **kwargs: Any) -> str:
        """The error code of a call that must fail with an ERROR document."""
        root = self.xml(operation, **kwargs)
        assert root.findtext("status") == "ERROR", ElementTree.tostring(root)
        assert root.findtext("message")
        return root.findtext("code") or ""

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def papi(simulator: Simulator) -> Iterator[RawPapi]:
    """A RawPapi bound to the ``simulator`` fixture."""
    caller = RawPapi(simulator)
    yield caller
    caller.close()


@pytest.fixture
def papi_for() -> Iterator[Callable[[Simulator], RawPapi]]:
    """RawPapi factory for simulators made with ``make_simulator``; closed at teardown."""
    callers: list[RawPapi] = []

    def factory(sim: Simulator) -> RawPapi:
        callers.append(RawPapi(sim))
        return callers[-1]

    yield factory
    for caller in callers:
        caller.close()


def user_by_id(client: Any, partner_user_id: str) -> Any:
    """The user ShowUsers lists with exactly this PartnerUserID (``*`` in it matched literally),
    or None."""
    for user in client.show_users(partner_user_id=partner_user_id):
        if user.partner_user_id == partner_user_id:
            return user
    return None


def point_at(monkeypatch: pytest.MonkeyPatch, sim: Simulator, **overrides: str) -> None:
    """The environment names ``sim`` as the Glance to use (``GLANCE_*``, ``overrides`` on top),
    without settings that would change how it is reached (LoginKey variables, a CA bundle)."""
    for key in ("GLANCE_API_KEY", "GLANCE_PARTNER_ID", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**sim.environment(), **overrides}.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def sim(simulator: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Simulator:
    """The simulator, its GLANCE_* settings in the environment, the test's folder current."""
    monkeypatch.chdir(tmp_path)
    point_at(monkeypatch, simulator)
    return simulator


@pytest.fixture
def use_sim(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``use_sim(sim, **overrides)``: :func:`point_at` for the test's own simulator."""

    def apply(sim: Simulator, **overrides: str) -> None:
        point_at(monkeypatch, sim, **overrides)

    return apply
