"""docs/commands.md is the parsers' own --help: regenerated, it is byte for byte as committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_provision.cli import COMMAND_MODULES
from bulk_provision.cli.reference import render

COMMANDS_MD = Path(__file__).resolve().parents[3] / "docs" / "commands.md"


def test_the_committed_reference_matches_the_parsers() -> None:
    assert COMMANDS_MD.read_text(encoding="utf-8") == render(), (
        "docs/commands.md is out of date: run `make docs` and commit it"
    )


def test_every_command_has_its_section_with_its_usage() -> None:
    text = render()
    for name in COMMAND_MODULES:
        assert f"\n## {name}\n\n```text\nusage: bulk-provision {name} " in text


def test_the_width_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    narrow = render()
    monkeypatch.setenv("COLUMNS", "300")
    assert render() == narrow
