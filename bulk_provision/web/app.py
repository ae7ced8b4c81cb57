"""The page's routes: upload -> validation -> options -> plan -> run -> results; History.

Server-rendered pages (Jinja2, autoescaped) and a little JavaScript from ``static/``. Every
route but the login page and the static files needs a session (:class:`auth.Guard`); every
POST carries the session's CSRF token. Work that reads files or talks to Glance runs in a
thread, so the event loop keeps answering; runs belong to :class:`runs.RunManager`.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bulk_provision import __version__
from bulk_provision.errors import UploadTooLarge
from bulk_provision.settings.selection import compact_rows
from bulk_provision.web import columns, engine, intake, plans, undo
from bulk_provision.web.auth import Guard
from bulk_provision.web.base import (
    HERE,
    SAMPLES,
    Web,
    WebConfig,
    checked_form,
    download,
    error_page,
    offset_of,
    read_form,
    session_of,
    web_of,
)
from bulk_provision.web.hints import said
from bulk_provision.web.pages import (
    listed_roles,
    options_from,
    roster_context,
    validation_summary,
)
from bulk_provision.web.recipes import attached
from bulk_provision.web.runs import ACTIVE
from bulk_provision.web.signin import link_post, login, login_post, logout, refused_page
from bulk_provision.web.workspace import RUN_ID_PATTERN, new_run_id, too_large

__all__ = ["WebConfig", "create_app", "iter_routes"]
log = logging.getLogger("bulk_provision.web")
FORM_OVERHEAD = 64 * 1024
UPLOAD_SECONDS = 60.0  # to read an upload's body: this, plus its size at SLOWEST_UPLOAD
SLOWEST_UPLOAD = 20_000  # bytes/s


# -- upload --------------------------------------------------------------------------------
async def index(request: Request) -> Response:
    web = web_of(request)
    return web.page(request, "upload.html", samples=web.samples)


async def upload(request: Request) -> Response:
    web = web_of(request)
    limit = web.config.max_upload
    declared = request.headers.get("content-length")
    if declared is None or not (declared.isascii() and declared.isdigit()):
        return web.page(request, "upload.html", 411, samples=web.samples,
                        error="The upload did not say its size; upload the file from the page.")
    if int(declared) > limit + FORM_OVERHEAD:
        return web.page(request, "upload.html", 413, samples=web.samples, error=too_large(limit))
    if "transfer-encoding" in request.headers:  # its size would be known only at the end
        return web.page(request, "upload.html", 411, samples=web.samples,
                        error="The upload did not say its size; upload the file from the page.")
    slots = getattr(request.app.state, "upload_slots", None)
    if slots is None:
        slots = request.app.state.upload_slots = asyncio.Semaphore(intake.PARALLEL)
    try:
        async with asyncio.timeout(intake.SLOT_SECONDS):
            await slots.acquire()
    except TimeoutError:
        return web.page(request, "upload.html", 503, samples=web.samples, error=(
            "Several files are being uploaded right now; try again in a minute."))
    try:
        return await _receive_upload(request, int(declared))
    finally:
        slots.release()


async def _receive_upload(request: Request, declared: int) -> Response:
    """The upload's form, its bytes counted as they arrive and its CSRF token compared before
    any file byte is spooled (:mod:`intake`), then stored and validated."""
    web = web_of(request)
    limit = web.config.max_upload
    seconds = UPLOAD_SECONDS + declared / SLOWEST_UPLOAD  # slow networks, not slowloris
    receive = intake.counted(request.receive, min(declared, limit + FORM_OVERHEAD))
    try:
        async with asyncio.timeout(seconds):
            receive = await intake.token_first(receive, request.headers.get("content-type", ""),
                                               session_of(request).csrf)
        checked = Request(request.scope, receive)
        form = await read_form(checked, seconds, max_files=1, max_fields=5, max_part_size=4096)
    except intake.BadToken:
        raise HTTPException(403, "Refused: the form's security token is missing or old. "
                                 "Reload the page and try again.") from None
    except intake.Oversized:
        return web.page(request, "upload.html", 413, samples=web.samples, error=too_large(limit))
    except intake.Gone:
        return Response(status_code=400)
    except TimeoutError:
        raise HTTPException(408, "The upload took too long and was stopped; try again, or "
                                 "upload a smaller file.") from None
    try:
        file = form.get("roster")
        if not isinstance(file, UploadFile) or not file.filename:
            return web.page(request, "upload.html", 400, samples=web.samples,
                            error="Choose a roster file (Excel or CSV) first.")
        return await _store(request, file.file, file.filename)
    finally:
        await form.close()


async def _store(request: Request, source: IO[bytes], name: str) -> Response:
    """Receive an upload into a place of its own, validate it there, and only then make it
    a roster: a rejected upload changes no roster, and parallel uploads never collide."""
    web = web_of(request)
    try:
        incoming = await run_in_threadpool(web.workspace.receive, source, name,
                                           web.config.max_upload)
    except UploadTooLarge as exc:
        return web.page(request, "upload.html", 413, samples=web.samples, error=said(exc))
    except engine.UsageError as exc:
        return web.page(request, "upload.html", 400, samples=web.samples, error=said(exc))
    except OSError as exc:
        return _disk_trouble(request, exc)
    try:
        summary = await run_in_threadpool(validation_summary, web, incoming.path, incoming.name)
        if summary.get("needs_recipe"):  # an HR export: the Columns step says how to read it
            sha = await run_in_threadpool(web.workspace.commit, incoming,
                                          session_of(request).user, {})
            return RedirectResponse(f"/rosters/{sha}/columns", status_code=303)
        if summary.get("error"):
            return web.page(request, "upload.html", 400, samples=web.samples,
                            error=summary["error"])
        sha = await run_in_threadpool(web.workspace.commit, incoming,
                                      session_of(request).user, summary)
    except OSError as exc:
        return _disk_trouble(request, exc)
    finally:
        await run_in_threadpool(web.workspace.discard, incoming)
    return RedirectResponse(f"/rosters/{sha}", status_code=303)


def _disk_trouble(request: Request, exc: OSError) -> Response:
    web = web_of(request)
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return web.page(request, "upload.html", 507, samples=web.samples, error=(
            "The server's disk is full, so the file could not be stored. Ask IT to free some "
            "space; deleting old rosters (on their pages) also frees space."))
    log.error("cannot store an upload: %s", exc)
    return web.page(request, "upload.html", 500, samples=web.samples, error=(
        "The server could not store the file; ask IT to look at the server's log."))


async def sample(request: Request) -> Response:
    web = web_of(request)
    form = await checked_form(request)
    name = str(form.get("sample", ""))
    if web.config.samples is None or name not in SAMPLES:
        raise HTTPException(404, "no such sample roster")
    with (web.config.samples / name).open("rb") as f:
        return await _store(request, f, name)


# -- one roster: validation, plan, start ----------------------------------------------------
def roster_sha(request: Request) -> str:
    sha = str(request.path_params["sha"])
    try:
        web_of(request).workspace.roster_info(sha)
    except KeyError:
        raise HTTPException(404, "no such roster; upload it again") from None
    return sha


async def roster(request: Request) -> Response:
    web, sha = web_of(request), roster_sha(request)
    context = await run_in_threadpool(roster_context, web, sha)
    return web.page(request, "roster.html", **context)


async def report(request: Request) -> Response:
    web, sha = web_of(request), roster_sha(request)
    path = web.workspace.folder(sha) / "report.xlsx"
    if not path.is_file():
        await run_in_threadpool(engine.write_report, web.config.connection,
                                web.workspace.roster_path(sha), path,
                                web.workspace.roster_sheet(sha), attached(web.workspace, sha))
    return download(path, web.workspace.roster_info(sha)["name"], "report")


async def plan(request: Request) -> Response:
    web, sha = web_of(request), roster_sha(request)
    form = await checked_form(request)
    try:
        options = options_from(form)
    except engine.UsageError as exc:
        context = await run_in_threadpool(roster_context, web, sha)
        return web.page(request, "roster.html", 400, **{**context, "error": said(exc)})
    return await previewed(request, web, sha, options)


async def plan_only(request: Request) -> Response:
    """"Run only the rows shown": the plan again, for the people one tab shows under its
    search (a wave of the file); Start then carries out that plan alone."""
    web, sha = web_of(request), roster_sha(request)
    form = await checked_form(request)
    plan_id = str(request.path_params["plan"])
    data = await run_in_threadpool(plans.stored, web, sha, plan_id)
    tab, query = str(form.get("tab", "")), str(form.get("q", ""))[:100]
    rows = await run_in_threadpool(plans.rows_shown, web, sha, plan_id, tab, query)
    try:
        if not rows:
            raise engine.UsageError("Nobody is shown here: choose another tab or search.")
        options = replace(plans.options_of(data), rows=compact_rows(rows)).check()
    except engine.UsageError as exc:
        context = await run_in_threadpool(plans.view_context, web, sha, plan_id, tab, query)
        return web.page(request, "plan.html", 400, **{**context, "error": said(exc)})
    return await previewed(request, web, sha, options)


async def previewed(request: Request, web: Web, sha: str, options: engine.RunOptions,
                    ) -> Response:
    """A new plan preview of the roster under ``options``, kept and shown."""
    plan_id = new_run_id()
    out = web.workspace.folder(sha) / f"plan-{plan_id}.xlsx"
    try:
        preview = await run_in_threadpool(
            lambda: engine.preview_plan(web.config.connection, web.workspace.roster_path(sha),
                                        options, out, sheet=web.workspace.roster_sheet(sha),
                                        recipe=attached(web.workspace, sha),
                                        roles=listed_roles(web, sha)))
    except engine.BulkProvisionError as exc:
        context = await run_in_threadpool(roster_context, web, sha)
        return web.page(request, "roster.html", 400,
                        **{**context, "error": web.workspace.shown(said(exc))})
    web.workspace.keep_only_plan(sha, plan_id)
    await run_in_threadpool(plans.keep, web, sha, plan_id, options, preview)
    context = await run_in_threadpool(plans.view_context, web, sha, plan_id)
    return web.page(request, "plan.html", **context)


async def plan_view(request: Request) -> Response:
    """The plan's people: one tab, searched and paged (a link: reload and back work)."""
    web, sha = web_of(request), roster_sha(request)
    params = request.query_params
    offset = params.get("offset", "0")
    context = await run_in_threadpool(
        plans.view_context, web, sha, str(request.path_params["plan"]),
        params.get("tab", ""), params.get("q", ""), offset_of(offset))
    return web.page(request, "plan.html", **context)


async def plan_file(request: Request) -> Response:
    web, sha = web_of(request), roster_sha(request)
    plan_id = str(request.path_params["plan"])
    if not RUN_ID_PATTERN.fullmatch(plan_id):
        raise HTTPException(404, "no such plan")
    path = web.workspace.folder(sha) / f"plan-{plan_id}.xlsx"
    if not path.is_file():
        raise HTTPException(404, "This plan was replaced by a newer preview of the same "
                                 "roster; preview the plan again.")
    return download(path, web.workspace.roster_info(sha)["name"], "plan")


async def start(request: Request) -> Response:
    """Start carries out exactly a previewed plan; suspensions need their number typed."""
    web, sha = web_of(request), roster_sha(request)
    form = await checked_form(request)
    active = web.runs.active_run(sha)
    if active is not None:  # a second press of Start (or another admin's): watch that run
        return RedirectResponse(f"/runs/{active.id}", status_code=303)
    plan_id = str(form.get("plan", ""))
    if not plan_id:
        context = await run_in_threadpool(roster_context, web, sha)
        return web.page(request, "roster.html", 400, **{
            **context, "error": "Preview the plan first: Start is on the plan's page."})
    data = await run_in_threadpool(plans.stored, web, sha, plan_id)
    context = await run_in_threadpool(plans.view_context, web, sha, plan_id)
    if context["blocked"]:
        return web.page(request, "plan.html", 409, **{
            **context, "error": "This plan cannot be started: see the reason on the page."})
    wanted = int(context["confirm_count"])
    if wanted and str(form.get("confirm", "")).strip() != str(wanted):
        return web.page(request, "plan.html", 400, **{
            **context, "error": f"{context['confirm_words']} Type {wanted} to confirm, then "
                                "press Start."})
    workbook, _, _ = plans.paths(web, sha, plan_id)
    try:
        run = web.runs.submit(sha, plans.options_of(data), session_of(request).user,
                              plan=workbook)
    except engine.UsageError as exc:
        return web.page(request, "plan.html", 409, **{**context, "error": said(exc)})
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


# -- runs ----------------------------------------------------------------------------------
def run_of(request: Request) -> Any:
    found = web_of(request).runs.get(str(request.path_params["run"]))
    if found is None:
        raise HTTPException(404, "no such run")
    return found


async def run_page(request: Request) -> Response:
    web, run = web_of(request), run_of(request)
    params = request.query_params
    offset = params.get("offset", "0")
    people = await run_in_threadpool(
        plans.run_people_context, web, run.sha256, run.id, params.get("show", ""),
        params.get("q", ""), offset_of(offset))
    return web.page(request, "run.html", run=run, snap=web.runs.snapshot(run),
                    resumable=web.runs.resumable(run), active=run.state in ACTIVE,
                    mode_words=plans.mode_words(run), undoable=web.runs.undoable(run),
                    undone_by=web.runs.undone_by(run), **people)


async def failed_rows(request: Request) -> Response:
    """The run's failed-rows file: the rows to fix, in the file's own columns, to upload again."""
    web, run = web_of(request), run_of(request)
    found = next(iter(web.workspace.runs_dir(run.sha256).glob(f"{run.id}.failed.*")), None)
    if found is None:
        raise HTTPException(404, "Every row of this run ended well: there are no failed rows.")
    stem = Path(run.roster_name).stem or "roster"
    return FileResponse(found, filename=f"{stem}.failed{found.suffix}",
                        headers={"cache-control": "no-store"})


async def healthz(request: Request) -> Response:
    """For a monitor, without a sign-in: the server answers, and which version it is. Nothing
    else (no runs, no names, no workspace)."""
    return JSONResponse({"status": "ok", "version": __version__},
                        headers={"cache-control": "no-store"})


async def template(request: Request) -> Response:
    """An empty roster workbook with the columns, notes and drop-downs."""
    web = web_of(request)
    path = web.workspace.root / "template.xlsx"
    if not path.is_file():
        await run_in_threadpool(engine.write_template, path)
    return FileResponse(path, filename="roster-template.xlsx", headers={
        "cache-control": "no-store"}, media_type="application/vnd.openxmlformats-"
        "officedocument.spreadsheetml.sheet")


async def events(request: Request) -> Response:
    web, run = web_of(request), run_of(request)
    return StreamingResponse(_stream(web, run), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


async def _stream(web: Web, run: Any) -> AsyncIterator[str]:
    """Server-sent events: the run's snapshot whenever it changes, until it ends or the server
    stops. A reconnecting browser simply gets the current snapshot first."""
    last = ""
    yield "retry: 2000\n\n"
    while True:
        snap = web.runs.snapshot(run)
        text = json.dumps(snap, sort_keys=True)
        if text != last:
            last = text
            yield f"data: {text}\n\n"
        if run.state not in ACTIVE:
            yield "event: end\ndata: {}\n\n"
            return
        if web.config.closing.is_set():
            return
        await asyncio.sleep(0.25)


async def stop(request: Request) -> Response:
    web, run = web_of(request), run_of(request)
    await checked_form(request)
    web.runs.stop_run(run.id)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


async def resume(request: Request) -> Response:
    web, run = web_of(request), run_of(request)
    await checked_form(request)
    try:  # a second press (or another admin's) goes to the run the first one started
        new = web.runs.resume(run.id, session_of(request).user)
    except engine.UsageError as exc:
        return web.page(request, "run.html", 409, run=run, snap=web.runs.snapshot(run),
                        resumable=False, active=run.state in ACTIVE, error=said(exc))
    return RedirectResponse(f"/runs/{new.id}", status_code=303)


async def delete_roster(request: Request) -> Response:
    """Delete a roster with all its files (it holds personal data, maybe passwords)."""
    web, sha = web_of(request), roster_sha(request)
    await checked_form(request)
    try:
        await run_in_threadpool(web.runs.delete_roster, sha)
    except engine.UsageError as exc:
        context = await run_in_threadpool(roster_context, web, sha)
        return web.page(request, "roster.html", 409, **{**context, "error": said(exc)})
    return RedirectResponse("/history", status_code=303)


async def results(request: Request) -> Response:
    web, run = web_of(request), run_of(request)
    path = web.workspace.folder(run.sha256) / f"results-{run.id}.xlsx"
    if not path.is_file():
        raise HTTPException(404, "this run has no results workbook")
    return download(path, run.roster_name, "results")


async def history(request: Request) -> Response:
    web = web_of(request)
    runs = web.runs.history()
    resumed_by = {r.resumes: r for r in reversed(runs) if r.resumes}
    return web.page(request, "history.html", runs=runs,
                    resumable={r.id for r in runs if web.runs.resumable(r)},
                    resumed_by=resumed_by, mode_words=plans.mode_words,
                    words=plans.OUTCOME_WORDS)


async def check(request: Request) -> Response:
    web = web_of(request)
    await checked_form(request)
    try:
        roles = await run_in_threadpool(web.config.connection.check)
        result = (f"Connected to {web.config.connection.endpoint}; roles: {', '.join(roles)}."
                  if roles else
                  f"Connected to {web.config.connection.endpoint}. Glance lists no roles yet (it "
                  "lists only the roles someone has), so the roster's roles cannot be checked "
                  "before the run.")
        ok = True
    except engine.BulkProvisionError as exc:
        result, ok = f"Cannot connect: {web.workspace.shown(said(exc))}", False
    samples = SAMPLES if web.config.samples else ()
    return web.page(request, "upload.html", samples=samples, check=result, check_ok=ok)


ROUTES: list[tuple[str, Callable[..., Any], list[str]]] = [
    ("/", index, ["GET"]),
    ("/upload", upload, ["POST"]),
    ("/samples", sample, ["POST"]),
    ("/check", check, ["POST"]),
    ("/history", history, ["GET"]),
    ("/rosters/{sha}", roster, ["GET"]),
    ("/rosters/{sha}/report", report, ["GET"]),
    ("/rosters/{sha}/plan", plan, ["POST"]),
    ("/rosters/{sha}/plans/{plan}", plan_file, ["GET"]),
    ("/rosters/{sha}/plans/{plan}/view", plan_view, ["GET"]),
    ("/rosters/{sha}/plans/{plan}/only", plan_only, ["POST"]),
    ("/rosters/{sha}/start", start, ["POST"]),
    ("/rosters/{sha}/delete", delete_roster, ["POST"]),
    ("/rosters/{sha}/columns", columns.columns_page, ["GET"]),
    ("/rosters/{sha}/columns", columns.columns_post, ["POST"]),
    ("/rosters/{sha}/columns/preview", columns.columns_preview, ["POST"]),
    ("/rosters/{sha}/recipe", columns.recipe_download, ["GET"]),
    ("/rosters/{sha}/recipe", columns.recipe_upload, ["POST"]),
    ("/rosters/{sha}/recipe/remove", columns.recipe_remove, ["POST"]),
    ("/runs/{run}", run_page, ["GET"]),
    ("/runs/{run}/events", events, ["GET"]),
    ("/runs/{run}/stop", stop, ["POST"]),
    ("/runs/{run}/resume", resume, ["POST"]),
    ("/runs/{run}/results", results, ["GET"]),
    ("/runs/{run}/failed", failed_rows, ["GET"]),
    *undo.ROUTES,
    ("/template", template, ["GET"]),
    ("/healthz", healthz, ["GET"]),
    ("/login", login, ["GET"]),
    ("/login", login_post, ["POST"]),
    ("/login/link", link_post, ["POST"]),
    ("/logout", logout, ["POST"]),
]


def create_app(config: WebConfig) -> Starlette:
    """The page's app; it holds its workspace's lock (ConfigError if another server has it)
    until the server shuts down (:meth:`Web.close`)."""
    web = Web(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            config.closing.set()
            await run_in_threadpool(web.close)

    routes: list[Any] = [Route(path, fn, methods=methods) for path, fn, methods in ROUTES]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: error_page, 500: error_page})
    app.state.web = web
    app.add_middleware(Guard, access=config.access, hosts=config.hosts,
                       refused_page=lambda scope: refused_page(web, scope))
    return app


def iter_routes() -> Iterator[tuple[str, list[str]]]:
    """Every route and its methods (the security tests walk them all)."""
    for path, _fn, methods in ROUTES:
        yield path, methods
