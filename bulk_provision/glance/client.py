"""The Glance PAPI client: HTTPS only, verified certificates, pooled keep-alive connections.

One :class:`GlanceClient` is shared by all worker threads. It holds one requests ``HTTPAdapter``
whose pool keeps up to ``pool_size`` connections (``pool_block=True``: a thread waits for a free
connection rather than opening an unpooled one); each call hands it a prepared form POST
(session.form_post), so no Session state (cookies, hooks) is shared or merged per call.
Size ``pool_size`` to the number of worker threads.

Error mapping (errors.py):

- ``ERROR`` document -> ``AuthError`` (code AUTH) or ``PermanentApiError(code, message)``.
- HTTP 429 -> ``TransientApiError(status=429, retry_after=...)``, not committed.
- HTTP 503 -> ``TransientApiError(503)``, not committed: the server says it did not handle it.
- Other HTTP 5xx -> ``TransientApiError(status, maybe_committed=True)``: a 500 from the
  application or a 502/504 from a gateway may have been carried out, and a NewUser must never be
  blindly repeated; the caller checks with ShowUsers first.
- Other HTTP 4xx without an ERROR document -> ``TransientApiError(status)``, not committed.
- Any 3xx (redirects are never followed): to ``http://`` -> ``InsecureEndpointError``; elsewhere
  -> ``PermanentApiError("REDIRECT", ...)`` naming the https address to configure instead.
- Cannot connect / connect timeout -> ``TransientApiError(maybe_committed=False)``.
- Read timeout, the total deadline passed (connect + read timeout for the whole exchange, so a
  server dripping one byte a second cannot hold a worker forever), connection dropped or body cut
  short -> ``TransientApiError(maybe_committed=True)``.
- Untrusted certificate -> ``InsecureEndpointError`` (pass ``--ca-bundle`` for a private CA).
- A body that is not a usable response, or larger than ``max_body_bytes`` ->
  ``ResponseFormatError(maybe_committed=True)``.

No message carries a secret: form bodies are never quoted, and anything a server sends back is
scrubbed of the partner password, API key, LoginKey and UserPW before it is put in a message.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Generic, TypeVar

import requests
from requests.utils import get_environ_proxies

from bulk_provision import __version__
from bulk_provision.errors import (
    ConfigError,
    GlanceError,
    ResponseFormatError,
)
from bulk_provision.glance import wire
from bulk_provision.glance.loginkey import LoginKeySource
from bulk_provision.glance.models import (
    AudioCodes,
    CallRecord,
    Credentials,
    GlanceUser,
    RoleCount,
    UsersPage,
)
from bulk_provision.glance.paging import every_user
from bulk_provision.glance.session import Exchange, Watchdog, form_post, https_url, new_adapter
from bulk_provision.glance.transport import (
    check_base_url,
    client_error,
    outcome_name,
    status_error,
    transport_error,
)

T = TypeVar("T")
Parser = Callable[[bytes, tuple[str, ...]], T]


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A parsed answer and the raw body it came from."""

    value: T
    body: bytes


def _keeping_body(parse: Parser[T]) -> Parser[Answer[T]]:
    def keep(body: bytes, secrets: tuple[str, ...]) -> Answer[T]:
        return Answer(parse(body, secrets), body)

    return keep

CHUNK_BYTES = 64 * 1024
DRAIN_BYTES = 64 * 1024
REQUEST_HEADERS = {"User-Agent": f"bulk-provision/{__version__}",
                   "Accept": "text/xml, application/xml", "Accept-Encoding": "identity",
                   "Connection": "keep-alive"}


class GlanceClient:
    """Calls the five PAPI operations. Thread-safe; use as a context manager or call close()."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        ca_bundle: str | Path | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        pool_size: int = 8,
        max_body_bytes: int = wire.DEFAULT_MAX_BODY_BYTES,
        on_call: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self.base_url, self.host = check_base_url(base_url)
        if ca_bundle is not None and not Path(ca_bundle).is_file():
            raise ConfigError(f"the CA bundle {str(ca_bundle)!r} does not exist")
        # An explicit path on every request: REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE cannot replace it.
        self._verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
        self._timeout = timeout
        self._deadline_s = timeout[0] + timeout[1]
        self._max_body = max_body_bytes
        self._on_call = on_call
        self._credentials = credentials
        self._keys = None
        if credentials.uses_login_key:
            assert credentials.api_key and credentials.partner_user_id  # checked by Credentials
            self._keys = LoginKeySource(
                str(credentials.partner_id), credentials.partner_user_id, credentials.api_key
            )
        self._adapter = new_adapter(pool_size)
        self._urls = {op: https_url(wire.endpoint(self.base_url, op)) for op in wire.OPERATIONS}
        # Proxies from the environment still apply; nothing else from it (no .netrc
        # credentials, no environment CA bundle silently replacing ours, no cookies).
        self._proxies = get_environ_proxies(self.base_url)
        # Our adapter knows whether sending began (and enforces the total deadline); through a
        # SOCKS proxy it does not, so every failure there counts as maybe sent.
        self._tracks_sending = not any(
            str(proxy).lower().startswith("socks") for proxy in self._proxies.values()
        )
        self._watchdog = Watchdog()

    def __repr__(self) -> str:
        return f"GlanceClient({self.base_url!r}, {self._credentials!r})"

    @property
    def credentials(self) -> Credentials:
        """Who this client authenticates as (secrets hidden from repr)."""
        return self._credentials

    def __enter__(self) -> GlanceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the deadline watchdog and close the pooled connections."""
        self._watchdog.close()
        self._adapter.close()

    # --- operations ------------------------------------------------------------------------

    def new_user(self, fields: Mapping[str, str], *, attempt: int | None = None) -> AudioCodes:
        """NewUser with API-named ``fields``; returns the audio account (falsy if none).

        ``attempt`` (the row's attempt number) only goes into the call record.
        """
        return self._call(
            "NewUser",
            fields,
            lambda body, secrets: wire.parse_new_user(
                body, secrets=secrets, max_bytes=self._max_body
            ),
            partner_user_id=fields.get("PartnerUserID"),
            extra_secrets=(fields.get("UserPW") or "",),
            attempt=attempt,
        )

    def update_user(
        self, partner_user_id: str, fields: Mapping[str, str], *, attempt: int | None = None
    ) -> None:
        """UpdateUser: change only the given fields (UserSuspended included)."""
        params = {**fields, "PartnerUserID": partner_user_id}
        self._call(
            "UpdateUser",
            params,
            self._ok_parser("UpdateUser"),
            partner_user_id=partner_user_id,
            extra_secrets=(fields.get("UserPW") or "",),
            attempt=attempt,
        )

    def delete_user(self, partner_user_id: str, *, attempt: int | None = None) -> None:
        """DeleteUser: permanent."""
        self._call(
            "DeleteUser",
            {"PartnerUserID": partner_user_id},
            self._ok_parser("DeleteUser"),
            partner_user_id=partner_user_id,
            attempt=attempt,
        )

    def show_users_page(
        self,
        *,
        partner_user_id: str | None = None,
        user_address: str | None = None,
        user_role: str | None = None,
        page_count: int = wire.MAX_PAGE_COUNT,
        page_start: str | None = None,
    ) -> UsersPage:
        """One page of ShowUsers (``*`` wildcards and ``-none-`` as Glance defines them)."""
        if not 1 <= page_count <= wire.MAX_PAGE_COUNT:
            raise ValueError(f"page_count must be 1 to {wire.MAX_PAGE_COUNT}")
        params = {
            "PartnerUserID": partner_user_id,
            "UserAddress": user_address,
            "UserRole": user_role,
            "PageCount": page_count,
            "PageStart": page_start,
        }
        return self._call(
            "ShowUsers", params, self._users_parser(), partner_user_id=partner_user_id
        )

    def show_users(
        self,
        *,
        partner_user_id: str | None = None,
        user_address: str | None = None,
        user_role: str | None = None,
        page_count: int = wire.MAX_PAGE_COUNT,
        max_users: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[GlanceUser]:
        """Every matching user, page after page, until the server gives no next cursor.

        A page with fewer users than ``page_count`` does not end the listing by itself (a server
        may cap page sizes); an empty page or a cursor seen before does, the latter as a
        ResponseFormatError. A server that keeps paging past ``max_users`` users (more than a
        Glance group could hold) or ``max_pages`` pages stops the listing with RunStopped: a
        definite stop, never retried, so a broken server cannot make this loop forever.
        """
        def fetch(cursor: str | None) -> UsersPage:
            return self.show_users_page(
                partner_user_id=partner_user_id,
                user_address=user_address,
                user_role=user_role,
                page_count=page_count,
                page_start=cursor,
            )

        return every_user(fetch, max_users=max_users, max_pages=max_pages)

    def show_roles(self) -> list[RoleCount]:
        """ShowRoles: roles that have users, with counts (``-none-`` for users without one)."""
        return self._call("ShowRoles", {}, self._roles_parser())

    def show_roles_answer(self) -> Answer[list[RoleCount]]:
        """ShowRoles, with the raw XML body kept (``check --save-responses``)."""
        return self._call("ShowRoles", {}, _keeping_body(self._roles_parser()))

    def show_users_answer(self, *, page_count: int) -> Answer[UsersPage]:
        """The first page of ShowUsers, with the raw XML body kept."""
        return self._call(
            "ShowUsers", {"PageCount": page_count}, _keeping_body(self._users_parser())
        )

    # --- plumbing --------------------------------------------------------------------------

    def _ok_parser(self, operation: str) -> Parser[None]:
        def parse(body: bytes, secrets: tuple[str, ...]) -> None:
            wire.parse_ok(body, operation=operation, secrets=secrets, max_bytes=self._max_body)

        return parse

    def _roles_parser(self) -> Parser[list[RoleCount]]:
        def parse(body: bytes, secrets: tuple[str, ...]) -> list[RoleCount]:
            return wire.parse_show_roles(body, secrets=secrets, max_bytes=self._max_body)

        return parse

    def _users_parser(self) -> Parser[UsersPage]:
        def parse(body: bytes, secrets: tuple[str, ...]) -> UsersPage:
            return wire.parse_show_users(body, secrets=secrets, max_bytes=self._max_body)

        return parse

    def _auth(self) -> tuple[dict[str, str | None], tuple[str, ...]]:
        credentials = self._credentials
        if self._keys is not None:
            key = self._keys.current()
            fields: dict[str, str | None] = {
                "PartnerLogin": credentials.partner_login,
                "PartnerAuth": key,
                "PartnerID": str(credentials.partner_id),
            }
            return fields, (*credentials.secrets(), key)
        return (
            {"PartnerLogin": credentials.partner_login, "PartnerPW": credentials.partner_pw},
            credentials.secrets(),
        )

    def _call(
        self,
        operation: str,
        params: Mapping[str, wire.FieldValue],
        parse: Parser[T],
        *,
        partner_user_id: str | None = None,
        extra_secrets: tuple[str, ...] = (),
        attempt: int | None = None,
    ) -> T:
        auth, secrets = self._auth()
        secrets = (*secrets, *(s for s in extra_secrets if s))
        fields = wire.build_fields(operation, params, auth)
        started = time.monotonic()
        status: list[int | None] = [None]
        outcome, committed = "ok", False
        try:
            body = self._exchange(operation, fields, secrets, status)
            return parse(body, secrets)
        except GlanceError as exc:
            outcome = outcome_name(exc)
            committed = bool(getattr(exc, "maybe_committed", False))
            raise
        finally:
            if self._on_call is not None:
                record = CallRecord(
                    operation,
                    partner_user_id,
                    status[0],
                    round(time.monotonic() - started, 6),
                    outcome,
                    committed,
                    attempt,
                )
                self._on_call(record)

    def _exchange(
        self,
        operation: str,
        fields: dict[str, str],
        secrets: tuple[str, ...],
        status: list[int | None],
    ) -> bytes:
        exchange = self._watchdog.begin(self._deadline_s)
        try:
            try:
                response = self._adapter.send(  # redirects are never followed
                    form_post(self._urls[operation], fields, REQUEST_HEADERS),
                    stream=True,
                    timeout=self._timeout,
                    verify=self._verify,
                    proxies=self._proxies,
                )
            except requests.RequestException as exc:
                raise self._broken(operation, exc, exchange, secrets) from exc
            with response:
                code = status[0] = response.status_code
                error = status_error(operation, code, response.headers, self.host, secrets)
                if error is not None:
                    if code >= 400:  # drain a small body so the connection can be reused
                        with contextlib.suppress(GlanceError):
                            self._read_body(operation, response, exchange, secrets, DRAIN_BYTES)
                    raise error
                body = self._read_body(operation, response, exchange, secrets, self._max_body)
                if code >= 400:
                    raise client_error(operation, code, body, host=self.host, secrets=secrets)
                wire.check_content_type(
                    body, response.headers.get("Content-Type", ""), operation=operation,
                    secrets=secrets,
                )
                return body
        finally:
            self._watchdog.end(exchange)

    def _broken(
        self,
        operation: str,
        exc: BaseException,
        exchange: Exchange,
        secrets: tuple[str, ...],
    ) -> GlanceError:
        return transport_error(
            operation, exc, host=self.host, fired=exchange.fired, timeout=self._timeout,
            unsent=self._tracks_sending and not exchange.request_started, secrets=secrets,
        )  # fmt: skip

    def _read_body(
        self,
        operation: str,
        response: requests.Response,
        exchange: Exchange,
        secrets: tuple[str, ...],
        limit: int,
    ) -> bytes:
        """The whole body, refusing (without reading on) one larger than ``limit`` bytes."""
        declared = response.headers.get("Content-Length", "")
        too_big = ResponseFormatError(
            f"{operation}: the answer is larger than {limit} bytes; refused",
            status=response.status_code,
            maybe_committed=True,
        )
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise too_big
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise self._broken(operation, exc, exchange, secrets) from exc
        if exchange.fired:  # a close-delimited body may look complete when cut by the watchdog
            raise self._broken(operation, TimeoutError(), exchange, secrets)
        return b"".join(chunks)
