"""Apply the schemas in ``schemas/`` to a roster and turn failures into Problems.

Every rule lives in the pandera schema (``schemas/roster.py``); this module only runs it lazily
(collecting every failure, never stopping at the first) and words each failure case for an HR
admin: row number as in the spreadsheet, the column as the file names it, the value (``***`` for
passwords) and a message.

Two safety rules (DESIGN.md section 11) hold whatever the schema: control characters are refused
in every column (the schema's own ``<Column>.control`` rule where it has one; unknown columns,
which are never sent, may hold tabs and line breaks), and a column whose header looks like a
password but is not recognised fails ``<Column>.password`` on every row that has a value in it (so
``validate`` and ``run`` exit 3 and nothing is sent; ``--skip-invalid`` skips exactly the rows
that would have lost their password). Its values are masked like UserPW's.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from bulk_provision.columns import normalize_header
from bulk_provision.errors import ConfigError, Hint, RosterError
from bulk_provision.roster.read import Roster
from bulk_provision.roster.recipe import explain, unique_advice
from bulk_provision.roster.roles import RULE, role_typos
from bulk_provision.schemas.checks import (
    Clash,
    Rule,
    capped,
    control_characters,
    leading_zeros,
    password_column,
    rule_of,
    shown,
)
from bulk_provision.schemas.roster import FREE_TEXT, build_schema
from bulk_provision.settings.paths import check_not_shared

__all__ = ["MASK", "Problem", "ValidationResult", "validate_roster"]

MASK = "***"
UNKNOWN_COLUMN_ALLOWS = "\t\n\r"  # tab and Excel's Alt+Enter line breaks: never sent
VALUE_AT_MOST = 300  # characters of a broken value kept in a Problem (results, the page)


@dataclass(frozen=True)
class Problem:
    """One broken rule in one cell. ``value`` is already masked (``***``) for passwords."""

    row: int
    column: str
    value: str
    rule: str
    message: str


@dataclass
class ValidationResult:
    rows: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def invalid_rows(self) -> set[int]:
        return {p.row for p in self.problems}

    @property
    def ok(self) -> bool:
        return not self.problems


ID_COLUMN = "PartnerUserID"  # the Employee ID: lost zeros make a second person


def validate_roster(
    roster: Roster,
    *,
    roles: Sequence[str] | None = None,
    schema: str | Path | None = None,
    listed_roles: Sequence[str] | None = None,
) -> ValidationResult:
    """Check every row of ``roster``; raises RosterError when a required column is missing.
    ``listed_roles`` (what ShowRoles answered): a role spelt nearly like one of them but not
    one is a problem (:mod:`roles`)."""
    frame_schema = load_schema(schema, roles)
    require_columns(roster, frame_schema)
    extra = safety_rules(roster, frame_schema)
    cases = [_failures(roster.frame, extra)]
    try:
        frame_schema.validate(roster.frame, lazy=True)
    except SchemaErrors as exc:
        cases.append(exc.failure_cases)
    found = pd.concat([c for c in cases if len(c)], ignore_index=True) if any(
        len(c) for c in cases) else None
    problems = [] if found is None else _problems(found, _rules(frame_schema, extra), roster)
    if listed_roles:
        label = roster.headers.get("UserRole", "UserRole")
        problems = sorted([*problems, *(Problem(row, label, value, RULE, message)
                                        for row, value, message in
                                        role_typos(roster.frame, listed_roles))],
                          key=lambda p: p.row)
    if roster.recipe is not None:
        problems = _with_recipe(roster, problems)
    return ValidationResult(rows=len(roster.frame), problems=problems)


def _with_recipe(roster: Roster, problems: list[Problem]) -> list[Problem]:
    """The recipe's own problems added, and a problem in a field the recipe built explained:
    the template (or lookup) and the export's cells it was built from."""
    applied = roster.recipe
    assert applied is not None
    labels = {roster.headers.get(c, str(c)): str(c) for c in roster.frame.columns}
    told = []
    for problem in problems:
        column = labels.get(problem.column, problem.column)
        if problem.rule.endswith(".password"):  # in the recipe's words, not --columns
            problem = Problem(problem.row, problem.column, problem.value, problem.rule,
                              f'the column "{problem.column}" looks like a password: to send '
                              f'it as the password, write UserPW = "{problem.column}" under '
                              "the recipe's [columns]; if it is not needed, list it under "
                              "[ignore]")
        how = explain(roster, column, problem.row)
        if how:
            advice = unique_advice(roster, column) if problem.rule.endswith(".unique") else ""
            message = f"{problem.message} ({how})" + (f"; {advice}" if advice else "")
            problem = Problem(problem.row, problem.column, problem.value, problem.rule, message)
        told.append(problem)
    for own in applied.problems:
        label = roster.headers.get(own.column, own.column)
        told.append(Problem(own.row, label, capped(own.value, VALUE_AT_MOST), own.rule,
                            own.message))
    order = {roster.headers.get(c, str(c)): i for i, c in enumerate(roster.frame.columns)}
    told.sort(key=lambda p: (p.row, order.get(p.column, len(order)), p.rule))
    return told


def safety_rules(roster: Roster, frame_schema: pa.DataFrameSchema) -> list[Rule]:
    """The section-11 rules the schema does not already apply to the roster's columns."""
    rules: list[Rule] = []
    secret = roster.secret_columns
    numbers = roster.number_cells(ID_COLUMN)
    if numbers and ID_COLUMN in roster.frame.columns:
        rules.append(only_in_rows(leading_zeros(ID_COLUMN), numbers))
    for column in roster.frame.columns:
        name = str(column)
        known = frame_schema.columns.get(name)
        if known is None:
            rules.append(control_characters(
                name, allow=UNKNOWN_COLUMN_ALLOWS, secret=name in secret))
            if name in secret and not ignored(roster, name):
                rules.append(password_column(name, roster.headers.get(name, name)))
        elif not any(check.name == f"{name}.control" for check in known.checks):
            allow = "\t" if name in FREE_TEXT else ""
            rules.append(control_characters(name, allow=allow, secret=name in secret))
    return rules


def only_in_rows(rule: Rule, rows: frozenset[int]) -> Rule:
    """``rule`` judged in ``rows`` only (the others pass): the lost-zeros rule looks at the
    cells Excel stored as numbers, so a short ID typed as text ("7" beside "00001") is kept."""
    test = rule.test

    def in_rows(values: pd.Series) -> pd.Series:
        return test(values) | ~values.index.isin(list(rows))

    return replace(rule, test=in_rows)


def ignored(roster: Roster, column: str) -> bool:
    """Whether the recipe lists ``column`` under [ignore]: a password column it ignores is the
    admin's decision (not sent), not a problem."""
    if roster.recipe is None:
        return False
    names = {normalize_header(h) for h in roster.recipe.recipe.ignore}
    return bool({normalize_header(column),
                 normalize_header(roster.headers.get(column, column))} & names)


def _failures(frame: pd.DataFrame, rules: Sequence[Rule]) -> pd.DataFrame:
    """Failure cases of ``rules``, shaped like pandera's ``failure_cases``."""
    parts = []
    for rule in rules:
        values = frame[rule.column]
        bad = values[~rule.test(values).to_numpy(dtype=bool)]
        if len(bad):
            parts.append(pd.DataFrame({"column": rule.column, "check": rule.id,
                                       "index": bad.index, "failure_case": bad.to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["column", "check", "index", "failure_case"])
    return pd.concat(parts, ignore_index=True)


def _rules(frame_schema: pa.DataFrameSchema, extra: Sequence[Rule]) -> dict[str, Rule]:
    rules = {
        check.name: rule
        for column in frame_schema.columns.values()
        for check in column.checks
        if (rule := rule_of(check)) is not None
    }
    return rules | {rule.id: rule for rule in extra}


def load_schema(schema: str | Path | None, roles: Sequence[str] | None) -> pa.DataFrameSchema:
    """The built-in schema, or ``build_schema(roles)`` from a Python file of the user's."""
    if schema is None:
        return build_schema(roles)
    path = Path(schema)
    if path.suffix != ".py" or not path.is_file():
        raise ConfigError(f"--schema {path}: expected an existing Python file (.py)")
    check_not_shared(path, "--schema file")
    spec = importlib.util.spec_from_file_location(f"bulk_provision_user_schema_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--schema {path}: cannot be loaded as a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        builder: Callable[[Sequence[str] | None], Any] | None = getattr(
            module, "build_schema", None
        )
        if builder is None:
            raise ConfigError(f"--schema {path}: does not define build_schema(roles)")
        built = builder(roles)
    except ConfigError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name != "schemas":
            raise ConfigError(f"--schema {path}: {type(exc).__name__}: {exc}") from exc
        raise ConfigError(f"--schema {path}: import the built-in checks as bulk_provision.schemas"
                          " (e.g. from bulk_provision.schemas.checks import ...)") from exc
    except Exception as exc:  # the user's own code: any failure is a configuration error
        raise ConfigError(f"--schema {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(built, pa.DataFrameSchema):
        raise ConfigError(f"--schema {path}: build_schema must return a DataFrameSchema")
    return built


def require_columns(roster: Roster, frame_schema: pa.DataFrameSchema) -> None:
    """Raise RosterError naming every required column the file lacks, with a suggestion."""
    present = set(roster.frame.columns)
    missing = [n for n, c in frame_schema.columns.items() if c.required and n not in present]
    if not missing:
        return
    known = set(frame_schema.columns)
    spare = [roster.headers.get(c, str(c)) for c in roster.frame.columns if c not in known]
    found = ", ".join(roster.headers.get(c, str(c)) for c in roster.frame.columns) or "none"
    hints = []
    for name in missing:
        guess = _closest(spare, [name, frame_schema.columns[name].title or name])
        if guess:
            hints.append(f'did you mean "{guess}" for {name}?')
    names = " or ".join(missing)
    detail = " ".join([*hints, f"Headers found: {found}"])
    in_recipe = roster.recipe is not None
    raise RosterError(f"{roster.path.name} has no {names} column ({detail})",
                      hint=Hint.MAP_IN_RECIPE if in_recipe else Hint.MAP_HEADER)


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).casefold()


def _closest(headers: Iterable[str], targets: Sequence[str]) -> str | None:
    best, best_score = None, 0.6
    for header in headers:
        for target in targets:
            score = difflib.SequenceMatcher(None, _squash(header), _squash(target)).ratio()
            if score > best_score:
                best, best_score = header, score
    return best


def _problems(cases: pd.DataFrame, rules: dict[str, Rule], roster: Roster) -> list[Problem]:
    frame = roster.frame
    secret = roster.secret_columns
    order = {name: i for i, name in enumerate(frame.columns)}
    keyed: list[tuple[int, int, str, Problem]] = []
    grouped = cases.groupby(["column", "check"], sort=False, dropna=False)
    for (column, check), group in grouped:
        if group["index"].isna().any():
            raise ConfigError(f"the schema could not be applied: {column} {check}: "
                              f"{group['failure_case'].iloc[0]}")
        column = str(column)
        rows = [int(r) for r in group["index"]]
        values = [str(v) for v in frame.loc[rows, column].tolist()]
        rule = rules.get(str(check))
        others = _clashes(rule, rows, values)
        label = roster.headers.get(column, column)
        hidden = column in secret
        for row, value in zip(rows, values, strict=True):
            message = _message(rule, column, str(check), value, others.get(row, ()), hidden)
            quoted = MASK if hidden and value else capped(value, VALUE_AT_MOST)
            problem = Problem(row, label, quoted, str(check), message)
            keyed.append((row, order.get(column, len(order)), problem.rule, problem))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def _clashes(rule: Rule | None, rows: list[int], values: list[str]) -> dict[int, Clash]:
    """For a uniqueness rule: row -> the other rows holding the same value (a :class:`Clash`).

    Each group's rows are listed once and shared, so a group of 100,000 rows costs 100,000
    entries, not 100,000 squared; up to three other spellings per group are kept for the
    message (a full-width or zero-width variant that made two cells look alike)."""
    if rule is None or rule.group_key is None:
        return {}
    key = rule.group_key
    keys = [key(value) for value in values]
    groups: dict[str, list[int]] = defaultdict(list)
    spellings: dict[str, dict[str, str]] = defaultdict(dict)
    for row, value, k in zip(rows, values, keys, strict=True):
        groups[k].append(row)
        forms = spellings[k]
        if len(forms) < 4:
            forms.setdefault(_spelling(rule, value), value)
    for group in groups.values():
        group.sort()
    clashes: dict[int, Clash] = {}
    for row, value, k in zip(rows, values, keys, strict=True):
        forms = spellings[k]
        variants = [v for form, v in forms.items() if form != _spelling(rule, value)][:3]
        clashes[row] = Clash(groups[k], row, variants if len(forms) > 1 else ())
    return clashes


def _spelling(rule: Rule, value: str) -> str:
    return value.casefold() if rule.ignore_case else value


def _message(
    rule: Rule | None, column: str, check: str, value: str, others: Sequence[int], hidden: bool
) -> str:
    if rule is not None:
        return rule.describe(value, others)
    if hidden:
        return f"{column} breaks the rule {check}"
    return f"{column} breaks the rule {check} (found '{shown(value)}')"
