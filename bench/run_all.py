"""``make bench``: every performance benchmark of DESIGN.md section 8, one after the other.

Each script prints its own measured figures and ratios; this runs them in sequence so one
command gives the whole table (about 10 minutes here, most of it the sequential loop of P1).

    python bench/run_all.py [--quick]     # --quick: P1's sequential loop on 500 rows, extrapolated
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benches(quick: bool) -> list[tuple[str, list[str]]]:
    throughput = ["throughput.py", *(["--sequential-rows", "500"] if quick else [])]
    return [
        ("P2 load + validate", ["validate_bench.py"]),
        ("P11 recipe", ["recipe_bench.py"]),
        ("P6 simulator", ["simulator_bench.py"]),
        ("P5 results workbook", ["results_bench.py"]),
        ("checkpoint (P3 share)", ["checkpoint_bench.py"]),
        ("P1 throughput", throughput),
        ("P3 resume, P4 memory", ["scale.py"]),
        ("P9 export", ["export_bench.py"]),
        ("P7, P8 the page", ["web_bench.py", *(["--p8-rows", "2000"] if quick else [])]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = []
    for title, command in benches(args.quick):
        print(f"\n== {title}: python bench/{' '.join(command)}", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]],
                              timeout=3600, check=False)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
        if done.returncode != 0:
            failed.append(title)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
