"""A recipe as a set of choices (the draft ``bulk-provision recipe`` writes and the page's
Columns step edits), and the one TOML text made from it.

:func:`render` writes what :mod:`bulk_provision.recipe.file` reads: every choice the draft made is
a line; everything it could not decide is a comment saying so (and a placeholder that refuses
to run, ``{COMPANY}``, where a wrong guess would create users with the wrong address).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from bulk_provision.recipe.file import PLACEHOLDER

COMPANY = PLACEHOLDER  # the recipe is refused (recipe.file) until a person writes the domain
VALUES_LISTED = 50  # distinct values of a status or department column listed in the draft


@dataclass
class RecipeDraft:
    """The choices of a recipe, as a person (or the draft) makes them."""

    headers: list[str] = field(default_factory=list)  # the export's, in its order
    columns: dict[str, str] = field(default_factory=dict)  # Glance field -> header
    address: str = ""  # the UserAddress template ("" when the export has an address column)
    status_column: str = ""
    leaver: list[str] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    unsorted: list[str] = field(default_factory=list)  # status values nobody sorted yet
    role_column: str = ""
    role_map: dict[str, str] = field(default_factory=dict)  # department -> role ("" undecided)
    role_default: str = ""
    ignore: list[str] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)  # headers like a password: never guessed
    undecided: list[str] = field(default_factory=list)  # said plainly, one line each


def quoted(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's for every character we write)."""
    return json.dumps(text, ensure_ascii=False)


def comment(text: str) -> str:
    """``text`` safe inside a TOML comment: a cell's line break or control character (which
    would end the comment and write a line of TOML) is shown as an escape instead."""
    return "".join(c if c == "\t" or (c.isprintable() and c not in "\u2028\u2029")
                   else f"\\u{ord(c):04x}" for c in text)


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(quoted(v) for v in values) + "]"


def render(draft: RecipeDraft, *, source: str = "") -> str:
    """The recipe file for ``draft``."""
    out = ["# bulk-provision recipe" + (f" for {comment(source)}" if source else ""),
           "# Check every line, then: bulk-provision validate EXPORT --recipe THIS-FILE", ""]
    if draft.undecided:
        out += ["# Not decided yet (fix these before running):"]
        out += [f"#   - {comment(line)}" for line in draft.undecided] + [""]
    out += ["[columns]                      # Glance field = the export's header"]
    out += [f"{name} = {quoted(header)}" for name, header in draft.columns.items()]
    if "PartnerUserID" not in draft.columns:
        out.append('# PartnerUserID = "..."        # the column that identifies each person')
    out += [f"# UserPW = {quoted(header)}   # looks like a password: remove the # to send it"
            for header in draft.passwords]
    if draft.address:
        out += ["", "[compute]                      # filters: lower upper trim ascii slug local "
                "initial digits"]
        if COMPANY in draft.address:
            out.append(f"# replace {COMPANY} with your Glance domain (the part before "
                       ".glance.net), e.g. acme")
        out.append(f"UserAddress = {quoted(draft.address)}")
    if draft.role_column:
        out += _role_lines(draft)
    if draft.status_column:
        out += ["", "[status]                       # leavers are suspended in Glance, never "
                "deleted", f"column = {quoted(draft.status_column)}",
                f"leaver = {_list(draft.leaver)}", f"active = {_list(draft.active)}"]
        if draft.unsorted:
            out.append(f"# not sorted yet (move each into leaver or active): "
                       f"{_list(draft.unsorted)}")
    if draft.ignore:
        out += ["", "[ignore]                       # known and not sent to Glance",
                f"columns = {_list(draft.ignore)}"]
    return "\n".join(out) + "\n"


def _role_lines(draft: RecipeDraft) -> list[str]:
    decided = {k: v for k, v in draft.role_map.items() if v}
    default = draft.role_default or ("" if decided else "-none-")
    lines = ["", "[lookup.UserRole]              # the export's value -> the Glance role",
             f"from = {quoted(draft.role_column)}"]
    if default:
        lines.append(f"default = {quoted(default)}             # a value not listed below")
    lines += ["", "[lookup.UserRole.map]"]
    lines += [f"{quoted(k)} = {quoted(v)}" for k, v in decided.items()]
    lines += [f"# {quoted(k)} = \"\"    # which Glance role? write it here, remove the first #"
              for k, v in draft.role_map.items() if not v]
    return lines
