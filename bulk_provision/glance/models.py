"""Plain data the Glance client takes and returns. No network, no wire-format knowledge."""

from __future__ import annotations

from dataclasses import dataclass, field

from bulk_provision.errors import ConfigError

CREDENTIAL_HELP = (
    "set GLANCE_PARTNER_LOGIN and GLANCE_PARTNER_PW, or GLANCE_API_KEY with GLANCE_PARTNER_ID "
    "and GLANCE_PARTNER_USER_ID"
)


@dataclass(frozen=True)
class Credentials:
    """Who the client authenticates as (glance-api.md section 2).

    Either ``partner_pw``, or ``api_key`` + ``partner_id`` (a fresh LoginKey is then sent as
    PartnerAuth, signed over ``partner_id`` + ``partner_user_id``, the admin's own PartnerUserID).
    When both are complete the LoginKey is used, so the password never travels. ``repr`` and
    ``str`` never show a secret.
    """

    partner_login: str
    partner_pw: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    partner_id: str | int | None = None
    partner_user_id: str | None = None

    def __post_init__(self) -> None:
        """The one check of the credential rules; messages name the settings to fix."""
        if not self.partner_login:
            raise ConfigError(f"no partner login: {CREDENTIAL_HELP}")
        if "@" in self.partner_login:
            raise ConfigError(
                "GLANCE_PARTNER_LOGIN must be the admin's Glance user name, shaped like a host "
                "name (admin.example.glance.net), not an email address"
            )
        if self.partner_id is not None and not str(self.partner_id).strip().isdigit():
            raise ConfigError("the partner ID (GLANCE_PARTNER_ID) must be the numeric group ID")
        if self.api_key and (self.partner_id is None or not self.partner_user_id):
            raise ConfigError(
                "GLANCE_API_KEY needs GLANCE_PARTNER_ID (the group ID) and "
                "GLANCE_PARTNER_USER_ID (the admin's own PartnerUserID) to sign LoginKeys"
            )
        if not self.partner_pw and not self.api_key:
            raise ConfigError(f"no partner password: {CREDENTIAL_HELP}")

    @property
    def uses_login_key(self) -> bool:
        """True when requests authenticate with a LoginKey (PartnerAuth) instead of PartnerPW."""
        return bool(self.api_key)

    def secrets(self) -> tuple[str, ...]:
        """The secret values, for scrubbing text that a server might have echoed."""
        return tuple(s for s in (self.partner_pw, self.api_key) if s)

    def __repr__(self) -> str:
        return (
            f"Credentials(partner_login={self.partner_login!r}, "
            f"partner_pw={'***' if self.partner_pw else None}, "
            f"api_key={'***' if self.api_key else None}, "
            f"partner_id={self.partner_id!r}, partner_user_id={self.partner_user_id!r})"
        )

    __str__ = __repr__


NO_ROLE = "-none-"  # UserRole meaning "no role" (and ShowUsers' "no PartnerUserID")


@dataclass(frozen=True)
class AudioCodes:
    """The audio-conferencing account Glance returns for NewUser with an AudioProvider."""

    dial_in: str = ""
    host_code: str = ""
    guest_code: str = ""

    def __bool__(self) -> bool:
        return bool(self.dial_in or self.host_code or self.guest_code)


@dataclass(frozen=True)
class GlanceUser:
    """One user as ShowUsers reports it. ``user_role`` is "" when the user has no role (Glance
    writes ``-none-``). Glance never returns passwords."""

    partner_user_id: str
    user_address: str
    user_first: str = ""
    user_last: str = ""
    user_email: str = ""
    user_role: str = ""
    suspended: bool = False


@dataclass(frozen=True)
class UsersPage:
    """One page of ShowUsers: the users and the opaque cursor of the next page (None: last)."""

    users: list[GlanceUser]
    next_page_start: str | None = None


@dataclass(frozen=True)
class RoleCount:
    """One role from ShowRoles with its user counts (``-none-`` counts users without a role)."""

    name: str
    active_users: int
    inactive_users: int
    users: int


@dataclass(frozen=True)
class CallRecord:
    """What happened in one HTTP exchange, for a JSON-lines log. Never holds a secret.

    ``outcome`` is ``ok``, a Glance error code (``AUTH``, ``DUPLICATE_ID``...), or one of
    ``http_<status>``, ``timeout``, ``connection``, ``bad_response``, ``insecure``, ``redirect``.
    """

    operation: str
    partner_user_id: str | None
    http_status: int | None
    duration_s: float
    outcome: str
    maybe_committed: bool = False
    attempt: int | None = None  # the row's attempt number; None for read-only calls
