"""The page's Columns step (DESIGN.md section 12): how an HR export's columns become a roster.

One line per export header with its Glance field, the Glance user name's template with a
preview of the first rows (computed by the server, by the same code as a run: the CSP forbids
inline script, and nothing may differ between preview and run), the status values sorted into
leaver and active, the department-to-role table offering the roles Glance lists, and "Save
recipe": the recipe is stored in the workspace under a name and offered again for the next
upload with the same headers. A recipe can be downloaded, and one made elsewhere uploaded.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bulk_provision.web import engine, intake, recipes
from bulk_provision.web.base import Web, checked_form, web_of
from bulk_provision.web.hints import said
from bulk_provision.web.pages import for_the_page
from bulk_provision.web.words import FIELDS

NO_ROLE = "-none-"
ROLES_FOR = 300.0  # seconds the roles Glance listed are reused
RECIPE_UPLOAD = 1024 * 1024
FORM_OVERHEAD = 64 * 1024


def sha_of(request: Request) -> str:
    sha = str(request.path_params["sha"])
    try:
        web_of(request).workspace.roster_info(sha)
    except KeyError:
        raise HTTPException(404, "no such roster; upload it again") from None
    return sha


def for_people(message: str, name: str = "recipe") -> str:
    """A recipe's refusal without "recipe NAME, line N: ", which means nothing on the page."""
    head = f"recipe {name}"
    if not message.startswith(head):
        return message
    rest = re.sub(r"^, line \d+", "", message[len(head):])
    return rest[2:] if rest.startswith(": ") else "The recipe" + rest


def roles_of(web: Web) -> tuple[list[str], str]:
    """The roles to offer (Glance's, kept a few minutes, plus the configured ones) and a note
    when Glance could not be asked."""
    cached = getattr(web, "_recipe_roles", None)
    if cached is not None and time.monotonic() - cached[0] < ROLES_FOR:
        return cached[1], ""
    configured = list(web.config.connection.spec(web.workspace.root / "r.csv",
                                                 engine.RunOptions()).roles or [])
    try:
        listed = web.config.connection.check()
    except engine.BulkProvisionError as exc:
        return configured, f"Glance's roles could not be read ({said(exc)}); type the role."
    roles = sorted({*listed, *configured} - {NO_ROLE}, key=str.casefold)
    if not roles:  # ShowRoles lists only the roles somebody has
        return [], ("Glance lists no roles yet (it only lists roles somebody has): type each "
                    "role's name as it is in Glance.")
    web._recipe_roles = (time.monotonic(), roles)  # type: ignore[attr-defined]
    return roles, ""


def draft_from_form(form: FormData, export: engine.Roster) -> engine.RecipeDraft:
    """The choices the admin made on the Columns form (field names are positions, so a header
    is never taken from the form)."""
    headers = [export.headers.get(c, str(c)) for c in export.frame.columns]
    draft = engine.RecipeDraft(headers=headers)
    for position, header in enumerate(headers):
        name = str(form.get(f"field-{position}", ""))
        if not name:
            continue
        if name not in FIELDS:
            raise engine.UsageError(f"“{name[:40]}” is not a Glance field")
        if name in draft.columns:
            raise engine.UsageError(f"{FIELDS[name]} is chosen for both “{draft.columns[name]}” "
                                    f"and “{header}”: choose it for one of them")
        draft.columns[name] = header
    if "UserAddress" not in draft.columns:
        draft.address = str(form.get("address", "")).strip()
    status = str(form.get("status_column", ""))
    if status in headers and status not in draft.columns.values():
        draft.status_column = status
        for index, value in enumerate(engine.distinct_values(export, status)):
            choice = str(form.get(f"status-{index}", ""))
            {"leaver": draft.leaver, "active": draft.active}.get(choice, draft.unsorted).append(
                value)
    role = str(form.get("role_column", ""))
    if "UserRole" not in draft.columns and role in headers and role != draft.status_column:
        draft.role_column = role
        values = [v for v in engine.distinct_values(export, role) if v]
        draft.role_map = {v: str(form.get(f"role-{i}", "")).strip()[:100]
                          for i, v in enumerate(values)}
        draft.role_default = str(form.get("role_default", "")).strip()[:100]
    used = {*draft.columns.values(), draft.status_column, draft.role_column}
    draft.ignore = [h for h in headers if h and h not in used]
    return draft


def context(web: Web, sha: str, draft: engine.RecipeDraft, export: engine.Roster,
            **extra: Any) -> dict[str, Any]:
    info = web.workspace.roster_info(sha)
    roles, roles_note = roles_of(web) if draft.role_column else ([], "")
    preview = _preview(web, sha, draft, str(info["name"]))
    return {
        "sha": sha, "info": info, "draft": draft, "fields": FIELDS, "preview": preview,
        "chosen": {header: name for name, header in draft.columns.items()},
        "status_values": engine.distinct_values(export, draft.status_column)
        if draft.status_column else [],
        "role_values": list(draft.role_map), "roles": roles, "roles_note": roles_note,
        "saved": recipes.matching(web.workspace, draft.headers),
        "all_saved": recipes.saved(web.workspace),
        "attached": recipes.attached(web.workspace, sha) is not None,
        "recipe_name": info.get("recipe") or _name_for(str(info["name"])),
        **extra,
    }


def _name_for(roster_name: str) -> str:
    stem = re.sub(r"[^\w .()-]+", " ", roster_name.rsplit(".", 1)[0]).strip()
    return (stem or "recipe")[:60]


def _preview(web: Web, sha: str, draft: engine.RecipeDraft, name: str) -> engine.RecipePreview:
    if draft.status_column and not (draft.leaver and draft.active):
        return engine.RecipePreview(error=(
            f"say which values of “{draft.status_column}” mean that the person left, and which "
            "that they work here (at least one of each), or choose no leavers column"))
    text = engine.recipe_text(draft, name)
    try:
        recipe = engine.check_recipe(text.encode("utf-8"), "recipe")
    except engine.BulkProvisionError as exc:
        return engine.RecipePreview(error=for_people(str(exc)))
    preview = engine.preview_recipe(web.config.connection, web.workspace.roster_path(sha),
                                    web.workspace.roster_sheet(sha), recipe)
    if preview.error:
        preview.error = for_the_page(for_people(web.workspace.shown(preview.error)), name)
    return preview


def _export(web: Web, sha: str) -> engine.Roster:
    return engine.read_export(web.workspace.roster_path(sha), web.workspace.roster_sheet(sha))


def _start(web: Web, sha: str) -> tuple[engine.Roster, engine.RecipeDraft]:
    export = _export(web, sha)
    path = recipes.attached(web.workspace, sha)
    text = path.read_text(encoding="utf-8") if path is not None else None
    return export, engine.column_draft(export, text)


# -- routes ------------------------------------------------------------------------------------
async def columns_page(request: Request) -> Response:
    web, sha = web_of(request), sha_of(request)
    export, draft = await run_in_threadpool(_start, web, sha)
    page = await run_in_threadpool(context, web, sha, draft, export)
    return web.page(request, "columns.html", **page)


async def columns_post(request: Request) -> Response:
    """"Update preview" (the form again, previewed) or "Save recipe" (stored, attached, on to
    the roster's validation)."""
    web, sha = web_of(request), sha_of(request)
    form = await checked_form(request, max_fields=1000)
    export = await run_in_threadpool(_export, web, sha)
    try:
        draft = draft_from_form(form, export)
    except engine.UsageError as exc:
        _, draft = await run_in_threadpool(_start, web, sha)
        page = await run_in_threadpool(context, web, sha, draft, export)
        return web.page(request, "columns.html", 400, **{**page, "error": said(exc)})
    page = await run_in_threadpool(context, web, sha, draft, export)
    if str(form.get("do", "")) != "save":
        return web.page(request, "columns.html", **page)
    name = str(form.get("name", "")).strip()
    preview: engine.RecipePreview = page["preview"]
    if preview.error:
        return web.page(request, "columns.html", 400, **{
            **page, "error": f"The recipe cannot be saved yet: {preview.error}"})
    try:
        recipes.slug(name)
    except engine.UsageError as exc:
        return web.page(request, "columns.html", 400, **{**page, "error": said(exc)})
    text = engine.recipe_text(draft, str(page["info"]["name"]))
    await run_in_threadpool(recipes.save, web.workspace, name, text, draft.headers)
    await run_in_threadpool(recipes.attach, web.workspace, sha, text, name)
    return RedirectResponse(f"/rosters/{sha}", status_code=303)


async def columns_preview(request: Request) -> Response:
    """The preview alone (app.js asks for it while the admin types)."""
    web, sha = web_of(request), sha_of(request)
    form = await checked_form(request, max_fields=1000)
    export = await run_in_threadpool(_export, web, sha)
    try:
        draft = draft_from_form(form, export)
    except engine.UsageError as exc:
        preview = engine.RecipePreview(error=said(exc))
    else:
        info = web.workspace.roster_info(sha)
        preview = await run_in_threadpool(_preview, web, sha, draft, str(info["name"]))
    html = web.templates.get_template("columns_preview.html").render(preview=preview)
    return HTMLResponse(html, headers={"cache-control": "no-store"})


async def recipe_download(request: Request) -> Response:
    web, sha = web_of(request), sha_of(request)
    path = recipes.attached(web.workspace, sha)
    if path is None:
        raise HTTPException(404, "This roster is read without a recipe.")
    info = web.workspace.roster_info(sha)
    name = recipes.slug(str(info.get("recipe") or "recipe"))
    return Response(path.read_bytes(), media_type="application/toml; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{name}.recipe.toml"',
        "cache-control": "no-store"})


async def recipe_upload(request: Request) -> Response:
    """Use a recipe: one uploaded (made by IT, or downloaded from another server), or one saved
    here. Checked against this export first: a recipe that does not fit is refused."""
    web, sha = web_of(request), sha_of(request)
    declared = request.headers.get("content-length", "")
    if not (declared.isascii() and declared.isdigit()) or "transfer-encoding" in request.headers:
        raise HTTPException(411, "The upload did not say its size; upload the file from the page.")
    if int(declared) > RECIPE_UPLOAD + FORM_OVERHEAD:
        raise HTTPException(413, "A recipe is a small text file (at most 1 MB): this is not one.")
    bounded = Request(request.scope, intake.counted(request.receive, int(declared)))
    try:
        form = await checked_form(bounded, max_files=1, max_fields=5, max_part_size=4096)
    except intake.Oversized:
        raise HTTPException(413, "A recipe is a small text file (at most 1 MB): this is not "
                                 "one.") from None
    try:
        file, key = form.get("recipe"), str(form.get("saved", ""))
        if isinstance(file, UploadFile) and file.filename:
            data = await file.read(RECIPE_UPLOAD + 1)
            name = re.sub(r"(\.recipe)?\.toml$", "", file.filename.rsplit("/", 1)[-1])[:60]
        elif key:
            try:
                data = recipes.saved_text(web.workspace, key).encode("utf-8")
            except KeyError:
                raise HTTPException(404, "no such saved recipe") from None
            name = next((r["name"] for r in recipes.saved(web.workspace) if r["slug"] == key), key)
        else:
            return await _refused(request, web, sha, "Choose a recipe file (.toml) first.")
    finally:
        await form.close()
    try:
        recipe = engine.check_recipe(data, name or "recipe")
    except engine.BulkProvisionError as exc:
        return await _refused(request, web, sha, f"This recipe cannot be used: "
                                                 f"{for_people(said(exc), name or 'recipe')}")
    preview = await run_in_threadpool(engine.preview_recipe, web.config.connection,
                                      web.workspace.roster_path(sha),
                                      web.workspace.roster_sheet(sha), recipe)
    if preview.error:
        shown = for_people(web.workspace.shown(preview.error), name or "recipe")
        roster_name = str(web.workspace.roster_info(sha)["name"])
        return await _refused(request, web, sha, "This recipe does not fit this file: "
                              + for_the_page(shown, roster_name))
    await run_in_threadpool(recipes.attach, web.workspace, sha, data.decode("utf-8-sig"),
                            name or "recipe")
    return RedirectResponse(f"/rosters/{sha}", status_code=303)


async def recipe_remove(request: Request) -> Response:
    web, sha = web_of(request), sha_of(request)
    await checked_form(request)
    await run_in_threadpool(recipes.detach, web.workspace, sha)
    return RedirectResponse(f"/rosters/{sha}", status_code=303)


async def _refused(request: Request, web: Web, sha: str, message: str) -> Response:
    export, draft = await run_in_threadpool(_start, web, sha)
    page = await run_in_threadpool(context, web, sha, draft, export)
    return web.page(request, "columns.html", 400, **{**page, "error": message})
