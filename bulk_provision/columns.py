"""The roster's column names: the one vocabulary every stage shares (and which hold secrets)."""

from __future__ import annotations

import re
import unicodedata

PASSWORD_COLUMNS = frozenset({"UserPW"})  # never written anywhere, never stored
FAILED_ROWS_PROBLEM = "Problem (bulk-provision)"  # the failed-rows file's own column

CANONICAL_COLUMNS = (
    "PartnerUserID",
    "UserAddress",
    "UserPW",
    "UserFirst",
    "UserLast",
    "UserEmail",
    "UserRole",
    "AudioProvider",
    "Action",
)

_SEPARATORS = re.compile(r"[\s\-_]+")


def normalize_header(header: str) -> str:
    """The key headers are compared by: lower case, without spaces, hyphens or underscores,
    in one Unicode form (NFKC: an "é" typed as e + accent, as Mac exports write it, is "é")."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", header)).casefold()
