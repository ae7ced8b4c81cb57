"""P9: ``bulk-provision export`` of 100,000 users, simulator latency 50 ms.

The simulator (its own process) starts from a state file holding the users, so seeding takes no
requests. The tool runs as a user runs it (a subprocess), and the time is measured from its
start to its exit. Target (DESIGN.md section 8): at most 1.2 x (pages x latency) + 5 s, with
1,000 users a page.

    python bench/export_bench.py [--users 100000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simproc import SimulatorProcess  # noqa: E402

PAGE = 1000


def write_state(path: Path, users: int) -> None:
    """A simulator state file (format of bulk_provision/simulator/state.py ``to_json``)."""
    roles = ("Agent", "Supervisor", "")
    records = [
        {
            "partner_user_id": f"{n:07d}",
            "user_address": f"user{n}.acme.glance.net",
            "user_pw": "",
            "user_first": f"First{n % 997}",
            "user_last": f"Last{n % 991}",
            "user_email": f"user{n}@acme.example.com",
            "user_role": roles[n % 3],
            "suspended": n % 50 == 0,
            "audio": None,
            "seq": n + 1,
        }
        for n in range(users)
    ]
    state = {"version": 1, "next_seq": users + 1, "users": records, "created_counts": {}}
    path.write_text(json.dumps(state), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_state(folder / "state.json", args.users)
        with SimulatorProcess(latency_ms=args.latency_ms,
                              state_file=folder / "state.json") as sim:
            out = folder / "export.xlsx"
            command = [sys.executable, "-m", "bulk_provision", "export", "--out", str(out)]
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, env={**os.environ, **sim.env()}, cwd=folder,
                                  capture_output=True, text=True,
                                      encoding="utf-8", timeout=600, check=False)
            elapsed = time.perf_counter() - started
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (cpu_after.ru_utime - cpu_before.ru_utime
                   + cpu_after.ru_stime - cpu_before.ru_stime)
            pages = len([entry for entry in sim.request_log() if entry[1] == "ShowUsers"])
        if done.returncode != 0:
            print(done.stdout, done.stderr, sep="\n")
            return 1
        print(done.stdout.strip())
        expected_pages = max(1, math.ceil(args.users / PAGE))
        target = 1.2 * pages * args.latency_ms / 1000 + 5
        print(f"P9 export: {args.users} users, {pages} pages (expected {expected_pages}), "
              f"latency {args.latency_ms:g} ms: {elapsed:.2f} s; target {target:.2f} s "
              f"(1.2 x pages x latency + 5 s); ratio {elapsed / target:.2f} "
              f"({out.stat().st_size // 1024} KB; the tool used {cpu:.2f} s of CPU; "
              f"load average {os.getloadavg()[0]:.2f})" if out.exists() else "no file written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
