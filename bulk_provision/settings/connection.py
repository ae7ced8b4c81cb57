"""Where Glance is and who we are there: the endpoint, CA bundle, timeout and credentials.

Built once by ``settings`` from options, the config file and the environment, then used by every
command and the page to open a :class:`~bulk_provision.glance.GlanceClient`. Secrets come only
from the environment (or the config file's connection keys, exposed as ``GLANCE_*``) or from a
prompt the caller supplies; never from a command-line argument, which ``ps`` shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bulk_provision.errors import ConfigError

DEFAULT_BASE_URL = "https://www.glance.net"
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 3600.0

TEXT_VARIABLES = ("GLANCE_BASE_URL", "GLANCE_PARTNER_LOGIN", "GLANCE_PARTNER_PW", "GLANCE_API_KEY",
                  "GLANCE_PARTNER_ID", "GLANCE_PARTNER_USER_ID", "GLANCE_CA_BUNDLE")

@dataclass(frozen=True)
class Connection:
    """The endpoint and how to reach it. ``env`` holds the ``GLANCE_*`` credential settings
    (environment over config file); it is never shown (repr hides it)."""

    base_url: str = DEFAULT_BASE_URL
    ca_bundle: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def login(self) -> str | None:
        """The partner admin's Glance user name, if configured."""
        return setting(self.env, "GLANCE_PARTNER_LOGIN")


def connection_from(
    env: Mapping[str, str], *, ca_bundle: str | Path | None = None, timeout: float | None = None
) -> Connection:
    """A Connection from ``GLANCE_*`` settings; ``ca_bundle`` (an option) wins over the
    environment's, and ``timeout`` must be more than 0 and at most an hour."""
    check_text(env)
    seconds = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ConfigError("--timeout must be more than 0 and at most 3600 seconds")
    bundle = str(ca_bundle) if ca_bundle else setting(env, "GLANCE_CA_BUNDLE")
    base_url = setting(env, "GLANCE_BASE_URL") or DEFAULT_BASE_URL
    return Connection(base_url, bundle, seconds, dict(env))


def check_text(env: Mapping[str, str]) -> None:
    """Refuse a setting holding bytes that are not UTF-8 (kept as surrogates in os.environ on
    POSIX): they cannot be sent. The message names the variable, never its value."""
    for name in TEXT_VARIABLES:
        try:
            env.get(name, "").encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(
                f"{name} holds bytes that are not UTF-8 text; set it again, typed as UTF-8"
            ) from None


def setting(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None
