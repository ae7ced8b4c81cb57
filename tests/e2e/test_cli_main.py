"""The command line as a whole: help for every command, piping, version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bulk_provision.cli import COMMAND_MODULES, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", COMMAND_MODULES)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: bulk-provision {command}" in out
    assert "example" in out


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMAND_MODULES:
        assert f"bulk-provision {command}" in readme


def test_output_piped_into_a_reader_that_left_is_no_traceback() -> None:
    roster = ROOT / "sample_data" / "roster_with_errors.xlsx"
    done = subprocess.run(
        f"'{sys.executable}' -m bulk_provision validate '{roster}' | (head -c 0; true)",
        shell=True, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("bulk-provision 0.")
