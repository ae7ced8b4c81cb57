"""Signing in and out: the one-time token link, or a named account's form ("Sign in").

The one-time link is often clicked in a mail or chat page: a navigation from another site,
on which browsers do not send a SameSite=Strict cookie, not even after a redirect. So opening
the link spends nothing: it shows a small page of this site whose form (sent at once by
``app.js``, or by its button) carries the token in a same-site POST; that answer sets the
cookie and continues to the upload page, and only then is the token spent.

Without a session every page sends the browser here (:class:`auth.Guard`), and this page says
in plain words what happened ("Your sign-in has ended", when the browser still holds this
server's cookie) and what to do: ask for a new link, or sign in with the form (``--users``).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bulk_provision.web.auth import Scope, SignIn
from bulk_provision.web.base import Web, checked_form, read_form, web_of

USED = ("This sign-in link was already used, is too old, or is not complete. Ask the person "
        "who runs bulk-provision for a new one.")
SIGNED_OUT = "/login?signed-out=1"
SIGN_IN_ERRORS = {
    SignIn.WRONG: (401, "Wrong name or password."),
    SignIn.LOCKED: (429, "Too many wrong passwords for this name; wait 5 minutes."),
    SignIn.BUSY: (429, "The server is busy signing other people in; try again in a moment."),
}


async def login(request: Request) -> Response:
    web = web_of(request)
    access = web.config.access
    token = request.query_params.get("token", "")
    if token and access.token_valid(token):
        return web.page(request, "link.html", token=token)
    return sign_in_page(web, request, 401 if token else 200, error=USED if token else "")


def sign_in_page(web: Web, request: Request, status: int, **context: Any) -> Response:
    """What happened and what to do, for a browser without a session."""
    access = web.config.access
    ended = access.ended(request.scope)
    signed_out = not ended and request.query_params.get("signed-out") == "1"
    users = access.users is not None
    heading = ("Your sign-in has ended" if ended else "You have signed out" if signed_out
               else "Sign in" if users else "This page needs a sign-in link")
    if access.session(request.scope) is not None:
        heading = "You are signed in"
    return web.page(request, "login.html", status, users=users, ended=ended, heading=heading,
                    signed_out=signed_out, lasts=duration(access.session_hours), **context)


def refused_page(web: Web, scope: Scope) -> bytes:
    """The sign-in page as the body of a 401 (a form sent after the sign-in ended)."""
    return bytes(sign_in_page(web, Request(scope), 401).body)


def duration(hours: float) -> str:
    """``10`` -> "10 hours", ``0.5`` -> "30 minutes", ``1`` -> "1 hour"."""
    if hours < 1:
        minutes = max(1, round(hours * 60))
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    shown = f"{hours:g}" if hours == round(hours, 1) else f"{hours:.1f}"
    return f"{shown} hour{'s' if shown != '1' else ''}"


async def link_post(request: Request) -> Response:
    """The same-site POST of the link page: spend the token, set the cookie."""
    web = web_of(request)
    access = web.config.access
    form = await read_form(request, max_files=0, max_fields=2, max_part_size=4096)
    sid = access.redeem(str(form.get("token", "")))
    if sid is None:
        return sign_in_page(web, request, 401, error=USED)
    response = RedirectResponse("/", status_code=303)
    response.headers["set-cookie"] = access.cookie(sid)
    return response


async def login_post(request: Request) -> Response:
    web = web_of(request)
    access = web.config.access
    form = await read_form(request, max_files=0, max_fields=5, max_part_size=4096)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    address = request.client.host if request.client else ""
    # scrypt runs in a thread (keeps the loop free); without --users nothing is hashed
    ending, sid = await run_in_threadpool(access.sign_in, name, password, address)
    if ending is not SignIn.OK:
        status, error = SIGN_IN_ERRORS[ending]
        return sign_in_page(web, request, status, error=error)
    response = RedirectResponse("/", status_code=303)
    response.headers["set-cookie"] = access.cookie(sid)
    return response


async def logout(request: Request) -> Response:
    web = web_of(request)
    await checked_form(request)
    web.config.access.end(request.scope)
    response = RedirectResponse(SIGNED_OUT, status_code=303)
    response.headers["set-cookie"] = web.config.access.cleared_cookie()
    return response
