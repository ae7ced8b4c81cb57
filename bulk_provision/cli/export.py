"""``bulk-provision export``: every Glance user as a roster workbook."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bulk_provision.cli.connection import (
    AUTH_HINT,
    ENVIRONMENT_HELP,
    add_connection_options,
    open_client,
    settings_for,
)
from bulk_provision.cli.options import add_json_option
from bulk_provision.cli.summary import human, print_json
from bulk_provision.errors import AuthError, Ending, UsageError
from bulk_provision.jobs.export import (
    FILTER_FIELDS,
    NOT_EMAIL,
    SPACED,
    Tally,
    export_users,
    parse_filter,
)
from bulk_provision.jobs.summary import command_document
from bulk_provision.report.export_report import write_export
from bulk_provision.settings.engine import EngineOptions
from bulk_provision.settings.paths import Role, check_workbook_output
from bulk_provision.settings.spec import connection_for
from bulk_provision.terminal import printable

DESCRIPTION = f"""\
Read every user from Glance (ShowUsers, all pages) and write them as a roster workbook with the
template's columns plus Suspended (yes/no). Passwords are never in it: Glance does not return
them. Edit it and run it again: `run --mode upsert` on an unedited export changes nothing.

--filter FIELD=PATTERN keeps only matching users (* wildcards, case-insensitive; repeat it and
every filter must match). FIELD is one of {", ".join(FILTER_FIELDS)};
UserRole=-none- finds users without a role.

example:
  bulk-provision export
  bulk-provision export --out agents.xlsx --filter UserRole=Agent --filter Suspended=no

{ENVIRONMENT_HELP}"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="every Glance user as a roster workbook",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path,
                        help="workbook to write (default glance-users-YYYYMMDD.xlsx)")
    parser.add_argument("--filter", action="append", default=[], metavar="FIELD=PATTERN",
                        help="keep only users matching (repeatable; all must match)")
    parser.add_argument("--config", type=Path, help="settings file (default ./bulk-provision.toml)")
    add_json_option(parser)
    add_connection_options(parser)
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> Ending:
    filters = [parse_filter(text) for text in args.filter]
    settings = settings_for(args)
    out = args.out or Path(f"glance-users-{datetime.now(UTC):%Y%m%d}.xlsx")
    _check_out(out, args, settings.path)
    connection = connection_for(vars(args), settings, os.environ)
    options = EngineOptions(
        max_retries=int(settings.get("max_retries", 5)),
        backoff_base=float(settings.get("backoff_base", 0.5)),
        backoff_max=float(settings.get("backoff_max", 30.0)),
    )
    with open_client(connection) as client:
        try:
            tally = export_users(client.show_users, partial(write_export, out), filters, options)
        except AuthError as exc:
            raise AuthError(f"{exc}; {AUTH_HINT}") from exc
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from exc
    text = human(args)
    shown = f" matching {' and '.join(map(str, filters))}" if filters else ""
    print(printable(f"{tally.exported} of {tally.seen} users{shown} exported to {out}"), file=text)
    if tally.without_key:
        print(f"without a PartnerUserID: {len(tally.without_key)} more, on the sheet "
              "'No PartnerUserID' (PAPI cannot address them; run never reads that sheet)",
              file=text)
    _warn_odd(tally)
    if args.json:
        print_json(command_document(
            "export", Ending.FINISHED, files={"export": out}, total=tally.seen,
            endpoint=connection.base_url,
            counts={"seen": tally.seen, "exported": tally.exported,
                    "without_partner_user_id": len(tally.without_key)},
            filters=[str(f) for f in filters],
        ))
    return Ending.FINISHED


def _warn_odd(tally: Tally) -> None:
    if tally.odd[SPACED]:
        print(f"bulk-provision: warning: {tally.odd[SPACED]} exported users have a value with "
              "outer spaces in Glance; run reads them trimmed and compares them trimmed "
              "(no change is sent for the spaces alone)", file=sys.stderr)
    if tally.odd[NOT_EMAIL]:
        print(f"bulk-provision: warning: {tally.odd[NOT_EMAIL]} exported users have a UserEmail "
              "that is not a valid address (Glance accepted it); run refuses those rows until "
              "the address is fixed in the workbook", file=sys.stderr)


def _check_out(out: Path, args: argparse.Namespace, config: Path | None) -> None:
    """Before any request: a workbook name, a folder that exists, not one of the inputs."""
    inputs = [("--config", "the config file", config),
              ("--ca-bundle", "the CA bundle", getattr(args, "ca_bundle", None))]
    check_workbook_output("--out", "the export workbook", out, [
        Role(option, noun, Path(path), output=False) for option, noun, path in inputs if path])
