"""Uploads are validated in a worker process: not in the server's (whose GIL the other users'
pages need), without any secret, and a worker that dies costs only that upload."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bulk_provision.web import pages, validator
from tests.e2e.test_run import write_roster
from tests.webtools import upload

pytestmark = pytest.mark.timeout(60)


def where_am_i(secret_names: list[str]) -> dict[str, Any]:
    """Run in the worker: its process id, and which of the secrets its environment holds."""
    return {"pid": os.getpid(), "secrets": [n for n in secret_names if os.environ.get(n)]}


def test_the_work_runs_in_another_process_and_a_dead_worker_is_replaced() -> None:
    seen = validator.in_worker(where_am_i, list(validator.SECRET_ENV))
    assert seen["pid"] != os.getpid()
    with pytest.raises(validator.WorkerDied):
        validator.in_worker(os._exit, 3)  # the worker ends without an answer
    again = validator.in_worker(where_am_i, [])
    assert again["pid"] not in (os.getpid(), seen["pid"])  # a new pool, a new worker


def test_the_worker_gets_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLANCE_PARTNER_PW", "a-cron-jobs-password")
    with pytest.raises(validator.WorkerDied):
        validator.in_worker(os._exit, 3)  # the next worker starts with this environment
    assert validator.in_worker(where_am_i, list(validator.SECRET_ENV))["secrets"] == []
    env = {"GLANCE_PARTNER_PW": "pw", "GLANCE_API_KEY": "k", "GLANCE_SMTP_PASSWORD": "s",
           "GLANCE_BASE_URL": "https://x.example"}
    assert validator.without_secrets(env) == {"GLANCE_BASE_URL": "https://x.example"}


def test_an_upload_whose_worker_dies_gets_a_clear_message_and_the_page_goes_on(
    page: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def dies(*_args: object) -> dict[str, Any]:
        raise validator.WorkerDied("terminated abruptly")

    monkeypatch.setattr(pages, "in_worker", dies)
    answer = upload(page, write_roster(tmp_path / "staff.csv", 3))
    assert answer.status_code == 400
    assert "staff.csv cannot be used as a roster: reading it stopped before it finished" \
        in answer.text
    monkeypatch.undo()
    assert upload(page, write_roster(tmp_path / "staff.csv", 3)).status_code == 303
    assert page.get("/history").status_code == 200
