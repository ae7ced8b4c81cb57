"""Opening a client for a :class:`~bulk_provision.settings.connection.Connection`: the credentials
from ``GLANCE_*`` (or a prompt the caller supplies) and the endpoint checked before any password is
asked for."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bulk_provision.glance.client import GlanceClient
from bulk_provision.glance.models import CallRecord, Credentials
from bulk_provision.glance.transport import check_base_url
from bulk_provision.settings.connection import Connection, setting

MAX_CONNECT_TIMEOUT = 10.0

Prompt = Callable[[str], str]


def open_client(
    connection: Connection,
    *,
    pool_size: int,
    on_call: Callable[[CallRecord], None] | None = None,
    prompt: Prompt | None = None,
) -> GlanceClient:
    """A client for this endpoint. A missing password is asked through ``prompt`` when one
    is given (a terminal), else refused. The connect timeout is the smaller of the timeout
    and 10 s; the timeout bounds each answer, and with the connect timeout the whole
    exchange. The endpoint is checked before any password is asked for."""
    check_base_url(connection.base_url)
    credentials = resolve_credentials(connection.env, prompt=prompt)
    return GlanceClient(
        connection.base_url,
        credentials,
        ca_bundle=connection.ca_bundle,
        timeout=(min(connection.timeout, MAX_CONNECT_TIMEOUT), connection.timeout),
        pool_size=pool_size,
        on_call=on_call,
    )


def resolve_credentials(env: Mapping[str, str], *, prompt: Prompt | None = None) -> Credentials:
    """Credentials from ``GLANCE_*``; a missing password is asked through ``prompt`` if given.

    The rules themselves are checked once, by ``Credentials``.
    """
    login = setting(env, "GLANCE_PARTNER_LOGIN") or ""
    api_key = env.get("GLANCE_API_KEY") or None  # secrets are taken exactly as given
    password = env.get("GLANCE_PARTNER_PW") or None
    partner_id = setting(env, "GLANCE_PARTNER_ID")
    partner_user_id = setting(env, "GLANCE_PARTNER_USER_ID")
    if login and "@" not in login and not api_key and not password and prompt is not None:
        password = prompt(f"Glance password for {login}: ") or None
    return Credentials(
        partner_login=login,
        partner_pw=password,
        api_key=api_key,
        partner_id=partner_id,
        partner_user_id=partner_user_id,
    )
