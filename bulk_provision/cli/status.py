"""``bulk-provision status CHECKPOINT``: what a checkpoint says about a run, read-only."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bulk_provision.cli.options import add_json_option
from bulk_provision.cli.summary import print_json
from bulk_provision.errors import Ending
from bulk_provision.jobs.summary import command_document, outcome_counts
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import FINAL_STATES, OPEN_OUTCOMES, RowState
from bulk_provision.model import Outcome
from bulk_provision.terminal import printable

LISTED = 20  # rows listed per section before "and N more"

DESCRIPTION = """\
Show the counts and the failed rows recorded in a checkpoint. Read-only: safe to run while
the run that owns the checkpoint is still going.

example:
  bulk-provision status staff.checkpoint.sqlite
"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "status",
        help="counts and failures recorded in a checkpoint",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT")
    add_json_option(parser)
    parser.set_defaults(handler=run_status)


def run_status(args: argparse.Namespace) -> Ending:
    with Checkpoint.read_only(args.checkpoint) as cp:
        if args.json:
            print_json(status_document(cp))
            return Ending.FINISHED
        for line in status_lines(cp):
            print(printable(line))  # roster paths, IDs and server messages: escaped
    return Ending.FINISHED


def status_document(cp: Checkpoint) -> dict[str, Any]:
    """``status --json``: the journal's counts and its failed and unfinished rows."""
    meta = cp.meta()
    kept = ("roster_path", "roster_sha256", "mode", "selection", "created", "updated",
            "last_exit_code", "plan_path")
    roster = meta.get("roster_path")
    return command_document(
        "status", Ending.FINISHED, roster=Path(roster) if roster else None,
        mode=meta.get("mode", ""),
        counts=outcome_counts(cp.outcome_counts()),
        rows=[*cp.failed(), *cp.unfinished()],
        checkpoint={"path": str(cp.path), **{k: meta[k] for k in kept if k in meta}},
    )


def status_lines(cp: Checkpoint) -> list[str]:
    """What a journal says, in the words of the results workbook (lifecycle.row_outcome)."""
    meta = cp.meta()
    outcomes = cp.outcome_counts()
    states = cp.state_counts()
    lines = [
        f"Checkpoint: {cp.path}",
        f"Roster: {meta.get('roster_path', '?')} (SHA-256 {meta.get('roster_sha256', '')[:12]})",
        f"Mode: {meta.get('mode', '?')}",
        *([f"Wave: {meta['selection']}"] if meta.get("selection") else []),
        f"Last update: {meta.get('updated', '?')}",
    ]
    if "last_exit_code" in meta:
        lines.append(f"Last exit code: {meta['last_exit_code']}")
    open_rows = sum(outcomes[o] for o in OPEN_OUTCOMES)
    doubt = states[RowState.SENDING] + states[RowState.IN_DOUBT]
    final = sum(states[s] for s in FINAL_STATES)
    in_doubt = f", {doubt} of them in doubt" if doubt else ""
    lines.append(
        f"Rows: {sum(states.values())} (final {final}, left for a re-run {open_rows}{in_doubt})"
    )
    shown = [f"{o.value} {n}" for o, n in outcomes.items() if n]
    lines.append(f"Outcomes: {', '.join(shown) if shown else 'none yet'}")
    if outcomes[Outcome.UNFINISHED]:
        lines.append(f"Unfinished ({outcomes[Outcome.UNFINISHED]}): a re-run finishes them")
        unfinished = ((r.row, r.key, r.message) for r in cp.unfinished(limit=LISTED))
        lines += _listed(unfinished, outcomes[Outcome.UNFINISHED])
    if outcomes[Outcome.FAILED]:
        lines.append(f"Failed ({outcomes[Outcome.FAILED]}):")
        failed = ((r.row, r.key, r.message) for r in cp.failed(limit=LISTED))
        lines += _listed(failed, outcomes[Outcome.FAILED])
    return lines


def _listed(rows: Iterable[tuple[int | None, str, str]], total: int) -> list[str]:
    lines = [f"  row {'-' if row is None else row}  {key}  {text}" for row, key, text in rows]
    if total > len(lines):
        lines.append(f"  and {total - len(lines)} more")
    return lines
