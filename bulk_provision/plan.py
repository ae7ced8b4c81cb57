"""Rows (and, for upsert/sync, a ShowUsers snapshot) -> the actions a run will take.

Pure functions: no network, no files. The plan a run executes is recorded in the checkpoint, so a
resumed run finishes exactly this plan even if Glance changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from bulk_provision.model import Action, ActionKind

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


def plan_create(
    frame: pd.DataFrame, rows: Iterable[int], *, audio_provider: str = ""
) -> list[Action]:
    """``--mode create``: NewUser per row, unless the row's Action cell says otherwise."""
    actions = []
    records: dict[int, dict[str, str]] = frame.to_dict("index")  # type: ignore[assignment]
    for number in rows:
        row = records[number]
        kind = row_kind(row)
        if kind is None or kind is ActionKind.CREATE:
            actions.append(create_action(number, row, audio_provider=audio_provider))
        else:
            actions.append(explicit_action(number, row, kind))
    return actions
