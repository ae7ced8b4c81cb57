"""Undo this run, on the page: the undo plan first (who, by name), the typed confirmation, then
a run of its own in History (``undo CHECKPOINT``, then ``undo --yes``).

::

    <roster>/runs/<run-id>.undo-plan.xlsx     the undo plan workbook ("Download undo plan")
    <roster>/runs/<run-id>.undo.json          its counts, what it leaves as it is, the number
                                              of people the admin must type to confirm
    <roster>/runs/<run-id>.undo-people.sqlite every reversal, as the person it is for
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bulk_provision.web import engine
from bulk_provision.web.base import Web, checked_form, download, offset_of, session_of, web_of
from bulk_provision.web.hints import said
from bulk_provision.web.runs import Run
from bulk_provision.web.workspace import read_json, write_json

PAGE = 50
WHAT = {  # the reversal, in words
    "suspend": "Suspend (this run added or reinstated them)",
    "delete": "Delete (this run added them)",
    "update": "Change back", "reinstate": "Reinstate (this run suspended them)",
}
NOT_UNDOABLE = ("Only the latest finished run of a roster can be undone: a later run of the "
                "same roster (or an undo) has taken its place.")


def _run(request: Request) -> tuple[Web, Run]:
    web = web_of(request)
    run = web.runs.get(str(request.path_params["run"]))
    if run is None:
        raise HTTPException(404, "no such run")
    return web, run


def files(web: Web, run: Run) -> tuple[Path, Path, Path]:
    runs = web.workspace.runs_dir(run.sha256)
    return (runs / f"{run.id}.undo-plan.xlsx", runs / f"{run.id}.undo.json",
            runs / f"{run.id}.undo-people.sqlite")


def _preview(web: Web, run: Run) -> None:
    workbook, info, people = files(web, run)
    preview = engine.preview_undo(web.config.connection, web.workspace.journal_path(run.sha256),
                                  workbook, run.options.protect)
    engine.write_people(people, preview.people)
    write_json(info, {"refusal": preview.refusal, "suspending": preview.suspending,
                      "total": len(preview.people), "notes": preview.notes})


def context(web: Web, run: Run, query: str = "", offset: int = 0) -> dict[str, Any]:
    workbook, info, people_file = files(web, run)
    data = read_json(info)
    if not isinstance(data, dict) or not workbook.is_file():
        raise HTTPException(404, "Make the undo plan first: press “Undo this run” on the "
                                 "run's page.")
    page = engine.people_page(people_file, query=query[:100], offset=offset, limit=PAGE)
    return {"run": run, "data": data, "page": page, "query": query, "what": WHAT,
            "suspending": int(data.get("suspending") or 0),
            "notes": [tuple(n) for n in data.get("notes") or []],
            "undoable": web.runs.undoable(run)}


async def undo_preview(request: Request) -> Response:
    """"Undo this run": the undo plan, checked against Glance as it is now."""
    web, run = _run(request)
    await checked_form(request)
    if not web.runs.undoable(run):
        raise HTTPException(409, NOT_UNDOABLE)
    try:
        await run_in_threadpool(_preview, web, run)
    except engine.BulkProvisionError as exc:
        raise HTTPException(409, web.workspace.shown(said(exc))) from None
    return RedirectResponse(f"/runs/{run.id}/undo", status_code=303)


async def undo_page(request: Request) -> Response:
    web, run = _run(request)
    params = request.query_params
    offset = params.get("offset", "0")
    data = await run_in_threadpool(context, web, run, params.get("q", ""),
                                   offset_of(offset))
    return web.page(request, "undo.html", **data)


async def undo_start(request: Request) -> Response:
    """Start the undo the admin checked: the people it suspends typed as a number first."""
    web, run = _run(request)
    form = await checked_form(request)
    data = await run_in_threadpool(context, web, run)
    if not data["undoable"]:
        return web.page(request, "undo.html", 409, **{**data, "error": NOT_UNDOABLE})
    if data["data"].get("refusal"):
        return web.page(request, "undo.html", 409, **{
            **data, "error": "This undo cannot be started: see the reason on the page."})
    suspending = data["suspending"]
    if suspending and str(form.get("confirm", "")).strip() != str(suspending):
        return web.page(request, "undo.html", 400, **{
            **data, "error": f"Type {suspending} to confirm that {suspending} "
                             f"{'person loses' if suspending == 1 else 'people lose'} access, "
                             "then press Start undo."})
    try:
        new = web.runs.submit(run.sha256, run.options, session_of(request).user,
                              undoes=run.id)
    except engine.UsageError as exc:
        return web.page(request, "undo.html", 409, **{**data, "error": said(exc)})
    return RedirectResponse(f"/runs/{new.id}", status_code=303)


async def undo_plan_file(request: Request) -> Response:
    web, run = _run(request)
    workbook, _, _ = files(web, run)
    if not workbook.is_file():
        raise HTTPException(404, "Make the undo plan first: press “Undo this run” on the "
                                 "run's page.")
    return download(workbook, run.roster_name, "undo-plan")


ROUTES = [
    ("/runs/{run}/undo", undo_preview, ["POST"]),
    ("/runs/{run}/undo", undo_page, ["GET"]),
    ("/runs/{run}/undo/start", undo_start, ["POST"]),
    ("/runs/{run}/undo/plan", undo_plan_file, ["GET"]),
]
