"""Named, vectorised checks for roster columns.

Each :class:`Rule` is one rule of glance-api.md section 3: a stable id (``UserPW.length``), a test
over a whole column (a boolean Series, True where the cell is fine, so pandera runs it once per
column, never once per cell) and the sentence an HR admin reads when a cell breaks it. Rules are
turned into pandera checks by :meth:`Rule.check`; the rule rides along in the check's
``statistics`` so the validator can word its message, and the template can turn limits and choices
into Excel data validation. An empty cell passes every rule except ``required``.

Uniqueness compares values as a person sees them: NFKC-normalised (full-width ``Ａ１２３`` is
``A123``) and without invisible characters (every format character and every
Default_Ignorable_Code_Point of Unicode: zero-width space, joiners, direction marks, the combining
grapheme joiner U+034F, Hangul fillers U+115F/U+3164, variation selectors, tags...), so two cells
that look the same clash; the message says how the other row writes it. The rows of
a clash are described by a :class:`Clash` (a few rows named, then a count), built once per group,
so 100,000 rows sharing one value cost no more than 100,000 distinct ones.

A value longer than its column's maximum is a problem as it stands (``<Column>.length``): the
uniqueness rule never normalises or compares it (``unique(..., longest=)``), so a cell of
8,000,000 characters costs one length, not an NFKC pass 18 times its size; and every value a
message quotes is cut to :data:`QUOTED_AT_MOST` characters (:func:`shown`), DESIGN.md section 11.

Control characters (C0, DEL, C1) are refused in every column (:func:`control_characters`): they
are invisible in Excel, Glance refuses them and a terminal obeys them. Tab is allowed in the free
text of names; an unknown column (never sent to Glance) may also hold line breaks, as Excel's
Alt+Enter makes them. Bidirectional controls (U+202A-202E, U+2066-2069, U+200E/200F, U+061C),
which make Excel show "\u202e1234" as "4321", are refused too in the columns that identify or
address (``bidi=True``: PartnerUserID, UserAddress, UserEmail, UserRole, AudioProvider, Action),
and allowed in names, where right-to-left scripts may need a direction mark.
"""

from __future__ import annotations

import bisect
import operator
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import overload

import numpy as np
import pandas as pd
import pandera.pandas as pa

# UserRole's word for "no role", as Glance spells it. The schemas stand alone (a user's --schema
# file imports them), so the word is written here too; tests/unit/test_schemas.py holds it equal to
# bulk_provision.glance.models.NO_ROLE.
NO_ROLE = "-none-"

ADDRESS_CHARACTERS = "letters, digits, '.' and '-'"
_NOT_ADDRESS_CHARACTER = re.compile(r"[^A-Za-z0-9.\-]")
_ADDRESS = re.compile(r"[A-Za-z0-9.\-]*")
_GOOD_ENDS = re.compile(r"(?s)(?![.\-]).*(?<![.\-])")
# Simple and sane, no network: something@domain.tld, no spaces, no second @, no empty label.
# local part: anything but space, @ and the characters that quote or delimit addresses (or
# mark up a page); domain: letters, digits and hyphens (any script), in dot-separated labels
_EMAIL = re.compile(r'[^@\s<>()\[\]\\,;:"]+@[\w-]+(?:\.[\w-]+)+')
ROWS_NAMED = 5  # rows a uniqueness message names before "and N more"
# C0 controls, DEL and C1 controls; the "free text" variants leave tab (and line breaks) alone.
CONTROL = "\x00-\x1f\x7f-\x9f"
_CONTROLS = {
    "": re.compile(f"[{CONTROL}]"),
    "\t": re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]"),
    "\t\n\r": re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"),
}
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI_CONTROLS = re.compile(f"[{CONTROL}{BIDI}]")
_BIDI_ONLY = re.compile(f"[{BIDI}]")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): never visible.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# shown as escapes in messages: controls, invisible characters, interlinear annotation marks
_SHOWN_ESCAPED = re.compile(f"[{CONTROL}{_IGNORABLE.pattern[1:-1]}\u180e\ufff9-\ufffb]")

Test = Callable[[pd.Series], pd.Series]
Describe = Callable[[str, Sequence[int]], str]


@dataclass(frozen=True)
class Rule:
    """One rule on one column.

    ``describe(value, other_rows)`` words a failure; ``other_rows`` is only filled for uniqueness
    rules (the other rows sharing the value). ``group_key`` (uniqueness rules) maps values to what
    counts as "the same". ``min_length``/``max_length``/``choices`` describe the rule for tools
    that can enforce it themselves (the Excel template).
    """

    id: str
    column: str
    test: Test
    describe: Describe
    group_key: Callable[[str], str] | None = None
    ignore_case: bool = False
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()

    def check(self) -> pa.Check:
        return pa.Check(
            self.test,
            element_wise=False,
            ignore_na=False,  # cells are text, never NaN: skip pandera's per-check null scan
            name=self.id,
            error=self.id,
            statistics={"rule": self},
        )


def _lengths(s: pd.Series) -> pd.Series:
    """Character counts; map() over the raw array is several times faster than ``.str.len()``."""
    values = s.to_numpy(dtype=object)
    return pd.Series(np.fromiter(map(len, values), np.int64, len(values)), index=s.index)


def _matches(s: pd.Series, pattern: re.Pattern[str]) -> pd.Series:
    """True where the whole cell matches ``pattern``, looping in C rather than in pandas."""
    values = s.to_numpy(dtype=object)
    found = map(operator.is_not, map(pattern.fullmatch, values), repeat(None))
    return pd.Series(np.fromiter(found, bool, len(values)), index=s.index)


def rule_of(check: pa.Check) -> Rule | None:
    """The :class:`Rule` behind a pandera check, or None for a check made some other way."""
    rule = (check.statistics or {}).get("rule")
    return rule if isinstance(rule, Rule) else None


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{shown(v)}'" for v in values)


QUOTED_AT_MOST = 80  # characters of a value a message quotes


def capped(text: str, limit: int = QUOTED_AT_MOST) -> str:
    """``text``, or its first ``limit`` characters and how long it really is."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def shown(text: str, limit: int = QUOTED_AT_MOST) -> str:
    """``text`` as a message quotes it: cut to ``limit`` characters, then :func:`visible`."""
    return visible(capped(text, limit))


def visible(text: str) -> str:
    """``text`` with control and invisible format characters shown as ``\\x1b``/``\\u200b``."""
    return _SHOWN_ESCAPED.sub(_escaped, text)


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(match: re.Match[str]) -> str:
    if match.group() in _NAMED:
        return _NAMED[match.group()]
    code = ord(match.group())
    if code > 0xFFFF:
        return f"\\U{code:08x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _rows(rows: Sequence[int], shown: int = ROWS_NAMED) -> str:
    """"3, 4, 5"; past ``shown + 1`` rows: "3, 4, 5, 6, 7 and 99,994 more"."""
    if len(rows) <= shown + 1:
        return ", ".join(str(r) for r in rows)
    listed = ", ".join(str(r) for r in rows[:shown])
    return f"{listed} and {len(rows) - shown:,} more"


class Clash(Sequence[int]):
    """The other rows of a uniqueness clash: ``rows`` (sorted, shared by the whole group) without
    ``row``, in constant time and memory per row. ``variants`` are other spellings found in the
    group (e.g. a full-width or zero-width variant of the value)."""

    def __init__(self, rows: Sequence[int], row: int, variants: Sequence[str] = ()) -> None:
        self._rows = rows
        self._at = bisect.bisect_left(rows, row)
        self._skip = self._at < len(rows) and rows[self._at] == row
        self.variants = tuple(variants)

    def __len__(self) -> int:
        return len(self._rows) - self._skip

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> list[int]: ...
    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            rows, at = self._rows, self._at
            if not self._skip or stop <= at:
                return list(rows[start:stop])
            if start >= at:
                return list(rows[start + 1 : stop + 1])
            return [*rows[start:at], *rows[at + 1 : stop + 1]]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._rows[index + 1 if self._skip and index >= self._at else index]

    def __iter__(self) -> Iterator[int]:
        return (self[i] for i in range(len(self)))


def same_value_key(value: str, *, ignore_case: bool = False) -> str:
    """What uniqueness compares: NFKC, no invisible characters (and case-folded).

    Invisible ones are dropped before NFKC and again after it (NFKC turns the half-width
    Hangul filler U+FFA0 into U+3164)."""
    if not value.isascii():
        visible_only = "".join(c for c in _IGNORABLE.sub("", value)
                               if unicodedata.category(c) != "Cf")
        value = _IGNORABLE.sub("", unicodedata.normalize("NFKC", visible_only))
    return unicodedata.normalize("NFKC", value.casefold()) if ignore_case else value


def required(column: str) -> Rule:
    return Rule(
        id=f"{column}.required",
        column=column,
        test=lambda s: s != "",
        describe=lambda _v, _o: f"{column} is required but the cell is empty",
    )


def leading_zeros(column: str) -> Rule:
    """An all-digit ID shorter than the zero-padded IDs around it ("125" beside "000104"): the
    zeros were lost (Excel stores such an ID as a number), and sending it would make a second
    person of someone Glance knows as "000125". Only when the column's zero-padded IDs share
    one width (at least two of them, nine in ten of one width)."""
    width = {"of": 0}

    def test(s: pd.Series) -> pd.Series:
        digits = s.str.fullmatch(r"[0-9]+")
        lengths = s.str.len()
        padded = lengths[digits & s.str.startswith("0") & (lengths > 1)]
        if len(padded) < 2:
            return pd.Series(True, index=s.index)
        common = padded.value_counts()
        if common.iloc[0] < 0.9 * len(padded):
            return pd.Series(True, index=s.index)
        width["of"] = int(common.index[0])
        return ~(digits & ~s.str.startswith("0") & (lengths < width["of"]))

    def describe(value: str, _others: Sequence[int]) -> str:
        return (f"{value} looks like an ID that lost its leading zeros: the other IDs in this "
                f"column are {width['of']} digits with zeros in front. Excel drops them when it "
                f"stores the ID as a number; format the column as Text and type "
                f"{value.zfill(width['of'])}, or the person would be added to Glance a second "
                "time")

    return Rule(id=f"{column}.zeros", column=column, test=test, describe=describe)


def max_length(column: str, limit: int) -> Rule:
    return Rule(
        id=f"{column}.length",
        column=column,
        test=lambda s: _lengths(s) <= limit,
        describe=lambda v, _o: f"{column} must be at most {limit} characters (has {len(v)})",
        max_length=limit,
    )


def length_between(column: str, low: int, high: int) -> Rule:
    """Empty, or between ``low`` and ``high`` characters. Never quotes the value (passwords)."""

    def describe(value: str, _others: Sequence[int]) -> str:
        if len(value) < low:
            return f"{column} must be at least {low} characters (has {len(value)})"
        return f"{column} must be at most {high} characters (has {len(value)})"

    def test(s: pd.Series) -> pd.Series:
        length = _lengths(s)
        return (s == "") | ((length >= low) & (length <= high))

    return Rule(f"{column}.length", column, test, describe, min_length=low, max_length=high)


def unique(column: str, *, ignore_case: bool = False, longest: int | None = None) -> Rule:
    """No two non-empty cells share a value; every row of a clash fails, not only the later.

    Values are compared by :func:`same_value_key` (as seen: width and invisible characters do
    not count; nor does case with ``ignore_case``). A value longer than ``longest`` (the
    column's maximum length, a problem of its own) is never normalised nor compared."""

    def key(value: str) -> str:
        return same_value_key(value, ignore_case=ignore_case)

    def test(s: pd.Series) -> pd.Series:
        too_long = (_lengths(s) > longest) if longest is not None else pd.Series(False, s.index)
        if too_long.any():  # compared no further: only the cells of a sane length
            fine = pd.Series(True, index=s.index)
            fine[~too_long] = test(s[~too_long])
            return fine
        values = s.to_numpy(dtype=object)
        if all(map(str.isascii, values)):  # the usual case: NFKC changes no ASCII text
            keys = s.str.casefold() if ignore_case else s
        else:
            keys = pd.Series(list(map(key, values)), index=s.index, dtype=object)
        return (s == "") | ~keys.duplicated(keep=False)

    def describe(value: str, others: Sequence[int]) -> str:
        where = "row" if len(others) == 1 else "rows"
        text = f"{column} {shown(value)} also appears in {where} {_rows(others)}"
        variants = getattr(others, "variants", ())
        if variants:
            how = ", ".join(f"'{shown(v)}'" for v in variants)
            case = ", upper/lower case" if ignore_case else ""
            text += (f" (written {how} there; full-width, zero-width and other invisible "
                     f"characters{case} do not make a value different)")
        return text

    return Rule(f"{column}.unique", column, test, describe, group_key=key,
                ignore_case=ignore_case)


def control_characters(
    column: str, *, allow: str = "", secret: bool = False, bidi: bool = False
) -> Rule:
    """No control characters (C0, DEL, C1) but those in ``allow`` ("\\t" or "\\t\\n\\r"),
    and with ``bidi`` no bidirectional controls either.

    Never quotes the value: names the characters found instead (not even that for a ``secret``
    column)."""
    pattern = _BIDI_CONTROLS if bidi and not allow else _CONTROLS[allow]

    def test(s: pd.Series) -> pd.Series:
        values = s.to_numpy(dtype=object)
        if pattern.search("".join(values)) is None:  # the usual case: one scan in C
            return pd.Series(True, index=s.index)
        found = map(operator.is_, map(pattern.search, values), repeat(None))
        return pd.Series(np.fromiter(found, bool, len(values)), index=s.index)

    def describe(value: str, _others: Sequence[int]) -> str:
        chars = list(dict.fromkeys(pattern.findall(value)))
        found = ", ".join(visible(c) for c in chars)
        which = "" if secret else f" ({found})"
        direction = [c for c in chars if _BIDI_ONLY.fullmatch(c)]
        kind = ("text-direction characters" if len(direction) == len(chars)
                else "control and text-direction characters" if direction
                else "control characters")
        return (f"{column} contains {kind}{which}: they are invisible in Excel "
                "and not allowed in a roster; delete them from the cell")

    return Rule(f"{column}.control", column, test, describe)


def password_column(column: str, header: str) -> Rule:
    """A column whose header looks like a password but that is not UserPW: any value fails.

    Its values would be carried as an unknown column (the user created without the password)."""

    def describe(_value: str, _others: Sequence[int]) -> str:
        return (f'the column "{visible(header)}" looks like a password column but is not one '
                "bulk-provision reads, so this user would be created without it: rename the "
                f'header to UserPW (or Password), or map it with --columns ("{visible(header)}" '
                '= "UserPW"); delete the column if it is not needed')

    return Rule(f"{column}.password", column, lambda s: s == "", describe)


def address_characters(column: str) -> Rule:
    def describe(value: str, _others: Sequence[int]) -> str:
        found = list(dict.fromkeys(_NOT_ADDRESS_CHARACTER.findall(value)))
        return f"{column} may contain only {ADDRESS_CHARACTERS} (found {_quoted(found)})"

    return Rule(
        f"{column}.characters", column, lambda s: _matches(s, _ADDRESS), describe
    )


def address_ends(column: str) -> Rule:
    return Rule(
        id=f"{column}.ends",
        column=column,
        test=lambda s: _matches(s, _GOOD_ENDS),
        describe=lambda v, _o: (
            f"{column} may not start or end with '.' or '-' (found {_quoted([v])})"
        ),
    )


def is_email(text: str) -> bool:
    """One value as ``email_syntax`` judges it (empty is fine: the column is optional)."""
    return text == "" or _EMAIL.fullmatch(text) is not None


def email_syntax(column: str) -> Rule:
    return Rule(
        id=f"{column}.format",
        column=column,
        test=lambda s: (s == "") | _matches(s, _EMAIL),
        describe=lambda v, _o: f"{column} {_quoted([v])} is not a valid email address",
    )


def _in_ignoring_case(choices: Sequence[str]) -> Test:
    """Empty or one of ``choices`` ignoring case; only cells not matching exactly are folded."""
    exact = ["", *choices]
    folded = {c.casefold() for c in choices}

    def test(s: pd.Series) -> pd.Series:
        ok = s.isin(exact)
        rest = ~ok
        if rest.any():
            ok[rest] = s[rest].str.casefold().isin(folded)
        return ok

    return test


def one_of(column: str, choices: Sequence[str], *, suffix: str = "value") -> Rule:
    """Empty or one of ``choices``, ignoring case."""
    listed = ", ".join(c for c in choices if c)
    return Rule(
        id=f"{column}.{suffix}",
        column=column,
        test=_in_ignoring_case(choices),
        describe=lambda v, _o: f"{column} must be empty or one of {listed} (found {_quoted([v])})",
        choices=tuple(choices),
    )


def known_role(column: str, roles: Sequence[str]) -> Rule:
    """Empty, ``-none-`` or one of the configured roles, ignoring case."""
    shown = ", ".join(roles[:10]) + (", ..." if len(roles) > 10 else "")
    return Rule(
        id=f"{column}.known",
        column=column,
        test=_in_ignoring_case([*roles, NO_ROLE]),
        describe=lambda v, _o: (
            f"{column} {_quoted([v])} is not a known role (known: {shown}, {NO_ROLE})"
        ),
        choices=(*roles, NO_ROLE),
    )
