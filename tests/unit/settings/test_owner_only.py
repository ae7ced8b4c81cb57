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
