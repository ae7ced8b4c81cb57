"""``[profile.NAME]`` tables in the config file: chosen by --profile or BULK_PROVISION_PROFILE,
over the flat keys (the default profile); an unknown one refused with the known ones listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_provision.cli import main
from bulk_provision.errors import ConfigError
from bulk_provision.settings.config import PROFILE_ENV, load_settings

CONFIG = """
base_url = "https://staging.example.glance.net"
partner_login = "admin.staging"
max_suspend = "10%"

[profile.staging]
max_suspend = 5

[profile.production]
production = true
base_url = "https://www.glance.net"
partner_login = "admin.prod"
protect = ["admin*"]
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    path = tmp_path / "bulk-provision.toml"
    path.write_text(CONFIG, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_profile_overlays_the_flat_keys_and_the_flat_keys_stay_the_default(
    config: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    flat = load_settings(config)
    assert (flat.profile, flat.production, flat.get("max_suspend")) == ("", False, "10%")
    assert flat.connection_env["GLANCE_BASE_URL"] == "https://staging.example.glance.net"
    staging = load_settings(config, profile="staging")
    assert (staging.profile, staging.get("max_suspend")) == ("staging", 5)
    assert staging.connection_env["GLANCE_PARTNER_LOGIN"] == "admin.staging"
    monkeypatch.setenv(PROFILE_ENV, "production")
    production = load_settings(config)
    assert (production.profile, production.production) == ("production", True)
    assert production.connection_env["GLANCE_BASE_URL"] == "https://www.glance.net"
    assert production.get("protect") == ["admin*"] and production.get("max_suspend") == "10%"
    assert load_settings(config, profile="staging").profile == "staging"  # the option wins


@pytest.mark.parametrize(("text", "profile", "said"), [
    (CONFIG, "prod", "has no profile 'prod' (known: production, staging)"),
    (CONFIG.replace("max_suspend = 5", "max_suspnd = 5"), "staging",
     "[profile.staging] has an unknown setting 'max_suspnd'"),
    ('[profile]\nstaging = 3\n', "staging", "profiles are tables"),
    ('[profile.production]\nproduction = "yes"\n', "production", "true or false"),
])
def test_a_wrong_profile_is_refused_naming_what_to_write(
    config: Path, text: str, profile: str, said: str,
) -> None:
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, profile=profile)
    assert said in str(caught.value)


def test_the_command_line_refuses_an_unknown_profile_with_exit_2(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text("PartnerUserID,UserAddress\n1,a.demo.glance.net\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["plan", str(roster), "--profile", "prod"]) == 2
    assert "has no profile 'prod' (known: production, staging)" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert main(["plan", str(roster), "--profile", "staging"]) == 2
    assert "there is no config file" in capsys.readouterr().err
