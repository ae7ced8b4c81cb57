"""Reading and checking a recipe file (TOML), once, before any roster is read.

A recipe (DESIGN.md section 12) says how an HR export becomes a roster in Glance's shape::

    [columns]            Glance field = the export's header
    [compute]            Glance field = a template ("{UserFirst|ascii|lower}.acme.glance.net")
    [lookup.UserRole]    from = a header, map = { value = Glance value }, default = ...
    [status]             column = a header, leaver = [...], active = [...]
    [ignore]             columns = [headers known and unused]

Everything that can be checked without the export is checked here and refused as a ConfigError
(exit 2) naming the recipe, the line and what to write instead. What needs the export (a header it
lacks, a template naming neither a field nor a header) is checked by ``roster.recipe``.

The file is read from untrusted hands: at most :data:`MAX_BYTES`, nesting that breaks the TOML
parser is one clear line, every value's type is checked, and templates are parsed by
:mod:`bulk_provision.recipe.template` (a closed language: nothing is ever evaluated).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulk_provision.columns import CANONICAL_COLUMNS, normalize_header
from bulk_provision.errors import ConfigError
from bulk_provision.recipe.template import Template, TemplateError, parse

MAX_BYTES = 1024 * 1024  # a recipe is a page of text; a megabyte is not a recipe
MAX_ENTRIES = 10_000  # lookup values, status values, ignored columns: each
TABLES = ("columns", "compute", "lookup", "status", "ignore")
PLACEHOLDER = "{your-company}"  # what a draft writes where only a person knows the domain
NOT_COMPUTED = ("UserPW", "Action")  # a password from a name is no password; Action: [status]
_BY_KEY = {normalize_header(name): name for name in CANONICAL_COLUMNS}


@dataclass(frozen=True)
class Computed:
    field: str
    template: Template
    line: int


@dataclass(frozen=True)
class Lookup:
    """``[lookup.FIELD]``: the value of ``source`` (casefolded, trimmed) -> the field's value."""

    field: str
    source: str
    mapping: Mapping[str, str]
    default: str | None
    line: int


@dataclass(frozen=True)
class Status:
    """``[status]``: which values of ``column`` mean a leaver, which an active person."""

    column: str
    leaver: frozenset[str]  # casefolded, trimmed
    active: frozenset[str]
    line: int


@dataclass(frozen=True)
class Recipe:
    """A checked recipe. ``columns`` maps Glance field -> the export's header."""

    name: str
    sha256: str
    columns: Mapping[str, str] = field(default_factory=dict)
    compute: tuple[Computed, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    status: Status | None = None
    ignore: tuple[str, ...] = ()
    only_columns: bool = False  # a ``--columns`` file: no header check, no unused warning
    line_of_column: Mapping[str, int] = field(default_factory=dict)

    @property
    def column_map(self) -> dict[str, str]:
        """The export's header -> Glance field, as the roster reader takes it."""
        return {header: name for name, header in self.columns.items()}

    @property
    def claimed(self) -> frozenset[str]:
        """The Glance fields this recipe says where to find or how to build: an export header
        that is only an alias of one of them ("Email" when UserEmail = "Work Email") is then
        just another column."""
        built = {c.field for c in self.compute} | {lk.field for lk in self.lookups}
        return frozenset(self.columns) | built  # not Action: an explicit Action column wins

    def where(self, line: int) -> str:
        return f"recipe {self.name}, line {line}" if line else f"recipe {self.name}"


def from_column_map(column_map: Mapping[str, str], name: str) -> Recipe:
    """A ``--columns`` map (header -> field) as the recipe with only a ``[columns]`` table."""
    columns = {target: header for header, target in column_map.items()}
    digest = hashlib.sha256(repr(sorted(columns.items())).encode()).hexdigest()
    return Recipe(name, digest, columns, only_columns=True)


def load_recipe(path: str | Path) -> Recipe:
    """Read and check the recipe at ``path``; any problem is one ConfigError."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"recipe {name} is {size:,} bytes; a recipe is at most "
                              f"{MAX_BYTES:,} (is this the right file?)")
        data = path.read_bytes()[: MAX_BYTES + 1]
    except FileNotFoundError as exc:
        raise ConfigError(f"recipe {path} does not exist: check the path") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"recipe {path} is a folder: give the .toml file itself") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read recipe {path}: {exc.strerror or exc}") from exc
    return parse_recipe(data, name)


def parse_recipe(data: bytes, name: str) -> Recipe:
    """Check a recipe's bytes (a file, or an upload on the page)."""
    if len(data) > MAX_BYTES:
        raise ConfigError(f"recipe {name} is over {MAX_BYTES:,} bytes: not a recipe")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ConfigError(f"recipe {name} is saved as UTF-16 (Unicode): save it as UTF-8 from "
                          "your editor (in Notepad: Save as, Encoding UTF-8)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"recipe {name} is not UTF-8 text (byte {exc.start + 1}): save it "
                          "as UTF-8 from your editor") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"recipe {name} is not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"recipe {name} is nested too deeply to be a recipe") from exc
    return _Checker(name, text, hashlib.sha256(data).hexdigest()).recipe(document)


class _Checker:
    def __init__(self, name: str, text: str, sha256: str) -> None:
        self.name, self.sha256 = name, sha256
        self.lines = _key_lines(text)

    def fail(self, table: str, key: str, message: str) -> ConfigError:
        line = (self.lines.get((table, key)) or self.lines.get((table, ""))
                or self.lines.get((key, ""), 0))
        where = f"recipe {self.name}, line {line}" if line else f"recipe {self.name}"
        return ConfigError(f"{where}: {message}")

    def recipe(self, document: dict[str, Any]) -> Recipe:
        unknown = [key for key in document if key not in TABLES]
        if unknown:
            raise self.fail("", unknown[0], f"unknown table [{unknown[0][:60]}]; a recipe has "
                            f"{', '.join(f'[{t}]' for t in TABLES)}")
        if not any(document.get(t) for t in TABLES):
            raise ConfigError(f"recipe {self.name} is empty: it needs at least a [columns] table")
        for table in TABLES:
            if table in document and not isinstance(document[table], dict):
                raise self.fail("", table, f"{table} must be a table: write [{table}]")
        columns = self._columns(document.get("columns", {}))
        compute = self._compute(document.get("compute", {}), columns)
        lookups = self._lookups(document.get("lookup", {}), columns, compute)
        status = self._status(document.get("status"))
        ignore = self._list("ignore", "columns", document.get("ignore", {}).get("columns", []))
        extra = [k for k in document.get("ignore", {}) if k != "columns"]
        if extra:
            raise self.fail("ignore", extra[0], f"[ignore] has only columns = [...], not "
                            f"{extra[0][:60]!r}")
        lines = {f: self.lines.get(("columns", f), 0) for f in columns}
        return Recipe(self.name, self.sha256, columns, compute, lookups, status, tuple(ignore),
                      line_of_column=lines)

    def field(self, table: str, key: str) -> str:
        canonical = _BY_KEY.get(normalize_header(key))
        if canonical is None:
            raise self.fail(table, key, f"{key[:60]!r} is not a Glance field; use one of "
                            f"{', '.join(CANONICAL_COLUMNS)}")
        return canonical

    def _columns(self, table: dict[str, Any]) -> dict[str, str]:
        columns: dict[str, str] = {}
        by_header: dict[str, str] = {}
        for key, header in table.items():
            name = self.field("columns", key)
            if not isinstance(header, str) or not header.strip():
                raise self.fail("columns", key, f'{key} must be the export\'s header in quotes, '
                                f'like {key} = "Employee ID"')
            header = header.strip()
            if name in columns:
                raise self.fail("columns", key, f"{name} is mapped twice")
            same = by_header.get(normalize_header(header))
            if same is not None:
                raise self.fail("columns", key, f'{same} and {name} both read "{header[:60]}": '
                                "one header can fill one field; remove one of them")
            by_header[normalize_header(header)] = name
            columns[name] = header
        return columns

    def _compute(self, table: dict[str, Any], columns: dict[str, str]) -> tuple[Computed, ...]:
        computed = []
        for key, text in table.items():
            name = self.field("compute", key)
            if name in NOT_COMPUTED:
                why = ("a password built from a name is no password: map a password column or "
                       "leave it out" if name == "UserPW" else "leavers are set by [status]")
                raise self.fail("compute", key, f"{name} cannot be computed: {why}")
            if name in columns:
                raise self.fail("compute", key, f'{name} is both mapped (to "{columns[name]}") '
                                "and computed: keep one")
            if isinstance(text, str) and PLACEHOLDER in text:
                raise self.fail("compute", key, f"the template for {name} still says "
                                f"{PLACEHOLDER}: write your company's Glance domain there "
                                "(the part before .glance.net, e.g. acme)")
            try:
                template = parse(text)
            except TemplateError as exc:
                shown = text[:80] if isinstance(text, str) else repr(text)[:80]
                raise self.fail("compute", key, f'the template for {name} ("{shown}") {exc}') \
                    from None
            computed.append(Computed(name, template, self.lines.get(("compute", key), 0)))
        return tuple(computed)

    def _lookups(
        self, table: dict[str, Any], columns: dict[str, str], compute: tuple[Computed, ...]
    ) -> tuple[Lookup, ...]:
        lookups = []
        for key, spec in table.items():
            where = f"lookup.{key}"
            name = self.field(where, key)
            if not isinstance(spec, dict):
                raise self.fail("", where, f"lookup.{key} must be a table: write [lookup.{name}]")
            if name == "UserPW":
                raise self.fail(where, "", "UserPW cannot come from a lookup: a password "
                                "looked up from a table is no password; map a password column "
                                "under [columns] or leave it out")
            if name in columns:
                raise self.fail(where, "", f'{name} is both mapped (to "{columns[name]}") and '
                                f"looked up in [lookup.{name}]: keep one")
            if name in {c.field for c in compute}:
                raise self.fail(where, "", f"{name} is both computed under [compute] and "
                                f"looked up in [lookup.{name}]: keep one")
            extra = [k for k in spec if k not in ("from", "map", "default")]
            if extra:
                raise self.fail(where, extra[0], f"[lookup.{name}] has from, map and default, "
                                f"not {extra[0][:60]!r}")
            source = spec.get("from")
            if not isinstance(source, str) or not source.strip():
                raise self.fail(where, "from", f'[lookup.{name}] needs from = "the export\'s '
                                'header" (the column whose values are looked up)')
            mapping = self._mapping(where, name, spec.get("map", {}))
            default = spec.get("default")
            if default is not None and not isinstance(default, str):
                raise self.fail(where, "default", f"[lookup.{name}] default must be text")
            if not mapping and default is None:
                raise self.fail(where, "map", f"[lookup.{name}] needs a map = {{ ... }} or a "
                                "default")
            line = self.lines.get((where, "from")) or self.lines.get((where, ""), 0)
            lookups.append(Lookup(name, source.strip(), mapping,
                                  None if default is None else default.strip(), line))
        return tuple(lookups)

    def _mapping(self, where: str, name: str, table: object) -> dict[str, str]:
        if not isinstance(table, dict):
            raise self.fail(where, "map", f'[lookup.{name}] map must be a table: map = '
                            '{ "Sales" = "Agent" }')
        if len(table) > MAX_ENTRIES:
            raise self.fail(where, "map", f"[lookup.{name}] map has {len(table):,} values; at "
                            f"most {MAX_ENTRIES:,}")
        mapping: dict[str, str] = {}
        for value, target in table.items():
            if not isinstance(target, str):
                raise self.fail(where, "map", f'[lookup.{name}] map: "{value[:60]}" must map '
                                "to text in quotes")
            key = value.strip().casefold()
            if key in mapping and mapping[key] != target.strip():
                raise self.fail(where, "map", f'[lookup.{name}] map has "{value[:60]}" twice '
                                "(upper and lower case count as the same) with different values")
            mapping[key] = target.strip()
        return mapping

    def _status(self, table: dict[str, Any] | None) -> Status | None:
        if table is None:
            return None
        extra = [k for k in table if k not in ("column", "leaver", "active")]
        if extra:
            raise self.fail("status", extra[0], f"[status] has column, leaver and active, not "
                            f"{extra[0][:60]!r}")
        column = table.get("column")
        if not isinstance(column, str) or not column.strip():
            raise self.fail("status", "column", '[status] needs column = "the export\'s header '
                            'that says who left"')
        leaver = self._list("status", "leaver", table.get("leaver"), required=True)
        active = self._list("status", "active", table.get("active"), required=True)
        folded_leaver = {v.casefold(): v for v in leaver}
        both = [v for v in active if v.casefold() in folded_leaver]
        if both:
            raise self.fail("status", "active", f'"{both[0][:60]}" is both a leaver and an '
                            "active value in [status]: keep it in one list")
        return Status(column.strip(), frozenset(folded_leaver),
                      frozenset(v.casefold() for v in active), self.lines.get(("status", ""), 0))

    def _list(self, table: str, key: str, value: object, *, required: bool = False) -> list[str]:
        if value is None and required:
            raise self.fail(table, key, f'[{table}] needs {key} = ["...", "..."]')
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(table, key, f'[{table}] {key} must be a list of text: '
                            f'{key} = ["...", "..."]')
        if required and not value:
            raise self.fail(table, key, f"[{table}] {key} is empty: list at least one value")
        if len(value) > MAX_ENTRIES:
            raise self.fail(table, key, f"[{table}] {key} has {len(value):,} values; at most "
                            f"{MAX_ENTRIES:,}")
        return [v.strip() for v in value]


_TABLE_LINE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY_LINE = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_.-]+))\s*=""")


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(table, key) -> the line it is written on; (table, "") -> the table's header line.

    Good enough to point a person at the line: TOML's own parser does not keep positions."""
    lines: dict[tuple[str, str], int] = {}
    table = ""
    for number, line in enumerate(text.splitlines()[:100_000], start=1):
        header = _TABLE_LINE.match(line)
        if header:
            table = header.group(1).replace('"', "").replace(" ", "")
            lines.setdefault((table, ""), number)
            continue
        key = _KEY_LINE.match(line)
        if key:
            name = next(g for g in key.groups() if g is not None)
            lines.setdefault((table, name), number)
            if not table:
                lines.setdefault(("", name.split(".")[0]), number)
    return lines
