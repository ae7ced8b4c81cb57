"""Mapping transport-level facts (URLs, redirects, Retry-After, requests exceptions) to errors.

Messages name the host and a short reason; they never quote a request body, and anything taken
from an exception is scrubbed of the secrets of the call.
"""

from __future__ import annotations

import email.utils
import ipaddress
import math
import re
import ssl
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from bulk_provision.errors import (
    AuthError,
    ConfigError,
    GlanceError,
    InsecureEndpointError,
    PermanentApiError,
    ResponseFormatError,
    TransientApiError,
)
from bulk_provision.glance.session import https_url
from bulk_provision.glance.wire import clean_text, parse_document

CA_HINT = "for a private CA pass --ca-bundle PEM (or set GLANCE_CA_BUNDLE)"


def check_base_url(base_url: str) -> tuple[str, str]:
    """The base URL without a trailing slash, and its host; only ``https://`` is accepted."""
    try:
        parts = urlsplit(base_url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(
            f"the Glance base URL is not a valid URL ({exc}); check GLANCE_BASE_URL or base_url"
        ) from None
    if parts.scheme.lower() != "https":
        raise InsecureEndpointError(
            f"the Glance base URL must start with https:// (got {parts.scheme or 'no'} scheme); "
            "plain HTTP is never used"
        )
    if not parts.hostname:
        raise ConfigError("the Glance base URL has no host name")
    if parts.username or parts.password:
        raise ConfigError("the Glance base URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError("the Glance base URL must not contain a query or fragment")
    base = f"https://{parts.netloc}{parts.path.rstrip('/')}"
    _check_host(parts.hostname, base)
    return base, parts.netloc


def _check_host(hostname: str, base: str) -> None:
    """A host name every layer below can connect to (DNS labels of 1 to 63 characters, IDNA
    for non-ASCII), else a ConfigError now rather than a crash at the first request."""
    problem = ""
    try:
        ipaddress.ip_address(hostname)
        return
    except ValueError:
        pass
    labels = hostname.removesuffix(".").split(".")
    if len(hostname) > 253 or any(not 0 < len(label) <= 63 for label in labels):
        problem = "a part of it is empty or longer than 63 characters"
    else:
        try:
            https_url(base)
        except (requests.RequestException, ValueError, UnicodeError) as exc:
            problem = clean_text(str(exc) or type(exc).__name__, limit=80)
    if problem:
        raise ConfigError(
            f"the Glance base URL's host name {clean_text(hostname, limit=80)!r} is not valid "
            f"({problem}); check GLANCE_BASE_URL or base_url"
        )


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None.

    Not capped here: the caller compares it with ``--max-wait`` and names the wait asked for.
    A wait too long to represent (a number of 400 digits, a date after the year 9999) is
    ``math.inf``: longer than any limit, never "no header". Text that is neither is None.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text) if len(text) <= 300 else math.inf
    parts = email.utils.parsedate_tz(text)
    if parts is None:
        return None
    if parts[0] > 9999:
        return math.inf
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def redirect_error(
    operation: str, status: int, location: str, host: str, secrets: Collection[str] = ()
) -> GlanceError:
    """Redirects are never followed: to http:// is insecure; anything else is misconfiguration."""
    try:
        target = urlsplit(location.strip())
    except ValueError:  # e.g. "https://[::1": shown as sent, cleaned, without a query
        shown = location.strip().split("?", 1)[0].split("#", 1)[0]
        return PermanentApiError(
            "REDIRECT",
            f"{operation}: HTTP {status} redirect to "
            f"{clean_text(shown, secrets, limit=120)!r} not followed; set GLANCE_BASE_URL "
            "to the address Glance answers on",
        )
    if target.scheme.lower() == "http":
        return InsecureEndpointError(
            f"{operation}: {host} redirected to plain "
            f"http://{clean_text(target.netloc, secrets, limit=120)}; refused (HTTPS only)"
        )
    shown = f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else target.path
    return PermanentApiError(
        "REDIRECT",
        f"{operation}: HTTP {status} redirect to {clean_text(shown, secrets, limit=120)!r} "
        "not followed; set GLANCE_BASE_URL to the address Glance answers on",
    )


def status_error(
    operation: str,
    code: int,
    headers: Mapping[str, str],
    host: str,
    secrets: Collection[str] = (),
) -> GlanceError | None:
    """The error for a status that needs no body: any 3xx, 429 and 5xx (see client.py)."""
    if 300 <= code < 400:
        return redirect_error(operation, code, headers.get("Location", ""), host, secrets)
    retry_after = retry_after_seconds(headers.get("Retry-After"))
    if code == 429:
        return TransientApiError(
            f"{operation}: Glance is limiting the request rate (HTTP 429)",
            status=429,
            retry_after=retry_after,
        )
    if code >= 500:
        # 503 says the request was not handled (RFC 9110 15.6.4); any other 5xx (500 from the
        # application, 502/504 from a gateway that had forwarded it) may have been carried out.
        return TransientApiError(
            f"{operation}: HTTP {code} from {host}",
            status=code,
            retry_after=retry_after,
            maybe_committed=code != 503,
        )
    return None


def client_error(
    operation: str, code: int, body: bytes, *, host: str, secrets: Collection[str]
) -> GlanceError:
    """A 4xx: the ERROR document it carries if any, else a transient, uncommitted failure."""
    try:
        parse_document(body, operation=operation, secrets=secrets)
    except ResponseFormatError:
        pass
    except GlanceError as exc:
        return exc
    return TransientApiError(f"{operation}: HTTP {code} from {host}", status=code)


def outcome_name(exc: BaseException) -> str:
    """The ``CallRecord.outcome`` of an error."""
    if isinstance(exc, AuthError):
        return "AUTH"
    if isinstance(exc, PermanentApiError):
        return exc.code
    if isinstance(exc, InsecureEndpointError):
        return "insecure"
    if isinstance(exc, ResponseFormatError):
        return "bad_response"
    if isinstance(exc, TransientApiError):
        if exc.status is not None:
            return f"http_{exc.status}"
        return "timeout" if exc.timed_out else "connection"
    return "error"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps (cause, context, args, urllib3 ``reason``)."""
    found: list[BaseException] = []
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is seen for seen in found):
            continue
        found.append(item)
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        stack.extend(item.args)
    return found


def transport_error(
    operation: str,
    exc: BaseException,
    *,
    host: str,
    fired: bool,
    unsent: bool,
    timeout: tuple[float, float],
    secrets: Collection[str],
) -> GlanceError:
    """Map a requests/urllib3/socket exception to the error tree (see client.py).

    ``unsent`` is True only when it is known that no byte of the request was sent (the failure
    came while connecting or during the TLS handshake): then nothing can have been committed.
    """
    error = _transport_error(operation, exc, host=host, fired=fired, timeout=timeout,
                             secrets=secrets)  # fmt: skip
    if unsent and isinstance(error, TransientApiError):
        error.maybe_committed = False
    return error


def _transport_error(
    operation: str,
    exc: BaseException,
    *,
    host: str,
    fired: bool,
    timeout: tuple[float, float],
    secrets: Collection[str],
) -> GlanceError:
    causes = _causes(exc)
    if fired:
        return TransientApiError(
            f"{operation}: no complete answer from {host} within {sum(timeout):g} s",
            maybe_committed=True,
            timed_out=True,
        )
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = clean_text(str(cause.verify_message or cause.reason or "untrusted"), secrets)
            return InsecureEndpointError(
                f"the TLS certificate of {host} is not trusted ({reason}); {CA_HINT}"
            )
    if isinstance(exc, requests.ConnectTimeout):
        return TransientApiError(
            f"{operation}: could not connect to {host} within {timeout[0]:g} s", timed_out=True
        )
    if isinstance(exc, requests.ReadTimeout):
        return TransientApiError(
            f"{operation}: {host} did not answer within {timeout[1]:g} s", maybe_committed=True,
            timed_out=True,
        )
    reason = clean_text(_reason(causes), secrets, limit=120)
    if any(isinstance(c, NewConnectionError | NameResolutionError) for c in causes):
        return TransientApiError(f"{operation}: could not connect to {host} ({reason})")
    return TransientApiError(
        f"{operation}: the connection to {host} broke before a complete answer ({reason})",
        maybe_committed=True,
    )


def _reason(causes: list[BaseException]) -> str:
    """The most specific low-level reason: an OSError's strerror, else an exception's name."""
    for cause in reversed(causes):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    innermost = causes[-1]
    return type(innermost).__name__
