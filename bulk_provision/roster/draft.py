"""A draft recipe from an export's headers and values (``bulk-provision recipe``, the page).

What it decides, it is sure of: the aliases of section 4 ("Employee ID", "Last Name"), and a
header that holds exactly one alias inside it ("Work Email", "Preferred First Name") when no
other header claims that field. A column that looks like a status or a department has its
distinct values listed for the admin to sort; the usual words for leavers and active people are
sorted already. Everything else is said plainly in ``undecided``.
"""

from __future__ import annotations

import pandas as pd

from bulk_provision.columns import CANONICAL_COLUMNS, normalize_header
from bulk_provision.recipe.draft import COMPANY, VALUES_LISTED, RecipeDraft
from bulk_provision.recipe.file import Recipe
from bulk_provision.roster.headers import ALIASES, looks_like_password
from bulk_provision.roster.read import Roster

LEAVER_WORDS = ("terminated", "leaver", "left", "inactive", "resigned", "retired", "withdrawn",
                "former", "dismissed", "separated", "deactivated", "ended")
ACTIVE_WORDS = ("active", "on leave", "leave", "employed", "current", "hired", "new hire")
STATUS_WORDS = ("status", "employmentstatus", "workerstatus", "state", "active")
ROLE_WORDS = ("department", "dept", "team", "division", "function", "jobfamily", "group")
NEVER_SENT = ("UserPW",)  # a draft never maps a password column on a guess


def draft_for(roster: Roster) -> RecipeDraft:
    """The draft recipe for ``roster`` (read without a recipe: aliases already matched)."""
    # a column without a header is named by its letter ("Column B"), as the recipe reads it
    headers = {str(c): roster.headers.get(c, str(c)) or str(c) for c in roster.frame.columns}
    draft = RecipeDraft(headers=list(headers.values()))
    for column, header in headers.items():
        if column in CANONICAL_COLUMNS and column != "Action":
            draft.columns[column] = header
    spare = [c for c in headers if c not in CANONICAL_COLUMNS]
    _fuzzy(draft, spare, headers)
    spare = [c for c in spare if headers[c] not in draft.columns.values()]
    _status(draft, roster.frame, spare, headers)
    if "UserRole" not in draft.columns:
        _roles(draft, roster.frame, spare, headers)
    _address(draft)
    used = {*draft.columns.values(), draft.status_column, draft.role_column}
    draft.passwords = [headers[c] for c in spare
                       if headers[c] not in used and looks_like_password(headers[c])]
    draft.ignore = [headers[c] for c in spare
                    if headers[c] not in used and headers[c] not in draft.passwords]
    if "PartnerUserID" not in draft.columns:
        draft.undecided.append("No column looks like the Employee ID: map PartnerUserID to the "
                               "column that names each person once")
    for header in draft.passwords:
        draft.undecided.append(f'"{header}" looks like a password: to send it as each person\'s '
                               f'password, remove the # before UserPW = "{header}" under '
                               "[columns]; if it is not needed, list it under [ignore]")
    if draft.ignore:
        draft.undecided.append("Not sent to Glance (listed under [ignore]): "
                               + ", ".join(draft.ignore) + "; map any you need under [columns]")
    return draft


def _fuzzy(draft: RecipeDraft, spare: list[str], headers: dict[str, str]) -> None:
    """A header holding one field's alias ("Work Email" holds "Email"), when it is the only one."""
    candidates: dict[str, list[str]] = {}
    for column in spare:
        key = normalize_header(headers[column])
        fields = {name for name, aliases in ALIASES.items()
                  for alias in (name, *aliases)
                  if len(normalize_header(alias)) >= 4 and normalize_header(alias) in key}
        fields -= {*draft.columns, "Action", *NEVER_SENT}
        if len(fields) == 1:
            candidates.setdefault(fields.pop(), []).append(column)
    for name, columns in candidates.items():
        if len(columns) == 1:
            draft.columns[name] = headers[columns[0]]
        else:
            shown = " or ".join(f'"{headers[c]}"' for c in columns)
            draft.undecided.append(f"{name} could be {shown}: map the right one under [columns]")


def _distinct(frame: pd.DataFrame, column: str) -> list[str]:
    values = pd.unique(frame[column].to_numpy())
    return sorted({str(v) for v in values}, key=str.casefold)


def _status(draft: RecipeDraft, frame: pd.DataFrame, spare: list[str],
            headers: dict[str, str]) -> None:
    found = [c for c in spare if normalize_header(headers[c]) in STATUS_WORDS
             or "status" in normalize_header(headers[c])]
    if not found:
        return
    column = found[0]
    values = _distinct(frame, column)
    if len(values) > VALUES_LISTED:
        draft.undecided.append(f'"{headers[column]}" has {len(values)} different values: too '
                               "many for a status column, so it is not used as one")
        return
    draft.status_column = headers[column]
    for value in values:
        word = value.strip().casefold()
        if word in LEAVER_WORDS:
            draft.leaver.append(value)
        elif word in ACTIVE_WORDS:
            draft.active.append(value)
        else:
            draft.unsorted.append(value)
    if draft.unsorted:
        shown = ", ".join(f'"{v}"' if v else "(empty)" for v in draft.unsorted)
        draft.undecided.append(f'"{headers[column]}" values to sort into leaver or active: '
                               f"{shown}")
    if not draft.leaver or not draft.active:
        draft.undecided.append(f'"{headers[column]}": put at least one value in leaver and one '
                               "in active")


def _roles(draft: RecipeDraft, frame: pd.DataFrame, spare: list[str],
           headers: dict[str, str]) -> None:
    found = [c for c in spare if any(w in normalize_header(headers[c]) for w in ROLE_WORDS)
             and headers[c] != draft.status_column]
    if not found:
        return
    column = found[0]
    values = [v for v in _distinct(frame, column) if v]
    if len(values) > VALUES_LISTED:
        draft.undecided.append(f'"{headers[column]}" has {len(values)} different values: too '
                               "many to turn into roles one by one")
        return
    draft.role_column = headers[column]
    draft.role_map = dict.fromkeys(values, "")
    draft.undecided.append(f'Which Glance role does each "{headers[column]}" get? Its values are '
                           "listed under [lookup.UserRole]; until then nobody gets a role")


def _address(draft: RecipeDraft) -> None:
    if "UserAddress" in draft.columns:
        return
    if {"UserFirst", "UserLast"} <= set(draft.columns):
        draft.address = f"{{UserFirst|ascii|lower}}.{{UserLast|slug}}.{COMPANY}.glance.net"
    elif "UserEmail" in draft.columns:
        draft.address = f"{{UserEmail|local|slug}}.{COMPANY}.glance.net"
    elif "PartnerUserID" in draft.columns:
        draft.address = f"{{PartnerUserID|slug}}.{COMPANY}.glance.net"
    else:
        return
    draft.undecided.insert(0, f"The Glance user names end in .{COMPANY}.glance.net: write your "
                           "company's Glance domain there (the recipe refuses to run until then)")


def distinct_values(roster: Roster, header: str) -> list[str]:
    """The distinct values of the export's column ``header`` (at most ``VALUES_LISTED``; []
    without such a column), sorted as the draft lists them."""
    for column, text in roster.headers.items():
        if text == header and column in roster.frame.columns:
            return _distinct(roster.frame, str(column))[:VALUES_LISTED]
    return []


def draft_from_recipe(recipe: Recipe, roster: Roster) -> RecipeDraft:
    """The choices ``recipe`` made, for the page to show and edit (``roster`` read without
    it): status and department values as this export spells them."""
    headers = [roster.headers.get(c, str(c)) for c in roster.frame.columns]
    draft = RecipeDraft(headers=headers, columns=dict(recipe.columns),
                        ignore=list(recipe.ignore))
    for computed in recipe.compute:
        if computed.field == "UserAddress":
            draft.address = computed.template.text
    if recipe.status is not None:
        draft.status_column = _header_named(headers, recipe.status.column)
        for value in distinct_values(roster, draft.status_column):
            key = value.strip().casefold()
            target = (draft.leaver if key in recipe.status.leaver else draft.active
                      if key in recipe.status.active else draft.unsorted)
            target.append(value)
    for lookup in recipe.lookups:
        if lookup.field == "UserRole":
            draft.role_column = _header_named(headers, lookup.source)
            draft.role_default = lookup.default or ""
            draft.role_map = {v: lookup.mapping.get(v.strip().casefold(), "")
                              for v in distinct_values(roster, draft.role_column) if v}
    return draft


def _header_named(headers: list[str], name: str) -> str:
    key = normalize_header(name)
    return next((h for h in headers if normalize_header(h) == key), name)
