"""Signing in to the page: sign-ins outlive a restart, signing out is for good, links made by
``serve --new-link`` work on the running server, and a page opened without a sign-in says what
happened and what to do in plain words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bulk_provision.simulator import Simulator
from bulk_provision.web import links
from bulk_provision.web.auth import Access, add_user, read_users
from tests.webtools import client_for, open_link, sign_in, token, web_config

JARGON = re.compile(r"token|cookie|session|--|bulk-provision serve", re.IGNORECASE)


def words(html: str) -> str:
    """The text a person reads: the page without its tags and attributes."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", html))


def test_a_sign_in_survives_a_restart_of_the_server(tmp_path: Path, simulator: Simulator) -> None:
    config = web_config(tmp_path / "ws", simulator)
    with client_for(config) as before:
        sign_in(before, config)
        cookies = dict(before.cookies)
        csrf = token(before)
    again = web_config(tmp_path / "ws", simulator, access=Access())  # a new server process
    with client_for(again) as after:
        after.cookies.update(cookies)
        page = after.get("/")
        assert page.status_code == 200 and "Upload" in page.text
        assert token(after) == csrf  # a form left open before the restart still works
        assert after.post("/check", data={"csrf": csrf}).status_code == 200


def test_signing_out_is_for_good_and_says_so(tmp_path: Path, simulator: Simulator) -> None:
    config = web_config(tmp_path / "ws", simulator)
    with client_for(config) as client:
        sign_in(client, config)
        cookies = dict(client.cookies)
        out = client.post("/logout", data={"csrf": token(client)})
        assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
        shown = client.get(out.headers["location"])
        assert "You have signed out" in shown.text and "new sign-in link" in shown.text
        client.cookies.update(cookies)  # a copy of the old cookie is worth nothing
        assert client.get("/").status_code == 303
    again = web_config(tmp_path / "ws", simulator, access=Access())
    with client_for(again) as after:
        after.cookies.update(cookies)
        assert after.get("/").status_code == 303
        assert "Your sign-in has ended" in after.get("/login").text


def test_a_bookmark_without_a_sign_in_explains_what_to_do(page: TestClient) -> None:
    page.cookies.clear()
    bookmark = page.get("/history")
    assert bookmark.status_code == 303 and bookmark.headers["location"] == "/login"
    shown = page.get("/login")
    assert shown.status_code == 200
    text = words(shown.text)
    assert "This page needs a sign-in link" in text
    assert "Ask the person who runs bulk-provision for a new sign-in link" in text
    assert not JARGON.search(text), JARGON.search(text)


def test_an_ended_sign_in_says_so_and_a_late_form_gets_the_same_page(
    page: TestClient, tmp_path: Path
) -> None:
    access: Access = page.app.state.web.config.access  # type: ignore[attr-defined]
    csrf = token(page)
    page.cookies.clear()
    page.cookies.set(access.cookie_name, "an-expired-or-made-up-value")
    assert page.get("/").headers["location"] == "/login"
    shown = words(page.get("/login").text)
    assert "Your sign-in has ended" in shown and "10 hours" in shown
    assert "Ask the person who runs bulk-provision for a new sign-in link" in shown
    assert not JARGON.search(shown), JARGON.search(shown)
    late = page.post("/check", data={"csrf": csrf})  # a form left open overnight
    assert late.status_code == 401 and late.headers["content-type"].startswith("text/html")
    assert "Your sign-in has ended" in late.text and "csrf" not in late.text


def test_with_named_accounts_the_page_has_the_sign_in_form(
    tmp_path: Path, simulator: Simulator
) -> None:
    add_user(tmp_path / "users.txt", "alice", "correct horse battery")
    access = Access(read_users(tmp_path / "users.txt"), session_hours=8)
    config = web_config(tmp_path / "ws", simulator, access=access)
    with client_for(config) as client:
        first = client.get("/login").text
        assert "<h1>Sign in</h1>" in first and "Sign in</button>" in first
        client.cookies.set(access.cookie_name, "old")
        ended = client.get("/login").text
        assert "Your sign-in has ended" in ended and "8 hours" in ended
        assert "Sign in again with your name and password" in ended and "Sign in</button>" in ended
        assert not JARGON.search(words(ended))


def test_a_new_link_signs_in_on_the_running_server_once(
    tmp_path: Path, simulator: Simulator
) -> None:
    config = web_config(tmp_path / "ws", simulator)
    with client_for(config) as client:
        made = links.issue_link(config.workspace.resolve())  # `serve --new-link`, elsewhere
        answer = open_link(client, made)
        assert answer.status_code == 303 and config.access.cookie_name in answer.headers[
            "set-cookie"]
        assert client.get("/").status_code == 200
        client.cookies.clear()
        again = client.get(f"/login?token={made}")
        assert again.status_code == 401 and "already used" in again.text
        assert "set-cookie" not in again.headers
        assert client.post("/login/link", data={"token": made}).status_code == 401


@pytest.mark.parametrize("hours", [0.5, 1.0, 10.0, 7.5])
def test_the_page_says_how_long_a_sign_in_lasts(hours: float) -> None:
    from bulk_provision.web.signin import duration

    assert duration(hours) == {0.5: "30 minutes", 1.0: "1 hour", 10.0: "10 hours",
                               7.5: "7.5 hours"}[hours]


def test_the_sign_in_page_of_a_signed_in_browser_leads_back_to_the_page(page: TestClient) -> None:
    shown = page.get("/login")
    assert shown.status_code == 200 and "You are signed in" in shown.text
    assert 'href="/"' in shown.text and "needs a sign-in link" not in shown.text
