"""Owner-only on Windows: no mode bits there, so the config and users files must lie inside the
user's profile. Run here with the platform switch flipped (``paths.WINDOWS``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_provision.errors import ConfigError
from bulk_provision.settings import paths
from bulk_provision.settings.config import Settings, check_permissions
from bulk_provision.settings.paths import outside_profile
from bulk_provision.web.auth import check_owner_only


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "Users" / "ann"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(paths, "WINDOWS", True)
    return home


def test_a_file_inside_the_profile_is_accepted(profile: Path) -> None:
    config = profile / "AppData" / "bulk-provision.toml"
    config.parent.mkdir()
    config.write_text("workers = 2\n", encoding="utf-8")
    config.chmod(0o666)  # mode bits mean nothing on Windows: the folder decides
    assert outside_profile(config) is None
    assert check_permissions(config, Settings()) == []
    check_owner_only(config)


def test_a_config_file_outside_the_profile_is_refused_with_where_to_move_it(
    profile: Path,
) -> None:
    config = profile.parent / "shared.toml"  # C:\Users\shared.toml: every user may write there
    config.write_text("workers = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        check_permissions(config, Settings())
    assert str(caught.value) == (
        f"config file {config} is not used: it is outside your user profile ({profile}), where "
        "other accounts may change it; move it into your profile, e.g. "
        "%APPDATA%\\bulk-provision\\bulk-provision.toml")


def test_a_users_file_outside_the_profile_is_refused(profile: Path) -> None:
    users = profile.parent / "users.txt"
    users.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="users file .* is not used: it is outside your user"):
        check_owner_only(users)


def test_a_link_out_of_the_profile_does_not_count_as_inside(profile: Path) -> None:
    outside = profile.parent / "elsewhere.toml"
    outside.write_text("", encoding="utf-8")
    link = profile / "looks-private.toml"
    link.symlink_to(outside)
    assert outside_profile(link) is not None
    # a sibling folder whose name merely starts with the profile's is outside too
    sibling = profile.parent / (profile.name + "-evil")
    sibling.mkdir()
    assert outside_profile(sibling / "x.toml") is not None
