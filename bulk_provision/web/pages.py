"""What the pages show, computed from the workspace and the engine's answers."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData

from bulk_provision.errors import Hint
from bulk_provision.web import engine
from bulk_provision.web.hints import said
from bulk_provision.web.recipes import attached
from bulk_provision.web.validator import WorkerDied, in_worker, without_secrets
from bulk_provision.web.workspace import read_json, write_json

if TYPE_CHECKING:
    from bulk_provision.web.base import Web

SHOWN_PROBLEMS = 1000
def summarize(web: Web, sha: str) -> dict[str, Any]:
    """The validation result of a stored roster, computed once and kept as validation.json."""
    path = web.workspace.folder(sha) / "validation.json"
    cached = read_json(path)
    if isinstance(cached, dict):
        return cached
    info = web.workspace.roster_info(sha)
    summary = validation_summary(web, web.workspace.roster_path(sha), str(info["name"]),
                                 info.get("sheet"), attached(web.workspace, sha))
    if not summary.get("error"):
        write_json(path, summary)
    return summary


def validation_summary(web: Web, roster_file: Path, name: str,
                       sheet: str | None = None, recipe: Path | None = None) -> dict[str, Any]:
    """What the page shows of a roster file's validation; {"error": ...} when it cannot be
    read (the message names the admin's file, and says what to do in the spreadsheet), with
    ``needs_recipe`` when it is readable but not in Glance's shape (an HR export: the Columns
    step says how to read it). A new upload whose first sheet holds no roster is read from the
    first other sheet that does."""
    roles = web.config.connection.roles()  # a misspelt role is a problem now, not at Start
    server = web.config.connection
    connection = engine.Connection(server.settings, without_secrets(server.env))
    try:
        found = in_worker(read_and_validate, connection, roster_file, name, sheet, recipe, roles)
    except WorkerDied:
        return {"error": f"{name} cannot be used as a roster: reading it stopped before it "
                         "finished (the file may be damaged, or far larger inside than it "
                         "looks). Open it in Excel, save it again as .xlsx or CSV, and upload "
                         "that file."}
    if "failed" in found:
        text = web.workspace.shown(str(found["failed"]), {roster_file: name})
        return {"error": f"{name} cannot be used as a roster: {for_the_page(text, name)}",
                "needs_recipe": bool(found["needs_recipe"])}
    return found


def read_and_validate(connection: engine.Connection, roster_file: Path, name: str,
                      sheet: str | None, recipe: Path | None, roles: list[str] | None,
                      ) -> dict[str, Any]:
    """In a worker process (:mod:`validator`): the summary of :func:`validation_summary`, or
    ``{"failed": message, "needs_recipe": ...}`` when the file cannot be read."""
    try:
        if sheet is None and recipe is None:
            roster, result = engine.validate_any_sheet(connection, roster_file, roles)
        else:
            roster, result = engine.validate(connection, roster_file, sheet, recipe, roles)
    except engine.BulkProvisionError as exc:
        return {"failed": said(exc), "needs_recipe": recipe is None and exc.hint is Hint.MAP_HEADER}
    except MemoryError:
        return {"failed": "reading it needs more memory than this server has; split it into "
                          "smaller files", "needs_recipe": False}
    applied = roster.recipe
    by_rule = Counter(p.message if p.rule == "" else p.rule for p in result.problems)
    problem_cells = {(p.row, p.rule.rpartition(".")[0]) for p in result.problems}
    warnings = [w for w in roster.warnings if (w.row, w.column) not in problem_cells]
    return {
        "rows": result.rows,
        "invalid_rows": len(result.invalid_rows),
        "problem_count": len(result.problems),
        "by_rule": by_rule.most_common(),
        "problems": [[p.row, p.column, p.value, for_the_page(p.message, name)]
                     for p in result.problems[:SHOWN_PROBLEMS]],
        "warnings": [str(w) for w in warnings[:50]],  # a cell with a problem is told once
        "warning_count": len(warnings),
        "columns": list(roster.frame.columns),
        "sheet": roster.sheet,
        "glance_roles": roles,
        "unlisted_roles": engine.unlisted_roles(roster.frame, roles or [])[:20],
        "recipe": None if applied is None else {
            "name": applied.recipe.name, "leavers": len(applied.leavers),
            "notes": applied.notes, "sha256": applied.recipe.sha256},
    }


def listed_roles(web: Web, sha: str) -> list[str] | None:
    """The roles Glance listed when the roster was uploaded (its plan and run check them)."""
    roles = summarize(web, sha).get("glance_roles")
    return [str(r) for r in roles] if isinstance(roles, list) else None


def for_the_page(text: str, name: str) -> str:
    """A message with the upload's internal name replaced by the admin's file name."""
    return re.sub(r"\broster(\.(?:xlsx|xlsm|xls|csv|tsv|txt))\b", name, text)


def roster_context(web: Web, sha: str) -> dict[str, Any]:
    info = web.workspace.roster_info(sha)
    runs = [r for r in web.runs.history() if r.sha256 == sha]
    latest = runs[0] if runs else None
    return {
        "sha": sha, "info": info, "summary": summarize(web, sha), "latest": latest,
        "resumable": latest is not None and web.runs.resumable(latest),
        "options": web.config.connection.default_options(),
    }


def options_from(form: FormData) -> engine.RunOptions:
    protect = str(form.get("protect", "")).replace(",", "\n").splitlines()
    return engine.RunOptions(
        mode=str(form.get("mode", "create")),
        skip_invalid=form.get("skip_invalid") == "on",
        set_passwords=form.get("set_passwords") == "on",
        max_suspend=str(form.get("max_suspend", "10%")).strip() or "10%",
        protect=tuple(p.strip() for p in protect if p.strip())[:100],
    ).check()
