"""The page's workspace on its own: shown names, accepted suffixes, owner-only files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bulk_provision.errors import UsageError
from bulk_provision.web.workspace import (
    NAME_LIMIT,
    display_name,
    make_dir,
    read_json,
    suffix_of,
    write_json,
)


@pytest.mark.parametrize(("uploaded", "shown"), [
    ("C:\\Users\\hr\\staff.xlsx", "staff.xlsx"),
    ("../../etc/staff.csv", "staff.csv"),
    ("sta\x1b[31mff.csv", "sta[31mff.csv"),
    ("", "roster"),
    ("\x00\x07", "roster"),
])
def test_the_shown_name_is_the_last_part_printable(uploaded: str, shown: str) -> None:
    assert display_name(uploaded) == shown


def test_a_long_name_is_shortened_in_its_stem_and_keeps_its_suffix() -> None:
    shown = display_name("x" * 500 + ".xlsx")
    assert len(shown) <= NAME_LIMIT and shown.endswith("….xlsx")


def test_only_roster_suffixes_are_accepted() -> None:
    assert suffix_of("Staff.XLSX") == ".xlsx"
    with pytest.raises(UsageError, match="not a roster file; upload an Excel workbook"):
        suffix_of("staff.pdf")


def test_folders_and_files_are_owner_only(tmp_path: Path) -> None:
    folder = make_dir(tmp_path / "a" / "b")
    for made in (tmp_path / "a", folder):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
    write_json(folder / "x.json", {"k": [1, "é"]})
    assert stat.S_IMODE((folder / "x.json").stat().st_mode) == 0o600
    assert read_json(folder / "x.json") == {"k": [1, "é"]}
    (folder / "broken.json").write_text("{", encoding="utf-8")
    assert read_json(folder / "broken.json") is None
