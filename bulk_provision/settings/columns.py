"""A ``--columns`` file (the export's own headers mapped onto the roster's column names) and a
``--recipe`` file, each refused when another user may change it."""

from __future__ import annotations

from pathlib import Path

from bulk_provision.columns import CANONICAL_COLUMNS, normalize_header
from bulk_provision.errors import ConfigError
from bulk_provision.recipe.file import TABLES as RECIPE_TABLES
from bulk_provision.recipe.file import Recipe, load_recipe
from bulk_provision.settings.config import read_toml
from bulk_provision.settings.paths import check_not_shared


def load_column_map(path: str | Path) -> dict[str, str]:
    """Read a ``--columns`` TOML file: ``"Header in file" = "PartnerUserID"`` lines.

    The pairs may also sit under a ``[columns]`` table. Targets are canonical column names,
    matched case- and separator-insensitively. Any problem is a ConfigError.
    """
    path = Path(path)
    check_not_shared(path, "--columns file")
    document = read_toml(path, "column map")
    recipe_tables = sorted(set(document) & set(RECIPE_TABLES))
    if recipe_tables and recipe_tables != ["columns"]:
        shown = next(t for t in recipe_tables if t != "columns")
        raise ConfigError(f"{path.name} is a recipe (it has [{shown}]): give it "
                          "with --recipe, not --columns")
    table = document
    if set(document) == {"columns"} and isinstance(document["columns"], dict):
        table = document["columns"]
    by_key = {normalize_header(name) for name in CANONICAL_COLUMNS}
    if table and all(isinstance(k, str) and normalize_header(k) in by_key for k in table) and \
            not any(isinstance(v, str) and normalize_header(v) in by_key for v in table.values()):
        raise ConfigError(f"{path.name} reads Glance field = header, as a recipe's [columns] "
                          'does: give it with --recipe, or write "header" = "Glance field" '
                          "lines for --columns")
    if not table:
        raise ConfigError(
            f'column map {path} is empty: write lines like "Employee ID" = "PartnerUserID"'
        )
    return {header.strip(): _map_target(path, header, target) for header, target in table.items()}


def _map_target(path: Path, header: str, target: object) -> str:
    canonical = None
    if isinstance(target, dict):
        raise ConfigError(f"column map {path}: [{header[:60]}] is a table; a column map has "
                          'only lines like "Employee ID" = "PartnerUserID"')
    if isinstance(target, str):
        by_key = {normalize_header(name): name for name in CANONICAL_COLUMNS}
        canonical = by_key.get(normalize_header(target))
    if canonical is None:
        raise ConfigError(
            f'column map {path}: "{header}" = {target!r} is not a known column; '
            f"use one of {', '.join(CANONICAL_COLUMNS)}"
        )
    return canonical


def load_recipe_file(path: str | Path) -> Recipe:
    """A ``--recipe`` file, checked (``recipe.file``), refused when another user may change it:
    the recipe decides who is suspended."""
    path = Path(path)
    if path.is_file():
        check_not_shared(path, "--recipe file")
    return load_recipe(path)
