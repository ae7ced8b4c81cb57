"""P1: throughput of ``bulk-provision run`` against the simulator at 50 ms latency.

Measured side by side in one run, each against its own fresh simulator process:

* the tool: ``bulk-provision run`` (a subprocess, as a user runs it: roster read, validation,
  checkpoint, progress, results workbook) with 16 workers and ``--rate 0``, on 20,000 rows;
* a bare threaded loop: 16 threads, one keep-alive ``requests.Session`` each, NewUser per row,
  over the same rows;
* a naive sequential loop: one ``requests.Session``, one NewUser after the other, timed on 2,000
  of the rows and scaled;
* a rate-capped run: ``bulk-provision run --rate 20`` on 2,000 rows.

Targets (DESIGN.md section 8, P1): tool <= 1.03 x the bare threaded loop; >= 15 x the naive
sequential loop; the rate-capped run within 1.02 x rows / rate.

Wall-clock ratios swing with whatever else shares the cores; CPU seconds do not. So beside them
it prints the CPU (user + system, ``resource.getrusage``) of the process doing the sending, per
1,000 rows: the tool's subprocess (``RUSAGE_CHILDREN`` across its ``subprocess.run``: start-up,
roster, journal and workbook included) against the bare loop's threads (``RUSAGE_SELF`` across the
loop, in this process). The simulator runs in its own process and is counted in neither. Target
(issue 18): the tool at most 1.10 x the bare loop's CPU per row. The load average is printed with
each figure. Both swing by 10-20 % between runs on a shared machine, so ``--repeat N`` runs N
tool / bare-loop pairs back to back and prints the median of the per-pair ratios as well.

    python bench/throughput.py [--rows 20000] [--sequential-rows 2000] [--rate-rows 2000]
                               [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rosters import roster_rows, write_csv  # noqa: E402
from simproc import SimulatorProcess  # noqa: E402

LATENCY_MS = 50.0
WORKERS = 16


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def run_tool(
    sim: SimulatorProcess, roster: Path, workdir: Path, rate: float = 0
) -> tuple[float, float]:
    """The tool's wall seconds and CPU seconds (its own process, the simulator excluded)."""
    env = {**os.environ, **sim.env()}
    command = [sys.executable, "-m", "bulk_provision", "run", str(roster), "--workers",
               str(WORKERS), "--rate", f"{rate:g}", "--no-progress", "--quiet", "--fresh",
               "--out", str(workdir / "results.xlsx"),
               "--checkpoint", str(workdir / "bench.checkpoint.sqlite")]
    cpu = _cpu(resource.RUSAGE_CHILDREN)  # the simulator, not yet reaped, is not in it
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=1800)
    elapsed = time.perf_counter() - started
    cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu
    if done.returncode != 0:
        raise SystemExit(f"bulk-provision run exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed, cpu


def _post(session: requests.Session, sim: SimulatorProcess, row: list[str]) -> None:
    fields = {"PartnerLogin": sim.config.partner_login, "PartnerPW": sim.config.partner_pw,
              "PartnerUserID": row[0], "UserAddress": row[1], "UserPW": row[2],
              "UserFirst": row[3], "UserLast": row[4], "UserEmail": row[5]}
    if row[6]:
        fields["UserRole"] = row[6]
    if row[7]:
        fields["AudioProvider"] = row[7]
    response = session.post(f"{sim.base_url}/PAPI/NewUser.asp", data=fields,
                            verify=sim.ca_bundle, timeout=30)
    response.raise_for_status()


def run_sequential(sim: SimulatorProcess, rows: list[list[str]]) -> float:
    started = time.perf_counter()
    with requests.Session() as session:
        for row in rows:
            _post(session, sim, row)
    return time.perf_counter() - started


def run_threaded(sim: SimulatorProcess, rows: list[list[str]]) -> tuple[float, float]:
    """The loop's wall seconds and CPU seconds (this process only: the simulator is apart)."""
    lock = threading.Lock()
    queue = list(reversed(rows))

    def worker() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if not queue:
                        return
                    row = queue.pop()
                _post(session, sim, row)

    cpu = _cpu(resource.RUSAGE_SELF)
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, _cpu(resource.RUSAGE_SELF) - cpu


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--sequential-rows", type=int, default=2000,
                        help="rows the sequential loop is timed on (scaled to --rows)")
    parser.add_argument("--rate-rows", type=int, default=2000, help="rows of the --rate run")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=1,
                        help="tool / bare-loop pairs, run one after the other; the ratios are "
                             "taken per pair and their median reported")
    args = parser.parse_args()
    pairs: list[tuple[float, float, float, float, str, str]] = []
    created = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for attempt in range(args.repeat):
            prefix = f"T{attempt}"
            rows = roster_rows(args.rows, prefix=prefix)
            roster = write_csv(workdir / f"roster{attempt}.csv", args.rows, prefix=prefix)
            with SimulatorProcess(latency_ms=LATENCY_MS) as sim:
                tool, tool_cpu = run_tool(sim, roster, workdir)
                tool_load = _load()
                created = sum(sim.created_counts().values())
            with SimulatorProcess(latency_ms=LATENCY_MS) as sim:
                threaded, threaded_cpu = run_threaded(sim, rows)
                threaded_load = _load()
            pairs.append((tool, threaded, tool_cpu, threaded_cpu, tool_load, threaded_load))
        seq_rows = rows[: args.sequential_rows]
        with SimulatorProcess(latency_ms=LATENCY_MS) as sim:
            sequential = run_sequential(sim, seq_rows) * len(rows) / len(seq_rows)
            sequential_load = _load()
        capped_roster = write_csv(workdir / "capped.csv", args.rate_rows, prefix="R")
        with SimulatorProcess(latency_ms=LATENCY_MS) as sim:
            capped = run_tool(sim, capped_roster, workdir, rate=args.rate)[0]
            capped_load = _load()
    floor = args.rate_rows / args.rate
    per = 1000 / args.rows
    print(f"P1 throughput: {args.rows} rows, latency {LATENCY_MS:g} ms, {WORKERS} workers, "
          f"--rate 0 (users created: {created})")
    for number, (tool, threaded, tool_cpu, threaded_cpu, tool_load, threaded_load) in enumerate(
            pairs, start=1):
        label = f" (pair {number} of {len(pairs)})" if len(pairs) > 1 else ""
        print(f"  bulk-provision run{label:16s} {tool:8.2f} s  = {tool / threaded:.3f} x the "
              f"bare loop (target <= 1.03)   [{tool_load}]")
        print(f"  bare threaded requests loop        {threaded:8.2f} s   [{threaded_load}]")
        print(f"  CPU per 1,000 rows: tool {tool_cpu * per:.3f} s, bare loop "
              f"{threaded_cpu * per:.3f} s = {tool_cpu / threaded_cpu:.3f} x (target <= 1.10); "
              f"totals {tool_cpu:.1f} s and {threaded_cpu:.1f} s (user + system)")
    tool = _median([p[0] for p in pairs])
    if len(pairs) > 1:
        print(f"  median of {len(pairs)} pairs: wall {_median([p[0] / p[1] for p in pairs]):.3f} x "
              f"the bare loop (target <= 1.03), CPU {_median([p[2] / p[3] for p in pairs]):.3f} x "
              "(target <= 1.10)")
    print(f"  naive sequential requests loop     {sequential:8.2f} s (timed on "
          f"{len(seq_rows)} rows, scaled)   [{sequential_load}]")
    print(f"  speed-up over sequential           {sequential / tool:8.1f} x  (target >= 15; "
          "the median tool run)")
    print(f"  --rate {args.rate:g} on {args.rate_rows} rows        {capped:8.2f} s  = "
          f"{capped / floor:.3f} x rows / rate (target <= 1.02)   [{capped_load}]")


if __name__ == "__main__":
    main()
