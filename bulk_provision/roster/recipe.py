"""Applying a recipe to the grid the roster reader produced, before validation.

Order (DESIGN.md section 12): the export's headers are mapped as it is read (the recipe's
``[columns]`` is the reader's column map) -> lookups -> computed fields -> status. What comes out
is a roster in Glance's shape, validated by the same schema as any other; the recipe's own
problems (a status or department value it does not know) are carried on ``roster.recipe`` and
reported with the schema's, by the export's own row and header.

Everything works column by column: a filter chain runs once per distinct value of a column
(``_per_value``), so a 100,000-row export costs its distinct first and last names, not its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bulk_provision.columns import (
    CANONICAL_COLUMNS,
    FAILED_ROWS_PROBLEM,
    PASSWORD_COLUMNS,
    normalize_header,
)
from bulk_provision.errors import ConfigError
from bulk_provision.recipe.applied import Applied, Derivation, RecipeProblem
from bulk_provision.recipe.file import Computed, Lookup, Recipe, Status
from bulk_provision.recipe.template import Hole, apply_all
from bulk_provision.roster.headers import looks_like_password
from bulk_provision.roster.read import Roster, read_roster

LEAVER_ACTION = "suspend"
SHOWN_HEADERS = 12  # headers listed in a message about a missing one


def read_with_recipe(path: str | Path, *, sheet: str | None, recipe: Recipe | None) -> Roster:
    """Read the roster at ``path`` and, with a recipe, translate it into Glance's shape."""
    if recipe is None:
        return read_roster(path, sheet=sheet)
    if recipe.only_columns:  # --columns: a header map and nothing else, as it always was
        return read_roster(path, sheet=sheet, column_map=recipe.column_map)
    roster = read_roster(path, sheet=sheet, column_map=recipe.column_map, claimed=recipe.claimed)
    return apply_recipe(roster, recipe)


def apply_recipe(roster: Roster, recipe: Recipe) -> Roster:
    """``roster`` (read with the recipe's column map) with its lookups, computed fields and
    status applied; ConfigError (exit 2) when the recipe does not fit this export."""
    _Applier(roster, recipe).run()
    return roster


class _Applier:
    def __init__(self, roster: Roster, recipe: Recipe) -> None:
        self.roster, self.recipe = roster, recipe
        self.frame = roster.frame
        self.file_columns = [str(c) for c in self.frame.columns]
        self.applied = Applied(recipe)
        self.used: set[str] = set()

    def run(self) -> None:
        for name, header in self.recipe.columns.items():
            if name not in PASSWORD_COLUMNS and looks_like_password(header):
                line = self.recipe.line_of_column.get(name, 0)
                raise ConfigError(f'{self.recipe.where(line)}: {name} = "{header[:80]}", but '
                                  "that column looks like a password, and a password only goes "
                                  f'to UserPW: write UserPW = "{header[:80]}" to send it as the '
                                  "password, or name another column")
            if name not in self.frame.columns:
                line = self.recipe.line_of_column.get(name, 0)
                raise ConfigError(f'{self.recipe.where(line)}: {name} = "{header}", but '
                                  f'{self.roster.path.name} has no column "{header}" '
                                  f"({self._headers_found()})")
        for lookup in self.recipe.lookups:
            self._lookup(lookup)
        for computed in self.recipe.compute:
            self._compute(computed)
        if self.recipe.status is not None:
            self._status(self.recipe.status)
        self.applied.unused = self._unused()
        self.roster.recipe = self.applied

    # -- the steps ---------------------------------------------------------------------------

    def _lookup(self, lookup: Lookup) -> None:
        where = f"{self.recipe.where(lookup.line)}: [lookup.{lookup.field}]"
        source = self._column(lookup.source, f'{where} from = "{lookup.source}"')
        self._not_secret(source, f'{where} from = "{lookup.source}"')
        values = self.frame[source]
        table = {v: lookup.mapping.get(v.strip().casefold(), lookup.default)
                 for v in pd.unique(values.to_numpy())}
        mapped = values.map(table)
        missing = mapped.isna().to_numpy()
        header = self._header(source)
        for row, value in zip(values.index[missing], values.to_numpy()[missing], strict=True):
            message = (f"{header} is empty and [lookup.{lookup.field}] has no default: fill it "
                       "in, or give the lookup a default" if value == "" else
                       f'{header} "{value}" is not in the recipe\'s [lookup.{lookup.field}] map: '
                       "add it there, or give the lookup a default")
            self._problem(int(row), source, value, f"{lookup.field}.lookup", message)
        self._add(lookup.field, mapped.where(~missing, "").to_numpy(dtype=object),
                  f"{lookup.field} (from {header})",
                  Derivation(f'[lookup.{lookup.field}] from "{header}"', (source,)))

    def _compute(self, computed: Computed) -> None:
        where = f"{self.recipe.where(computed.line)}: [compute] {computed.field}"
        result: np.ndarray | None = None
        inputs: list[str] = []
        for part in computed.template.parts:
            if isinstance(part, Hole):
                column = self._column(part.field, f"{where} uses {{{part.field}}}")
                if column in self.roster.secret_columns:
                    raise ConfigError(f"{where} uses {{{part.field}}}, a password column: a "
                                      "password never goes into another field")
                inputs.append(column)
                piece = _per_value(self.frame[column], part)
            else:
                piece = np.full(len(self.frame), part, dtype=object)
            result = piece if result is None else result + piece
        assert result is not None  # a template has at least one hole
        self._add(computed.field, result, f"{computed.field} (computed)",
                  Derivation(f'"{computed.template.text}"', tuple(dict.fromkeys(inputs)),
                             computed=True))

    def _status(self, status: Status) -> None:
        where = f"{self.recipe.where(status.line)}: [status] column = \"{status.column}\""
        source = self._column(status.column, where)
        self._not_secret(source, where)
        values = self.frame[source]
        keys = values.map({v: v.strip().casefold() for v in pd.unique(values.to_numpy())})
        leaver = np.array(keys.isin(status.leaver).to_numpy(), dtype=bool)
        known = leaver | keys.isin(status.active).to_numpy()
        header = self._header(source)
        for row, value in zip(values.index[~known], values.to_numpy()[~known], strict=True):
            message = (f"{header} is empty: the recipe's [status] cannot tell whether this "
                       'person left (add "" to leaver or active if empty means one of them)'
                       if value == "" else
                       f'{header} "{value}" is neither a leaver nor an active value in the '
                       "recipe's [status]: add it to leaver or to active")
            self._problem(int(row), source, value, "Status.value", message)
        if "Action" in self.file_columns:  # an explicit Action wins
            action = self.frame["Action"].to_numpy(dtype=object).copy()
            leaver &= action == ""
            action[leaver] = LEAVER_ACTION
            self.frame["Action"] = pd.Series(action, index=self.frame.index, dtype=object)
        else:
            self._add("Action", np.where(leaver, LEAVER_ACTION, "").astype(object),
                      f"Action (from {header})", Derivation(f'[status] "{header}"', (source,)))
        self.applied.leavers = frozenset(int(r) for r in self.frame.index[leaver])

    # -- helpers -----------------------------------------------------------------------------

    def _column(self, name: str, where: str) -> str:
        """The frame column ``name`` means: a Glance field this export has (mapped or by its
        alias), else one of the export's headers; ConfigError naming ``where`` when neither."""
        key = normalize_header(name)
        columns = [str(c) for c in self.frame.columns]
        canonical = next((c for c in CANONICAL_COLUMNS if normalize_header(c) == key), None)
        found: str | None
        if canonical is not None and canonical in columns:
            found = canonical
        else:
            same = [c for c in columns if c not in self.applied.derived
                    and normalize_header(self.roster.headers.get(c, c)) == key]
            if len(same) > 1:
                raise ConfigError(f'{where}: {self.roster.path.name} has {len(same)} columns '
                                  f'headed "{self._header(same[0])[:80]}": rename or delete all '
                                  "but one, so that the recipe reads the right one")
            found = same[0] if same else None
        if found is None:
            what = (f"the export has no column for {canonical}: map it under [columns]"
                    if canonical else "neither a Glance field of this export nor one of its "
                    f"headers ({self._headers_found()})")
            raise ConfigError(f"{where}: {name[:80]!r} is {what}"
                              if not canonical else f"{where}: {what}")
        self.used.add(found)
        self.used.update(d for d in self.applied.derived.get(found, Derivation("")).inputs)
        return found

    def _not_secret(self, column: str, where: str) -> None:
        """A password column's values are never looked up or sorted into leavers: the
        problems and warnings about them would show passwords in clear."""
        if column in self.roster.secret_columns:
            raise ConfigError(f'{where}: "{self._header(column)[:80]}" is a password column: '
                              "a password is never read as a status or looked up; name "
                              "another column")

    def _add(self, name: str, values: np.ndarray, label: str, derivation: Derivation) -> None:
        self.frame[name] = pd.Series(values, index=self.frame.index, dtype=object)
        self.roster.headers[name] = label
        self.applied.derived[name] = derivation

    def _problem(self, row: int, column: str, value: str, rule: str, message: str) -> None:
        self.applied.problems.append(RecipeProblem(row, column, value, rule, message))

    def _header(self, column: str) -> str:
        return self.roster.headers.get(column, column)

    def _headers_found(self) -> str:
        shown = [f'"{self._header(c)}"' for c in self.file_columns[:SHOWN_HEADERS]]
        more = len(self.file_columns) - SHOWN_HEADERS
        return "its headers: " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")

    def _unused(self) -> list[str]:
        ignored = {normalize_header(h) for h in (*self.recipe.ignore, FAILED_ROWS_PROBLEM)}
        return [
            self._header(column) or column  # an empty header: "Column F", by its letter
            for column in self.file_columns
            if column not in CANONICAL_COLUMNS and column not in self.used
            and normalize_header(self._header(column)) not in ignored
            and normalize_header(column) not in ignored  # "Column B", a column without header
        ]


def _per_value(values: pd.Series, hole: Hole) -> np.ndarray:
    """``hole`` applied to every cell: each distinct value once when there are few (first
    names), the whole column at once when most are distinct (surnames, IDs)."""
    cells = values.to_numpy(dtype=object)
    distinct = pd.unique(cells)
    if len(distinct) > len(cells) // 2:
        return np.array(apply_all(hole, [str(v) for v in cells]), dtype=object)
    table = dict(zip(distinct, apply_all(hole, [str(v) for v in distinct]), strict=True))
    return values.map(table).to_numpy(dtype=object)


def explain(roster: Roster, column: str, row: int) -> str:
    """For a problem in a column the recipe built: how it was built, from which cells."""
    applied = roster.recipe
    if applied is None or column not in applied.derived:
        return ""
    derivation = applied.derived[column]
    cells = ", ".join(f"{roster.headers.get(c, c)} '{_short(str(roster.frame.at[row, c]))}'"
                      for c in derivation.inputs)
    verb = "built by the recipe's template" if derivation.computed else "set by the recipe's"
    return f"{verb} {derivation.how} from {cells}" if cells else f"{verb} {derivation.how}"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unique_advice(roster: Roster, column: str) -> str:
    """The advice for two rows computing one value (section 12)."""
    applied = roster.recipe
    if applied is None or column not in applied.derived or not applied.derived[column].computed:
        return ""
    return "add {PartnerUserID} to the template so that every person's value is different"


def leavers_of(roster: Roster) -> frozenset[int]:
    return roster.recipe.leavers if roster.recipe else frozenset()


__all__: Sequence[str] = ("apply_recipe", "explain", "leavers_of", "read_with_recipe",
                          "recipe_line", "recipe_sha256", "unique_advice")


def recipe_sha256(roster: Roster) -> str:
    """The SHA-256 of the recipe that read ``roster`` ("" without one): journals and plans
    record it, so a resume or an approved plan with another recipe is refused."""
    return roster.recipe.recipe.sha256 if roster.recipe else ""


def recipe_line(roster: Roster) -> str:
    """"acme.recipe.toml (SHA-256 ...)" for the Summary sheet; "" without a recipe."""
    if roster.recipe is None:
        return ""
    return f"{roster.recipe.recipe.name} (SHA-256 {roster.recipe.recipe.sha256})"
