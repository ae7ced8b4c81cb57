"""``bulk-provision serve``: the browser page for HR admins (DESIGN.md section 9)."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bulk_provision.errors import ConfigError, Ending, UsageError
from bulk_provision.settings import paths
from bulk_provision.settings.config import Settings, load_settings
from bulk_provision.settings.resources import sample_folder
from bulk_provision.terminal import printable

DESCRIPTION = """\
Start the page HR admins use to upload a roster, check it, preview the plan, run it and
download the results. Glance credentials come from this server's environment or config file
(as for `run`); the page never asks for them.

By default it listens on 127.0.0.1 only and prints a sign-in link with a one-time token.
While it runs, `serve --new-link --workspace DIR` prints another link for it (each works once,
within 15 minutes). A sign-in lasts --session-hours (default 10) and survives a restart.
For other machines, give --host, --tls-cert, --tls-key and --users (named accounts).

examples:
  bulk-provision serve --demo                          # try it: local simulator, sample rosters
  bulk-provision serve --workspace /srv/bp             # for real, credentials from GLANCE_*
  bulk-provision serve --workspace /srv/bp --new-link  # one more sign-in link for that server
  bulk-provision serve --users users.txt --add-user alice
  bulk-provision serve --host 0.0.0.0 --allow-host hr-tools.example.com \\
      --tls-cert cert.pem --tls-key key.pem --users users.txt
"""

def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the browser page for HR admins", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8750, help="port (default 8750; 0 = any free)")
    p.add_argument("--workspace", type=Path, default=Path("bulk-provision-workspace"),
                   help="folder for uploads, journals and workbooks")
    p.add_argument("--config", type=Path, help="settings file (default ./bulk-provision.toml)")
    p.add_argument("--profile", metavar="NAME",
                   help="the config file's [profile.NAME] (default: BULK_PROVISION_PROFILE); "
                        "the page shows it on every screen")
    p.add_argument("--demo", action="store_true",
                   help="use an in-process simulator and offer the sample rosters")
    p.add_argument("--latency-ms", type=float, default=20.0, help="--demo: simulator latency")
    p.add_argument("--users", type=Path, help="named accounts file (scrypt hashes)")
    p.add_argument("--add-user", metavar="NAME", help="add NAME to --users (asks a password)")
    p.add_argument("--tls-cert", type=Path, help="certificate (PEM) for HTTPS")
    p.add_argument("--tls-key", type=Path, help="private key (PEM) for HTTPS")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name browsers use to reach this server (repeatable)")
    p.add_argument("--max-upload", type=float, default=50.0, metavar="MB",
                   help="largest roster accepted, in MB (default 50)")
    p.add_argument("--session-hours", type=float, metavar="HOURS",
                   help="how long a sign-in lasts (default 10; config key session_hours)")
    p.add_argument("--new-link", action="store_true",
                   help="print a new one-time sign-in link for the server running on "
                        "--workspace, and exit")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> Ending:
    if args.add_user:
        return add_account(args)
    if args.new_link:
        return new_link(args.workspace)
    check_access(args)
    settings = load_settings(args.config, profile=args.profile)
    args.session_hours = session_hours(args.session_hours, settings)
    with connection_env(args, settings) as env:
        return serve(args, settings, env)


def add_account(args: argparse.Namespace) -> Ending:
    from bulk_provision.web.auth import add_user

    if args.users is None:
        raise UsageError("--add-user needs --users FILE (the accounts file to add to)")
    if sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.add_user}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ; nothing was changed")
    else:
        password = (sys.stdin.readline() if sys.stdin else "").rstrip("\r\n")
    add_user(args.users, args.add_user, password)
    print(printable(f"{args.add_user} can now sign in (accounts in {args.users})"))
    return Ending.FINISHED


def new_link(workspace: Path) -> Ending:
    """Print a one-time sign-in link for the server that runs on ``workspace``."""
    from bulk_provision.web.links import LINK_MINUTES, issue_link, recorded_server
    from bulk_provision.web.workspace import Workspace

    paths.check_private_folder(workspace, "workspace")
    server = recorded_server(workspace) if workspace.is_dir() else None
    if server is None or not Workspace.busy(workspace):
        raise UsageError(f"no bulk-provision serve is running with workspace {workspace}; "
                         f"start one with `bulk-provision serve --workspace {workspace}`: it "
                         "prints its own sign-in link")
    if server.get("accounts"):
        raise UsageError("that server signs people in with names and passwords (--users); "
                         "give a new person an account with --users FILE --add-user NAME")
    token = issue_link(workspace)
    print(printable(f"bulk-provision serve: open {server['url']}/login?token={token}"))
    print(f"(it works once, within {LINK_MINUTES} minutes)")
    return Ending.FINISHED


def session_hours(given: float | None, settings: Settings) -> float:
    """--session-hours, else the config file's session_hours, else a working day."""
    from bulk_provision.web.sessions import DEFAULT_HOURS, MAX_HOURS

    hours = given if given is not None else settings.get("session_hours", DEFAULT_HOURS)
    if not 0 < float(hours) <= MAX_HOURS:  # nan fails too
        where = "--session-hours" if given is not None else "session_hours in the config file"
        raise UsageError(f"{where} must be more than 0 and at most {MAX_HOURS:g} (a week); "
                         f"got {hours}")
    return float(hours)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_access(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    if not 0 < args.max_upload <= 10_000:
        raise UsageError("--max-upload must be more than 0 and at most 10000 MB")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    for path in (args.tls_cert, args.tls_key):
        if path is not None and not path.is_file():
            raise UsageError(f"{path} does not exist")
    if not is_loopback(args.host) and not (args.tls_cert and args.users):
        raise UsageError(
            f"--host {args.host} lets other machines in: it needs --tls-cert and --tls-key "
            "(HTTPS) and --users (named accounts)"
        )
    if args.host in ("0.0.0.0", "::") and not args.allow_host:
        raise UsageError(
            f"--host {args.host}: name the host names browsers use to reach this server with "
            "--allow-host NAME (other names are refused, against DNS rebinding)"
        )
    if args.tls_cert is not None:
        check_tls(args.tls_cert, args.tls_key)


def check_tls(cert: Path, key: Path) -> None:
    """Load the certificate and key now: a wrong file is one line, not a traceback later."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"cannot use --tls-cert {cert} with --tls-key {key}: they must be a "
                          f"PEM certificate and its private key ({exc.__class__.__name__}: "
                          f"{getattr(exc, 'reason', None) or exc})") from exc


@contextmanager
def connection_env(args: argparse.Namespace, settings: Settings) -> Iterator[Mapping[str, str]]:
    """The endpoint and credentials: the server's own, or --demo's simulator."""
    if not args.demo:
        yield settings.environment(os.environ)
        return
    from bulk_provision.simulator import Simulator, SimulatorConfig

    config = SimulatorConfig(latency_ms=args.latency_ms, seed=7)
    settings.values.setdefault("rate", 0)
    if settings.connection_env or any(k.startswith("GLANCE_") for k in os.environ):
        print("bulk-provision serve: --demo uses only the built-in simulator; the Glance "
              "endpoint and credentials of the config file and GLANCE_* are ignored", flush=True)
    settings.connection_env.clear()  # never a real Glance's credentials in the demo
    with Simulator(config) as sim:
        yield {"GLANCE_BASE_URL": sim.base_url, "GLANCE_CA_BUNDLE": str(sim.ca_bundle),
               "GLANCE_PARTNER_LOGIN": config.partner_login,
               "GLANCE_PARTNER_PW": config.partner_pw}


def serve(args: argparse.Namespace, settings: Settings, env: Mapping[str, str]) -> Ending:
    import uvicorn

    from bulk_provision.web.app import WebConfig, create_app
    from bulk_provision.web.auth import START_LINK_MINUTES, Access, allowed_hosts, read_users
    from bulk_provision.web.engine import Connection
    from bulk_provision.web.links import forget_server, record_server
    from bulk_provision.web.server import uvicorn_config

    users = read_users(args.users) if args.users else None
    connection = Connection(settings, dict(env))
    connection.engine_options()  # a wrong setting is refused now, not at the first run
    connection.notifier()  # so is a wrong notify target or missing SMTP settings
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    access = Access(users, secure=args.tls_cert is not None, session_hours=args.session_hours)
    config = WebConfig(
        workspace=args.workspace, connection=connection, access=access,
        hosts=allowed_hosts(args.host, port, args.allow_host),
        max_upload=int(args.max_upload * 1_000_000),
        samples=sample_folder() if args.demo else None,
    )
    try:
        app = create_app(config)  # holds the workspace's lock: one server per workspace
    except BaseException:
        sock.close()
        raise
    scheme = "https" if args.tls_cert else "http"
    shown = args.allow_host[0] if args.allow_host else args.host
    shown = f"[{shown}]" if ":" in shown else shown
    url = f"{scheme}://{shown}:{port}"
    root = app.state.web.workspace.root
    record_server(root, url, accounts=users is not None)  # for serve --new-link
    if users is None:
        print(printable(f"bulk-provision serve: open {url}/login?token={access.new_token()}"),
              flush=True)
        print(f"(it works once, within {START_LINK_MINUTES} minutes; `bulk-provision serve "
              "--new-link` prints another)", flush=True)
    else:
        print(printable(f"bulk-provision serve: open {url}/"), flush=True)
    print(printable(f"workspace {args.workspace.resolve()}; Glance {config.connection.endpoint}; "
                    "Ctrl-C stops (runs stop resumably)"), flush=True)
    server = uvicorn.Server(uvicorn_config(app, tls_cert=args.tls_cert, tls_key=args.tls_key))
    # uvicorn installs server.handle_exit for SIGINT/SIGTERM: ours first ends the event streams
    # and stops the runs (their journals and workbooks are written while the server shuts
    # down), and does not re-raise the signal afterwards.
    server.handle_exit = lambda sig, frame: on_exit(server, app, sig)  # type: ignore[method-assign]
    previous = os.umask(0o077)  # every file the server writes holds personal data: owner-only
    try:
        server.run(sockets=[sock])
    finally:
        os.umask(previous)
        sock.close()
        forget_server(root)
        app.state.web.workspace.release()  # also when the server never got to its shutdown
    return Ending.FINISHED


def on_exit(server: Any, app: Any, sig: int) -> None:
    closing: threading.Event = app.state.web.config.closing
    if not closing.is_set():
        sys.stderr.write("\nbulk-provision serve: stopping: runs stop as Ctrl-C stops `run` "
                         "(resumable); writing their results\n")
    closing.set()
    app.state.web.runs.begin_shutdown()
    if server.should_exit and sig == signal.SIGINT:
        server.force_exit = True
    server.should_exit = True


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
