"""Everything about the PAPI wire format, in one place (glance-api.md sections 1-5, 4.4).

Requests are HTML-form fields with the documented PascalCase names; only fields that have a value
are sent, and never OKURL/ErrURL. Responses are parsed tolerantly: any root element, element
names matched case-insensitively (namespaces ignored), unknown elements ignored. The response
shapes are this project's [PROJECT] convention where Glance's are not public, so a captured real
response can correct them here, in one module.

XML is parsed with defusedxml and DTDs are refused outright: a hostile server cannot expand
entities or reach external resources. Anything not understood becomes ``ResponseFormatError``
with a short, sanitised excerpt, never a body dump.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bulk_provision.errors import AuthError, PermanentApiError, ResponseFormatError
from bulk_provision.glance.models import NO_ROLE, AudioCodes, GlanceUser, RoleCount, UsersPage
from bulk_provision.glance.scrub import scrub

MAX_PAGE_COUNT = 1000
MAX_CURSOR_CHARS = 255  # Glance documents 15; be tolerant, but not unbounded
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024

AUTH_PARAMS = ("PartnerLogin", "PartnerPW", "PartnerAuth", "PartnerID")
USER_FIELDS = ("UserAddress", "UserPW", "UserFirst", "UserLast", "UserEmail", "UserRole")
OPERATION_PARAMS: dict[str, tuple[str, ...]] = {
    "NewUser": ("PartnerUserID", *USER_FIELDS, "AudioProvider"),
    "UpdateUser": ("PartnerUserID", "UserSuspended", *USER_FIELDS),
    "DeleteUser": ("PartnerUserID",),
    "ShowUsers": ("PartnerUserID", "UserAddress", "UserRole", "PageCount", "PageStart"),
    "ShowRoles": (),
}
OPERATIONS = tuple(OPERATION_PARAMS)
_NEVER_SENT = frozenset({"okurl", "errurl"})

FieldValue = str | int | bool | None


def endpoint(base_url: str, operation: str) -> str:
    """The URL of one operation: ``{base}/PAPI/{operation}.asp``."""
    if operation not in OPERATION_PARAMS:
        raise ValueError(f"unknown operation {operation!r}")
    return f"{base_url.rstrip('/')}/PAPI/{operation}.asp"


def _text_value(value: FieldValue) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    return text if text != "" else None


def build_fields(
    operation: str,
    params: Mapping[str, FieldValue],
    auth: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """The form fields of one request: ``auth`` then ``params``, under their documented names.

    Names are accepted in any case and sent in the documented PascalCase spelling. Fields without
    a value (None or "") are left out. A name the operation does not take, or OKURL/ErrURL, is a
    programming error (ValueError): a bulk client wants the XML body, never a redirect.
    """
    allowed = OPERATION_PARAMS.get(operation)
    if allowed is None:
        raise ValueError(f"unknown operation {operation!r}")
    fields: dict[str, str] = {}
    for names, given in ((AUTH_PARAMS, auth or {}), (allowed, params)):
        canonical = {name.lower(): name for name in names}
        for name, value in given.items():
            if name.lower() in _NEVER_SENT:
                raise ValueError(f"{name} is never sent: the client needs the XML response")
            if name.lower() not in canonical:
                raise ValueError(f"{operation} takes no parameter {name!r}")
            text = _text_value(value)
            if text is not None:
                fields[canonical[name.lower()]] = text
    return fields


# --- parsing ---------------------------------------------------------------------------------

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def clean_text(
    text: str, secrets: Collection[str] = (), limit: int = 200, *, partial: bool = True
) -> str:
    """``text`` made safe for a message: secrets in any spelling replaced by ``***`` (see
    scrub.py; ``partial=False`` for data such as audio codes: only whole secrets), control and
    non-ASCII runs collapsed to a space, cut to ``limit`` characters.

    Scrubbed before normalising, and again after it (collapsing may join what a pattern missed).
    """
    text = scrub(text, secrets, partial=partial)
    text = scrub(_UNPRINTABLE.sub(" ", text).strip(), secrets, partial=partial)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _excerpt(body: bytes, secrets: Collection[str]) -> str:
    # Scrub well past what is shown, so a secret straddling the cut cannot leak its start.
    head = clean_text(body[:4000].decode("utf-8", "replace"), secrets, limit=4000)
    return clean_text(head, limit=60)


def _bad(operation: str, why: str, body: bytes, secrets: Collection[str]) -> ResponseFormatError:
    excerpt = _excerpt(body, secrets)
    detail = f" (starts: {excerpt!r})" if excerpt else ""
    return ResponseFormatError(
        f"{operation}: Glance's answer could not be understood: {why}{detail}",
        maybe_committed=True,
    )


def _local(tag: object) -> str:
    name = tag if isinstance(tag, str) else ""
    return name.rsplit("}", 1)[-1].lower()


def _find(parent: Element, name: str) -> Element | None:
    """The first descendant-or-self element whose local name is ``name`` (lowercase)."""
    for element in parent.iter():
        if _local(element.tag) == name:
            return element
    return None


def _child_texts(element: Element) -> dict[str, str]:
    texts: dict[str, str] = {}
    for child in element:
        texts.setdefault(_local(child.tag), child.text or "")  # not stripped: exact values
    return texts


def _iter_named(root: Element, name: str) -> Iterator[Element]:
    return (element for element in root.iter() if _local(element.tag) == name)


def parse_document(
    body: bytes,
    *,
    operation: str,
    secrets: Collection[str] = (),
    max_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Element:
    """Parse a response and return its root if it reports success.

    Raises AuthError (code AUTH) or PermanentApiError(code, message) for an ERROR document, and
    ResponseFormatError for anything else that is not a success document.
    """
    if len(body) > max_bytes:
        raise _bad(operation, f"the body is larger than {max_bytes} bytes", b"", secrets)
    if not body.strip():
        raise _bad(operation, "the body is empty", b"", secrets)
    root = _parse_xml(body, operation, secrets)
    status_element = _find(root, "status")
    status = (status_element.text or "").strip().upper() if status_element is not None else ""
    code_element = _find(root, "code")
    if status in {"ERROR", "FAIL", "FAILED", "FAILURE"} or (
        not status and code_element is not None
    ):
        raise _error(root, operation, secrets)
    if status in {"OK", "SUCCESS"}:
        return root
    if not status and _has_payload(root, operation):
        return root  # documented ShowRoles example has no status element
    why = f"unknown status {status[:20]!r}" if status else "no <status> element"
    raise _bad(operation, why, body, secrets)


def _parse_xml(body: bytes, operation: str, secrets: Collection[str]) -> Element:
    """The root of an XML body that is not an HTML page (an HTML page is never an answer, even
    one that happens to contain ``<status>OK</status>``)."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise _bad(operation, "it declares a DTD or entities (refused)", b"", secrets) from None
    except (ParseError, ValueError, UnicodeError):
        raise _bad(operation, "it is not XML", body, secrets) from None
    if any(_local(element.tag) in _HTML_TAGS for element in root.iter()):
        raise _bad(operation, "it is an HTML page, not a Glance document", body, secrets)
    return root


_HTML_TAGS = frozenset({"html", "body"})
_XML_TYPES = re.compile(r"^\s*(?:text/xml|application/xml|[\w.+-]+/[\w.-]+\+xml)\s*(?:;|$)", re.I)


def check_content_type(
    body: bytes, content_type: str, *, operation: str, secrets: Collection[str] = ()
) -> None:
    """An answer must say it is XML, or be shaped like a PAPI document: with any other content
    type (text/html included: classic ASP's default) the ``<status>`` must be a child of the
    root, never buried in a page. Raises ResponseFormatError otherwise."""
    if _XML_TYPES.match(content_type or ""):
        return
    root = _parse_xml(body, operation, secrets)
    nested = _find(root, "status")
    if nested is not None and not any(_local(child.tag) == "status" for child in root):
        raise _bad(operation, "its <status> is not a child of the document's root", body, secrets)


def _has_payload(root: Element, operation: str) -> bool:
    marker = {"ShowRoles": "role", "ShowUsers": "users"}.get(operation)
    return marker is not None and _find(root, marker) is not None


def _error(root: Element, operation: str, secrets: Collection[str]) -> Exception:
    texts = {}
    for name in ("code", "message", "error"):
        element = _find(root, name)
        if element is not None:
            texts[name] = (element.text or "").strip()
    code = clean_text(texts.get("code", ""), secrets, limit=40).upper().replace(" ", "_")
    message = clean_text(texts.get("message") or texts.get("error", ""), secrets)
    if code == "AUTH":
        detail = f": {message}" if message else ""
        return AuthError(f"Glance rejected the partner credentials (AUTH{detail})")
    return PermanentApiError(code or "ERROR", message or f"{operation} failed without a message")


def parse_ok(
    body: bytes,
    *,
    operation: str,
    secrets: Collection[str] = (),
    max_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """UpdateUser/DeleteUser: success or an error."""
    parse_document(body, operation=operation, secrets=secrets, max_bytes=max_bytes)


def parse_new_user(
    body: bytes, *, secrets: Collection[str] = (), max_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> AudioCodes:
    """NewUser: the audio account, empty (falsy) when none was made (section 0)."""
    root = parse_document(body, operation="NewUser", secrets=secrets, max_bytes=max_bytes)
    values = {}
    for name in ("dialin", "hostcode", "guestcode"):
        element = _find(root, name)
        text = (element.text or "") if element is not None else ""
        values[name] = clean_text(text, secrets, partial=False)  # data: never mask a near-miss
    return AudioCodes(values["dialin"], values["hostcode"], values["guestcode"])


def _suspended(texts: dict[str, str], body: bytes, secrets: Collection[str]) -> bool:
    truthy, falsy = {"1", "yes", "true", "y"}, {"0", "no", "false", "n", ""}
    if "usersuspended" in texts:
        value, invert = texts["usersuspended"].strip().lower(), False
    else:
        value, invert = texts.get("useractive", "1").strip().lower(), True
    if value not in truthy | falsy:
        raise _bad("ShowUsers", f"user status {value[:10]!r} is not a boolean", body, secrets)
    return (value in truthy) != invert


def parse_show_users(
    body: bytes, *, secrets: Collection[str] = (), max_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> UsersPage:
    """ShowUsers: the users of this page and the next page's cursor (None on the last page)."""
    root = parse_document(body, operation="ShowUsers", secrets=secrets, max_bytes=max_bytes)
    users = []
    for element in _iter_named(root, "user"):
        texts = _child_texts(element)
        if "partneruserid" not in texts and "useraddress" not in texts:
            continue  # not a user record
        role = texts.get("userrole", "")
        users.append(
            GlanceUser(
                partner_user_id=texts.get("partneruserid", ""),
                user_address=texts.get("useraddress", ""),
                user_first=texts.get("userfirst", ""),
                user_last=texts.get("userlast", ""),
                user_email=texts.get("useremail", ""),
                user_role="" if role.strip().lower() == NO_ROLE else role,
                suspended=_suspended(texts, body, secrets),
            )
        )
    cursor_element = _find(root, "nextpagestart")
    cursor = (cursor_element.text or "").strip() if cursor_element is not None else ""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _bad("ShowUsers", "the nextPageStart cursor is too long", b"", secrets)
    return UsersPage(users=users, next_page_start=cursor or None)


def _count(texts: dict[str, str], name: str, body: bytes, secrets: Collection[str]) -> int:
    value = texts.get(name, "0").strip() or "0"
    if not value.isdigit() or len(value) > 12:
        raise _bad("ShowRoles", f"<{name}> {value[:12]!r} is not a count", body, secrets)
    return int(value)


def parse_show_roles(
    body: bytes, *, secrets: Collection[str] = (), max_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> list[RoleCount]:
    """ShowRoles: every ``<role>`` with its name and counts (``users`` = active + inactive when
    the server leaves it out)."""
    root = parse_document(body, operation="ShowRoles", secrets=secrets, max_bytes=max_bytes)
    roles = []
    for element in _iter_named(root, "role"):
        texts = _child_texts(element)
        if "name" not in texts:
            continue
        active = _count(texts, "activeusers", body, secrets)
        inactive = _count(texts, "inactiveusers", body, secrets)
        total = _count(texts, "users", body, secrets) if "users" in texts else active + inactive
        roles.append(RoleCount(texts["name"], active, inactive, total))
    return roles


def parse_response(
    body: bytes,
    *,
    operation: str,
    secrets: Collection[str] = (),
    max_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> AudioCodes | UsersPage | list[RoleCount] | None:
    """Parse the answer to ``operation``: AudioCodes (NewUser), UsersPage (ShowUsers),
    list[RoleCount] (ShowRoles) or None (UpdateUser, DeleteUser)."""
    if operation == "NewUser":
        return parse_new_user(body, secrets=secrets, max_bytes=max_bytes)
    if operation == "ShowUsers":
        return parse_show_users(body, secrets=secrets, max_bytes=max_bytes)
    if operation == "ShowRoles":
        return parse_show_roles(body, secrets=secrets, max_bytes=max_bytes)
    if operation not in OPERATION_PARAMS:
        raise ValueError(f"unknown operation {operation!r}")
    parse_ok(body, operation=operation, secrets=secrets, max_bytes=max_bytes)
    return None
