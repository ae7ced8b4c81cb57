"""The one owner-only rule, shared by the config file and the page's users file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bulk_provision.settings.paths import who_else_may_change

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX mode bits")


@pytest.mark.parametrize(("mode", "why"), [
    (0o600, None), (0o644, None), (0o400, None),
    (0o620, "other users can change it (mode 620)"),
    (0o602, "other users can change it (mode 602)"),
])
def test_a_file_others_can_write_is_named_with_its_mode(
    tmp_path: Path, mode: int, why: str | None,
) -> None:
    path = tmp_path / "f.toml"
    path.write_text("", encoding="utf-8")
    path.chmod(mode)
    assert who_else_may_change(path.stat()) == why


def test_a_file_of_another_user_is_named_with_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_text("", encoding="utf-8")
    info = os.stat_result((0o100600, 0, 0, 1, 4242, 4242, 0, 0, 0, 0))
    assert who_else_may_change(info) == "it belongs to another user (uid 4242)"
    root_owned = os.stat_result((0o100600, 0, 0, 1, 0, 0, 0, 0, 0, 0))
    assert who_else_may_change(root_owned) is None


def test_a_shared_input_that_steers_the_run_is_refused(tmp_path: Path) -> None:
    from bulk_provision.errors import ConfigError
    from bulk_provision.settings.paths import check_not_shared

    path = tmp_path / "rules.py"
    path.write_text("", encoding="utf-8")
    path.chmod(0o600)
    check_not_shared(path, "--schema file")
    path.chmod(0o666)
    with pytest.raises(ConfigError, match=r"--schema file .* other users can change it "
                                          r"\(mode 666\).*chmod 600"):
        check_not_shared(path, "--schema file")
    path.chmod(0o600)
    tmp_path.chmod(0o777)
    try:
        with pytest.raises(ConfigError, match=r"other users may replace it \(its folder has "
                                              r"mode 777\)"):
            check_not_shared(path, "--schema file")
        tmp_path.chmod(0o1777)  # sticky, as /tmp: nobody else may replace the file
        check_not_shared(path, "--schema file")
    finally:
        tmp_path.chmod(0o700)
