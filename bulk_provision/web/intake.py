"""An upload's body, bounded before it costs anything (DESIGN.md section 11).

* A body sent with ``Transfer-Encoding`` (no size known in advance) is refused by the route.
* :func:`counted` counts the bytes actually received in the ASGI receive stream and stops the
  upload past the limit, whatever ``Content-Length`` claimed.
* :func:`token_first` reads the form's first part (the page puts the CSRF token before the file)
  and compares the token before a single byte of the file reaches the multipart parser, which
  spools files to the temp folder; the bytes read are then replayed to the parser.
* The route lets at most :data:`PARALLEL` uploads be received and checked at once (others wait
  up to :data:`SLOT_SECONDS`, then are asked to try again), so the spool folder holds at most
  ``PARALLEL`` x ``--max-upload``.
"""

from __future__ import annotations

import hmac
import re

from starlette.types import Message, Receive

PARALLEL = 4  # uploads received at once
SLOT_SECONDS = 60.0  # an upload waits this long for its turn, then is asked to try again
FIRST_PART = 16 * 1024  # the token's part is a few hundred bytes
_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)
_NAME = re.compile(rb'\bname="([^"]*)"', re.IGNORECASE)


class Oversized(Exception):
    """More bytes arrived than the upload limit allows."""


class BadToken(Exception):
    """The form's first part is not the session's CSRF token."""


class Gone(Exception):
    """The client left before sending the form's first part."""


def counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`Oversized` once the body exceeds ``limit`` bytes."""
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise Oversized(seen)
        return message

    return counting


async def token_first(receive: Receive, content_type: str, token: str) -> Receive:
    """Check the multipart form's first part is ``csrf`` = ``token`` (else :class:`BadToken`),
    and return a ``receive`` that replays what was read, then continues the stream."""
    found = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/form-data") or found is None:
        raise BadToken("not a multipart form")
    boundary = found[1].encode("latin-1")
    messages: list[Message] = []
    data = b""
    more = True
    while more and len(data) < FIRST_PART and b"\r\n--" + boundary not in data[2:]:
        message = await receive()
        if message["type"] != "http.request":
            raise Gone()
        messages.append(message)
        data += message.get("body", b"")
        more = bool(message.get("more_body", False))
    if not hmac.compare_digest(_first_value(data, boundary, "csrf"), token.encode()):
        raise BadToken("the first part is not the session's token")

    async def replaying() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replaying


def _first_value(data: bytes, boundary: bytes, name: str) -> bytes:
    """The value of the form's first part when it is the field ``name``; b"" otherwise."""
    opening = b"--" + boundary + b"\r\n"
    start = data.find(opening)
    if start < 0 or data[:start].strip():
        return b""
    head_end = data.find(b"\r\n\r\n", start)
    end = data.find(b"\r\n--" + boundary, head_end)
    if head_end < 0 or end < 0:
        return b""
    found = _NAME.search(data[start + len(opening) : head_end])
    if found is None or found[1] != name.encode():
        return b""
    return data[head_end + 4 : end]
