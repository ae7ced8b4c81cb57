"""Where the files shipped with the tool are found: the sample rosters of demo and serve --demo.

Installed from the wheel they are package data (``bulk_provision/sample_data``), read through
``importlib.resources``; in a checkout they are the repository's top-level ``sample_data/``.
Never the working directory: the tool runs from wherever the admin happens to be.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_ROSTERS = ("roster.xlsx", "roster_with_errors.xlsx", "roster.csv")
_CHECKOUT = Path(__file__).resolve().parents[2] / "sample_data"


def sample_folder() -> Path | None:
    """The folder holding the sample rosters, or None when this installation has none."""
    shipped = resources.files("bulk_provision").joinpath("sample_data")
    for candidate in (shipped, _CHECKOUT):
        # A wheel installed as files gives a real Path; a zipped install would not, and the
        # checkout's folder is the fallback for an editable install.
        if isinstance(candidate, Path) and (candidate / SAMPLE_ROSTERS[0]).is_file():
            return candidate
    return None
