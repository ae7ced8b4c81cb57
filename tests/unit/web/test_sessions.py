"""Sign-ins kept in the workspace: they expire, outlive a restart, end for good on sign-out,
are hashed at rest in an owner-only file; sign-in links made by another process work once."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bulk_provision.errors import ConfigError
from bulk_provision.web import links
from bulk_provision.web.auth import Access, read_users
from bulk_provision.web.sessions import MAX_SESSIONS, SESSIONS_NAME, SessionStore, digest


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def browser(access: Access, sid: str) -> dict[str, object]:
    """The ASGI scope of a request that carries ``sid`` in this server's cookie."""
    return {"headers": [(b"cookie", f"{access.cookie_name}={sid}".encode())]}


def signed_in(workspace: Path) -> tuple[Access, str]:
    access = Access()
    access.use_workspace(workspace)
    sid = access.redeem(access.new_token())
    assert sid is not None
    return access, sid


def test_a_session_ends_after_its_hours_and_is_then_forgotten(tmp_path: Path) -> None:
    clock = Clock()
    store = SessionStore(tmp_path / SESSIONS_NAME, hours=10, clock=clock)
    sid = store.open("local admin")
    clock.now += 10 * 3600 - 1
    assert store.find(sid) is not None
    clock.now += 1
    assert store.find(sid) is None
    assert json.loads((tmp_path / SESSIONS_NAME).read_text())["sessions"] == {}


def test_a_session_survives_a_restart_with_the_same_cookie_and_form_token(
    tmp_path: Path
) -> None:
    before, sid = signed_in(tmp_path)
    csrf = before.session(browser(before, sid)).csrf  # type: ignore[union-attr]
    after = Access()  # the server restarted: a new Access over the same workspace
    after.use_workspace(tmp_path)
    assert after.cookie_name == before.cookie_name  # the browser's cookie still names it
    found = after.session(browser(after, sid))
    assert found is not None and found.user == "local admin" and found.csrf == csrf
    assert not after.ended(browser(after, sid))


def test_signing_out_ends_the_session_for_good_also_after_a_restart(tmp_path: Path) -> None:
    before, sid = signed_in(tmp_path)
    before.end(browser(before, sid))
    assert before.session(browser(before, sid)) is None and before.ended(browser(before, sid))
    after = Access()
    after.use_workspace(tmp_path)
    assert after.session(browser(after, sid)) is None


def test_only_hashes_are_stored_owner_only(tmp_path: Path) -> None:
    access, sid = signed_in(tmp_path)
    path = tmp_path / SESSIONS_NAME
    text = path.read_text(encoding="utf-8")
    csrf = access.session(browser(access, sid)).csrf  # type: ignore[union-attr]
    assert sid not in text and csrf not in text
    assert digest(sid) in json.loads(text)["sessions"]
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # a copy of the file is no key: its entries are not session ids
    stolen = next(iter(json.loads(text)["sessions"]))
    assert access.session(browser(access, stolen)) is None


def test_a_restart_with_fewer_hours_applies_them(tmp_path: Path) -> None:
    clock = Clock()
    sid = SessionStore(tmp_path / SESSIONS_NAME, hours=10, clock=clock).open("alice")
    clock.now += 2 * 3600
    assert SessionStore(tmp_path / SESSIONS_NAME, hours=3, clock=clock).find(sid) is not None
    assert SessionStore(tmp_path / SESSIONS_NAME, hours=1, clock=clock).find(sid) is None


def test_the_number_of_sessions_is_bounded(tmp_path: Path) -> None:
    clock = Clock()
    store = SessionStore(tmp_path / SESSIONS_NAME, clock=clock)
    first = store.open("local admin")
    for _ in range(MAX_SESSIONS):
        clock.now += 1
        last = store.open("local admin")
    assert len(store) == MAX_SESSIONS
    assert store.find(first) is None and store.find(last) is not None


def test_a_broken_sessions_file_means_signing_in_again(tmp_path: Path) -> None:
    (tmp_path / SESSIONS_NAME).write_text("{not json", encoding="utf-8")
    access, sid = signed_in(tmp_path)
    assert access.session(browser(access, sid)) is not None


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_a_sessions_file_others_may_write_is_refused(tmp_path: Path) -> None:
    signed_in(tmp_path)
    (tmp_path / SESSIONS_NAME).chmod(0o666)
    with pytest.raises(ConfigError, match="sessions file .* other users can change it"):
        Access().use_workspace(tmp_path)


def test_a_session_counts_only_for_the_way_the_server_now_signs_in(tmp_path: Path) -> None:
    from bulk_provision.web.auth import add_user

    users_file = tmp_path / "users.txt"
    add_user(users_file, "alice", "correct horse battery")
    add_user(users_file, "bob", "correct horse battery")
    workspace = tmp_path / "ws"
    workspace.mkdir(mode=0o700)
    named = Access(read_users(users_file))
    named.use_workspace(workspace)
    _, alice = named.sign_in("alice", "correct horse battery")
    _, bob = named.sign_in("bob", "correct horse battery")
    _, link_sid = signed_in(workspace)
    add_user(users_file, "bob", "another long password")  # bob stays
    users = read_users(users_file)
    del users["alice"]  # alice was taken out of the users file, then the server restarted
    after = Access(users)
    after.use_workspace(workspace)
    assert after.session(browser(after, alice)) is None
    assert after.session(browser(after, bob)) is not None
    assert after.session(browser(after, link_sid)) is None  # a link sign-in needs no --users
    plain = Access()
    plain.use_workspace(workspace)
    assert plain.session(browser(plain, bob)) is None
    assert plain.session(browser(plain, link_sid)) is not None


def test_a_new_link_works_once_within_its_minutes_and_only_its_hash_is_written(
    tmp_path: Path
) -> None:
    token = links.issue_link(tmp_path)  # what `serve --new-link` does, in another process
    files = list((tmp_path / links.LINKS_NAME).iterdir())
    assert [f.name for f in files] == [digest(token)]
    assert token not in files[0].read_text(encoding="utf-8")
    access = Access()
    access.use_workspace(tmp_path)
    assert access.token_valid(token) and access.token_valid(token)  # looking spends nothing
    assert access.redeem(token) is not None
    assert access.redeem(token) is None and not access.token_valid(token)
    old = links.issue_link(tmp_path, now=0)  # made long ago: expired
    assert not access.token_valid(old) and access.redeem(old) is None
    assert access.redeem("not-a-link") is None


def test_waiting_links_are_bounded_and_expired_ones_removed(tmp_path: Path) -> None:
    links.issue_link(tmp_path, now=0)
    tokens = [links.issue_link(tmp_path) for _ in range(links.MAX_LINKS + 5)]
    assert len(list((tmp_path / links.LINKS_NAME).iterdir())) == links.MAX_LINKS
    assert links.link_waiting(tmp_path, tokens[-1])


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_links_in_a_folder_others_may_enter_are_not_trusted(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    token = links.issue_link(tmp_path)
    (tmp_path / links.LINKS_NAME).chmod(0o777)
    access = Access()
    access.use_workspace(tmp_path)
    assert not access.token_valid(token) and access.redeem(token) is None
    with pytest.raises(ConfigError, match="is not owner-only"):
        links.issue_link(tmp_path)


def test_links_do_not_sign_in_where_named_accounts_are_used(tmp_path: Path) -> None:
    from bulk_provision.web.auth import add_user

    add_user(tmp_path / "users.txt", "alice", "correct horse battery")
    token = links.issue_link(tmp_path)
    access = Access(read_users(tmp_path / "users.txt"))
    access.use_workspace(tmp_path)
    assert not access.token_valid(token) and access.redeem(token) is None
