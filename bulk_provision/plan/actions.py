"""Rows (and, for upsert/sync, a ShowUsers snapshot) -> the actions a run will take.

Pure functions: no network, no files. The plan a run executes is recorded in the checkpoint, so a
resumed run finishes exactly this plan even if Glance changed meanwhile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

import pandas as pd

from bulk_provision.errors import RunStopped
from bulk_provision.glance.models import NO_ROLE
from bulk_provision.model import Action, ActionKind
from bulk_provision.roster.read import _TRIM as ROSTER_TRIM
from bulk_provision.schemas.checks import same_value_key

# Roster columns sent to Glance as-is (PartnerUserID is the key, UserPW travels separately).
PROFILE_FIELDS = ("UserAddress", "UserFirst", "UserLast", "UserEmail", "UserRole")

ROW_ACTIONS = {
    "create": ActionKind.CREATE,
    "update": ActionKind.UPDATE,
    "suspend": ActionKind.SUSPEND,
    "reinstate": ActionKind.REINSTATE,
    "delete": ActionKind.DELETE,
}


def _cell(row: Mapping[str, str], column: str) -> str:
    value = row.get(column, "")
    return value if isinstance(value, str) else ""


def create_action(row_number: int, row: Mapping[str, str], *, audio_provider: str = "") -> Action:
    """NewUser with every field the roster gives, and the row's password if it has one."""
    fields = {name: _cell(row, name) for name in PROFILE_FIELDS if _cell(row, name)}
    provider = _cell(row, "AudioProvider") or audio_provider
    if provider:
        fields["AudioProvider"] = provider
    return Action(
        key=_cell(row, "PartnerUserID"),
        row=row_number,
        kind=ActionKind.CREATE,
        fields=fields,
        send_password=bool(_cell(row, "UserPW")),
    )


def explicit_action(row_number: int, row: Mapping[str, str], kind: ActionKind) -> Action:
    """The action a row's ``Action`` cell asks for, without looking at Glance first."""
    key = _cell(row, "PartnerUserID")
    if kind is ActionKind.SUSPEND:
        return Action(key=key, row=row_number, kind=kind, fields={"UserSuspended": "1"})
    if kind is ActionKind.REINSTATE:
        return Action(key=key, row=row_number, kind=kind, fields={"UserSuspended": "0"})
    if kind is ActionKind.DELETE:
        return Action(key=key, row=row_number, kind=kind)
    fields = {name: _cell(row, name) for name in PROFILE_FIELDS if _cell(row, name)}
    return Action(
        key=key,
        row=row_number,
        kind=ActionKind.UPDATE,
        fields=fields,
        send_password=bool(_cell(row, "UserPW")),
    )


def row_kind(row: Mapping[str, str]) -> ActionKind | None:
    """The kind named in the row's Action cell, or None when the cell is empty."""
    text = _cell(row, "Action").strip().lower()
    return ROW_ACTIONS.get(text) if text else None


def row_records(frame: pd.DataFrame, rows: Iterable[int]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: cell}) for each of ``rows``, in their order: what
    ``frame.to_dict("index")`` holds, read column by column (a tenth of its time)."""
    names = [str(name) for name in frame.columns]
    columns = [frame.iloc[:, i].tolist() for i in range(len(names))]
    position = {number: i for i, number in enumerate(frame.index)}
    for number in rows:
        at = position[number]
        yield number, {name: column[at] for name, column in zip(names, columns, strict=True)}


def plan_create(
    frame: pd.DataFrame, rows: Iterable[int], *, audio_provider: str = ""
) -> list[Action]:
    """``--mode create``: NewUser per row, unless the row's Action cell says otherwise."""
    actions = []
    for number, row in row_records(frame, rows):
        kind = row_kind(row)
        if kind is None or kind is ActionKind.CREATE:
            actions.append(create_action(number, row, audio_provider=audio_provider))
        else:
            actions.append(explicit_action(number, row, kind))
    return actions


class KnownUser(Protocol):
    """A user as ShowUsers reports it (``glance.GlanceUser`` fits)."""

    @property
    def partner_user_id(self) -> str: ...
    @property
    def user_address(self) -> str: ...
    @property
    def user_first(self) -> str: ...
    @property
    def user_last(self) -> str: ...
    @property
    def user_email(self) -> str: ...
    @property
    def user_role(self) -> str: ...
    @property
    def suspended(self) -> bool: ...


PASSWORD_CHANGE = ("", "(will be set)")


def same_value(field_name: str, before: str, after: str) -> bool:
    """Whether Glance's ``before`` already is the roster's ``after``, compared as the roster
    reader reads cells (outer whitespace, non-breaking and zero-width spaces trimmed): an
    exported ``' lead'`` comes back as ``lead`` and is no change."""
    before, after = before.strip(ROSTER_TRIM), after.strip(ROSTER_TRIM)
    if field_name == "UserRole":
        return (before or NO_ROLE).lower() == (after or NO_ROLE).lower()
    if field_name == "UserAddress":
        return before.lower() == after.lower()
    return before == after


def field_changes(row: Mapping[str, str], user: KnownUser) -> dict[str, tuple[str, str]]:
    """field -> (Glance's value, the roster's) for every field the roster sets differently.

    An empty roster cell means "leave as is" (Glance's documentation does not say whether an
    empty value clears a field); ``-none-`` in UserRole clears the role.
    """
    current = {
        "UserAddress": user.user_address,
        "UserFirst": user.user_first,
        "UserLast": user.user_last,
        "UserEmail": user.user_email,
        "UserRole": user.user_role,
    }
    changes = {}
    for name in PROFILE_FIELDS:
        wanted = _cell(row, name)
        if wanted and not same_value(name, current[name], wanted):
            changes[name] = (current[name], wanted)
    return changes


def upsert_action(
    number: int,
    row: Mapping[str, str],
    user: KnownUser,
    *,
    set_passwords: bool,
    reinstate: bool,
) -> Action:
    """UpdateUser carrying only what differs; NONE when nothing does."""
    key = _cell(row, "PartnerUserID")
    changes = field_changes(row, user)
    send_password = set_passwords and bool(_cell(row, "UserPW"))
    if send_password:
        changes["UserPW"] = PASSWORD_CHANGE
    fields = {name: after for name, (_, after) in changes.items() if name != "UserPW"}
    if reinstate and user.suspended:
        fields["UserSuspended"] = "0"
        changes["UserSuspended"] = ("1", "0")
        kind = ActionKind.REINSTATE
    else:
        kind = ActionKind.UPDATE if changes else ActionKind.NONE
    return Action(key, number, kind, fields, send_password, changes)


def known_row_action(
    number: int, row: Mapping[str, str], kind: ActionKind, user: KnownUser | None
) -> Action:
    """An explicit per-row action, reduced to NONE when Glance is already in that state."""
    key = _cell(row, "PartnerUserID")
    if kind is ActionKind.SUSPEND and user is None:  # a leaver Glance does not know
        return Action(key, number, ActionKind.SKIP)
    already = (
        (kind is ActionKind.SUSPEND and user is not None and user.suspended)
        or (kind is ActionKind.REINSTATE and user is not None and not user.suspended)
        or (kind is ActionKind.DELETE and user is None)
    )
    if already:
        return Action(key, number, ActionKind.NONE)
    return explicit_action(number, row, kind)


def plan_upsert(
    frame: pd.DataFrame,
    rows: Iterable[int],
    snapshot: Mapping[str, KnownUser],
    *,
    audio_provider: str = "",
    set_passwords: bool = False,
    reinstate: bool = False,
) -> list[Action]:
    """``--mode upsert`` (and the roster half of sync): create, update what differs, or nothing.

    ``reinstate``: a suspended user the roster lists is reinstated (sync; and upsert with a
    recipe's [status], where a leaver who came back is active again)."""
    actions = []
    spelled = glance_spellings(snapshot)
    for number, row in row_records(frame, rows):
        key = _cell(row, "PartnerUserID")
        glance_key = key if key in snapshot else spelled.get(same_key(key), key)
        user = snapshot.get(glance_key)
        kind = row_kind(row)
        if kind is ActionKind.CREATE or (kind is None and user is None):
            action = create_action(number, row, audio_provider=audio_provider)
        elif kind is None or (kind is ActionKind.UPDATE and user is not None):
            assert user is not None
            action = upsert_action(number, row, user, set_passwords=set_passwords,
                                   reinstate=reinstate)
        else:
            action = known_row_action(number, row, kind, user)
        if user is not None and action.key != glance_key:  # addressed as Glance spells it
            action = replace(action, key=glance_key)
        actions.append(action)
    return actions


def glance_spellings(snapshot: Mapping[str, KnownUser]) -> dict[str, str]:
    """``same_key`` -> the PartnerUserID as Glance spells it (``' 00042 '`` for the roster's
    ``00042``): a roster key that matches a Glance user only after the reader's trimming still
    addresses that user, never a second account (``keyed_snapshot`` refuses two spellings)."""
    return {same_key(key): key for key in snapshot}


def matches(pattern: str, value: str) -> bool:
    """``*`` wildcards anywhere; case-insensitive (addresses are host names)."""
    parts = pattern.lower().split("*")
    text = value.lower()
    if len(parts) == 1:
        return text == parts[0]
    if not text.startswith(parts[0]) or not text.endswith(parts[-1]):
        return False
    position = len(parts[0])
    for part in parts[1:-1]:
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return position <= len(text) - len(parts[-1])


def protected(key: str, user: KnownUser, protect: Sequence[str]) -> bool:
    """``--protect``: sync never suspends this user (nor counts it for --max-suspend)."""
    return any(matches(p, key) or matches(p, user.user_address) for p in protect)


def suspensions(
    snapshot: Mapping[str, KnownUser], roster_keys: set[str], protect: Sequence[str]
) -> list[Action]:
    """``--mode sync``: suspend active users Glance has and the roster does not (a user whose
    PartnerUserID the roster names in another spelling, ``001 `` for ``001``, is never one)."""
    actions = []
    named = {same_key(key) for key in roster_keys}
    for key, user in snapshot.items():
        if key in roster_keys or user.suspended or same_key(key) in named:
            continue
        if protected(key, user, protect):
            continue
        # UserAddress rides along unchanged so the plan and the results can say who this is.
        changes = {"UserSuspended": ("0", "1"), "UserAddress": (user.user_address,) * 2}
        actions.append(Action(key, None, ActionKind.SUSPEND, {"UserSuspended": "1"},
                              changes=changes))
    return actions


def same_key(key: str) -> str:
    """A PartnerUserID as the roster reader compares them: trimmed like a roster cell
    (whitespace, non-breaking and zero-width spaces), NFKC, without invisible characters."""
    return same_value_key(key.strip(ROSTER_TRIM))


def keyed_snapshot(users: Iterable[KnownUser]) -> dict[str, KnownUser]:
    """PartnerUserID -> user. Users without one cannot be addressed through PAPI: never planned
    for. A listing that names one PartnerUserID twice (also in two spellings the roster would
    read as one: ``001`` and ``001 ``) cannot be trusted to decide what to change (nor to count
    what sync may suspend): RunStopped, before any write."""
    snapshot: dict[str, KnownUser] = {}
    first: dict[str, str] = {}  # same_key -> the first spelling listed
    repeated: Counter[str] = Counter()
    variants: dict[str, str] = {}
    for user in users:
        key = user.partner_user_id
        if not key:
            continue
        same = same_key(key)
        if same in first:
            repeated[first[same]] += 1
            if key != first[same]:
                variants.setdefault(first[same], key)
        else:
            first[same] = key
        snapshot[key] = user
    if repeated:
        key, extra = repeated.most_common(1)[0]
        spelled = f" (also as {variants[key][:60]!r})" if key in variants else ""
        others = f" (and {len(repeated) - 1} other IDs)" if len(repeated) > 1 else ""
        raise RunStopped(
            f"ShowUsers listed PartnerUserID {key[:60]!r}{spelled} {extra + 1} times{others}; "
            "a listing with duplicates cannot be trusted to plan from: stopped, nothing was "
            "changed"
        )
    return snapshot
