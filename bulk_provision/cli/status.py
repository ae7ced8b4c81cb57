"""``bulk-provision status CHECKPOINT``: what a checkpoint says about a run, read-only."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bulk_provision.checkpoint import STATES, Checkpoint
from bulk_provision.terminal import printable

LISTED = 20  # rows listed per section before "and N more"
IN_DOUBT = "outcome unknown: will be verified with ShowUsers on the next run"

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
    parser.set_defaults(handler=run_status)


def run_status(args: argparse.Namespace) -> int:
    with Checkpoint.read_only(args.checkpoint) as cp:
        for line in status_lines(cp):
            print(printable(line))  # roster paths, IDs and server messages: escaped
    return 0


def status_lines(cp: Checkpoint) -> list[str]:
    meta = cp.meta()
    states = cp.state_counts()
    outcomes = [f"{o.value} {n}" for o, n in cp.outcome_counts().items() if n]
    lines = [
        f"Checkpoint: {cp.path}",
        f"Roster: {meta.get('roster_path', '?')} (SHA-256 {meta.get('roster_sha256', '')[:12]})",
        f"Mode: {meta.get('mode', '?')}",
        f"Last update: {meta.get('updated', '?')}",
    ]
    if "last_exit_code" in meta:
        lines.append(f"Last exit code: {meta['last_exit_code']}")
    by_state = ", ".join(f"{s} {states[s]}" for s in STATES)
    lines.append(f"Rows: {sum(states.values())} ({by_state})")
    lines.append(f"Outcomes: {', '.join(outcomes) if outcomes else 'none yet'}")
    if states["sending"]:
        lines.append(f"In doubt ({states['sending']}):")
        doubtful = cp.in_doubt()
        lines += _listed(((a.row, a.key, IN_DOUBT) for a in doubtful[:LISTED]), len(doubtful))
    if states["failed"]:
        lines.append(f"Failed ({states['failed']}):")
        failed = ((r.row, r.key, r.message) for r in cp.failed(limit=LISTED))
        lines += _listed(failed, states["failed"])
    return lines


def _listed(rows: Iterable[tuple[int | None, str, str]], total: int) -> list[str]:
    lines = [f"  row {'-' if row is None else row}  {key}  {text}" for row, key, text in rows]
    if total > len(lines):
        lines.append(f"  and {total - len(lines)} more")
    return lines
