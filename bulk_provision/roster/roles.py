"""Roles against the roles Glance lists: a misspelt role is a problem before anything is sent.

ShowRoles lists only roles somebody has (glance-api.md 5.2), so a role missing from its answer
may still exist (a new, empty role). A role that is missing *and* spelt nearly like one Glance
lists ("Supervisr" beside "Supervisor") is a typo: that is a problem, with the role it was meant
to be. Other unlisted roles are only named (:func:`unlisted_roles`): Glance decides at Start.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import pandas as pd

from bulk_provision.glance.models import NO_ROLE

RULE = "UserRole.glance"
SIMILAR = 0.75  # difflib ratio: one or two letters wrong in a role name


def _unknown(values: pd.Series, listed: Sequence[str]) -> pd.Series:
    known = {r.casefold() for r in listed} | {"", NO_ROLE.casefold()}
    return values[~values.str.casefold().isin(known)]


def role_typos(frame: pd.DataFrame, listed: Sequence[str]) -> list[tuple[int, str, str]]:
    """(row, value, message) for each row whose role is not listed but spelt like one that is."""
    if "UserRole" not in frame.columns or not listed:
        return []
    unknown = _unknown(frame["UserRole"], listed)
    folded = {r.casefold(): r for r in listed}
    meant: dict[str, str | None] = {}
    found = []
    for row, value in unknown.items():
        if value not in meant:
            close = difflib.get_close_matches(value.casefold(), list(folded), n=1,
                                              cutoff=SIMILAR)
            meant[value] = folded[close[0]] if close else None
        if meant[value] is not None:
            found.append((int(str(row)), str(value),
                          f'"{value}" is not a role in Glance: did you mean "{meant[value]}"? '
                          f"Glance's roles: {', '.join(sorted(listed, key=str.casefold))}"))
    return found


def unlisted_roles(frame: pd.DataFrame, listed: Sequence[str]) -> list[str]:
    """The roles in the file Glance does not list and that are not typos of one it does."""
    if "UserRole" not in frame.columns or not listed:
        return []
    typos = {value for _, value, _ in role_typos(frame, listed)}
    return sorted({str(v) for v in _unknown(frame["UserRole"], listed)} - typos)
