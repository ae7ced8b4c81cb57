"""A ``--columns`` file (the export's own headers mapped onto the roster's column names) and a
``--recipe`` file, each refused when another user may change it."""

from __future__ import annotations

from pathlib import Path

from bulk_provision.columns import CANONICAL_COLUMNS, normalize_header
from bulk_provision.errors import ConfigError
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
    table = document
    if set(document) == {"columns"} and isinstance(document["columns"], dict):
        table = document["columns"]
    if not table:
        raise ConfigError(
            f'column map {path} is empty: write lines like "Employee ID" = "PartnerUserID"'
        )
    return {header.strip(): _map_target(path, header, target) for header, target in table.items()}


def _map_target(path: Path, header: str, target: object) -> str:
    canonical = None
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
