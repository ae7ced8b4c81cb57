"""settings.JobSpec.from_settings: option over config file over default, every check, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bulk_provision.errors import ConfigError, UsageError
from bulk_provision.settings.config import load_settings
from bulk_provision.settings.spec import JobSpec, connection_for


def config(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "bulk-provision.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return load_settings(path)


def spec(tmp_path: Path, text: str = "", env: dict[str, str] | None = None,
         **options: Any) -> JobSpec:
    return JobSpec.from_settings({"roster": tmp_path / "staff.csv", **options},
                                 config(tmp_path, text), env or {})


def test_defaults(tmp_path: Path) -> None:
    made = spec(tmp_path)
    assert (made.mode, made.engine.workers, made.engine.rate, made.engine.max_retries) == (
        "create", 8, 10.0, 5)
    assert made.endpoint == "https://www.glance.net" and made.connection.timeout == 30.0
    assert made.results_path == tmp_path / "staff.results.xlsx"
    assert made.checkpoint_path == tmp_path / "staff.csv.checkpoint.sqlite"
    assert made.max_suspend == "10%" and made.protect == [] and made.roles is None


def test_an_option_wins_over_the_file_and_the_file_over_the_default(tmp_path: Path) -> None:
    text = 'workers = 16\nrate = 20\nmode = "sync"\nroles = ["Agent"]\ntimeout = 12\n'
    from_file = spec(tmp_path, text)
    assert (from_file.engine.workers, from_file.engine.rate, from_file.mode) == (16, 20.0, "sync")
    assert from_file.roles == ["Agent"] and from_file.connection.timeout == 12.0
    given = spec(tmp_path, text, workers=2, mode="upsert", roles="A, B", timeout=3.0)
    assert (given.engine.workers, given.engine.rate, given.mode) == (2, 20.0, "upsert")
    assert given.roles == ["A", "B"] and given.connection.timeout == 3.0


def test_the_environment_wins_over_the_files_connection_and_the_login_is_protected(
    tmp_path: Path,
) -> None:
    text = 'base_url = "https://file.example"\npartner_login = "file.admin.glance.net"\n'
    made = spec(tmp_path, text, {"GLANCE_PARTNER_LOGIN": "env.admin.glance.net"},
                protect=["svc-*"])
    assert made.endpoint == "https://file.example"
    assert made.protect == ["svc-*", "env.admin.glance.net"]
    assert "env.admin" not in repr(made.connection)  # the credentials env is never shown
    bundle = connection_for({"ca_bundle": Path("x.pem")}, config(tmp_path, ""),
                            {"GLANCE_CA_BUNDLE": "env.pem"})
    assert bundle.ca_bundle == "x.pem"


@pytest.mark.parametrize(
    ("options", "text", "message"),
    [
        ({"mode": "Sync"}, "", "mode 'Sync' is not one of create, upsert, sync"),
        ({}, 'mode = "merge"', "mode 'merge' is not one of"),
        ({"audio_provider": "2"}, "", "audio_provider '2' must be 1 or 666"),
        ({"workers": 0}, "", "--workers must be between 1 and 64"),
        ({}, "workers = 65", "--workers must be between 1 and 64"),
        ({"rate": -1}, "", "--rate must be 0 (no cap) or 0.01 to 100000 requests per second"),
        ({"rate": float("nan")}, "",
         "--rate must be 0 (no cap) or 0.01 to 100000 requests per second"),
        ({"max_retries": -1}, "", "--max-retries must be 0 or more"),
        ({"max_suspend": "lots"}, "", "--max-suspend must be a count (25) or a percentage"),
        ({"max_suspend": "inf%"}, "", "--max-suspend must be a count (25) or a percentage"),
        ({"max_wait": -1}, "", "--max-wait must be 0 to 604800 seconds"),
        ({"roles": " , "}, "", "--roles needs at least one role name"),
    ],
)
def test_a_bad_setting_is_one_usage_error(
    tmp_path: Path, options: dict[str, Any], text: str, message: str,
) -> None:
    with pytest.raises(UsageError) as info:
        spec(tmp_path, text, **options)
    assert message in str(info.value) and info.value.exit_code == 2


@pytest.mark.parametrize("timeout", ["0", "-1", "3601", "nan"])
def test_a_bad_timeout_in_the_file_is_refused(tmp_path: Path, timeout: str) -> None:
    with pytest.raises(ConfigError, match="--timeout must be more than 0 and at most 3600"):
        spec(tmp_path, f"timeout = {timeout}\n")
