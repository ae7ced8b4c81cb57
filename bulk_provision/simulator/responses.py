"""XML documents the simulator answers with.

PROVISIONAL: Glance does not publish its response documents (glance-api.md 4.1/4.2). These
templates follow the project's own convention, glance-api.md section 4.4, and must be replaced
once real responses are captured (``bulk-provision check --save-responses``). They are not
Glance's. Written independently of the client's ``glance/wire.py`` on purpose: a mistake on one
side must show up in tests, not cancel out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape

from bulk_provision.simulator.models import SimUser

XML_DECLARATION = '<?xml version="1.0" standalone="yes"?>\n'
CONTENT_TYPE = "text/xml; charset=utf-8"
AUDIO_ELEMENTS = ("dialIn", "hostCode", "guestCode")


def _element(name: str, text: str) -> str:
    return f"<{name}>{escape(text, {chr(13): '&#13;'})}</{name}>"


def _document(inner: str) -> bytes:
    return (XML_DECLARATION + "<response>" + inner + "</response>\n").encode("utf-8")


def ok_document(audio: Mapping[str, str] | None = None) -> bytes:
    """Success of NewUser/UpdateUser/DeleteUser; NewUser adds the audio account when made."""
    inner = _element("status", "OK")
    if audio:
        inner += "".join(_element(name, audio[name]) for name in AUDIO_ELEMENTS)
    return _document(inner)


def error_document(code: str, message: str) -> bytes:
    """A failure: ``<status>ERROR</status><code>..</code><message>..</message>``."""
    inner = _element("status", "ERROR") + _element("code", code) + _element("message", message)
    return _document(inner)


def _user_element(user: SimUser) -> str:
    # Never the password: ShowUsers does not return it.
    return (
        "<user>"
        + _element("PartnerUserID", user.partner_user_id)
        + _element("UserAddress", user.user_address)
        + _element("UserFirst", user.user_first)
        + _element("UserLast", user.user_last)
        + _element("UserEmail", user.user_email)
        + _element("UserRole", user.user_role or "-none-")
        + _element("UserSuspended", "1" if user.suspended else "0")
        + "</user>"
    )


def users_document(users: Iterable[SimUser], next_page_start: str | None) -> bytes:
    """ShowUsers: ``<users>`` with one ``<user>`` per match, then ``<nextPageStart>`` if more."""
    inner = _element("status", "OK") + "<users>" + "".join(map(_user_element, users)) + "</users>"
    if next_page_start is not None:
        inner += _element("nextPageStart", next_page_start)
    return _document(inner)


def roles_document(roles: Iterable[tuple[str, int, int]]) -> bytes:
    """ShowRoles: ``<roles>`` with ``<role>`` (name, activeusers, inactiveusers, users)."""
    parts = [_element("status", "OK"), "<roles>"]
    for name, active, inactive in roles:
        parts.append(
            "<role>"
            + _element("name", name)
            + _element("activeusers", str(active))
            + _element("inactiveusers", str(inactive))
            + _element("users", str(active + inactive))
            + "</role>"
        )
    parts.append("</roles>")
    return _document("".join(parts))


def fault_page(status: int, reason: str) -> bytes:
    """The small HTML body of an injected HTTP 5xx/429 (what a proxy in front would send)."""
    return (
        f"<html><head><title>{status} {escape(reason)}</title></head>"
        f"<body><h1>{status} {escape(reason)}</h1></body></html>\n"
    ).encode()
