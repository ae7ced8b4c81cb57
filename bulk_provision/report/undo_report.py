"""The undo workbooks: the undo plan (``undo`` without ``--yes``) and the undo's results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from openpyxl import Workbook

from bulk_provision.model import Action, Outcome, RowResult
from bulk_provision.report.common import atomic_save, header_row, text_cell
from bulk_provision.report.plan_report import PLAN_COLUMNS, SHOWN, plan_lines, write_table


class Note(Protocol):
    """A row the undo leaves alone (``undo.Note``)."""

    @property
    def row(self) -> int | None: ...
    @property
    def key(self) -> str: ...
    @property
    def reason(self) -> str: ...


NOTE_COLUMNS = ("Row", "PartnerUserID", "Not undone")
RESULT_COLUMNS = ("Row", "PartnerUserID", "Undo", "Outcome", "Message", "Attempts")


def _summary(wb: Workbook, items: Sequence[tuple[str, object]]) -> None:
    sheet = wb.create_sheet("Summary")
    sheet.append(header_row(sheet, ("Item", "Value")))
    for item, value in items:
        sheet.append([text_cell(sheet, item), text_cell(sheet, value)])


def _notes(wb: Workbook, notes: Sequence[Note]) -> None:
    lines: list[list[object]] = [["" if n.row is None else n.row, n.key, n.reason] for n in notes]
    write_table(wb, "Not undone", NOTE_COLUMNS, lines)


def write_undo_plan(
    path: Path, actions: Sequence[Action], notes: Sequence[Note],
    about: Sequence[tuple[str, object]], refusal: str | None = None,
) -> None:
    """``Summary``, ``Plan`` (each reverse action, field by field) and ``Not undone``."""
    wb = Workbook(write_only=True)
    counts = Counter(SHOWN[a.kind] for a in actions)
    _summary(wb, [*about, ("reverse actions", len(actions)), ("not undone", len(notes)),
                  ("refused", refusal or ""),
                  *((name, counts[name]) for name in SHOWN.values() if counts[name])])
    write_table(wb, "Plan", PLAN_COLUMNS, plan_lines(actions))
    _notes(wb, notes)
    atomic_save(wb, path)


def write_undo_results(
    path: Path, results: Sequence[RowResult], notes: Sequence[Note],
    about: Sequence[tuple[str, object]],
) -> None:
    """``Summary`` (counts per outcome, exit code), ``Results`` and ``Not undone``."""
    wb = Workbook(write_only=True)
    counts = Counter(r.outcome for r in results)
    _summary(wb, [*about, *((o.value, counts[o]) for o in Outcome if counts[o]),
                  ("not undone", len(notes))])
    lines: list[list[object]] = [
        ["" if r.row is None else r.row, r.key, SHOWN[r.kind], r.outcome.value, r.message,
         r.attempts] for r in results
    ]
    write_table(wb, "Results", RESULT_COLUMNS, lines)
    _notes(wb, notes)
    atomic_save(wb, path)
