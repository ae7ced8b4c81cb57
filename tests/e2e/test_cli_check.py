"""``bulk-provision check`` in-process against the simulator, and the shared credential rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_provision.cli import main
from bulk_provision.errors import ConfigError, InsecureEndpointError
from bulk_provision.glance.connect import open_client, resolve_credentials
from bulk_provision.settings.connection import connection_from
from bulk_provision.simulator import Simulator

ENV_NAMES = [
    "GLANCE_BASE_URL", "GLANCE_CA_BUNDLE", "GLANCE_PARTNER_LOGIN", "GLANCE_PARTNER_PW",
    "GLANCE_API_KEY", "GLANCE_PARTNER_ID", "GLANCE_PARTNER_USER_ID",
]  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, simulator: Simulator) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GLANCE_BASE_URL", simulator.base_url)
    monkeypatch.setenv("GLANCE_CA_BUNDLE", str(simulator.ca_bundle))
    monkeypatch.setenv("GLANCE_PARTNER_LOGIN", simulator.config.partner_login)
    monkeypatch.setenv("GLANCE_PARTNER_PW", simulator.config.partner_pw)
    monkeypatch.setattr("sys.stdin", None)  # not a terminal: never prompt
    return monkeypatch


def test_check_reports_roles_and_first_page(
    env: pytest.MonkeyPatch, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(12):
        simulator.add_user(f"E{i:02d}", f"e{i:02d}.demo.glance.net", user_role="Agent")
    assert main(["check", "--timeout", "10"]) == 0
    out, err = capsys.readouterr()
    assert f"Endpoint: {simulator.base_url}" in out
    assert "Login: accepted (password)" in out
    assert "Agent: 12 active, 0 inactive, 12 in all" in out
    assert "Users on the first page (up to 10): 10; more pages exist" in out
    assert "E00  e00.demo.glance.net  Agent  active" in out
    assert simulator.config.partner_pw not in out + err
    assert [r.operation for r in simulator.request_log] == ["ShowRoles", "ShowUsers"]
    assert not any(r.committed for r in simulator.request_log)


def test_check_saves_raw_responses(
    env: pytest.MonkeyPatch,
    simulator: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out_dir = tmp_path / "responses"
    assert main(["check", "--save-responses", str(out_dir)]) == 0
    roles = (out_dir / "ShowRoles.xml").read_bytes()
    users = (out_dir / "ShowUsers.xml").read_bytes()
    assert roles.startswith(b'<?xml version="1.0" standalone="yes"?>') and b"<status>OK" in roles
    assert b"<status>OK" in users and b"nextPageStart" not in users
    assert "no more pages" in capsys.readouterr().out
    for body in (roles, users):
        assert simulator.config.partner_pw.encode() not in body
    assert sorted(p.name for p in out_dir.iterdir()) == ["ShowRoles.xml", "ShowUsers.xml"]


def test_check_with_login_key(env: pytest.MonkeyPatch, simulator: Simulator,
                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    env.delenv("GLANCE_PARTNER_PW")
    env.setenv("GLANCE_API_KEY", simulator.config.api_key)
    env.setenv("GLANCE_PARTNER_ID", simulator.config.partner_id)
    env.setenv("GLANCE_PARTNER_USER_ID", simulator.config.admin_partner_user_id)
    assert main(["check"]) == 0
    out, err = capsys.readouterr()
    assert "LoginKey" in out and simulator.config.api_key not in out + err


def test_check_wrong_password_exits_4_with_a_hint(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("GLANCE_PARTNER_PW", "not-the-password")
    assert main(["check"]) == 4
    out, err = capsys.readouterr()
    assert "rejected the partner credentials" in err and "GLANCE_PARTNER_PW" in err
    assert err.count("\n") == 1 and "not-the-password" not in out + err


def test_check_refuses_http_endpoint(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                     simulator: Simulator) -> None:  # fmt: skip
    env.setenv("GLANCE_BASE_URL", simulator.base_url.replace("https", "http"))
    assert main(["check"]) == 2
    assert "https://" in capsys.readouterr().err
    assert simulator.request_log == []


def test_check_without_the_ca_bundle_fails_cleanly(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("GLANCE_CA_BUNDLE")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "not trusted" in err and "--ca-bundle" in err and err.count("\n") == 1


def test_ca_bundle_option_wins_over_environment(
    env: pytest.MonkeyPatch, simulator: Simulator, tmp_path: Path
) -> None:
    env.setenv("GLANCE_CA_BUNDLE", str(tmp_path / "missing.pem"))
    assert main(["check", "--ca-bundle", str(simulator.ca_bundle)]) == 0


def test_check_unreachable_server(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env.setenv("GLANCE_BASE_URL", f"https://127.0.0.1:{port}")
    assert main(["check", "--timeout", "2"]) == 2
    assert "could not connect" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_timeout_must_be_positive(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "--timeout", value])
    assert info.value.code == 2


# --- credential resolution --------------------------------------------------------------------


def test_missing_login() -> None:
    with pytest.raises(ConfigError, match="GLANCE_PARTNER_LOGIN"):
        resolve_credentials({"GLANCE_PARTNER_PW": "x"})


def test_email_shaped_login() -> None:
    env = {"GLANCE_PARTNER_LOGIN": "admin@example.com", "GLANCE_PARTNER_PW": "pw"}
    with pytest.raises(ConfigError, match="host name"):
        resolve_credentials(env)


def test_missing_password_not_on_a_terminal_names_the_variables() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_credentials({"GLANCE_PARTNER_LOGIN": "admin.x.glance.net"})
    assert "GLANCE_PARTNER_PW" in str(info.value) and "GLANCE_API_KEY" in str(info.value)


def test_missing_password_on_a_terminal_is_prompted() -> None:
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return "typed-pw"

    creds = resolve_credentials(
        {"GLANCE_PARTNER_LOGIN": "admin.x.glance.net"}, prompt=prompt
    )
    assert creds.partner_pw == "typed-pw" and prompts == [
        "Glance password for admin.x.glance.net: "
    ]
    with pytest.raises(ConfigError):
        resolve_credentials({"GLANCE_PARTNER_LOGIN": "a.x"}, prompt=lambda _: "")


def test_api_key_needs_partner_and_user_id() -> None:
    env = {"GLANCE_PARTNER_LOGIN": "admin.x.glance.net", "GLANCE_API_KEY": "k",
           "GLANCE_PARTNER_ID": "5"}  # fmt: skip
    with pytest.raises(ConfigError, match="GLANCE_PARTNER_USER_ID"):
        resolve_credentials(env, prompt=lambda _: "never asked")
    creds = resolve_credentials({**env, "GLANCE_PARTNER_USER_ID": "admin"})
    assert creds.uses_login_key and creds.partner_pw is None


def test_endpoint_checked_before_any_prompt() -> None:
    env = {"GLANCE_BASE_URL": "http://www.glance.net", "GLANCE_PARTNER_LOGIN": "a.x"}
    asked: list[str] = []
    with pytest.raises(InsecureEndpointError):
        open_client(connection_from(env, timeout=5.0), pool_size=1, prompt=asked.append)
    assert asked == []
