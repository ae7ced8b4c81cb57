"""Property: any text a user can type survives a CSV or xlsx roster unchanged (apart from trim)."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bulk_provision.roster.read import _TRIM, read_roster

# Anything printable in any script, plus quotes, separators and line breaks inside a value.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
    | st.sampled_from(['"', ",", ";", "\t", "\n", "\r", "'", "=", "0", " ", "\u00a0"]),
    max_size=40,
)
ROWS = st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=8)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expected(rows: list[tuple[str, str]]) -> list[list[str]]:
    # Row keys like "0001" keep every row non-empty; values are trimmed like every cell.
    return [[f"{i:04d}", a.strip(_TRIM), b.strip(_TRIM)] for i, (a, b) in enumerate(rows)]


@SETTINGS
@given(rows=ROWS)
def test_any_text_survives_csv(rows: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["PartnerUserID", "UserFirst", "Notes"])
            writer.writerows([f"{i:04d}", a, b] for i, (a, b) in enumerate(rows))
        frame = read_roster(path).frame
    assert frame.to_numpy().tolist() == expected(rows)
    assert frame.index.tolist() == list(range(2, len(rows) + 2))


@SETTINGS
@given(rows=ROWS)
@example(rows=[("_x0041_", "=SUM(A1:A2)"), ("\u202eRTL", "x\ry")])  # OOXML escapes, formulas
def test_any_text_survives_xlsx(rows: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.xlsx"
        workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
        sheet = workbook.add_worksheet()
        sheet.write_row(0, 0, ["PartnerUserID", "UserFirst", "Notes"])
        for r, (a, b) in enumerate(rows, start=1):
            for c, value in enumerate([f"{r - 1:04d}", a, b]):
                sheet.write_string(r, c, value)
        workbook.close()
        roster = read_roster(path)
    assert roster.frame.to_numpy().tolist() == expected(rows)
    assert roster.warnings == []
