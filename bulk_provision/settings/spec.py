"""Options + config file + environment -> one :class:`JobSpec`, for every command and the page.

Precedence, for every setting: an option that was given (not None) wins over the config file,
the file over the default. The connection settings (``GLANCE_*``) come from the environment over
the file's connection keys. Every value is checked here, once, before anything is read or sent;
a bad one is a UsageError or ConfigError (exit 2) naming the option.

``options`` is a plain mapping of option names (``workers``, ``max_suspend``...) to values, None
meaning "not given": the command line passes ``vars(args)``, the page its form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulk_provision.errors import UsageError
from bulk_provision.recipe.file import Recipe, from_column_map
from bulk_provision.settings.columns import load_column_map, load_recipe_file
from bulk_provision.settings.config import Settings
from bulk_provision.settings.connection import Connection, connection_from
from bulk_provision.settings.engine import EngineOptions
from bulk_provision.settings.selection import Selection, parse_selection, wave_tag

MODES = ("create", "upsert", "sync")
AUDIO_PROVIDERS = ("", "1", "666")
MAX_WORKERS = 64
MAX_WAIT = 7 * 86400  # a week: --max-wait beyond it is a typo, not a plan
MIN_RATE = 0.01  # requests/s: one every 100 s; anything slower is a typo (or 0: no cap)
MAX_RATE = 100_000.0


@dataclass
class JobSpec:
    """Everything a run (or a plan, or a validation) was asked to do, merged and checked."""

    roster_path: Path
    connection: Connection = field(default_factory=Connection)
    sheet: str | None = None
    column_map: Mapping[str, str] | None = None
    out: Path | None = None
    checkpoint: Path | None = None
    mode: str = "create"
    fresh: bool = False
    skip_invalid: bool = False
    retry_failed: bool = False
    audio_provider: str = ""
    roles: Sequence[str] | None = None
    engine: EngineOptions = field(default_factory=EngineOptions)
    set_passwords: bool = False
    protect: Sequence[str] = ()
    max_suspend: str = "10%"
    check_roles: bool = False
    log_file: Path | None = None
    progress_interval: float = 10.0
    columns_file: Path | None = None
    schema: Path | None = None  # --schema: the rules from a Python file instead of the built-in
    config_file: Path | None = None
    plan: Path | None = None  # run --plan: carry out this approved plan workbook
    recipe: Recipe | None = None  # --recipe: how an HR export becomes a roster (section 12)
    recipe_file: Path | None = None
    listed_roles: Sequence[str] | None = None  # what ShowRoles answered (the page, at upload)
    profile: str = ""  # the config file's [profile.NAME] in use ("" for its flat keys)
    selection: Selection | None = None  # --rows / --where / --first: one wave of the roster

    @property
    def selection_text(self) -> str:
        """The wave as the journal, plan and results record it; "" for the whole roster."""
        return self.selection.text if self.selection is not None else ""

    @property
    def wave_tag(self) -> str:
        """``.rows-2-21-2728fd`` for a wave, "" for the whole roster: in the default file
        names, so two waves of one roster never share a journal or a results workbook."""
        return wave_tag(self.selection_text)

    @property
    def reading(self) -> Recipe | None:
        """How the roster's headers are read: the --recipe, or a --columns map as the recipe
        with only a [columns] table, or None (a file in Glance's shape)."""
        if self.recipe is not None:
            return self.recipe
        if self.column_map:
            name = self.columns_file.name if self.columns_file else "--columns"
            return from_column_map(self.column_map, name)
        return None

    @property
    def endpoint(self) -> str:
        return self.connection.base_url

    @property
    def results_path(self) -> Path:
        return self.out or self.roster_path.with_name(
            f"{self.roster_path.stem}{self.wave_tag}.results.xlsx")

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or self.roster_path.with_name(
            f"{self.roster_path.name}{self.wave_tag}.checkpoint.sqlite"
        )

    @classmethod
    def from_settings(
        cls, options: Mapping[str, Any], config: Settings, env: Mapping[str, str]
    ) -> JobSpec:
        """The spec for ``options`` over ``config`` over the defaults, with ``env``'s
        connection; the signed-in account is always protected from sync's suspensions."""
        given = _Given(options, config)
        plan = _path(options.get("plan"))
        if plan is not None:
            _check_plan_options(options)
        mode = str(given.pick("mode", "create")) if plan is None else "create"
        if mode not in MODES:
            raise UsageError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        audio = str(given.pick("audio_provider", ""))
        if audio not in AUDIO_PROVIDERS:
            raise UsageError(f"audio_provider {audio!r} must be 1 or 666")
        connection = connection_for(options, config, env)
        protect = protected_patterns(given, connection)
        columns = given.pick("columns", None)
        recipe_file = given.pick("recipe", None)
        if columns and recipe_file:
            raise UsageError("--columns and --recipe both say how to read the headers: put the "
                             "--columns lines under the recipe's [columns] table and give only "
                             "--recipe")
        log_file = given.pick("log_file", None)
        selection = parse_selection(options.get("rows"), options.get("where"),
                                    options.get("first"))
        if selection is not None and mode == "sync":
            raise UsageError(f"--mode sync cannot run a wave ({selection.text}): sync suspends "
                             "everyone the roster leaves out, so it would suspend the people "
                             "outside the wave; nothing was sent. Use --mode upsert (or create) "
                             "for a wave, and sync only with the whole roster")
        return cls(
            roster_path=Path(options["roster"]),
            connection=connection,
            sheet=given.pick("sheet", None),
            column_map=load_column_map(columns) if columns else None,
            recipe=load_recipe_file(recipe_file) if recipe_file else None,
            recipe_file=_path(recipe_file),
            out=_path(options.get("out")),
            checkpoint=_path(options.get("checkpoint")),
            mode=mode,
            fresh=bool(options.get("fresh")),
            skip_invalid=bool(given.pick("skip_invalid", False)),
            retry_failed=bool(options.get("retry_failed")),
            audio_provider=audio,
            roles=roles_from(options, config),
            engine=engine_options(given),
            set_passwords=bool(given.pick("set_passwords", False)),
            protect=protect,
            max_suspend=_max_suspend(given.pick("max_suspend", "10%")),
            check_roles=bool(given.pick("check_roles", False)),
            log_file=_path(log_file),
            progress_interval=_tuning(config, "progress_interval", 10.0, low=0.01, high=86400),
            columns_file=_path(columns),
            schema=_path(options.get("schema")),
            config_file=config.path,
            plan=plan,
            profile=config.profile,
            selection=selection,
        )


@dataclass
class UndoSpec:
    """What ``undo CHECKPOINT`` was asked to do, merged and checked like a run's settings."""

    checkpoint: Path
    connection: Connection = field(default_factory=Connection)
    engine: EngineOptions = field(default_factory=EngineOptions)
    protect: Sequence[str] = ()
    max_suspend: str = "10%"
    delete_created: bool = False
    out: Path | None = None
    progress_interval: float = 10.0
    config_file: Path | None = None

    @property
    def journal_path(self) -> Path:
        """The undo's own journal, beside the run's: ``<checkpoint>.undo.sqlite``."""
        return self.checkpoint.with_name(f"{self.checkpoint.name}.undo.sqlite")

    def workbook_path(self, *, carried_out: bool) -> Path:
        """``--out``, else ``<checkpoint-stem>.undo-results.xlsx`` (with ``--yes``) or
        ``<checkpoint-stem>.undo-plan.xlsx`` (the plan only)."""
        kind = "undo-results" if carried_out else "undo-plan"
        return self.out or self.checkpoint.with_name(f"{self.checkpoint.stem}.{kind}.xlsx")

    @classmethod
    def from_settings(
        cls, options: Mapping[str, Any], config: Settings, env: Mapping[str, str]
    ) -> UndoSpec:
        given = _Given(options, config)
        connection = connection_for(options, config, env)
        return cls(
            checkpoint=Path(options["checkpoint"]),
            connection=connection,
            engine=engine_options(given),
            protect=protected_patterns(given, connection),
            max_suspend=_max_suspend(given.pick("max_suspend", "10%")),
            delete_created=bool(options.get("delete_created")),
            out=_path(options.get("out")),
            progress_interval=float(config.get("progress_interval", 10.0)),
            config_file=config.path,
        )


def _check_plan_options(options: Mapping[str, Any]) -> None:
    """``run --plan`` takes what shapes the requests from the plan: these are refused, not
    silently ignored."""
    for name, option in (("mode", "--mode"), ("audio_provider", "--audio-provider"),
                         ("set_passwords", "--set-passwords")):
        if options.get(name) is not None:
            raise UsageError(f"--plan carries the {option[2:]} it was made with: leave out "
                             f"{option}")


def protected_patterns(given: _Given, connection: Connection) -> list[str]:
    """``--protect`` patterns, plus the signed-in account: never suspended."""
    protect = listing(given.pick("protect", None)) or []
    if connection.login:
        protect.append(connection.login)
    return protect


def connection_for(
    options: Mapping[str, Any], config: Settings, env: Mapping[str, str]
) -> Connection:
    """The connection of ``check``, ``validate --check-roles`` and every run."""
    timeout = options.get("timeout")
    if timeout is None:
        timeout = config.get("timeout")
    return connection_from(
        config.environment(env), ca_bundle=options.get("ca_bundle"), timeout=timeout
    )


def roles_from(options: Mapping[str, Any], config: Settings) -> list[str] | None:
    """``--roles A,B`` (or the file's ``roles``): the roles UserRole may name; None if not set."""
    value = _Given(options, config).pick("roles", None)
    roles = listing(value)
    if value is not None and not roles:
        raise UsageError("--roles needs at least one role name, e.g. --roles Agent,Supervisor")
    return roles


def engine_options(given: _Given) -> EngineOptions:
    workers = int(given.pick("workers", 8))
    rate = float(given.pick("rate", 10.0))
    retries = int(given.pick("max_retries", 5))
    max_wait = float(given.pick("max_wait", 300.0))
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 1 and {MAX_WORKERS}")
    if not (rate == 0 or MIN_RATE <= rate <= MAX_RATE):  # NaN and inf fail this too
        raise UsageError(
            f"--rate must be 0 (no cap) or {MIN_RATE:g} to {MAX_RATE:g} requests per second"
        )
    if retries < 0:
        raise UsageError("--max-retries must be 0 or more")
    if not 0 <= max_wait <= MAX_WAIT:  # NaN fails this too
        raise UsageError(f"--max-wait must be 0 to {MAX_WAIT} seconds")
    config = given.config
    return EngineOptions(
        workers=workers,
        rate=rate,
        max_retries=retries,
        backoff_base=_tuning(config, "backoff_base", 0.5, low=0, high=3600),
        backoff_max=_tuning(config, "backoff_max", 30.0, low=0, high=MAX_WAIT),
        max_consecutive_failures=int(
            _tuning(config, "max_consecutive_failures", 25, low=1, high=100_000)
        ),
        pause_seconds=_tuning(config, "pause_seconds", 30.0, low=0, high=MAX_WAIT),
        max_wait=max_wait,
    )


def _tuning(config: Settings, key: str, default: float, *, low: float, high: float) -> float:
    """A tuning value of the config file (its type is checked by config.py), within bounds."""
    value = float(config.get(key, default))
    if not low <= value <= high:  # NaN fails this too
        raise UsageError(f"{key} in the config file must be {low:g} to {high:g} (got {value:g})")
    return value


def listing(value: object) -> list[str] | None:
    """``"A, B"`` or ``["A", "B"]`` -> ``["A", "B"]``; None stays None."""
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def _max_suspend(value: object) -> str:
    text = str(value).strip()
    suspend_limit(text, 100)  # refuses anything that is not a count or a percentage
    return text


def _path(value: object) -> Path | None:
    return Path(str(value)) if value else None


class _Given:
    """An option's value if given, else the config file's, else the default."""

    def __init__(self, options: Mapping[str, Any], config: Settings) -> None:
        self.options = options
        self.config = config

    def pick(self, key: str, default: Any) -> Any:
        value = self.options.get(key)
        if value is not None:
            return value
        return self.config.get(key, default)


_COUNT = re.compile(r"\d{1,9}")
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d{1,6})?)%")


def suspend_limit(max_suspend: str | int, active_users: int) -> int:
    """``--max-suspend``: a count (``25``) or a percentage of the active users (``10%``).

    Only plain digits (and a percentage of at most 100) are accepted: ``inf%``, ``nan%``,
    ``-5``, ``1e309`` or ``10 %`` are refused with one UsageError line.
    """
    text = str(max_suspend).strip()
    if _COUNT.fullmatch(text):
        return int(text)
    percent = _PERCENT.fullmatch(text)
    if percent is not None and float(percent.group(1)) <= 100:
        return int(active_users * float(percent.group(1)) / 100)
    raise UsageError(
        f"--max-suspend must be a count (25) or a percentage from 0% to 100% (10%), "
        f"not {text[:40]!r}"
    )
