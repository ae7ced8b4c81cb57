"""The signed-in page over the real simulator that most of the page's tests start from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulk_provision.simulator import Simulator
from tests.webtools import client_for, sign_in, web_config


@pytest.fixture
def page(simulator: Simulator, tmp_path: Path) -> Iterator[TestClient]:
    config = web_config(tmp_path / "ws", simulator)
    with client_for(config) as client:
        sign_in(client, config)
        yield client
