"""Issue 22, as properties: whatever shape a sparse sheet or a ragged CSV takes, reading it either
gives the roster's rows or refuses it with one RosterError line, and what it costs stays in
proportion to the file (peak traced memory bounded by a multiple of its size plus a floor)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_provision.errors import RosterError
from bulk_provision.roster.read import read_roster

HEADER = ["PartnerUserID", "UserAddress"]
FLOOR = 64 * 1024 * 1024  # what any small read may take (pandas' own buffers)
PER_BYTE = 40  # and per byte of the file
COMMON = settings(max_examples=25, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])


def read_bounded(path: Path) -> tuple[object, int]:
    """(the roster or the RosterError, peak traced bytes) of one read."""
    tracemalloc.start()
    try:
        try:
            outcome: object = read_roster(path)
        except RosterError as exc:
            outcome = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


@COMMON
@given(
    rows=st.integers(1, 30),
    stray_row=st.integers(0, 1_048_575),
    stray_column=st.integers(0, 16_383),
)
def test_a_sheet_with_one_stray_cell_anywhere_is_read_or_refused_in_proportion(
    tmp_path: Path, rows: int, stray_row: int, stray_column: int,
) -> None:
    path = tmp_path / "r.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Staff")
    sheet.write_row(0, 0, HEADER)
    for n in range(1, rows + 1):
        sheet.write_row(n, 0, [str(n), f"u{n}.x.glance.net"])
    sheet.write(stray_row, stray_column, "x")
    book.close()
    outcome, peak = read_bounded(path)
    assert peak <= FLOOR + PER_BYTE * path.stat().st_size
    if isinstance(outcome, RosterError):
        message = str(outcome)
        assert "\n" not in message and ("stray cell" in message or "past Excel" in message)
        assert (stray_row + 1) * (stray_column + 1) > 2_000_000
    else:
        assert len(outcome.frame) >= rows  # type: ignore[attr-defined]


@COMMON
@given(
    trailing=st.integers(0, 70_000),
    extra_row=st.integers(0, 40),
    extra=st.integers(0, 30_000),
    blank=st.integers(0, 200_000),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_a_ragged_csv_is_read_or_refused_in_proportion(
    tmp_path: Path, trailing: int, extra_row: int, extra: int, blank: int, delimiter: str,
) -> None:
    lines = [delimiter.join(HEADER) + delimiter * trailing]
    lines += [f"{n}{delimiter}u{n}.x.glance.net" for n in range(1, 41)]
    lines[extra_row] += (delimiter + "v") * extra
    text = "\n".join(lines) + "\n" + "\n" * blank
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    outcome, peak = read_bounded(path)
    assert peak <= FLOOR + PER_BYTE * path.stat().st_size
    if isinstance(outcome, RosterError):
        message = str(outcome)
        assert "\n" not in message and message.startswith("row ")
        assert extra >= 10_000  # only a row far wider than the rest is refused
    else:
        frame = outcome.frame  # type: ignore[attr-defined]
        assert len(frame) == 40 and list(frame.columns)[:2] == HEADER


@pytest.mark.parametrize("blank", [0, 1, 2, 5_000_000])
def test_blank_lines_at_the_end_never_change_the_roster(tmp_path: Path, blank: int) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"PartnerUserID,UserAddress\r\n1,a.x.glance.net\r\n" + b"\r\n" * blank)
    outcome, peak = read_bounded(path)
    assert not isinstance(outcome, RosterError), outcome
    assert len(outcome.frame) == 1  # type: ignore[attr-defined]
    assert peak <= FLOOR + PER_BYTE * 1024  # the blank tail costs nothing to read
