"""Connection options and credentials shared by every command that talks to a server.

``run``, ``plan``, ``check`` and ``validate --check-roles`` call :func:`add_connection_options` on
their parser and :func:`make_client` in their handler. Secrets come only from the environment or
a not-echoed prompt on a terminal, never from a command-line argument (visible in ``ps``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from bulk_provision.config import Settings, load_settings
from bulk_provision.errors import ConfigError
from bulk_provision.glance import CallRecord, Credentials, GlanceClient
from bulk_provision.glance.transport import check_base_url

DEFAULT_BASE_URL = "https://www.glance.net"
DEFAULT_TIMEOUT = 30.0
MAX_CONNECT_TIMEOUT = 10.0

CREDENTIAL_HELP = (
    "set GLANCE_PARTNER_LOGIN and GLANCE_PARTNER_PW, or GLANCE_API_KEY with GLANCE_PARTNER_ID "
    "and GLANCE_PARTNER_USER_ID"
)
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
    settings = load_settings(getattr(args, "config", None))
    for warning in settings.warnings:
        print(f"bulk-provision: warning: {warning}", file=sys.stderr)
    return settings


TEXT_VARIABLES = ("GLANCE_BASE_URL", "GLANCE_PARTNER_LOGIN", "GLANCE_PARTNER_PW", "GLANCE_API_KEY",
                  "GLANCE_PARTNER_ID", "GLANCE_PARTNER_USER_ID")


def check_text(env: Mapping[str, str]) -> None:
    """Refuse a setting holding bytes that are not UTF-8 (kept as surrogates in os.environ on
    POSIX): they cannot be sent. The message names the variable, never its value."""
    for name in TEXT_VARIABLES:
        try:
            env.get(name, "").encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(
                f"{name} holds bytes that are not UTF-8 text; set it again, typed as UTF-8"
            ) from None


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def resolve_credentials(
    env: Mapping[str, str],
    *,
    interactive: bool,
    prompt: Callable[[str], str] = getpass.getpass,
) -> Credentials:
    """Credentials from the environment; on a terminal a missing password is prompted for."""
    login = _get(env, "GLANCE_PARTNER_LOGIN")
    if login is None:
        raise ConfigError(f"no partner login: {CREDENTIAL_HELP}")
    if "@" in login:
        raise ConfigError(
            "GLANCE_PARTNER_LOGIN must be the admin's Glance user name, shaped like a host name "
            "(admin.example.glance.net), not an email address"
        )
    api_key = env.get("GLANCE_API_KEY") or None  # secrets are taken exactly as given
    password = env.get("GLANCE_PARTNER_PW") or None
    partner_id = _get(env, "GLANCE_PARTNER_ID")
    partner_user_id = _get(env, "GLANCE_PARTNER_USER_ID")
    if api_key and not (partner_id and partner_user_id):
        raise ConfigError(
            "GLANCE_API_KEY needs GLANCE_PARTNER_ID (the group ID) and GLANCE_PARTNER_USER_ID "
            "(the admin's own PartnerUserID) to sign LoginKeys"
        )
    if not api_key and not password:
        if not interactive:
            raise ConfigError(f"no partner password: {CREDENTIAL_HELP}")
        password = prompt(f"Glance password for {login}: ") or None
        if not password:
            raise ConfigError("no partner password given")
    return Credentials(
        partner_login=login,
        partner_pw=password,
        api_key=api_key,
        partner_id=partner_id,
        partner_user_id=partner_user_id,
    )


def make_client(
    args: argparse.Namespace,
    env: Mapping[str, str],
    *,
    pool_size: int,
    on_call: Callable[[CallRecord], None] | None = None,
    interactive: bool | None = None,
) -> GlanceClient:
    """A client for ``GLANCE_BASE_URL`` with the command's connection options.

    ``interactive`` defaults to whether stdin is a terminal. The connect timeout is the smaller
    of ``--timeout`` and 10 s; ``--timeout`` bounds each answer, and with the connect timeout
    added, the whole exchange. The endpoint is checked before any password is asked for.
    """
    check_text(env)
    base_url = _get(env, "GLANCE_BASE_URL") or DEFAULT_BASE_URL
    check_base_url(base_url)
    ca_bundle: Path | str | None = getattr(args, "ca_bundle", None) or _get(env, "GLANCE_CA_BUNDLE")
    timeout = float(getattr(args, "timeout", None) or DEFAULT_TIMEOUT)
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    credentials = resolve_credentials(env, interactive=interactive)
    return GlanceClient(
        base_url,
        credentials,
        ca_bundle=ca_bundle,
        timeout=(min(timeout, MAX_CONNECT_TIMEOUT), timeout),
        pool_size=pool_size,
        on_call=on_call,
    )
