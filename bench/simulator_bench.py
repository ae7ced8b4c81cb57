"""P6: the simulator's requests/s at zero latency with 16 client threads (target >= 1,000).

    .venv/bin/python bench/simulator_bench.py [--seconds 5] [--threads 16] [--in-process]

By default the simulator runs in its own process (``bulk-provision simulate``), as it does
beside a benchmarked client, so the clients do not share its interpreter lock; ``--in-process``
measures it inside the benchmark process instead (the way tests start it). Each client thread
has its own keep-alive requests.Session and alternates NewUser and one-page ShowUsers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bulk_provision.simulator import Simulator  # noqa: E402

TARGET = 1000.0
AUTH = {"PartnerLogin": "admin.demo.glance.net", "PartnerPW": "demo-password"}


@contextlib.contextmanager
def in_process() -> Iterator[tuple[str, str, int]]:
    with Simulator() as sim:
        yield sim.base_url, str(sim.ca_bundle), os.getpid()


@contextlib.contextmanager
def subprocess_simulator() -> Iterator[tuple[str, str, int]]:
    command = [sys.executable, "-m", "bulk_provision", "simulate", "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                          encoding="utf-8", env=env) as proc:
        try:
            found: dict[str, str] = {}
            assert proc.stdout is not None
            for _ in range(40):  # bounded: the banner is a few lines
                line = proc.stdout.readline()
                for name in ("GLANCE_BASE_URL", "GLANCE_CA_BUNDLE"):
                    if f"{name}=" in line:
                        found[name] = line.split(f"{name}=", 1)[1].split()[0].strip("'\"")
                if len(found) == 2 or not line:
                    break
            if len(found) != 2:
                raise RuntimeError("the simulator did not print its URL and CA bundle")
            yield found["GLANCE_BASE_URL"], found["GLANCE_CA_BUNDLE"], proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def client(base_url: str, ca: str, index: int, deadline: float, counts: list[int]) -> None:
    with requests.Session() as session:
        session.trust_env = False
        session.verify = ca
        sent = 0
        while time.monotonic() < deadline and sent < 1_000_000:
            if sent % 2:
                fields = {**AUTH, "PageCount": "1"}
                url = f"{base_url}/PAPI/ShowUsers.asp"
            else:
                puid = f"bench{index:02d}-{sent:07d}"
                fields = {**AUTH, "PartnerUserID": puid, "UserAddress": f"{puid}.demo.glance.net"}
                url = f"{base_url}/PAPI/NewUser.asp"
            response = session.post(url, data=fields, timeout=30)
            if response.status_code != 200 or b"<status>OK</status>" not in response.content:
                raise RuntimeError(f"unexpected answer: {response.status_code} {response.text}")
            sent += 1
        counts[index] = sent


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (0 where /proc is unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(base_url: str, ca: str, threads: int, seconds: float) -> float:
    counts = [0] * threads
    deadline = time.monotonic() + seconds
    workers = [
        threading.Thread(target=client, args=(base_url, ca, i, deadline, counts))
        for i in range(threads)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    where = "in-process" if args.in_process else "own process"
    start = in_process if args.in_process else subprocess_simulator
    seconds = min(args.seconds, 60.0)
    with start() as (base_url, ca, pid):
        cpu_before = cpu_seconds(pid)
        rate = measure(base_url, ca, args.threads, seconds)
        busy = (cpu_seconds(pid) - cpu_before) / seconds
    print(
        f"P6 simulator ({where}, {args.threads} client threads, zero latency): "
        f"{rate:,.0f} requests/s; target {TARGET:,.0f}/s; ratio {rate / TARGET:.2f}x"
    )
    if not args.in_process and busy > 0:
        print(
            f"simulator process CPU: {busy:.0%} of one core at that rate "
            f"(about {rate / busy:,.0f} requests/s per fully used core)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
