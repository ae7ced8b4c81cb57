"""Recipes in the page's workspace: saved under a name, attached to a roster, offered again.

::

    <workspace>/recipes/<slug>.recipe.toml   a saved recipe (0600)
    <workspace>/recipes/<slug>.json          its name and the export headers it was made for
    <workspace>/<sha256>/recipe.toml         the recipe this roster is read with

The next upload whose headers are the same (compared as headers are) is offered the saved
recipe. A recipe is only ever stored after ``recipe.file`` read it without complaint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bulk_provision.columns import normalize_header
from bulk_provision.errors import UsageError
from bulk_provision.web.workspace import Workspace, make_dir, read_json, write_json, write_private

NAME = re.compile(r"[\w .()-]{1,60}")
ATTACHED = "recipe.toml"
STALE = ("validation.json", "report.xlsx")  # made with the old reading: made again on request


def slug(name: str) -> str:
    """The file name part of a recipe's name (``Acme Workday`` -> ``acme-workday``)."""
    if not NAME.fullmatch(name.strip()):
        raise UsageError("Give the recipe a name of at most 60 letters, digits, spaces, dots "
                         "or hyphens, such as “Workday export”.")
    return re.sub(r"[^a-z0-9]+", "-", name.strip().casefold()).strip("-") or "recipe"


def header_key(headers: Sequence[str]) -> list[str]:
    return sorted(normalize_header(h) for h in headers if h)


def folder(workspace: Workspace) -> Path:
    return make_dir(workspace.root / "recipes")


def save(workspace: Workspace, name: str, text: str, headers: Sequence[str]) -> str:
    """Store a checked recipe under ``name`` (replacing one of that name); its slug."""
    key = slug(name)
    place = folder(workspace)
    write_private(place / f"{key}.recipe.toml", text.encode("utf-8"))
    write_json(place / f"{key}.json", {"name": name.strip(), "headers": header_key(headers)})
    return key


def saved(workspace: Workspace) -> list[dict[str, Any]]:
    """The saved recipes: name, slug, headers (sorted by name)."""
    found = []
    for record_path in sorted(folder(workspace).glob("*.json")):
        record = read_json(record_path)
        key = record_path.stem
        if isinstance(record, dict) and (record_path.parent / f"{key}.recipe.toml").is_file():
            found.append({"name": str(record.get("name", key)), "slug": key,
                          "headers": list(record.get("headers") or [])})
    return sorted(found, key=lambda r: r["name"].casefold())


def matching(workspace: Workspace, headers: Sequence[str]) -> list[dict[str, Any]]:
    """The saved recipes made for exactly these headers."""
    key = header_key(headers)
    return [r for r in saved(workspace) if r["headers"] == key]


def saved_text(workspace: Workspace, key: str) -> str:
    if not re.fullmatch(r"[a-z0-9-]{1,60}", key):
        raise KeyError(key)
    path = folder(workspace) / f"{key}.recipe.toml"
    if not path.is_file():
        raise KeyError(key)
    return path.read_text(encoding="utf-8")


def attached(workspace: Workspace, sha: str) -> Path | None:
    """The recipe file the roster is read with, or None."""
    path = workspace.folder(sha) / ATTACHED
    return path if path.is_file() else None


def attach(workspace: Workspace, sha: str, text: str, name: str) -> None:
    """Read the roster with this (checked) recipe from now on."""
    with workspace.roster_lock(sha):
        place = workspace.folder(sha)
        write_private(place / ATTACHED, text.encode("utf-8"))
        info = workspace.roster_info(sha)
        write_json(place / "roster.json", {**info, "recipe": name})
        for stale in STALE:
            (place / stale).unlink(missing_ok=True)


def detach(workspace: Workspace, sha: str) -> None:
    """Read the roster as it is (in Glance's shape) again."""
    with workspace.roster_lock(sha):
        place = workspace.folder(sha)
        (place / ATTACHED).unlink(missing_ok=True)
        info = {k: v for k, v in workspace.roster_info(sha).items() if k != "recipe"}
        write_json(place / "roster.json", info)
        for stale in STALE:
            (place / stale).unlink(missing_ok=True)
