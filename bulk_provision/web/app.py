"""The page's routes: upload -> validation -> options -> plan -> run -> results; History.

Server-rendered pages (Jinja2, autoescaped) and a little JavaScript from ``static/``. Every
route but the login page and the static files needs a session (:class:`auth.Guard`); every
POST carries the session's CSRF token. Work that reads files or talks to Glance runs in a
thread, so the event loop keeps answering; runs belong to :class:`runs.RunManager`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import shutil
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bulk_provision import __version__
from bulk_provision.web import engine
from bulk_provision.web.auth import COOKIE, Access, Guard, Session
from bulk_provision.web.pages import options_from, plan_context, roster_context, summarize
from bulk_provision.web.runs import ACTIVE, RunManager
from bulk_provision.web.workspace import (
    RUN_ID_PATTERN,
    TooLarge,
    Workspace,
    new_run_id,
    too_large,
)

HERE = Path(__file__).parent
SAMPLES = ("roster.xlsx", "roster_with_errors.xlsx", "roster.csv")
FORM_OVERHEAD = 64 * 1024


@dataclass
class WebConfig:
    """Everything the app needs from ``bulk-provision serve``."""

    workspace: Path
    connection: engine.Connection
    access: Access
    hosts: list[str]
    max_upload: int = 50_000_000
    samples: Path | None = None  # --demo: the sample rosters offered on the upload page
    closing: threading.Event = field(default_factory=threading.Event)


class Web:
    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.workspace = Workspace(config.workspace)
        self.runs = RunManager(self.workspace, config.connection)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined,
        )

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        session: Session | None = request.scope.get("state", {}).get("session")
        context.setdefault("error", "")
        context.update(session=session, csrf=session.csrf if session else "",
                       version=__version__, endpoint=self.config.connection.endpoint,
                       demo=self.config.samples is not None, max_upload=self.config.max_upload)
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def web_of(request: Request) -> Web:
    found: Web = request.app.state.web
    return found


def session_of(request: Request) -> Session:
    found: Session | None = request.scope.get("state", {}).get("session")
    if found is None:
        raise HTTPException(401, "sign in first")
    return found


async def checked_form(request: Request, **limits: Any) -> FormData:
    """The request's form, after its CSRF token matched the session's (else 403)."""
    session = session_of(request)
    form = await request.form(**limits)
    token = str(form.get("csrf", ""))
    if not token or not hmac.compare_digest(token, session.csrf):
        await form.close()
        raise HTTPException(403, "Refused: the form's security token is missing or old. "
                                 "Reload the page and try again.")
    return form


# -- upload --------------------------------------------------------------------------------
async def index(request: Request) -> Response:
    web = web_of(request)
    return web.page(request, "upload.html", samples=SAMPLES if web.config.samples else ())


async def upload(request: Request) -> Response:
    web = web_of(request)
    limit = web.config.max_upload
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return web.page(request, "upload.html", 411, samples=(),
                        error="The upload did not say its size; upload the file from the page.")
    if int(declared) > limit + FORM_OVERHEAD:
        return web.page(request, "upload.html", 413, samples=(), error=too_large(limit))
    form = await checked_form(request, max_files=1, max_fields=5, max_part_size=4096)
    try:
        return await _store(request, form)
    finally:
        await form.close()


async def _store(request: Request, form: FormData) -> Response:
    web = web_of(request)
    limit = web.config.max_upload
    file = form.get("roster")
    if not isinstance(file, UploadFile) or not file.filename:
        return web.page(request, "upload.html", 400, samples=(),
                        error="Choose a roster file (Excel or CSV) first.")
    user = session_of(request).user
    try:
        sha = await run_in_threadpool(web.workspace.store, file.file, file.filename, user, limit)
    except TooLarge as exc:
        return web.page(request, "upload.html", 413, samples=(), error=str(exc))
    except engine.UsageError as exc:
        return web.page(request, "upload.html", 400, samples=(), error=str(exc))
    return await _validated(request, sha)


async def sample(request: Request) -> Response:
    web = web_of(request)
    form = await checked_form(request)
    name = str(form.get("sample", ""))
    if web.config.samples is None or name not in SAMPLES:
        raise HTTPException(404, "no such sample roster")
    with (web.config.samples / name).open("rb") as f:
        sha = await run_in_threadpool(web.workspace.store, f, name, session_of(request).user,
                                      web.config.max_upload)
    return await _validated(request, sha)


async def _validated(request: Request, sha: str) -> Response:
    """Validate a stored roster; a file that cannot be read stays on the upload page."""
    web = web_of(request)
    summary = await run_in_threadpool(summarize, web, sha)
    if summary.get("error"):
        if not any(web.workspace.folder(sha).glob("runs/*.json")):
            shutil.rmtree(web.workspace.folder(sha), ignore_errors=True)
        return web.page(request, "upload.html", 400, samples=(), error=summary["error"])
    return RedirectResponse(f"/rosters/{sha}", status_code=303)


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
                                web.workspace.roster_path(sha), path)
    return _download(path, web.workspace.roster_info(sha)["name"], "report")


async def plan(request: Request) -> Response:
    web, sha = web_of(request), roster_sha(request)
    form = await checked_form(request)
    try:
        options = options_from(form)
    except engine.UsageError as exc:
        context = await run_in_threadpool(roster_context, web, sha)
        return web.page(request, "roster.html", 400, **{**context, "error": str(exc)})
    plan_id = new_run_id()
    out = web.workspace.folder(sha) / f"plan-{plan_id}.xlsx"
    try:
        preview = await run_in_threadpool(engine.preview_plan, web.config.connection,
                                          web.workspace.roster_path(sha), options, out)
    except engine.BulkProvisionError as exc:
        context = await run_in_threadpool(roster_context, web, sha)
        return web.page(request, "roster.html", 400, **{**context, "error": str(exc)})
    context = await run_in_threadpool(plan_context, web, sha, options, preview, plan_id)
    return web.page(request, "plan.html", **context)


async def plan_file(request: Request) -> Response:
    web, sha = web_of(request), roster_sha(request)
    plan_id = str(request.path_params["plan"])
    if not RUN_ID_PATTERN.fullmatch(plan_id):
        raise HTTPException(404, "no such plan")
    path = web.workspace.folder(sha) / f"plan-{plan_id}.xlsx"
    if not path.is_file():
        raise HTTPException(404, "no such plan")
    return _download(path, web.workspace.roster_info(sha)["name"], "plan")


async def start(request: Request) -> Response:
    web, sha = web_of(request), roster_sha(request)
    form = await checked_form(request)
    try:
        run = web.runs.submit(sha, options_from(form), session_of(request).user)
    except engine.UsageError as exc:
        context = await run_in_threadpool(roster_context, web, sha)
        return web.page(request, "roster.html", 409, **{**context, "error": str(exc)})
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


# -- runs ----------------------------------------------------------------------------------
def run_of(request: Request) -> Any:
    found = web_of(request).runs.get(str(request.path_params["run"]))
    if found is None:
        raise HTTPException(404, "no such run")
    return found


async def run_page(request: Request) -> Response:
    web, run = web_of(request), run_of(request)
    return web.page(request, "run.html", run=run, snap=web.runs.snapshot(run),
                    resumable=web.runs.resumable(run), active=run.state in ACTIVE)


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
    try:
        new = web.runs.resume(run.id, session_of(request).user)
    except engine.UsageError as exc:
        return web.page(request, "run.html", 409, run=run, snap=web.runs.snapshot(run),
                        resumable=False, active=run.state in ACTIVE, error=str(exc))
    return RedirectResponse(f"/runs/{new.id}", status_code=303)


async def results(request: Request) -> Response:
    web, run = web_of(request), run_of(request)
    path = web.workspace.folder(run.sha256) / f"results-{run.id}.xlsx"
    if not path.is_file():
        raise HTTPException(404, "this run has no results workbook")
    return _download(path, run.roster_name, "results")


async def history(request: Request) -> Response:
    web = web_of(request)
    runs = web.runs.history()
    return web.page(request, "history.html", runs=runs,
                    resumable={r.id for r in runs if web.runs.resumable(r)})


async def check(request: Request) -> Response:
    web = web_of(request)
    await checked_form(request)
    try:
        roles = await run_in_threadpool(web.config.connection.check)
        result = f"Connected to {web.config.connection.endpoint}; roles: {', '.join(roles)}."
        ok = True
    except engine.BulkProvisionError as exc:
        result, ok = f"Cannot connect: {exc}", False
    samples = SAMPLES if web.config.samples else ()
    return web.page(request, "upload.html", samples=samples, check=result, check_ok=ok)


# -- sign in -------------------------------------------------------------------------------
async def login(request: Request) -> Response:
    web = web_of(request)
    access = web.config.access
    token = request.query_params.get("token", "")
    if token:
        sid = access.redeem(token)
        if sid is not None:
            response = RedirectResponse("/", status_code=303)
            response.headers["set-cookie"] = access.cookie(sid)
            return response
    return web.page(request, "login.html", 401 if token else 200, users=access.users is not None,
                    error="This sign-in link was already used or is wrong; ask for a new one."
                    if token else "")


async def login_post(request: Request) -> Response:
    web = web_of(request)
    access = web.config.access
    form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
    sid = access.sign_in(str(form.get("name", "")), str(form.get("password", "")))
    if sid is None:
        return web.page(request, "login.html", 401, users=access.users is not None,
                        error="Wrong name or password.")
    response = RedirectResponse("/", status_code=303)
    response.headers["set-cookie"] = access.cookie(sid)
    return response


async def logout(request: Request) -> Response:
    web = web_of(request)
    await checked_form(request)
    web.config.access.end(request.scope)
    response = RedirectResponse("/login", status_code=303)
    response.headers["set-cookie"] = f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    return response


# -- helpers -------------------------------------------------------------------------------
def _download(path: Path, roster_name: str, kind: str) -> Response:
    stem = Path(roster_name).stem or "roster"
    return FileResponse(path, filename=f"{stem}.{kind}.xlsx", headers={"cache-control": "no-store"},
                        media_type="application/vnd.openxmlformats-officedocument."
                                   "spreadsheetml.sheet")


async def error_page(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = str(getattr(exc, "detail", "")) or "Something went wrong."
    if request.scope.get("state", {}).get("session") is None:
        return Response(detail + "\n", status_code=status, media_type="text/plain")
    return web_of(request).page(request, "message.html", status, message=detail)


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
    ("/rosters/{sha}/start", start, ["POST"]),
    ("/runs/{run}", run_page, ["GET"]),
    ("/runs/{run}/events", events, ["GET"]),
    ("/runs/{run}/stop", stop, ["POST"]),
    ("/runs/{run}/resume", resume, ["POST"]),
    ("/runs/{run}/results", results, ["GET"]),
    ("/login", login, ["GET"]),
    ("/login", login_post, ["POST"]),
    ("/logout", logout, ["POST"]),
]


def create_app(config: WebConfig) -> Starlette:
    web = Web(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        config.closing.set()
        await run_in_threadpool(web.runs.shutdown)

    routes: list[Any] = [Route(path, fn, methods=methods) for path, fn, methods in ROUTES]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: error_page, 500: error_page})
    app.state.web = web
    app.add_middleware(Guard, access=config.access, hosts=config.hosts)
    return app


def iter_routes() -> Iterator[tuple[str, list[str]]]:
    """Every route and its methods (the security tests walk them all)."""
    for path, _fn, methods in ROUTES:
        yield path, methods
