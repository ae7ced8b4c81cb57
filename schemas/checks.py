"""Named, vectorised checks for roster columns.

Each :class:`Rule` is one rule of glance-api.md section 3: a stable id (``UserPW.length``), a test
over a whole column (a boolean Series, True where the cell is fine, so pandera runs it once per
column, never once per cell) and the sentence an HR admin reads when a cell breaks it. Rules are
turned into pandera checks by :meth:`Rule.check`; the rule rides along in the check's
``statistics`` so the validator can word its message, and the template can turn limits and choices
into Excel data validation. An empty cell passes every rule except ``required``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pandas as pd
import pandera.pandas as pa

ADDRESS_CHARACTERS = "letters, digits, '.' and '-'"
_NOT_ADDRESS_CHARACTER = re.compile(r"[^A-Za-z0-9.\-]")
_ADDRESS = re.compile(r"[A-Za-z0-9.\-]*")
_GOOD_ENDS = re.compile(r"(?s)(?![.\-]).*(?<![.\-])")
# Simple and sane, no network: something@domain.tld, no spaces, no second @, no empty label.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
NO_ROLE = "-none-"

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
    return ", ".join(f"'{v}'" for v in values)


def _rows(rows: Sequence[int], shown: int = 10) -> str:
    listed = ", ".join(str(r) for r in rows[:shown])
    return listed + (f" and {len(rows) - shown} more" if len(rows) > shown else "")


def required(column: str) -> Rule:
    return Rule(
        id=f"{column}.required",
        column=column,
        test=lambda s: s != "",
        describe=lambda _v, _o: f"{column} is required but the cell is empty",
    )


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


def unique(column: str, *, ignore_case: bool = False) -> Rule:
    """No two non-empty cells share a value; every row of a clash fails, not only the later."""
    key: Callable[[str], str] = str.casefold if ignore_case else str

    def test(s: pd.Series) -> pd.Series:
        keys = s.str.casefold() if ignore_case else s
        return (s == "") | ~keys.duplicated(keep=False)

    def describe(value: str, others: Sequence[int]) -> str:
        where = "row" if len(others) == 1 else "rows"
        return f"{column} {value} also appears in {where} {_rows(others)}"

    return Rule(f"{column}.unique", column, test, describe, group_key=key)


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
        describe=lambda v, _o: f"{column} may not start or end with '.' or '-' (found '{v}')",
    )


def email_syntax(column: str) -> Rule:
    return Rule(
        id=f"{column}.format",
        column=column,
        test=lambda s: (s == "") | _matches(s, _EMAIL),
        describe=lambda v, _o: f"{column} '{v}' is not a valid email address",
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
        describe=lambda v, _o: f"{column} must be empty or one of {listed} (found '{v}')",
        choices=tuple(choices),
    )


def known_role(column: str, roles: Sequence[str]) -> Rule:
    """Empty, ``-none-`` or one of the configured roles, ignoring case."""
    shown = ", ".join(roles[:10]) + (", ..." if len(roles) > 10 else "")
    return Rule(
        id=f"{column}.known",
        column=column,
        test=_in_ignoring_case([*roles, NO_ROLE]),
        describe=lambda v, _o: f"{column} '{v}' is not a known role (known: {shown}, {NO_ROLE})",
        choices=(*roles, NO_ROLE),
    )
