"""``bulk-provision simulate``: run the local HTTPS Glance simulator in the foreground."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulk_provision.cli.signals import STOP_SIGNALS
from bulk_provision.errors import Ending, UsageError
from bulk_provision.simulator import Simulator, SimulatorConfig
from bulk_provision.terminal import printable

DEFAULTS = SimulatorConfig()
DESCRIPTION = """\
Run a local fake Glance (the five PAPI operations over HTTPS on 127.0.0.1, with a throwaway
certificate authority) for the demo, tests and rehearsals. Its XML responses are the project's
PROVISIONAL format (glance-api.md 4.4), not captured Glance responses. It prints its URL, the CA
bundle to trust and the environment lines that point bulk-provision at it. Ctrl-C stops it; with
--state the users are kept in FILE and loaded again on the next start.

The partner password and API key may also come from GLANCE_SIM_PARTNER_PW and GLANCE_SIM_API_KEY
(a command-line argument is visible to other users in ps).

example:
  bulk-provision simulate --port 8443 --fail-rate 0.1 --drop-rate 0.05 --rate-limit 50 \\
      --state sim-state.json --roles Agent,Supervisor,Trainer
"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "simulate",
        help="run the local HTTPS Glance simulator",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--port", type=int, default=8443, help="port on 127.0.0.1 (default 8443; 0: any free one)")
    add("--latency-ms", type=float, default=0, help="added to every answer")
    add("--jitter-ms", type=float, default=0, help="random extra latency, 0..J")
    add("--fail-rate", type=float, default=0, help="share of requests answered HTTP 5xx")
    add("--fail-status", type=int, default=503, choices=(500, 503), help="status of --fail-rate")
    add("--drop-rate", type=float, default=0, help="share committed, then dropped unanswered")
    add("--rate-limit", type=float, default=0, metavar="R", help="HTTP 429 above R requests/s")
    add("--slow-rate", type=float, default=0, help="share of answers sent a byte at a time")
    add("--slow-seconds", type=float, default=0.05, help="pause between bytes of slow answers")
    add("--audio-fail-rate", type=float, default=0, help="share of audio accounts that fail")
    add("--state", type=Path, metavar="FILE", help="keep the users in FILE across restarts")
    add("--roles", default=",".join(DEFAULTS.roles), help="provisioned roles, comma-separated")
    add("--list-empty-roles", action="store_true", help="ShowRoles also lists roles with no users")
    add("--partner-login", default=DEFAULTS.partner_login)
    add("--partner-pw", help="default: GLANCE_SIM_PARTNER_PW, else the demo password")
    add("--api-key", help="LoginKey secret; default: GLANCE_SIM_API_KEY, else the demo key")
    add("--partner-id", default=DEFAULTS.partner_id, help="group ID checked with PartnerAuth")
    add("--seed", type=int, help="seed of the fault dice, for repeatable runs")
    parser.set_defaults(handler=run_simulate)


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig the options describe (secrets from options, environment, defaults)."""
    roles = tuple(role.strip() for role in args.roles.split(",") if role.strip())
    if not roles:
        raise UsageError("--roles needs at least one role name")
    return SimulatorConfig(
        port=args.port,
        partner_login=args.partner_login,
        partner_pw=args.partner_pw
        or os.environ.get("GLANCE_SIM_PARTNER_PW")
        or DEFAULTS.partner_pw,
        api_key=args.api_key or os.environ.get("GLANCE_SIM_API_KEY") or DEFAULTS.api_key,
        partner_id=args.partner_id,
        roles=roles,
        list_empty_roles=args.list_empty_roles,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        fail_rate=args.fail_rate,
        fail_status=args.fail_status,
        drop_rate=args.drop_rate,
        rate_limit=args.rate_limit,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        audio_fail_rate=args.audio_fail_rate,
        state_file=args.state,
        seed=args.seed,
    )


def stable_ca_bundle(sim: Simulator, state: Path | None) -> Path:
    """With ``--state``, the CA is also written beside the state file, at a path that stays the
    same across restarts (its content is new at each start), so GLANCE_CA_BUNDLE need not change
    when a rehearsal restarts the simulator mid-run."""
    if state is None:
        return sim.ca_bundle
    target = state.with_name(f"{state.name}.ca.pem")
    try:
        shutil.copyfile(sim.ca_bundle, target)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def banner(sim: Simulator, ca_bundle: Path | None = None) -> list[str]:
    """What the user needs to point bulk-provision at ``sim`` (demo secrets only, never theirs)."""
    cfg = sim.config
    ca_bundle = ca_bundle or sim.ca_bundle
    demo_pw = cfg.partner_pw == DEFAULTS.partner_pw
    lines = [
        f"Glance simulator listening on {sim.base_url}",
        f"CA bundle: {ca_bundle}",
        f"Roles: {', '.join(cfg.roles)}; responses use the PROVISIONAL format of glance-api.md 4.4",
        "Point bulk-provision at it:",
        f"  export GLANCE_BASE_URL={sim.base_url}",
        f"  export GLANCE_CA_BUNDLE={ca_bundle}",
        f"  export GLANCE_PARTNER_LOGIN={cfg.partner_login}",
        "  export GLANCE_PARTNER_PW="
        + (cfg.partner_pw if demo_pw else "...   # the password you gave the simulator"),
    ]
    if cfg.api_key == DEFAULTS.api_key:
        lines.append(
            f"  # or LoginKey auth: export GLANCE_API_KEY={cfg.api_key} "
            f"GLANCE_PARTNER_ID={cfg.partner_id} GLANCE_PARTNER_USER_ID={cfg.admin_partner_user_id}"
        )
    if cfg.state_file is not None:
        lines.append(f"State file: {cfg.state_file}")
    lines.append("Press Ctrl-C to stop.")
    return lines


def run_simulate(args: argparse.Namespace) -> Ending:
    stop = threading.Event()
    restore = _on_signals(lambda *_: stop.set())
    try:
        with Simulator(build_config(args)) as sim:
            for line in banner(sim, stable_ca_bundle(sim, args.state)):
                print(printable(line), flush=True)
            while not stop.wait(0.5):
                pass
            print("Stopping the simulator...", flush=True)
    finally:
        restore()
    saved = f"; state saved to {args.state}" if args.state else "."
    print(printable(f"Simulator stopped{saved}"))
    return Ending.FINISHED


def _on_signals(handler: Callable[..., None]) -> Callable[[], None]:
    """Route SIGINT, SIGTERM (and SIGBREAK on Windows) to ``handler``; returns a function
    restoring the old handlers."""
    previous: dict[int, Any] = {}
    for signum in STOP_SIGNALS:
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: leave signals alone
            break

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
