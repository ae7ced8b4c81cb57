"""Issue 22, hole 4: what an upload costs is bounded before it is paid. A body larger than
``--max-upload`` is stopped by the bytes actually received (whatever Content-Length said), a
chunked body is refused, and the CSRF token is compared before any file byte is spooled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import starlette.formparsers
from starlette.testclient import TestClient

from bulk_provision.simulator import Simulator
from tests.webtools import client_for, sign_in, token, upload, web_config

pytestmark = pytest.mark.timeout(90)
BOUNDARY = "bound22"


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files the multipart parser spooled (each one a temp file on disk past 1 MB)."""
    made: list[int] = []
    real = starlette.formparsers.SpooledTemporaryFile

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", counting)
    return made


@pytest.fixture
def small_page(tmp_path: Path, simulator: Simulator) -> Iterator[TestClient]:
    config = web_config(tmp_path / "ws", simulator, max_upload=1_000_000)
    with client_for(config) as client:
        sign_in(client, config)
        yield client


def body(csrf: str, payload: bytes, *, token_first: bool = True) -> bytes:
    token_part = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
                  f"{csrf}\r\n").encode()
    file_part = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="roster"; '
                 'filename="r.csv"\r\nContent-Type: text/csv\r\n\r\n').encode() + payload + b"\r\n"
    parts = token_part + file_part if token_first else file_part + token_part
    return parts + f"--{BOUNDARY}--\r\n".encode()


def post(client: TestClient, content: bytes, **headers: str) -> Any:
    return client.post("/upload", content=content, headers={
        "content-type": f"multipart/form-data; boundary={BOUNDARY}", **headers})


def test_a_body_longer_than_its_content_length_is_stopped_at_the_limit(
    small_page: TestClient, spooled: list[int]
) -> None:
    content = body(token(small_page), b"PartnerUserID\r\n" + b"x" * 3_000_000)
    answer = post(small_page, content, **{"content-length": "500"})
    assert answer.status_code == 413
    assert "larger than this server accepts (1 MB)" in answer.text
    assert spooled == []  # stopped while reading the token's part: nothing reached the spool


def test_a_chunked_upload_is_refused_before_its_body_is_read(
    small_page: TestClient, spooled: list[int]
) -> None:
    content = body(token(small_page), b"x" * 3_000_000)
    answer = post(small_page, content, **{"content-length": "500",
                                          "transfer-encoding": "chunked"})
    assert answer.status_code == 411
    assert "did not say its size" in answer.text
    assert spooled == []


def test_a_wrong_token_is_refused_before_the_file_is_spooled(
    small_page: TestClient, spooled: list[int]
) -> None:
    answer = post(small_page, body("not-the-token", b"x" * 500_000))
    assert answer.status_code == 403
    assert "security token" in answer.text
    assert spooled == []


def test_a_file_sent_before_the_token_is_refused_unspooled(
    small_page: TestClient, spooled: list[int]
) -> None:
    answer = post(small_page, body(token(small_page), b"x" * 500_000, token_first=False))
    assert answer.status_code == 403
    assert spooled == []


def test_the_page_own_form_still_uploads(small_page: TestClient, tmp_path: Path,
                                         spooled: list[int]) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text("PartnerUserID,UserAddress,UserFirst,UserLast\nE1,e1.x.glance.net,A,B\n")
    answer = upload(small_page, roster)
    assert answer.status_code == 303, answer.text
    assert spooled == [1]
