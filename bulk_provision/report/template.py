"""An empty roster workbook with the right headers, a Notes sheet and Excel data validation.

Everything here is read from the schema (``schemas/roster.py``): the column names, which are
required, their plain-words descriptions, and the limits and choices Excel can enforce itself.
Rules Excel cannot check (uniqueness, address characters, email syntax) are explained in Notes
and enforced by ``bulk-provision validate``.
"""

from __future__ import annotations

from pathlib import Path

import pandera.pandas as pa
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from bulk_provision.report.common import HEADER_FILL, HEADER_FONT, atomic_save
from bulk_provision.schemas.checks import rule_of
from bulk_provision.schemas.roster import build_schema

TEMPLATE_ROWS = 10_000  # data rows 2..10001 carry the data validation
NOTES_INTRO = (
    "Fill in one person per row on the Roster sheet, then run: bulk-provision validate "
    "roster.xlsx. Columns may be in any order; extra columns are kept in the results."
)


def write_template(path: Path) -> None:
    """Write the template workbook to ``path`` atomically (an existing file is replaced)."""
    schema = build_schema()
    wb = Workbook()
    ws = wb.active
    ws.title = "Roster"
    _roster_sheet(ws, schema)
    _notes_sheet(wb.create_sheet("Notes"), schema)
    atomic_save(wb, Path(path))


def _roster_sheet(ws: Worksheet, schema: pa.DataFrameSchema) -> None:
    last = TEMPLATE_ROWS + 1
    for index, (name, column) in enumerate(schema.columns.items(), start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=1, column=index, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        dimension = ws.column_dimensions[letter]
        dimension.width = max(len(name) + 4, 16)
        dimension.number_format = "@"  # text: IDs keep their leading zeros
        validation = _validation(name, column)
        if validation is not None:
            validation.add(f"{letter}2:{letter}{last}")
            ws.add_data_validation(validation)
    ws.freeze_panes = "A2"


def _validation(name: str, column: pa.Column) -> DataValidation | None:
    """The Excel data validation for ``column``'s rules, or None when Excel cannot help."""
    rules = [r for check in column.checks if (r := rule_of(check)) is not None]
    choices = next((r.choices for r in rules if r.choices), ())
    low = next((r.min_length for r in rules if r.min_length is not None), None)
    high = next((r.max_length for r in rules if r.max_length is not None), None)
    if choices:
        validation = DataValidation(type="list", formula1=f'"{",".join(choices)}"')
    elif low is not None and high is not None:
        validation = DataValidation(
            type="textLength", operator="between", formula1=str(low), formula2=str(high)
        )
    elif high is not None:
        validation = DataValidation(
            type="textLength", operator="lessThanOrEqual", formula1=str(high)
        )
    else:
        return None
    validation.allow_blank = True
    validation.showErrorMessage = True
    validation.errorTitle = f"{name}"[:32]
    validation.error = (column.description or "")[:255]
    return validation


def _notes_sheet(ws: Worksheet, schema: pa.DataFrameSchema) -> None:
    ws.append([NOTES_INTRO])
    ws.append([])
    ws.append(["Column", "Also called", "Required", "What to put in it"])
    for cell in ws[3]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for name, column in schema.columns.items():
        ws.append(
            [name, column.title or "", "yes" if column.required else "no",
             column.description or ""]
        )
    for letter, width in zip("ABCD", (16, 16, 10, 110), strict=True):
        ws.column_dimensions[letter].width = width
