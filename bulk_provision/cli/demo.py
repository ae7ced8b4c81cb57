"""``bulk-provision demo``: a whole run against the local simulator; no credentials needed."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bulk_provision.cli.progress import make_progress
from bulk_provision.errors import Ending, UsageError
from bulk_provision.glance.connect import open_client
from bulk_provision.jobs.run import run_job
from bulk_provision.model import RowResult
from bulk_provision.settings.config import Settings
from bulk_provision.settings.resources import sample_folder
from bulk_provision.settings.spec import JobSpec
from bulk_provision.simulator import Simulator, SimulatorConfig
from bulk_provision.terminal import printable

DESCRIPTION = """\
Start the local HTTPS Glance simulator in this process, provision the sample roster into it
and write the results workbook (with the audio dial-in codes the simulator returns).

example:
  bulk-provision demo                      # the sample roster -> demo-results.xlsx
  bulk-provision demo --roster mine.csv --out mine-demo.xlsx
"""

SAMPLE = "roster.xlsx"  # shipped with the tool: settings/resources.py


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="provision the sample roster into a local simulator",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--roster", type=Path,
                   help="roster to use (default: the sample roster shipped with the tool)")
    p.add_argument("--out", type=Path, default=Path("demo-results.xlsx"), help="results workbook")
    p.add_argument("--workers", type=int, default=8, help="concurrent requests (default 8)")
    p.add_argument("--latency-ms", type=float, default=20.0, help="simulated server latency")
    p.set_defaults(handler=handle)


def sample_roster() -> Path:
    folder = sample_folder()
    if folder is None:
        raise UsageError(f"this installation has no sample {SAMPLE}; pass --roster FILE")
    return folder / SAMPLE


def handle(args: argparse.Namespace) -> Ending:
    roster = args.roster or sample_roster()
    config = SimulatorConfig(latency_ms=args.latency_ms, seed=7)
    with Simulator(config) as sim, tempfile.TemporaryDirectory() as tmp:
        print(printable(f"simulator: {sim.base_url} (CA {sim.ca_bundle})"))
        options = {"roster": roster, "out": args.out, "fresh": True, "workers": args.workers,
                   "rate": 0, "checkpoint": Path(tmp) / "demo.checkpoint.sqlite"}
        spec = JobSpec.from_settings(options, Settings(), sim.environment())
        with open_client(spec.connection, pool_size=args.workers) as client:
            progress = make_progress(enabled=None, quiet=False)
            try:
                result = run_job(spec, lambda: client, progress=progress)
            finally:
                progress.close()
    print_table(sorted(result.rows, key=lambda r: (r.row is None, r.row or 0)))
    counts = ", ".join(f"{n} {o.value}" for o, n in sorted(result.counts.items()) if n)
    print()
    print(counts)
    print(printable(f"results: {result.results_path} (exit code {result.exit_code})"))
    if result.failed_rows_path is not None:
        print(printable(f"failed rows: {result.failed_rows_path}"))
    return result.ending


def print_table(results: list[RowResult]) -> None:
    columns = ("Row", "PartnerUserID", "Outcome", "dialIn", "hostCode", "guestCode", "Message")
    rows = [
        dict(zip(columns, (printable(value) for value in (
            r.row or "", r.key, r.outcome.value, r.audio.dial_in, r.audio.host_code,
            r.audio.guest_code, r.message)), strict=True))
        for r in results
    ]
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in columns}
    widths["Message"] = min(widths["Message"], 50)
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(r[c][: widths[c]].ljust(widths[c]) for c in columns))
