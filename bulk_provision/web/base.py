"""What every route shares: the server's configuration, page rendering, the signed-in
session and the CSRF check of forms."""

from __future__ import annotations

import asyncio
import hmac
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from bulk_provision import __version__
from bulk_provision.web import engine, words
from bulk_provision.web.auth import Access, Session
from bulk_provision.web.runs import RunManager
from bulk_provision.web.workspace import Workspace

HERE = Path(__file__).parent
SAMPLES = ("roster.xlsx", "roster_with_errors.xlsx", "roster.csv")
FORM_SECONDS = 30.0  # to read a small form's body
HEADINGS = {400: "Cannot do that", 403: "Refused", 404: "Not found", 408: "Too slow",
            409: "Cannot do that now", 413: "Too large"}


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
        self.workspace.take()  # before the runs are read: a second server must not relabel them
        try:
            config.access.use_workspace(self.workspace.root)  # sign-ins outlive a restart
            self.runs = RunManager(self.workspace, config.connection)
        except BaseException:
            self.workspace.release()
            raise
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined,
        )
        self.templates.filters["when"] = when
        self.templates.filters["rule_words"] = words.rule_words
        self.templates.globals["glance_words"] = words.glance_words

    def close(self) -> None:
        """Stop the runs (journals and workbooks written), then free the workspace."""
        try:
            self.runs.shutdown()
        finally:
            self.workspace.release()

    @property
    def samples(self) -> tuple[str, ...]:
        """The sample rosters offered on the upload page (``--demo`` only)."""
        return SAMPLES if self.config.samples is not None else ()

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        session: Session | None = request.scope.get("state", {}).get("session")
        context.setdefault("error", "")
        context.update(session=session, csrf=session.csrf if session else "",
                       version=__version__, endpoint=self.config.connection.endpoint,
                       demo=self.config.samples is not None, max_upload=self.config.max_upload,
                       profile=self.config.connection.settings.profile,
                       production=self.config.connection.settings.production)
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def offset_of(text: str) -> int:
    """A paging offset from the query string: ASCII digits only (``isdigit`` also takes "²"),
    at most 9 of them; anything else is the first screen."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0


def when(text: str) -> Markup:
    """A time the server recorded (UTC), as a ``<time>`` the page's script shows in the
    browser's own time zone (without script, it reads as UTC)."""
    found = re.fullmatch(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d):\d\d UTC", text or "")
    if found is None:
        return Markup.escape(text or "")
    day, minute = found.groups()
    return Markup('<time class="local" datetime="{}T{}Z">{} {} UTC</time>').format(
        day, text[11:19], day, minute)


def web_of(request: Request) -> Web:
    found: Web = request.app.state.web
    return found


def session_of(request: Request) -> Session:
    found: Session | None = request.scope.get("state", {}).get("session")
    if found is None:
        raise HTTPException(401, "sign in first")
    return found


async def read_form(request: Request, seconds: float = FORM_SECONDS, **limits: Any) -> FormData:
    """The request's form, read within ``seconds`` (else 408): a client that sends its body
    slowly on purpose does not hold a connection and a worker for ever."""
    try:
        async with asyncio.timeout(seconds):
            return await request.form(**limits)
    except TimeoutError:
        raise HTTPException(408, "The upload took too long and was stopped; try again, or "
                                 "upload a smaller file.") from None


async def checked_form(request: Request, seconds: float = FORM_SECONDS,
                       **limits: Any) -> FormData:
    """The request's form, after its CSRF token matched the session's (else 403)."""
    session = session_of(request)
    form = await read_form(request, seconds, **limits)
    token = str(form.get("csrf", ""))
    if not token or not hmac.compare_digest(token, session.csrf):
        await form.close()
        raise HTTPException(403, "Refused: the form's security token is missing or old. "
                                 "Reload the page and try again.")
    return form


def download(path: Path, roster_name: str, kind: str) -> Response:
    stem = Path(roster_name).stem or "roster"
    return FileResponse(path, filename=f"{stem}.{kind}.xlsx", headers={"cache-control": "no-store"},
                        media_type="application/vnd.openxmlformats-officedocument."
                                   "spreadsheetml.sheet")


async def error_page(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = str(getattr(exc, "detail", "")) or "Something went wrong."
    if request.scope.get("state", {}).get("session") is None:
        return Response(detail + "\n", status_code=status, media_type="text/plain")
    return web_of(request).page(request, "message.html", status, message=detail,
                                heading=HEADINGS.get(status, "Something went wrong"))
