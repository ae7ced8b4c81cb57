"""What the pages show, computed from the workspace and the engine's answers."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData

from bulk_provision.web import engine
from bulk_provision.web.workspace import read_json, write_json

if TYPE_CHECKING:
    from bulk_provision.web.app import Web

SHOWN_PROBLEMS = 1000


def summarize(web: Web, sha: str) -> dict[str, Any]:
    """The validation result of a stored roster, computed once and kept as validation.json."""
    path = web.workspace.folder(sha) / "validation.json"
    cached = read_json(path)
    if isinstance(cached, dict):
        return cached
    try:
        roster, result = engine.validate(web.config.connection, web.workspace.roster_path(sha))
    except engine.BulkProvisionError as exc:
        return {"error": f"This file cannot be used as a roster: {exc}"}
    by_rule = Counter(p.message if p.rule == "" else p.rule for p in result.problems)
    summary = {
        "rows": result.rows,
        "invalid_rows": len(result.invalid_rows),
        "problem_count": len(result.problems),
        "by_rule": by_rule.most_common(),
        "problems": [[p.row, p.column, p.value, p.message]
                     for p in result.problems[:SHOWN_PROBLEMS]],
        "warnings": [str(w) for w in roster.warnings[:50]],
        "warning_count": len(roster.warnings),
        "columns": list(roster.frame.columns),
    }
    write_json(path, summary)
    return summary


def roster_context(web: Web, sha: str) -> dict[str, Any]:
    info = web.workspace.roster_info(sha)
    runs = [r for r in web.runs.history() if r.sha256 == sha]
    latest = runs[0] if runs else None
    return {
        "sha": sha, "info": info, "summary": summarize(web, sha), "latest": latest,
        "resumable": latest is not None and web.runs.resumable(latest),
        "options": web.config.connection.default_options(),
    }


def plan_context(web: Web, sha: str, options: engine.RunOptions, preview: engine.PlanPreview,
                 plan_id: str) -> dict[str, Any]:
    summary = summarize(web, sha)
    blocked = preview.refusal or (summary.get("invalid_rows") and not options.skip_invalid)
    return {
        "sha": sha, "info": web.workspace.roster_info(sha), "summary": summary,
        "options": options, "preview": preview, "plan_id": plan_id, "blocked": bool(blocked),
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
