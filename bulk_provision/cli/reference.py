"""The command reference (``docs/commands.md``), rendered from the parsers' own ``--help``.

``python -m bulk_provision.cli.reference > docs/commands.md`` refreshes it; a unit test fails
when the committed file and the parsers disagree, so the reference cannot drift from the tool.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager

from bulk_provision.cli import COMMAND_MODULES, build_parser

WIDTH = "100"  # argparse wraps to $COLUMNS: fixed, so the text is the same on every machine
HEADER = """\
# Command reference

Generated from `bulk-provision COMMAND --help` by `make docs` (`python -m
bulk_provision.cli.reference`); do not edit by hand. A test fails when this file and the tool
disagree. For what the commands are for, start at the [README](../README.md); the roster columns
and recipes are in [recipes.md](recipes.md), journals, resume, undo and exit codes in
[operations.md](operations.md).
"""


@contextmanager
def _columns(width: str) -> Iterator[None]:
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = before


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def render() -> str:
    """The whole reference: the tool's own help, then each command's, in COMMAND_MODULES order."""
    with _columns(WIDTH):
        parser = build_parser()
        parts = [HEADER, "## bulk-provision\n", "```text", parser.format_help().rstrip(), "```\n"]
        for name in COMMAND_MODULES:
            parts += [f"## {name}\n", "```text",
                      _subparser(parser, name).format_help().rstrip(), "```\n"]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
