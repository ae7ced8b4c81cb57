"""Signing in and out: the one-time token link, or a named account's form ("Sign in").

The one-time link is often clicked in a mail or chat page: a navigation from another site,
on which browsers do not send a SameSite=Strict cookie, not even after a redirect. So opening
the link spends nothing: it shows a small page of this site whose form (sent at once by
``app.js``, or by its button) carries the token in a same-site POST; that answer sets the
cookie and continues to the upload page, and only then is the token spent.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bulk_provision.web.auth import SignIn
from bulk_provision.web.base import checked_form, read_form, web_of

USED = "This sign-in link was already used or is wrong; ask for a new one."
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
    return web.page(request, "login.html", 401 if token else 200, users=access.users is not None,
                    error=USED if token else "")


async def link_post(request: Request) -> Response:
    """The same-site POST of the link page: spend the token, set the cookie."""
    web = web_of(request)
    access = web.config.access
    form = await read_form(request, max_files=0, max_fields=2, max_part_size=4096)
    sid = access.redeem(str(form.get("token", "")))
    if sid is None:
        return web.page(request, "login.html", 401, users=access.users is not None, error=USED)
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
        return web.page(request, "login.html", status, users=access.users is not None,
                        error=error)
    response = RedirectResponse("/", status_code=303)
    response.headers["set-cookie"] = access.cookie(sid)
    return response


async def logout(request: Request) -> Response:
    web = web_of(request)
    await checked_form(request)
    web.config.access.end(request.scope)
    response = RedirectResponse("/login", status_code=303)
    response.headers["set-cookie"] = web.config.access.cleared_cookie()
    return response
