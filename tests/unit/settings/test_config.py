from pathlib import Path

import pytest

from bulk_provision.errors import ConfigError
from bulk_provision.settings.config import load_settings, pick


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bulk-provision.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_file_in_working_directory_is_read(tmp_path: Path) -> None:
    write(tmp_path, 'workers = 16\nrate = 2.5\npartner_login = "admin.x.glance.net"\n')
    settings = load_settings(None, cwd=tmp_path)
    assert settings.get("workers") == 16
    assert pick(None, settings, "rate", 10) == 2.5
    assert pick(4, settings, "workers", 8) == 4  # the command line wins
    assert pick(None, settings, "max_retries", 5) == 5  # defaults last


def test_no_default_file_means_empty_settings(tmp_path: Path) -> None:
    assert load_settings(None, cwd=tmp_path).values == {}


def test_environment_wins_over_file_connection_settings(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, 'partner_login = "file.glance.net"\nbase_url = "https://a.example"\n')
    )
    env = settings.environment({"GLANCE_PARTNER_LOGIN": "env.glance.net"})
    assert env["GLANCE_PARTNER_LOGIN"] == "env.glance.net"
    assert env["GLANCE_BASE_URL"] == "https://a.example"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workers = 'many'\n", "workers has the wrong type"),
        ("skip_invalid = 1\n", "skip_invalid has the wrong type"),
        ("colour = 'red'\n", "unknown setting 'colour'"),
        ("workers = \n", "not valid TOML"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))


def test_missing_explicit_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
