"""Command line: argument parsing and printing only.

Each command lives in its own module here and exposes ``add_parser(subparsers)``, which registers
the sub-command and sets ``handler`` (a function taking the parsed namespace and returning how the
command ended, an ``errors.Ending``). ``main`` turns that, or a library error, into the exit code
of the one table ``errors.EXIT_CODES``, errors as one clear line; nothing else in the package
prints or exits. Commands never import each other: what several share is in ``connection``,
``options``, ``summary`` and ``progress`` here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, ClassVar, NoReturn

from bulk_provision import __version__
from bulk_provision.errors import EXIT_CODES, BulkProvisionError, Ending, Interrupted, UsageError
from bulk_provision.terminal import printable

COMMAND_MODULES = (
    "validate",
    "recipe",
    "template",
    "run",
    "plan",
    "status",
    "check",
    "simulate",
    "demo",
    "export",
    "serve",
    "undo",
)
JSON_COMMANDS = frozenset({"validate", "run", "plan", "status", "undo", "export"})


class _Parser(argparse.ArgumentParser):
    """argparse, except that with ``--json`` a bad command line also gives the JSON document,
    and argparse's own messages are escaped: "unrecognized arguments" quotes what was typed (a
    file name from ``validate uploads/*.csv`` may hold ESC sequences). Sub-command parsers are of
    this class too (argparse makes them of the parent's class)."""

    json_command: ClassVar[str | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviations: `--jso` would act as --json without main() seeing the word (no JSON
        # document on an error), and an abbreviation may come to mean another option later.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if self.json_command is not None:
            _print_error(self.json_command, UsageError(f"{self.prog}: error: {message}"))
        super().error(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            message = "\n".join(printable(line) for line in message.rstrip("\n").split("\n"))
            message += "\n"
        super().exit(status, message)


def build_parser(
    only: str | None = None, json_command: str | None = None
) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's module is imported (a faster start:
    ``run`` need not load the simulator, ``validate`` not the network client...). With
    ``json_command``, a command-line error also prints that command's JSON document."""
    make: type[_Parser] = type("_Parser", (_Parser,), {"json_command": json_command})
    parser = make(
        prog="bulk-provision",
        description="Provision users into Glance from a roster spreadsheet.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=make)
    for name in COMMAND_MODULES if only is None else (only,):
        importlib.import_module(f"bulk_provision.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bulk-provision`` and ``python -m bulk_provision``; returns the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if not w.startswith("-")), None)
    json_command = command if command in JSON_COMMANDS and "--json" in words else None
    parser = build_parser(command if command in COMMAND_MODULES else None, json_command)
    args = parser.parse_args(words)
    try:
        ending: Ending = args.handler(args)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
    except BulkProvisionError as exc:
        from bulk_provision.cli.hints import said
        from bulk_provision.cli.summary import detail_lines

        print(f"bulk-provision: error: {printable(said(exc))}", file=sys.stderr)
        for line in detail_lines(exc):
            print(f"  {printable(line)}", file=sys.stderr)
        if json_command is not None:
            _print_error(json_command, exc)
        return exc.exit_code
    except MemoryError:
        # The last guard (DESIGN.md section 11): inputs are bounded before they are read, so
        # this means the machine itself is short of memory; one line, never a traceback.
        print("bulk-provision: error: the machine ran out of memory reading this input: split "
              "the roster into smaller files, or run on a machine with more memory",
              file=sys.stderr)
        return EXIT_CODES[Ending.USAGE]
    except KeyboardInterrupt:
        print("bulk-provision: interrupted", file=sys.stderr)
        if json_command is not None:
            _print_error(json_command, Interrupted("interrupted"))
        return EXIT_CODES[Ending.INTERRUPTED]
    except BrokenPipeError:
        # `bulk-provision ... | head`: the reader left; say nothing more, leave no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CODES[Ending.PIPE_CLOSED]
    return EXIT_CODES[ending]


def _print_error(command: str, error: BulkProvisionError) -> None:
    """The ``--json`` document of a command that ended early, on stdout."""
    from bulk_provision.cli.hints import said
    from bulk_provision.cli.summary import print_json
    from bulk_provision.jobs.summary import error_document

    print_json(error_document(error, command=command, message=said(error)))
