"""The parser on its own: every command registers a handler, nothing is guessed, and loading one
command does not load the others."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from bulk_provision.cli import COMMAND_MODULES, build_parser


@pytest.mark.parametrize("name", COMMAND_MODULES)
def test_every_command_sets_its_handler(name: str) -> None:
    words = {"validate": ["r.csv"], "template": ["t.xlsx"], "run": ["r.csv"], "plan": ["r.csv"],
             "status": ["j.sqlite"], "undo": ["j.sqlite"], "export": ["--out", "e.xlsx"],
             "recipe": ["export.csv"]}
    args = build_parser().parse_args([name, *words.get(name, [])])
    assert callable(args.handler)
    assert args.handler.__module__ == f"bulk_provision.cli.{name}"


def test_options_are_typed_and_paths_are_paths() -> None:
    args = build_parser().parse_args(["run", "staff.xlsx", "--workers", "3", "--mode", "sync"])
    assert args.roster == Path("staff.xlsx")
    assert (args.workers, args.mode) == (3, "sync")


def test_an_abbreviated_option_is_an_error_not_a_guess(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        build_parser().parse_args(["run", "staff.xlsx", "--work", "3"])
    assert ended.value.code == 2
    assert "unrecognized arguments: --work 3" in capsys.readouterr().err


def test_one_command_loads_only_its_own_module() -> None:
    code = ("import sys; from bulk_provision.cli import build_parser; build_parser('validate'); "
            "print(sorted(m for m in sys.modules if m.startswith('bulk_provision.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         encoding="utf-8",
                         check=True, timeout=60).stdout
    loaded = ast.literal_eval(out)  # the list the child printed
    assert "bulk_provision.cli.validate" in loaded
    assert not {"bulk_provision.cli.run", "bulk_provision.cli.serve", "bulk_provision.cli.demo"} \
        & set(loaded)
