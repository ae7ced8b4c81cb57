"""Every call the page makes into the engine, in one place.

The page is a thin layer over the same library as the command line: it reads and validates a
roster, previews a plan, and runs a job through :func:`bulk_provision.jobs.run.run_job`.
Nothing else in ``bulk_provision.web`` imports the engine, so re-pointing the page at a new
engine API means changing this module only.

Credentials come from the server's environment and config file (DESIGN.md section 3), never
from the page; the client is built here, non-interactively.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from python_calamine import SheetTypeEnum, SheetVisibleEnum

from bulk_provision.errors import BulkProvisionError, ConfigError, Hint, RosterError, UsageError
from bulk_provision.glance import GlanceClient
from bulk_provision.glance.connect import open_client
from bulk_provision.glance.models import NO_ROLE
from bulk_provision.jobs.clients import lazy_client
from bulk_provision.jobs.notify import Notifier, notifier_from
from bulk_provision.jobs.people import (
    Page,
    Person,
    page_of,
    people_page,
    plan_people,
    read_people,
    rows_shown,
    run_people,
    write_people,
)
from bulk_provision.jobs.plan import plan_job, write_plan_workbook
from bulk_provision.jobs.run import JobResult, run_job
from bulk_provision.jobs.summary import error_document, summary_document
from bulk_provision.jobs.undo import UndoResult, carry_out_undo, plan_undo
from bulk_provision.jobs.validate import validate_job
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import FINAL_STATES
from bulk_provision.model import Action, ActionKind, Progress, RowResult
from bulk_provision.recipe.draft import RecipeDraft, render
from bulk_provision.recipe.file import Recipe, parse_recipe
from bulk_provision.report.plan_report import SHOWN
from bulk_provision.report.template import write_template
from bulk_provision.roster.draft import distinct_values, draft_for, draft_from_recipe
from bulk_provision.roster.excel_reader import open_workbook
from bulk_provision.roster.read import Roster, read_roster
from bulk_provision.roster.recipe import read_with_recipe
from bulk_provision.roster.roles import unlisted_roles
from bulk_provision.roster.validation import ValidationResult, validate_roster
from bulk_provision.settings.config import Settings
from bulk_provision.settings.connection import Connection as Endpoint
from bulk_provision.settings.engine import EngineOptions
from bulk_provision.settings.spec import MODES, JobSpec, UndoSpec, connection_for, listing

CREDENTIAL_HELP = (
    "the server has no Glance credentials: whoever starts `bulk-provision serve` sets "
    "GLANCE_PARTNER_LOGIN and GLANCE_PARTNER_PW (or GLANCE_API_KEY, GLANCE_PARTNER_ID and "
    "GLANCE_PARTNER_USER_ID) in its environment or config file"
)
MAX_NOTIFIED_ROWS = 1000  # rows listed in a webhook's JSON, as `run --notify` does
__all__ = ["MODES", "BulkProvisionError", "JobResult", "Page", "Person", "RecipeDraft",
           "RosterError", "RowResult", "UsageError", "ValidationResult", "distinct_values",
           "page_of", "people_page", "read_people", "rows_shown", "run_people", "unlisted_roles",
           "write_people", "write_template"]


@dataclass(frozen=True)
class RunOptions:
    """What the page lets an HR admin choose; everything else comes from the server's config."""

    mode: str = "create"
    skip_invalid: bool = False
    set_passwords: bool = False
    max_suspend: str = "10%"
    protect: tuple[str, ...] = ()
    rows: str = ""  # "Run only the rows shown": the roster rows of one wave ("" for all)

    def check(self) -> RunOptions:
        if self.mode not in MODES:
            raise UsageError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.rows and self.mode == "sync":
            raise UsageError("Full sync takes the whole file: it would suspend everyone who is "
                             "not shown. Choose “Add and update” to run only some rows.")
        if not re.fullmatch(r"\d{1,9}(\.\d{1,3})?%|\d{1,9}", self.max_suspend):
            raise UsageError(
                f"max suspend {self.max_suspend!r}: give a count (25) or a percentage (10%)"
            )
        return self


@dataclass
class Connection:
    """The server's endpoint and credentials (environment over config file)."""

    settings: Settings
    env: Mapping[str, str]

    @property
    def endpoint(self) -> str:
        """The Glance base URL as the page shows it: never with a user or password in it."""
        try:
            url = self._endpoint().base_url
        except BulkProvisionError:
            url = self.settings.environment(self.env).get("GLANCE_BASE_URL", "")
        return without_userinfo(url)

    def notifier(self) -> Notifier | None:
        """The config file's ``notify = [...]`` (as ``run`` uses it), or None; raises the
        engine's UsageError/ConfigError when a target or the SMTP settings are unusable."""
        return notifier_from(self.settings, self.settings.environment(self.env))

    def _endpoint(self) -> Endpoint:
        return connection_for({}, self.settings, self.env)

    def client(self, pool_size: int) -> GlanceClient:
        endpoint = self._endpoint()
        env = endpoint.env
        if not env.get("GLANCE_PARTNER_LOGIN", "").strip() or not (
            env.get("GLANCE_PARTNER_PW") or env.get("GLANCE_API_KEY")
        ):
            raise ConfigError(CREDENTIAL_HELP)
        return open_client(endpoint, pool_size=pool_size)  # never prompts: no terminal here

    @contextmanager
    def open_client(self, pool_size: int) -> Iterator[GlanceClient]:
        client = self.client(pool_size)
        try:
            yield client
        finally:
            client.close()

    def engine_options(self) -> EngineOptions:
        """The config file's tuning, checked as ``run`` checks its options."""
        return self.spec(Path("roster.csv"), self.default_options()).engine

    def default_options(self) -> RunOptions:
        """The options the page starts from: the config file's, else the defaults."""
        s = self.settings
        return RunOptions(mode=str(s.get("mode", "create")),
                          skip_invalid=bool(s.get("skip_invalid", False)),
                          set_passwords=bool(s.get("set_passwords", False)),
                          max_suspend=str(s.get("max_suspend", "10%")))

    def spec(self, roster: Path, options: RunOptions, *, out: Path | None = None,
             checkpoint: Path | None = None, sheet: str | None = None,
             recipe: Path | None = None, plan: Path | None = None,
             listed_roles: Sequence[str] | None = None) -> JobSpec:
        """The same ``JobSpec.from_settings`` as ``run``: the page's choices are its options,
        over the server's config file and environment (the signed-in account is protected
        there). The config file's protected accounts always hold; the page only adds to them."""
        protect = [*(listing(self.settings.get("protect")) or []), *options.protect]
        chosen = {"roster": roster, "out": out, "checkpoint": checkpoint, "mode": options.mode,
                  "skip_invalid": options.skip_invalid, "set_passwords": options.set_passwords,
                  "max_suspend": options.max_suspend, "protect": protect, "sheet": sheet,
                  "rows": options.rows or None}
        if recipe is not None:  # the roster's own recipe (Columns step) over the config's
            chosen["recipe"] = recipe
        if plan is not None:  # Start: exactly the previewed plan, which carries its mode
            chosen.update(plan=plan, mode=None, set_passwords=None, rows=None)  # and wave
        spec = JobSpec.from_settings(chosen, self.settings, self.env)
        spec.listed_roles = listed_roles  # roles Glance listed at upload: typos are problems
        return spec

    def undo_spec(self, checkpoint: Path, out: Path, protect: Sequence[str],
                  max_suspend: str) -> UndoSpec:
        """``undo CHECKPOINT`` as the page asks it: the server's endpoint and tuning, the
        config file's protected accounts and the run's, created users suspended (never
        deleted)."""
        protect = [*(listing(self.settings.get("protect")) or []), *protect]
        return UndoSpec(checkpoint, connection=self._endpoint(), engine=self.engine_options(),
                        protect=protect, max_suspend=max_suspend, out=out)

    def check(self) -> list[str]:
        """"check connection": the roles ShowRoles lists (raises the engine's error)."""
        with self.open_client(1) as client:
            return sorted(r.name for r in client.show_roles())

    def roles(self) -> list[str] | None:
        """The roles Glance lists (and the config file's ``roles``), or None when Glance
        cannot be asked now (no credentials, unreachable): roles are then checked at Start."""
        try:
            listed = [r for r in self.check() if r != NO_ROLE]
        except BulkProvisionError:
            return None
        configured = listing(self.settings.get("roles")) or []
        return sorted({*listed, *configured}, key=str.casefold) or None


def validate(connection: Connection, roster: Path, sheet: str | None = None,
             recipe: Path | None = None, roles: Sequence[str] | None = None,
             ) -> tuple[Roster, ValidationResult]:
    """Read and validate a roster (RosterError and friends say what is wrong with the file);
    ``roles``: what :meth:`Connection.roles` answered."""
    return validate_job(connection.spec(roster, RunOptions(), sheet=sheet, recipe=recipe,
                                        listed_roles=roles))


def validate_any_sheet(connection: Connection, roster: Path, roles: Sequence[str] | None = None,
                       ) -> tuple[Roster, ValidationResult]:
    """:func:`validate`; when the workbook's first sheet holds no roster, the first other
    visible sheet that does (the result's ``roster.sheet`` names it)."""
    try:
        return validate(connection, roster, roles=roles)
    except RosterError as exc:
        if exc.hint is not Hint.PICK_SHEET:
            raise
        for name in other_sheets(roster):
            try:
                return validate(connection, roster, name, roles=roles)
            except RosterError:
                continue
        raise


def other_sheets(roster: Path) -> list[str]:
    """The workbook's visible worksheets after the first (at most 20 are tried)."""
    book = open_workbook(roster.read_bytes(), roster.suffix.lower())
    visible = [str(m.name) for m in book.sheets_metadata
               if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet]
    return visible[1:21]


def write_report(connection: Connection, roster: Path, path: Path,
                 sheet: str | None = None, recipe: Path | None = None) -> None:
    validate_job(connection.spec(roster, RunOptions(), sheet=sheet, recipe=recipe), report=path)


@dataclass
class PlanPreview:
    """What a run would do: counts per action, field changes, suspensions, the guard's verdict."""

    counts: dict[str, int]
    changes: list[tuple[int | None, str, str, str, str]] = field(default_factory=list)
    suspensions: list[str] = field(default_factory=list)
    refusal: str | None = None
    total: int = 0
    people: list[Person] = field(default_factory=list)  # every action, as the person it is for

    @property
    def suspending(self) -> int:
        """People this plan suspends (the typed confirmation asks for this number)."""
        return sum(1 for p in self.people if p.tab == "suspend")


def preview_plan(connection: Connection, roster: Path, options: RunOptions, out: Path,
                 *, shown: int = 200, sheet: str | None = None,
                 recipe: Path | None = None, roles: Sequence[str] | None = None) -> PlanPreview:
    """The plan for ``roster`` under ``options``, also written as the plan workbook ``out``."""
    spec = connection.spec(roster, options, sheet=sheet, recipe=recipe, listed_roles=roles)
    if spec.mode == "create" and spec.selection is None:  # nothing to read from Glance
        planned = plan_job(spec, None, stop_if_invalid=False)
    else:
        with connection.open_client(2) as client:
            planned = plan_job(spec, client, stop_if_invalid=False)
    write_plan_workbook(out, spec, planned)
    preview = _preview(planned.actions or [], planned.refusal, shown)
    preview.people = plan_people(planned.actions or [], planned.roster, planned.glance)
    return preview


def _preview(actions: Sequence[Action], refusal: str | None, shown: int) -> PlanPreview:
    counts = Counter(SHOWN[a.kind] for a in actions)
    preview = PlanPreview({name: counts.get(name, 0) for name in SHOWN.values()},
                          refusal=refusal, total=len(actions))
    for action in actions:
        if action.kind is ActionKind.SUSPEND and action.row is None:
            preview.suspensions.append(action.key)
        for name, (before, after) in action.changes.items():
            if len(preview.changes) < shown:
                preview.changes.append((action.row, action.key, name, before, after))
    if refusal:
        preview.refusal = hr_words(refusal)
    return preview


def hr_words(refusal: str) -> str:
    """The sync guard's refusal in the page's words (no command-line option in it)."""
    found = re.match(r"sync would suspend (\d+) of (\d+) active users", refusal)
    if found is None:
        return refusal.replace("--max-suspend", "the suspension limit").replace(
            "--protect", "protected accounts")
    count, active = found.groups()
    return (f"This would suspend {count} of the {active} people who can sign in to Glance, more "
            "than the limit allows; nothing was changed. Check the file lists everyone who "
            "still works here (the people to be suspended are listed below), or raise the "
            "limit under Options if they really all left.")


def run(connection: Connection, spec: JobSpec, progress: Progress,
        stop: threading.Event) -> JobResult:
    """One run, as ``bulk-provision run`` does it; the workbook is written whatever the end."""
    with lazy_client(lambda _hook: connection.client(spec.engine.workers)) as factory:
        return run_job(spec, factory, progress=progress, stop=stop)


@dataclass
class UndoPreview:
    """What undoing a run would do, as people, and what it must leave as it is."""

    people: list[Person]
    notes: list[tuple[str, str, str]]  # (name, Employee ID, why it is left as it is)
    refusal: str | None = None

    @property
    def suspending(self) -> int:
        return sum(1 for p in self.people if p.tab in ("suspend", "delete"))


def preview_undo(connection: Connection, checkpoint: Path, out: Path,
                 protect: Sequence[str]) -> UndoPreview:
    """The undo plan of the run whose journal is ``checkpoint``, written to ``out`` and checked
    against a fresh snapshot. The page's guard on its suspensions is the typed count, so the
    percentage limit is not applied (they are the run's own changes, listed by name)."""
    spec = connection.undo_spec(checkpoint, out, protect, "100%")
    with connection.open_client(2) as client:
        result = plan_undo(spec, client)
    people = plan_people(result.actions, None, result.glance)
    notes = []
    for note in result.notes:
        user = result.glance.get(note.key)
        name = f"{user.user_first} {user.user_last}".strip() if user is not None else ""
        notes.append((name, note.key, note.reason))
    return UndoPreview(people, notes, hr_words(result.refusal) if result.refusal else None)


def undo(connection: Connection, checkpoint: Path, out: Path, protect: Sequence[str],
         suspending: int, progress: Progress, stop: threading.Event) -> UndoResult:
    """Carry out the undo (``undo --yes``): a journaled run of its own, resumable; it never
    suspends more people than the admin confirmed."""
    spec = connection.undo_spec(checkpoint, out, protect, str(suspending))
    with lazy_client(lambda _hook: connection.client(spec.engine.workers)) as factory:
        return carry_out_undo(spec, factory, progress=progress, stop=stop)


def notify_result(connection: Connection, result: JobResult, spec: JobSpec) -> list[str]:
    """Send the end of a run to the config file's targets; one line per failed target."""
    notifier = connection.notifier()
    if notifier is None:
        return []
    document = summary_document(result, spec, max_rows=MAX_NOTIFIED_ROWS)
    return notifier.send(document, attachment=result.results_path)


def notify_error(connection: Connection, error: BulkProvisionError, roster: Path,
                 mode: str) -> list[str]:
    """Send a run that could not start or stopped on an error to the config file's targets."""
    notifier = connection.notifier()
    if notifier is None:
        return []
    return notifier.send(error_document(error, roster=roster, mode=mode,
                                        endpoint=connection.endpoint))


def without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def journal_counts(path: Path) -> tuple[dict[str, int], int]:
    """Finished rows per outcome recorded in a journal, and how many rows are still open
    (never sent, sent, or in doubt); ({}, 0) when there is no journal."""
    if not path.is_file():
        return {}, 0
    try:
        with Checkpoint.read_only(path) as journal:
            states, outcomes = journal.state_counts(), journal.outcome_counts()
    except BulkProvisionError:
        return {}, 0
    still_open = sum(n for state, n in states.items() if state not in FINAL_STATES)
    return {str(outcome): n for outcome, n in outcomes.items() if n}, still_open


def unfinished(path: Path) -> bool:
    return journal_counts(path)[1] > 0


def run_spec(connection: Connection, roster: Path, options: RunOptions, out: Path,
             checkpoint: Path, sheet: str | None = None, recipe: Path | None = None,
             plan: Path | None = None, roles: Sequence[str] | None = None) -> JobSpec:
    return connection.spec(roster, options, out=out, checkpoint=checkpoint, sheet=sheet,
                           recipe=recipe, plan=plan, listed_roles=roles)



# -- the Columns step: a recipe for an HR export ----------------------------------------------
@dataclass
class RecipePreview:
    """What a recipe makes of an export's first rows, computed by the same code as a run."""

    error: str = ""  # the recipe cannot read this export (refused, as the command line would)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total: int = 0
    leavers: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # row, header, message
    problem_rows: int = 0
    notes: list[str] = field(default_factory=list)


PREVIEW_COLUMNS = {"PartnerUserID": "Employee ID", "UserFirst": "First name",
                   "UserLast": "Last name", "UserAddress": "Glance user name",
                   "UserEmail": "Email", "UserRole": "Role", "Action": "Action"}


def read_export(roster: Path, sheet: str | None) -> Roster:
    """The export as it is (no recipe), for the Columns step's choices."""
    return read_roster(roster, sheet=sheet)


def column_draft(export: Roster, recipe_text: str | None) -> RecipeDraft:
    """The Columns step's starting choices: the roster's recipe, else a fresh draft."""
    if recipe_text is not None:
        try:
            return draft_from_recipe(parse_recipe(recipe_text.encode("utf-8"), "recipe"), export)
        except ConfigError:
            pass
    return draft_for(export)


def recipe_text(draft: RecipeDraft, source: str) -> str:
    return render(draft, source=source)


def check_recipe(text: bytes, name: str) -> Recipe:
    """A recipe's text read as ``--recipe`` reads it (ConfigError says what is wrong)."""
    return parse_recipe(text, name)


def preview_recipe(connection: Connection, roster: Path, sheet: str | None, recipe: Recipe,
                   shown: int = 5) -> RecipePreview:
    """The first ``shown`` rows as the recipe reads them, and how validation would go."""
    try:
        export = read_with_recipe(roster, sheet=sheet, recipe=recipe)
        result = validate_roster(export, roles=connection.spec(roster, RunOptions()).roles)
    except BulkProvisionError as exc:
        return RecipePreview(error=str(exc))
    frame = export.frame
    columns = [c for c in PREVIEW_COLUMNS if c in frame.columns]
    applied = export.recipe
    problems = [(p.row, p.column, p.message) for p in result.problems[:shown]]
    return RecipePreview(
        columns=[PREVIEW_COLUMNS[c] for c in columns],
        rows=[[str(v) for v in row] for row in frame[columns].head(shown).itertuples(
            index=False, name=None)],
        total=len(frame), leavers=len(applied.leavers) if applied else 0,
        problems=problems, problem_rows=len(result.invalid_rows),
        notes=applied.notes if applied else [])
