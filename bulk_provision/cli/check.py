"""``bulk-provision check``: read-only first contact with a Glance server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bulk_provision.cli.connection import (
    AUTH_HINT,
    ENVIRONMENT_HELP,
    add_connection_options,
    open_client,
    settings_for,
)
from bulk_provision.errors import AuthError, ConfigError, Ending
from bulk_provision.glance import RoleCount, UsersPage
from bulk_provision.glance.models import NO_ROLE
from bulk_provision.settings.paths import create_private, make_private_dirs
from bulk_provision.settings.spec import connection_for
from bulk_provision.terminal import printable

PAGE_COUNT = 10
SHOWN_USERS = 5

DESCRIPTION = f"""\
Read-only first contact with a server: authenticate, call ShowRoles and one page of ShowUsers
(PageCount {PAGE_COUNT}), and say what was understood. Nothing is changed. With --save-responses
the raw XML answers are kept (ShowRoles.xml, ShowUsers.xml), so the project's wire format
(glance-api.md 4.4) can be checked against the real Glance; requests, which carry the password,
are never saved.

example:
  export GLANCE_PARTNER_LOGIN=admin.example.glance.net
  read -rs GLANCE_PARTNER_PW && export GLANCE_PARTNER_PW
  bulk-provision check --save-responses glance-responses/

{ENVIRONMENT_HELP}"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="authenticate and read roles and users, changing nothing",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--save-responses",
        type=Path,
        metavar="DIR",
        help="keep the raw XML responses in DIR (created if needed)",
    )
    parser.add_argument("--config", type=Path, help="settings file (default ./bulk-provision.toml)")
    add_connection_options(parser)
    parser.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> Ending:
    connection = connection_for(vars(args), settings_for(args), os.environ)
    with open_client(connection) as client:
        print(printable(f"Endpoint: {client.base_url}"))
        try:
            roles = client.show_roles_answer()
        except AuthError as exc:
            raise AuthError(f"{exc}; {AUTH_HINT}") from exc
        mode = "LoginKey (PartnerAuth)" if client.credentials.uses_login_key else "password"
        print(f"Login: accepted ({mode})")
        users = client.show_users_answer(page_count=PAGE_COUNT)
    for line in [*_role_lines(roles.value), *_user_lines(users.value)]:
        print(printable(line))  # server text: escaped
    if args.save_responses is not None:
        bodies = {"ShowRoles.xml": roles.body, "ShowUsers.xml": users.body}
        saved = _save(args.save_responses, bodies)
        print(printable(f"Saved the raw responses: {', '.join(str(path) for path in saved)}"))
    return Ending.FINISHED


def _role_lines(roles: list[RoleCount]) -> list[str]:
    lines = [f"Roles with users: {len(roles)}"]
    for role in roles:
        lines.append(
            f"  {role.name}: {role.active_users} active, {role.inactive_users} inactive, "
            f"{role.users} in all"
        )
    return lines


def _user_lines(page: UsersPage) -> list[str]:
    more = "more pages exist" if page.next_page_start else "no more pages"
    lines = [f"Users on the first page (up to {PAGE_COUNT}): {len(page.users)}; {more}"]
    for user in page.users[:SHOWN_USERS]:
        state = "suspended" if user.suspended else "active"
        role = user.user_role or NO_ROLE
        lines.append(f"  {user.partner_user_id}  {user.user_address}  {role}  {state}")
    if len(page.users) > SHOWN_USERS:
        lines.append(f"  ... and {len(page.users) - SHOWN_USERS} more on this page")
    return lines


def _save(directory: Path, files: dict[str, bytes]) -> list[Path]:
    """Write the raw bodies (answers only: they carry no secret) into ``directory``."""
    try:
        make_private_dirs(directory)  # new folders 0700, new files 0600: they list the users
        saved = []
        for name, body in files.items():
            path = directory / name
            with open(create_private(path, os.O_WRONLY | os.O_TRUNC), "wb") as handle:
                handle.write(body)
            saved.append(path)
    except OSError as exc:
        raise ConfigError(f"cannot save the responses in {directory}: {exc.strerror}") from exc
    return saved
