"""Command-line options shared by several commands (parsing only: their meaning is in
``settings``, which merges them with the config file and the environment)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bulk_provision.settings.paths import Role
from bulk_provision.settings.spec import MODES, JobSpec


def add_json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout instead of the summary "
                        "(progress and warnings go to stderr)")


def add_job_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``plan``."""
    p.add_argument("roster", type=Path, metavar="ROSTER", help="CSV or Excel roster")
    p.add_argument("--mode", choices=MODES, help="create (default), upsert or sync")
    p.add_argument("--sheet", help="worksheet to read (default: the first visible one)")
    p.add_argument("--columns", type=Path, help="TOML file mapping your headers to Glance names")
    p.add_argument("--recipe", type=Path, metavar="FILE",
                   help="how your HR export becomes a roster: headers, a computed address, "
                        "lookups, leavers (write a draft with `bulk-provision recipe EXPORT`)")
    p.add_argument("--schema", type=Path, metavar="FILE",
                   help="the rules from a Python file (as for validate) instead of the built-in")
    p.add_argument("--config", type=Path, help="settings file (default ./bulk-provision.toml)")
    p.add_argument("--roles", help="comma-separated roles that exist in Glance")
    p.add_argument("--check-roles", action="store_true", default=None,
                   help="also accept the roles ShowRoles lists, and refuse unknown ones")
    p.add_argument("--skip-invalid", action="store_true", default=None,
                   help="go ahead with the valid rows and report the invalid ones")
    p.add_argument("--audio-provider", choices=("1", "666"),
                   help="AudioProvider for new users whose row leaves it empty")
    p.add_argument("--set-passwords", action="store_true", default=None,
                   help="upsert/sync: also send the roster's passwords to existing users")
    p.add_argument("--protect", action="append", metavar="PATTERN",
                   help="sync: never suspend users matching this (* wildcards; repeatable)")
    p.add_argument("--max-suspend", metavar="N|P%",
                   help="sync: refuse to suspend more than this (default 10%%)")
    add_selection_options(p)
    add_engine_limits(p)
    add_json_option(p)


def add_selection_options(p: argparse.ArgumentParser) -> None:
    """One wave of the roster (``settings.selection``): only these rows are validated,
    planned, sent and reported."""
    wave = p.add_argument_group(
        "waves", "take only some rows of the roster (a canary, a department, the rest): each\n"
                 "wave is a run of its own, with its own checkpoint and results files;\n"
                 "--mode sync refuses a wave")
    wave.add_argument("--rows", metavar="A-B[,C]",
                      help="roster row numbers as the results workbook shows them (the "
                           "header is row 1), e.g. --rows 2-21,40")
    wave.add_argument("--where", action="append", metavar="COLUMN=VALUE[,VALUE]",
                      help="only rows whose COLUMN (the roster's header or the Glance field "
                           "name) is one of the VALUEs; repeatable: every one must hold")
    wave.add_argument("--first", metavar="N",
                      help="only the first N rows the rest of the selection leaves")


def add_engine_limits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-wait", type=float, metavar="S",
                   help="longest wait Glance may ask for (Retry-After) before the run stops, "
                        "resumably (default 300)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    add_job_options(p)
    p.add_argument("--out", type=Path, help="results workbook (default ROSTER-STEM.results.xlsx)")
    add_engine_options(p)
    p.add_argument("--checkpoint", type=Path,
                   help="journal file (default ROSTER.checkpoint.sqlite)")
    p.add_argument("--fresh", action="store_true",
                   help="ignore an earlier checkpoint and start over")
    p.add_argument("--retry-failed", action="store_true", help="retry rows that failed before")
    p.add_argument("--log-file", type=Path, help="write one JSON line per API call")
    p.add_argument("--plan", type=Path, metavar="PLAN.xlsx",
                   help="carry out exactly this plan (written by `plan`) after checking that "
                        "the roster and Glance still match it; otherwise nothing is changed")
    add_progress_options(p)


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """How requests are sent: shared by ``run`` and ``undo``."""
    p.add_argument("--workers", type=int, help="concurrent requests (default 8)")
    p.add_argument("--rate", type=float,
                   help="requests/s across all workers (default 10; 0 = no cap)")
    p.add_argument("--max-retries", type=int, help="retries per row for temporary failures (5)")


def add_progress_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="print only the final summary")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")


def input_roles(spec: JobSpec) -> list[Role]:
    """The files a command reads besides the roster, which no output may overwrite."""
    found = [("--config", "the config file", spec.config_file),
             ("--columns", "the --columns file", spec.columns_file),
             ("--recipe", "the recipe", spec.recipe_file),
             ("--schema", "the --schema file", spec.schema),
             ("--ca-bundle", "the CA bundle", spec.connection.ca_bundle),
             ("--plan", "the approved plan", spec.plan)]
    return [Role(option, noun, Path(path), output=False) for option, noun, path in found if path]
