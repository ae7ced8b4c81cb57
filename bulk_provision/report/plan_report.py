"""The plan workbook: what ``run`` would do, row by row, with each field's before and after."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook

from bulk_provision.model import Action, ActionKind
from bulk_provision.report.common import atomic_save, header_row, text_cell, width_for

PLAN_COLUMNS = ("Row", "PartnerUserID", "Action", "Field", "Before", "After")
SHOWN = {kind: kind.value for kind in ActionKind} | {ActionKind.NONE: "no change"}


def plan_lines(actions: Sequence[Action]) -> list[list[object]]:
    """One line per action, or per changed field for updates. Never a password."""
    lines: list[list[object]] = []
    for action in actions:
        head: list[object] = [action.row if action.row is not None else "", action.key,
                              SHOWN[action.kind]]
        if action.kind is ActionKind.CREATE:
            lines.append([*head, "UserAddress", "", action.fields.get("UserAddress", "")])
        elif action.changes:
            for name, (before, after) in action.changes.items():
                lines.append([*head, name, before, after])
        else:
            lines.append([*head, "", "", ""])
    return lines


def write_plan(path: Path, actions: Sequence[Action], *, mode: str, endpoint: str) -> None:
    """Write the plan workbook atomically: a ``Summary`` and a ``Plan`` sheet."""
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("Summary")
    counts = Counter(SHOWN[a.kind] for a in actions)
    summary.append(header_row(summary, ("Item", "Value")))
    for item, value in (("mode", mode), ("endpoint", endpoint), ("actions", len(actions))):
        summary.append([text_cell(summary, item), text_cell(summary, value)])
    for name in SHOWN.values():
        summary.append([text_cell(summary, name), counts.get(name, 0)])
    sheet = wb.create_sheet("Plan")
    lines = plan_lines(actions)
    for index, column in enumerate(PLAN_COLUMNS):
        letter = chr(ord("A") + index)
        sample = [column, *(line[index] for line in lines[:1000])]
        sheet.column_dimensions[letter].width = width_for(sample)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:F{len(lines) + 1}"
    sheet.append(header_row(sheet, PLAN_COLUMNS))
    for line in lines:
        sheet.append([text_cell(sheet, v) if isinstance(v, str) else v for v in line])
    atomic_save(wb, path)
