"""The plan workbook: what ``run`` would do, row by row, with each field's before and after.

Besides the ``Plan`` sheet people read, the workbook carries what ``run --plan`` needs to carry
out exactly this plan (DESIGN.md section 10): the roster's SHA-256, the mode and the options that
shaped it in ``Summary``, one line per action in ``Actions`` (its fields and before/after values as
JSON; never a password, only whether one "will be set"), and a checksum over all of that
(:func:`plan_checksum`) so that a plan edited by hand is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook

from bulk_provision.model import Action, ActionKind
from bulk_provision.report.common import atomic_save, header_row, text_cell, width_for

PLAN_COLUMNS = ("Row", "PartnerUserID", "Action", "Field", "Before", "After")
ACTION_COLUMNS = ("Row", "PartnerUserID", "Action", "Fields", "Password", "Changes")
SHOWN = {kind: kind.value for kind in ActionKind} | {ActionKind.NONE: "no change",
                                                     ActionKind.SKIP: "skip (not in Glance)"}
PASSWORD_SET = "will be set"
PLAN_FORMAT = "bulk-provision plan 1"


@dataclass(frozen=True)
class PlanHeader:
    """What shaped a plan: the roster it was made from, the mode and the options."""

    roster_path: str
    roster_sha256: str
    mode: str
    options: Mapping[str, object] = field(default_factory=dict)
    tool_version: str = ""


def canonical_action(action: Action) -> list[object]:
    return [action.key, action.row, action.kind.value, dict(action.fields),
            action.send_password, {k: list(v) for k, v in action.changes.items()}]


def plan_checksum(header: PlanHeader, actions: Sequence[Action]) -> str:
    """SHA-256 over a canonical JSON of the roster hash, the mode, the options and every action
    in order. It detects a plan edited by hand (or damaged); it is not a signature."""
    document = {
        "format": PLAN_FORMAT,
        "roster_sha256": header.roster_sha256,
        "mode": header.mode,
        "options": dict(header.options),
        "actions": [canonical_action(a) for a in actions],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def action_line(action: Action) -> list[object]:
    """The ``Actions`` sheet's line for ``action`` (JSON cells; ``approved_plan`` reads them)."""
    return [
        action.row if action.row is not None else "",
        action.key,
        action.kind.value,
        json.dumps(action.fields, ensure_ascii=False, sort_keys=True),
        PASSWORD_SET if action.send_password else "",
        json.dumps({k: list(v) for k, v in action.changes.items()}, ensure_ascii=False),
    ]


def write_plan(
    path: Path, actions: Sequence[Action], header: PlanHeader | None = None, *, endpoint: str,
    mode: str = "", refusal: str | None = None,
) -> None:
    """Write the plan workbook atomically: ``Summary``, ``Plan`` and ``Actions`` sheets.

    Without ``header`` (no roster hash: the page's preview) the plan cannot be carried out by
    ``run --plan``, which refuses it for its roster hash."""
    header = header or PlanHeader("", "", mode)
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("Summary")
    counts = Counter(SHOWN[a.kind] for a in actions)
    summary.append(header_row(summary, ("Item", "Value")))
    wave = header.options.get("selection")
    items: list[tuple[str, object]] = [
        ("format", PLAN_FORMAT),
        ("tool version", header.tool_version),
        ("roster", header.roster_path),
        ("roster SHA-256", header.roster_sha256),
        ("mode", header.mode),
        *([("selection", str(wave.get("text", "")))] if isinstance(wave, Mapping) else []),
        ("options", json.dumps(header.options, sort_keys=True)),
        ("endpoint", endpoint),
        ("actions", len(actions)),
        ("checksum", plan_checksum(header, actions)),
        ("refused", refusal or ""),
    ]
    items += [(name, counts.get(name, 0)) for name in SHOWN.values()]
    for item, value in items:
        summary.append([text_cell(summary, item), text_cell(summary, value)])
    write_table(wb, "Plan", PLAN_COLUMNS, plan_lines(actions))
    write_table(wb, "Actions", ACTION_COLUMNS, [action_line(a) for a in actions])
    atomic_save(wb, path)


def write_table(
    wb: Workbook, title: str, columns: Sequence[str], lines: list[list[object]]
) -> None:
    """A sheet of ``lines`` under a frozen header, filtered, columns sized to content."""
    sheet = wb.create_sheet(title)
    for index, column in enumerate(columns):
        letter = chr(ord("A") + index)
        sample = [column, *(line[index] for line in lines[:1000])]
        sheet.column_dimensions[letter].width = width_for(sample)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{chr(ord('A') + len(columns) - 1)}{len(lines) + 1}"
    sheet.append(header_row(sheet, columns))
    for line in lines:
        sheet.append([text_cell(sheet, v) if isinstance(v, str) else v for v in line])
