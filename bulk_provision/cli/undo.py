"""``bulk-provision undo CHECKPOINT``: plan, then on ``--yes`` carry out, a run's reversal."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from bulk_provision.cli.connection import (
    ENVIRONMENT_HELP,
    add_connection_options,
    open_client,
    settings_for,
)
from bulk_provision.cli.options import (
    add_engine_limits,
    add_engine_options,
    add_json_option,
    add_progress_options,
)
from bulk_provision.cli.progress import make_progress
from bulk_provision.cli.signals import stop_on_signals
from bulk_provision.cli.summary import human, print_json
from bulk_provision.errors import EXIT_MEANING, Ending
from bulk_provision.glance import GlanceClient
from bulk_provision.jobs.clients import OnCall, lazy_client
from bulk_provision.jobs.summary import command_document, outcome_counts
from bulk_provision.jobs.undo import UndoResult, carry_out_undo, plan_undo
from bulk_provision.model import Outcome
from bulk_provision.report.plan_report import SHOWN
from bulk_provision.settings.spec import UndoSpec
from bulk_provision.terminal import printable

NOTES_SHOWN = 10

DESCRIPTION = """\
Reverse a finished run, from its checkpoint: users it created are suspended (deleted with
--delete-created), fields it updated go back to their values before the run, users it
suspended are reinstated and users it reinstated suspended. Deleted users and passwords
cannot be restored: they are listed. A user changed since the run is left alone and listed.

Without --yes nothing is changed: the undo plan is written (CHECKPOINT-STEM.undo-plan.xlsx).
With --yes the undo is carried out as a run of its own: journaled in
CHECKPOINT.undo.sqlite, resumable (re-run the same command), its results in
CHECKPOINT-STEM.undo-results.xlsx.

example:
  bulk-provision undo staff.csv.checkpoint.sqlite
  bulk-provision undo staff.csv.checkpoint.sqlite --yes
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "undo",
        help="reverse a finished run (plan first; --yes carries it out)",
        description=DESCRIPTION,
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", type=Path, metavar="CHECKPOINT")
    p.add_argument("--yes", action="store_true", help="carry the undo out (default: plan only)")
    p.add_argument("--delete-created", action="store_true",
                   help="delete the users the run created instead of suspending them")
    p.add_argument("--out", type=Path, help="the undo plan, or with --yes the results workbook")
    p.add_argument("--protect", action="append", metavar="PATTERN",
                   help="never suspend or delete users matching this (* wildcards; repeatable)")
    p.add_argument("--max-suspend", metavar="N|P%",
                   help="refuse to suspend or delete more than this (default 10%%)")
    p.add_argument("--config", type=Path, help="settings file (default ./bulk-provision.toml)")
    add_engine_options(p)
    add_engine_limits(p)
    add_progress_options(p)
    add_json_option(p)
    add_connection_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> Ending:
    spec = UndoSpec.from_settings(vars(args), settings_for(args), os.environ)
    if not args.yes:
        with open_client(spec.connection) as client:
            result = plan_undo(spec, client)
    else:
        result = _carry_out(spec, args)
    print_result(result, human(args))
    if args.json:
        print_json(undo_document(result, spec.checkpoint, spec.connection.base_url))
    if result.refusal is not None:
        print(printable(f"bulk-provision: error: {result.refusal}"), file=sys.stderr)
    elif result.ending in (Ending.STOPPED, Ending.INTERRUPTED):
        reason = f"{result.message}; " if result.message else ""
        print(printable(f"bulk-provision: {reason}the undo stopped early; nothing is lost: "
                        "re-run the same command to finish it"), file=sys.stderr)
    return result.ending


def _carry_out(spec: UndoSpec, args: argparse.Namespace) -> UndoResult:
    stop = threading.Event()
    progress = make_progress(enabled=args.progress, quiet=args.quiet,
                             interval=spec.progress_interval)
    def opener(on_call: OnCall | None) -> GlanceClient:
        return open_client(spec.connection, pool_size=spec.engine.workers, on_call=on_call)

    try:
        with lazy_client(opener) as client, stop_on_signals(stop):
            return carry_out_undo(spec, client, progress=progress, stop=stop)
    finally:
        progress.close()


def print_result(result: UndoResult, out: TextIO) -> None:
    if result.carried_out:
        for outcome in Outcome:
            if result.counts[outcome]:
                print(f"  {outcome.value:<14} {result.counts[outcome]:>7}", file=out)
    else:
        for kind, count in result.planned.items():
            print(f"  {SHOWN[kind]:<14} {count:>7}", file=out)
    if result.notes:
        print(f"not undone: {len(result.notes)}", file=out)
        for note in result.notes[:NOTES_SHOWN]:
            row = "-" if note.row is None else note.row
            print(printable(f"  row {row} {note.key}: {note.reason}"), file=out)
        if len(result.notes) > NOTES_SHOWN:
            print(f"  and {len(result.notes) - NOTES_SHOWN} more", file=out)
    label = "undo results" if result.carried_out else "undo plan"
    print(printable(f"{label}: {result.workbook}"), file=out)
    if not result.carried_out:
        if result.refusal is None:
            print("nothing was changed; add --yes to carry out this undo", file=out)
        return
    print(f"exit code {result.exit_code}: {EXIT_MEANING[result.exit_code]}", file=out)


def undo_document(result: UndoResult, checkpoint: Path, endpoint: str) -> dict[str, Any]:
    """``undo --json``: per outcome (with --yes) or per planned action, and what is not undone."""
    counts = (outcome_counts(result.counts) if result.carried_out
              else {SHOWN[k]: n for k, n in result.planned.items()})
    files = {"results" if result.carried_out else "plan": result.workbook}
    notes = [{"row": n.row, "key": n.key, "reason": n.reason} for n in result.notes]
    return command_document(
        "undo", result.ending, counts=counts, files=files, rows=result.rows,
        message=result.refusal or result.message, refusal=result.refusal,
        carried_out=result.carried_out, not_undone=notes, checkpoint=str(checkpoint),
        roster=Path(result.roster) if result.roster else None, endpoint=endpoint,
    )
