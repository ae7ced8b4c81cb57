"""The five PAPI operations: parameters in, an XML reply out, state changed at most once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from bulk_provision.simulator import responses
from bulk_provision.simulator.auth import check_partner
from bulk_provision.simulator.config import SimulatorConfig
from bulk_provision.simulator.models import ApiError, Reply, SimUser
from bulk_provision.simulator.rules import (
    Params,
    audio_codes,
    check_address,
    check_audio_provider,
    check_password,
    check_text,
    given,
    parse_boolean,
    require,
    resolve_role,
)
from bulk_provision.simulator.state import SimState

#: lower-cased URL path -> operation name
OPERATIONS = {
    f"/papi/{name.lower()}.asp": name
    for name in ("NewUser", "UpdateUser", "DeleteUser", "ShowUsers", "ShowRoles")
}
_TEXT_FIELDS = (("UserFirst", "user_first", 49), ("UserLast", "user_last", 49))
_CURSOR_MAX = 15
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


class Operations:
    """Executes one operation against ``state`` under ``config``'s rules.

    ``chance(rate)`` draws the injected audio failure, so the caller's seeded RNG decides it.
    """

    def __init__(
        self, config: SimulatorConfig, state: SimState, chance: Callable[[float], bool]
    ) -> None:
        self.config = config
        self.state = state
        self.chance = chance
        self._table: dict[str, Callable[[Params], Reply]] = {
            "NewUser": self.new_user,
            "UpdateUser": self.update_user,
            "DeleteUser": self.delete_user,
            "ShowUsers": self.show_users,
            "ShowRoles": self.show_roles,
        }

    def run(self, operation: str, params: Params) -> Reply:
        """Authenticate, then run ``operation``; every API error becomes an ERROR document."""
        try:
            check_partner(params, self.config)
            return self._table[operation](params)
        except ApiError as exc:
            return Reply(responses.error_document(exc.code, exc.message), result=exc.code)

    def new_user(self, params: Params) -> Reply:
        puid = check_text("PartnerUserID", require(params, "PartnerUserID"), 255)
        address = check_address(require(params, "UserAddress"))
        fields = _optional_fields(params, self.config.roles, self.config.role_max_new)
        provider = check_audio_provider(given(params, "AudioProvider"))
        audio = None
        if provider and not self.chance(self.config.audio_fail_rate):
            audio = audio_codes(puid)
        self.state.add(SimUser(puid, address, audio=audio, **fields))
        location = None
        ok_url = (given(params, "OKURL") or "").strip()
        if ok_url:
            # Invented (glance-api.md 4.3 leaves the redirect undocumented): 302, codes appended.
            query = urlencode(audio or {})
            location = ok_url + ("&" if "?" in ok_url else "?") + query if query else ok_url
            location = quote(location, safe=_URL_SAFE)  # a header carries ASCII only
        return Reply(responses.ok_document(audio), committed=True, location=location)

    def update_user(self, params: Params) -> Reply:
        puid = check_text("PartnerUserID", require(params, "PartnerUserID"), 255)
        changes = _optional_fields(params, self.config.roles, self.config.role_max_update)
        address = given(params, "UserAddress")
        if address is not None:
            changes["user_address"] = check_address(address)
        suspended = _suspension(params)
        if suspended is not None:
            changes["suspended"] = suspended
        changed = self.state.update(puid, changes)
        return Reply(responses.ok_document(), committed=changed)

    def delete_user(self, params: Params) -> Reply:
        puid = check_text("PartnerUserID", require(params, "PartnerUserID"), 255)
        self.state.delete(puid)
        return Reply(responses.ok_document(), committed=True)

    def show_users(self, params: Params) -> Reply:
        count_text = require(params, "PageCount").strip()
        if not count_text.isdigit() or not 1 <= int(count_text) <= 1000:
            raise ApiError("INVALID", "PageCount must be a whole number from 1 to 1000")
        start_text = (given(params, "PageStart") or "").strip()
        if start_text and (len(start_text) > _CURSOR_MAX or not start_text.isdigit()):
            raise ApiError("INVALID", "PageStart is not a value this server returned")
        criteria: dict[str, str] = {}
        for name, limit in (("PartnerUserID", 255), ("UserAddress", 127), ("UserRole", 255)):
            value = given(params, name)
            if value is not None and value.strip():
                criteria[name] = check_text(name, value.strip(), limit)
        page, next_seq = self.state.query(criteria, int(start_text or 0), int(count_text))
        next_start = None if next_seq is None else str(next_seq)
        return Reply(responses.users_document(page, next_start))

    def show_roles(self, params: Params) -> Reply:
        rows = self.state.role_counts(self.config.list_empty_roles)
        return Reply(responses.roles_document(rows))


def _optional_fields(params: Params, roles: tuple[str, ...], role_max: int) -> dict[str, Any]:
    """The SimUser fields for the optional parameters that were sent, each checked."""
    fields: dict[str, Any] = {}
    for name, attribute, limit in _TEXT_FIELDS:
        value = given(params, name)
        if value is not None:
            fields[attribute] = check_text(name, value, limit)
    email = given(params, "UserEmail")
    if email is not None:
        fields["user_email"] = check_text("UserEmail", email, 127)
    password = given(params, "UserPW")
    if password is not None:
        fields["user_pw"] = check_password(password)
    role = given(params, "UserRole")
    if role is not None:
        fields["user_role"] = resolve_role(role, roles, role_max)
    return fields


def _suspension(params: Params) -> bool | None:
    """The requested suspended state: UserSuspended wins over the legacy UserActive."""
    suspended = given(params, "UserSuspended")
    active = given(params, "UserActive")
    active_value = None if active is None else parse_boolean("UserActive", active)
    if suspended is not None:
        return parse_boolean("UserSuspended", suspended)
    return None if active_value is None else not active_value
