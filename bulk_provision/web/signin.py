"""Signing in and out: the one-time token link, or a named account's form ("Sign in")."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bulk_provision.web.auth import COOKIE
from bulk_provision.web.base import checked_form, web_of


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
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    if access.locked(name):
        return web.page(request, "login.html", 429, users=access.users is not None,
                        error="Too many wrong passwords for this name; wait 5 minutes.")
    sid = await run_in_threadpool(access.sign_in, name, password)  # scrypt: keep the loop free
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
