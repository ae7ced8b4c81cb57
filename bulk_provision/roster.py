"""Read a roster (CSV or Excel) into an all-text DataFrame. The only spreadsheet reader.

CONTRACT (stub; the implementation is in progress):

* ``read_roster(path, *, sheet=None, column_map=None) -> Roster``
* ``Roster.frame``: every cell a ``str`` ("" for an empty cell, never NaN/None); the index is the
  spreadsheet's own row number (header = row 1, so the first data row is 2); known columns are
  renamed to their canonical API names (``CANONICAL_COLUMNS``); unknown columns are kept under
  their own header, in file order.
* ``Roster.headers``: frame column -> header exactly as written in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

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


@dataclass(frozen=True)
class RosterWarning:
    """Something the reader noticed but could read, e.g. a cell Excel stored as a number."""

    row: int
    column: str
    message: str


@dataclass
class Roster:
    path: Path
    frame: pd.DataFrame
    headers: dict[str, str]
    sha256: str
    sheet: str | None = None
    warnings: list[RosterWarning] = field(default_factory=list)
