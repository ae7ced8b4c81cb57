"""Header names: canonical API columns, their aliases, and the ``--columns`` TOML map.

Headers match case-, space-, hyphen- and underscore-insensitively (DESIGN.md section 4), so
"First Name", "first_name" and "FIRST-NAME" all mean ``UserFirst``. A ``--columns`` map wins over
the built-in aliases.

A header that is not recognised but looks like a password column (``looks_like_password``, the
rule is in :mod:`bulk_provision.roster.password_headers`) is a validation problem and its values are
masked everywhere (DESIGN.md section 11). A header mapped by ``--columns`` is never checked: the
admin has said what it is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from bulk_provision.columns import CANONICAL_COLUMNS, PASSWORD_COLUMNS, normalize_header
from bulk_provision.errors import RosterError
from bulk_provision.roster.password_headers import looks_like_password

__all__ = [
    "CANONICAL_COLUMNS", "PASSWORD_COLUMNS", "canonical_column", "column_letter",
    "looks_like_password", "normalize_header", "resolve_headers",
]

ALIASES: dict[str, tuple[str, ...]] = {
    "PartnerUserID": ("Employee ID", "Employee Number", "User ID", "ID", "Partner ID"),
    "UserAddress": ("Glance Address", "Address", "Glance User Name", "Username"),
    "UserPW": ("Password", "User Password"),
    "UserFirst": ("First Name", "Given Name", "First", "Forename"),
    "UserLast": ("Last Name", "Surname", "Family Name", "Last"),
    "UserEmail": ("Email", "E-mail", "Email Address", "Mail"),
    "UserRole": ("Role",),
    "AudioProvider": ("Audio Provider", "Audio"),
    "Action": ("Operation",),
}

_LOOKUP: dict[str, str] = {normalize_header(name): name for name in CANONICAL_COLUMNS}
for _canonical, _names in ALIASES.items():
    for _alias in _names:
        _LOOKUP[normalize_header(_alias)] = _canonical


def canonical_column(
    header: str, column_map: Mapping[str, str] | None = None, claimed: Collection[str] = ()
) -> str | None:
    """The canonical column a header means, or None when it is not one of ours.

    ``column_map`` (from ``--columns`` or a recipe) is consulted first: exact header, then the
    normalized one. A field in ``claimed`` (one a recipe maps or builds) is never reached through
    an alias: with ``UserEmail = "Work Email"``, a column "Email" is just another column.
    """
    header = header.strip()
    if column_map:
        if header in column_map:
            return column_map[header]
        key = normalize_header(header)
        for name, target in column_map.items():
            if normalize_header(name) == key:
                return target
    canonical = _LOOKUP.get(normalize_header(header))
    return None if canonical in claimed else canonical


def column_letter(position: int) -> str:
    """Excel's letter for a 0-based column position (0 -> A, 27 -> AB)."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def resolve_headers(
    headers: Sequence[str], column_map: Mapping[str, str] | None = None,
    claimed: Collection[str] = (),
) -> list[str]:
    """Frame column names for the header cells, in file order.

    Known headers become canonical names; two headers meaning the same canonical column are a
    RosterError naming both. Unknown headers keep their text; repeated ones get " (2)", " (3)";
    an empty header becomes "Column F" after its letter.
    """
    names: list[str] = []
    seen_canonical: dict[str, int] = {}
    for position, header in enumerate(headers):
        canonical = canonical_column(header, column_map, claimed) if header else None
        if canonical is None:
            names.append(header or f"Column {column_letter(position)}")
            continue
        if canonical in seen_canonical:
            first = seen_canonical[canonical]
            raise RosterError(
                f'columns "{headers[first]}" ({column_letter(first)}) and "{header}" '
                f"({column_letter(position)}) both mean {canonical}: delete or rename one of them"
            )
        seen_canonical[canonical] = position
        names.append(canonical)
    return _make_unique(names, set(seen_canonical))


def _make_unique(names: list[str], reserved: set[str]) -> list[str]:
    taken = set(reserved)
    last_count: dict[str, int] = {}  # keeps 10,000 repeats of one header linear
    unique: list[str] = []
    for name in names:
        if name in reserved:
            unique.append(name)
            continue
        candidate, count = name, last_count.get(name, 1)
        while candidate in taken:
            count += 1
            candidate = f"{name} ({count})"
        last_count[name] = count
        taken.add(candidate)
        unique.append(candidate)
    return unique
