"""A previewed plan on the page: kept beside its workbook, shown as people, started from.

::

    <roster>/plan-<id>.xlsx          the plan workbook ("Download plan"; what Start carries out)
    <roster>/plan-<id>.json          the options, counts and guard's verdict it was made with
    <roster>/plan-<id>.people.sqlite every action as the person it is for (the tabs, searched)

Start carries out exactly the previewed plan (``run --plan``): a copy of the workbook is kept
with the run (``runs/<run-id>.plan.xlsx``), so Resume finishes that plan even after a newer
preview replaced the roster's.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException

from bulk_provision.web import engine
from bulk_provision.web.base import Web
from bulk_provision.web.runs import MODE_WORDS, OUTCOME_WORDS
from bulk_provision.web.workspace import RUN_ID_PATTERN, read_json, write_json

TABS = (  # tab, its title on the page
    ("create", "To create"), ("update", "To update"), ("suspend", "To suspend"),
    ("reinstate", "To reinstate"), ("delete", "To delete"), ("none", "No change"),
    ("skip", "Left, not in Glance"),
)
PAGE = 50


def paths(web: Web, sha: str, plan_id: str) -> tuple[Path, Path, Path]:
    if not RUN_ID_PATTERN.fullmatch(plan_id):
        raise HTTPException(404, "no such plan")
    folder = web.workspace.folder(sha)
    return (folder / f"plan-{plan_id}.xlsx", folder / f"plan-{plan_id}.json",
            folder / f"plan-{plan_id}.people.sqlite")


def keep(web: Web, sha: str, plan_id: str, options: engine.RunOptions,
         preview: engine.PlanPreview) -> None:
    _, info, people = paths(web, sha, plan_id)
    engine.write_people(people, preview.people)
    write_json(info, {"options": asdict(options), "counts": preview.counts,
                      "refusal": preview.refusal, "total": preview.total,
                      "suspending": preview.suspending})


def stored(web: Web, sha: str, plan_id: str) -> dict[str, Any]:
    workbook, info, _ = paths(web, sha, plan_id)
    data = read_json(info)
    if not workbook.is_file() or not isinstance(data, dict):
        raise HTTPException(404, "This plan was replaced by a newer preview of the same "
                                 "roster; preview the plan again.")
    return data


def options_of(data: dict[str, Any]) -> engine.RunOptions:
    raw = data.get("options") or {}
    return engine.RunOptions(mode=str(raw.get("mode", "create")),
                             skip_invalid=bool(raw.get("skip_invalid")),
                             set_passwords=bool(raw.get("set_passwords")),
                             max_suspend=str(raw.get("max_suspend", "10%")),
                             protect=tuple(str(p) for p in raw.get("protect") or ()),
                             rows=str(raw.get("rows", "")))


def people_page(web: Web, sha: str, plan_id: str, tab: str, query: str,
                offset: int) -> engine.Page:
    _, _, path = paths(web, sha, plan_id)
    return engine.people_page(path, tab=tab, query=query[:100], offset=offset, limit=PAGE)


def rows_shown(web: Web, sha: str, plan_id: str, tab: str, query: str) -> list[int]:
    """The roster rows of everyone ``tab`` shows under ``query`` (every screen of it)."""
    _, _, path = paths(web, sha, plan_id)
    return engine.rows_shown(path, tab=tab, query=query[:100])


def mode_words(run: Any) -> str:
    """How a run's page and History name what it did."""
    if getattr(run, "undoes", ""):
        return "Undo of an earlier run"
    words = MODE_WORDS.get(run.options.mode, run.options.mode)
    rows = getattr(run.options, "rows", "")
    return f"{words}, only rows {rows} of the file" if rows else words


def view_context(web: Web, sha: str, plan_id: str, tab: str = "", query: str = "",
                 offset: int = 0) -> dict[str, Any]:
    """The plan page: counts, the guard's verdict, one tab of people (searched, paged)."""
    data = stored(web, sha, plan_id)
    counts_by_tab = {name: 0 for name, _ in TABS}
    everyone = people_page(web, sha, plan_id, "", "", 0)
    counts_by_tab.update(everyone.counts)
    if tab not in counts_by_tab:
        tab = next((name for name in ("suspend", "create", "update", "reinstate", "delete",
                                      "skip", "none") if counts_by_tab[name]), "create")
    page = people_page(web, sha, plan_id, tab, query, offset)
    info = web.workspace.roster_info(sha)
    summary = read_json(web.workspace.folder(sha) / "validation.json") or {}
    invalid = int(summary.get("invalid_rows") or 0)
    options = options_of(data)
    blocked = bool(data.get("refusal")) or (invalid > 0 and not options.skip_invalid)
    return {
        "sha": sha, "info": info, "plan_id": plan_id, "options": options,
        "mode_words": MODE_WORDS.get(options.mode, options.mode), "data": data,
        "tabs": [(name, title, counts_by_tab[name]) for name, title in TABS],
        "tab": tab, "query": query, "page": page, "invalid": invalid, "blocked": blocked,
        "narrowable": options.mode != "sync" and 0 < page.total < int(data.get("total") or 0),
        "suspending": int(data.get("suspending") or 0),
        **confirmation(web, int(data.get("suspending") or 0), counts_by_tab),
    }


CHANGING = ("create", "update", "suspend", "reinstate", "delete")


def confirmation(web: Web, suspending: int, counts: dict[str, int]) -> dict[str, Any]:
    """What Start asks the admin to type: the number of people suspended; on a production
    profile, the number of people the plan changes at all (0: nothing to type)."""
    if web.config.connection.settings.production:
        changing = sum(counts.get(tab, 0) for tab in CHANGING)
        lose = (f", {suspending} of them losing access (suspended, not deleted)"
                if suspending else "")
        return {"confirm_count": changing,
                "confirm_words": f"Production: this changes {changing} "
                                 f"{'person' if changing == 1 else 'people'} in the real "
                                 f"Glance{lose}."}
    return {"confirm_count": suspending,
            "confirm_words": f"{suspending} {'person loses' if suspending == 1 else 'people lose'}"
                             " access to Glance (suspended, not deleted)."}




def run_people_context(web: Web, sha: str, run_id: str, show: str, query: str,
                       offset: int) -> dict[str, Any]:
    """The finished run's people (outcome in words, reason, dial-in codes), filtered."""
    path = web.workspace.runs_dir(sha) / f"{run_id}.people.sqlite"
    if not path.is_file():
        return {"people": None}
    page = engine.people_page(path, tab=show if show in OUTCOME_WORDS else "",
                              query=query[:100], offset=offset, limit=PAGE)
    everyone = page  # its counts are per outcome, after the search
    failed = next(iter(web.workspace.runs_dir(sha).glob(f"{run_id}.failed.*")), None)
    return {"people": page, "show": show if show in OUTCOME_WORDS else "", "query": query,
            "outcomes": [(o, OUTCOME_WORDS[o], everyone.counts.get(o, 0))
                         for o in OUTCOME_WORDS if everyone.counts.get(o)],
            "words": OUTCOME_WORDS, "failed_rows": failed is not None}
