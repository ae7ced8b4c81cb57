"""Connection options shared by every command that talks to a server, and the config file.

``run``, ``plan``, ``check`` and ``validate --check-roles`` call :func:`add_connection_options` on
their parser; ``settings.JobSpec.from_settings`` / ``settings.connection_for`` turn the options
into a ``connection.Connection``, and :func:`open_client` opens it. Secrets come only from the
environment, the config file or a not-echoed prompt on a terminal, never from a command-line
argument (visible in ``ps``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from bulk_provision.glance import CallRecord, GlanceClient, connect
from bulk_provision.glance.connect import Prompt
from bulk_provision.settings.config import Settings, load_settings
from bulk_provision.settings.connection import DEFAULT_TIMEOUT, Connection
from bulk_provision.terminal import printable

AUTH_HINT = (
    "check GLANCE_PARTNER_LOGIN and GLANCE_PARTNER_PW (or GLANCE_API_KEY, GLANCE_PARTNER_ID, "
    "GLANCE_PARTNER_USER_ID) and GLANCE_BASE_URL"
)
ENVIRONMENT_HELP = """\
environment:
  GLANCE_BASE_URL         default https://www.glance.net (https:// only)
  GLANCE_CA_BUNDLE        CA bundle (PEM) when --ca-bundle is not given
  GLANCE_PARTNER_LOGIN    the partner admin's Glance user name (admin.example.glance.net)
  GLANCE_PARTNER_PW       its password (prompted for on a terminal when missing), or
  GLANCE_API_KEY          the group's API key, to sign LoginKeys, with
  GLANCE_PARTNER_ID       the group ID and
  GLANCE_PARTNER_USER_ID  the admin's own PartnerUserID
"""


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """``--ca-bundle PEM`` and ``--timeout S``; the endpoint and credentials come from the
    environment (see ENVIRONMENT_HELP, which commands may append to their description)."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--profile", metavar="NAME",
        help="the config file's [profile.NAME] (e.g. staging or production) over its other "
             "settings; default: BULK_PROVISION_PROFILE, else none")
    group.add_argument(
        "--ca-bundle",
        type=Path,
        metavar="PEM",
        help="trust this CA bundle (e.g. the simulator's); default GLANCE_CA_BUNDLE. "
        "It wins over REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE; verification is never switched off",
    )
    group.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=None,
        metavar="S",
        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT:g})",
    )


def settings_for(args: argparse.Namespace) -> Settings:
    """The command's config file (``--config`` or ./bulk-provision.toml), its warnings printed."""
    settings = load_settings(getattr(args, "config", None),
                             profile=getattr(args, "profile", None))
    for warning in settings.warnings:
        print(f"bulk-provision: warning: {printable(warning)}", file=sys.stderr)
    return settings


def terminal_prompt() -> Prompt | None:
    """A not-echoed password prompt when stdin is a terminal; None (never ask) otherwise."""
    return getpass.getpass if sys.stdin is not None and sys.stdin.isatty() else None


def open_client(
    connection: Connection,
    *,
    pool_size: int = 1,
    on_call: Callable[[CallRecord], None] | None = None,
) -> GlanceClient:
    """``connection``'s client, asking for a missing password only on a terminal."""
    return connect.open_client(
        connection, pool_size=pool_size, on_call=on_call, prompt=terminal_prompt()
    )
