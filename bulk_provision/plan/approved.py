"""``run ROSTER --plan PLAN.xlsx``: carry out exactly the plan a person approved, or refuse.

The plan workbook (``report.plan_report``) holds the roster's SHA-256, the mode, the options that
shaped the plan, every action with its fields and before/after values, and a checksum over all of
them. :func:`read_plan` reads it back and refuses a plan whose checksum does not match its actions
or whose ``Plan`` sheet no longer says what its actions do (edited by hand); :func:`check_plan`
compares it with the roster and with one fresh ShowUsers snapshot and refuses the whole plan when
anything differs (DESIGN.md section 10). Every refusal is a :class:`errors.Refused` (exit 2)
listing the differences, raised before any write.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from bulk_provision.errors import Refused, UsageError
from bulk_provision.model import Action, ActionKind
from bulk_provision.plan.actions import PROFILE_FIELDS, KnownUser, protected, same_value
from bulk_provision.plan.guard import guard
from bulk_provision.plan.resume import glance_identity
from bulk_provision.report.common import read_text
from bulk_provision.report.plan_report import (
    ACTION_COLUMNS,
    PASSWORD_SET,
    PLAN_FORMAT,
    PlanHeader,
    plan_checksum,
    plan_lines,
)
from bulk_provision.settings.selection import Selection
from bulk_provision.settings.spec import MODES, JobSpec

_KINDS = {k.value: k for k in ActionKind}
EDITED = (
    "was changed after `bulk-provision plan` wrote it ({why}); nothing was changed in Glance. "
    "Make the plan again with `bulk-provision plan` and approve that file"
)


@dataclass(frozen=True)
class ApprovedPlan:
    """A plan workbook read back and found intact."""

    path: Path
    header: PlanHeader
    checksum: str
    actions: list[Action]

    @property
    def option(self) -> Mapping[str, Any]:
        return self.header.options


def read_plan(path: Path) -> ApprovedPlan:
    """The plan at ``path``; Refused when it was edited, UsageError when it is no plan."""
    sheets = _read_sheets(path)
    summary = {str(r[0]): ("" if r[1] is None else str(r[1])) for r in sheets["Summary"][1:]
               if r and r[0] is not None and len(r) > 1}
    if summary.get("format") != PLAN_FORMAT:
        raise UsageError(
            f"--plan {path} was not written by this version's `bulk-provision plan` "
            f"(format {summary.get('format', 'unknown')!r}); make the plan again"
        )
    try:
        options = json.loads(summary.get("options", "{}"))
        header = PlanHeader(summary["roster"], summary["roster SHA-256"], summary["mode"],
                            options, summary.get("tool version", ""))
        actions = [_action(line) for line in sheets["Actions"][1:] if any(line)]
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise Refused(f"the plan {path} " + EDITED.format(why=f"unreadable: {exc}")) from exc
    checksum = plan_checksum(header, actions)
    if checksum != summary.get("checksum"):
        raise Refused(f"the plan {path} " + EDITED.format(why="its checksum does not match"))
    if _shown(sheets["Plan"][1:]) != _shown(plan_lines(actions)):
        raise Refused(f"the plan {path} " + EDITED.format(why="its Plan sheet was edited"))
    return ApprovedPlan(path, header, checksum, actions)


def plan_options(
    spec: JobSpec, rows: Mapping[str, str] | None = None, leavers: Iterable[int] = ()
) -> dict[str, object]:
    """The options that shaped a plan, as ``plan`` records them: also how the roster was read
    (``--sheet``, the ``--columns`` map, the ``--recipe``'s SHA-256 and the leavers it found)
    and a digest of its planned rows (``rows``: ``resume.row_hashes``), so ``run --plan`` reads
    the roster exactly as the plan did."""
    options: dict[str, object] = {
        "skip_invalid": spec.skip_invalid, "set_passwords": spec.set_passwords,
        "audio_provider": spec.audio_provider, "protect": list(spec.protect),
        "max_suspend": spec.max_suspend, "sheet": spec.sheet or "",
        "columns": dict(spec.column_map or {}), "rows_sha256": rows_digest(rows or {}),
        "glance": glance_identity(spec.endpoint, spec.connection.login)}
    if spec.recipe is not None:
        options["recipe"] = {"name": spec.recipe.name, "sha256": spec.recipe.sha256}
        options["leavers"] = sorted(leavers)
    if spec.selection is not None:  # a wave: run --plan takes the same rows (absent: all)
        options["selection"] = spec.selection.to_json()
    return options


def rows_digest(rows: Mapping[str, str]) -> str:
    """One SHA-256 over the planned rows' hashes (PartnerUserID -> row hash)."""
    text = json.dumps(dict(rows), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def applied(spec: JobSpec, plan: ApprovedPlan) -> JobSpec:
    """``spec`` with the plan's mode and the options that shape what is sent; ``--protect`` and
    ``--max-suspend`` stay the run's own (they are checked again now)."""
    mode = plan.header.mode
    if mode not in MODES:
        raise Refused(f"the plan {plan.path} " + EDITED.format(why=f"unknown mode {mode!r}"))
    option = plan.option
    sheet = str(option.get("sheet", ""))
    columns = option.get("columns") or {}
    if not isinstance(columns, dict):
        raise Refused(f"the plan {plan.path} " + EDITED.format(why="its column map is unreadable"))
    _same_glance(plan, glance_identity(spec.endpoint, spec.connection.login))
    _same_reading(plan, "--sheet", spec.sheet, sheet or None)
    if spec.column_map is not None:
        _same_reading(plan, "--columns", dict(spec.column_map), columns)
    _same_recipe(plan, spec)
    selection = _same_selection(plan, spec.selection)
    return replace(
        spec,
        mode=mode,
        skip_invalid=spec.skip_invalid or bool(option.get("skip_invalid")),
        set_passwords=bool(option.get("set_passwords")),
        audio_provider=str(option.get("audio_provider", "")),
        sheet=sheet or None,
        column_map={str(k): str(v) for k, v in columns.items()} or None,
        selection=selection,
    )


def _same_selection(plan: ApprovedPlan, given: Selection | None) -> Selection | None:
    """The wave the plan was made for (None: the whole roster); a run that names another one
    (``--rows``, ``--where``, ``--first``) is refused."""
    recorded = plan.option.get("selection")
    try:
        planned = Selection.from_json(recorded) if recorded is not None else None
    except (ValueError, TypeError) as exc:
        raise Refused(f"the plan {plan.path} " + EDITED.format(
            why="its selection is unreadable")) from exc
    if given is not None and given != planned:
        said = _the(planned.text) if planned is not None else "the whole roster"
        raise Refused(f"the plan {plan.path} was made for {said}, and this run takes "
                      f"{_the(given.text)}; nothing was changed. Leave out --rows, --where and "
                      "--first (run --plan takes the plan's rows), or make a new plan")
    return planned


def _same_recipe(plan: ApprovedPlan, spec: JobSpec) -> None:
    """Refused unless the run reads the roster with the recipe the plan was made with."""
    planned = plan.option.get("recipe")
    planned_sha = planned.get("sha256") if isinstance(planned, dict) else None
    given = spec.recipe.sha256 if spec.recipe is not None else None
    if planned_sha == given:
        return
    if planned_sha is None:
        raise Refused(f"the plan {plan.path} was made without a recipe; nothing was changed. "
                      "Leave --recipe out, or make a new plan with it")
    name = planned.get("name", "?") if isinstance(planned, dict) else "?"
    raise Refused(f"the plan {plan.path} was made with the recipe {name} (SHA-256 "
                  f"{str(planned_sha)[:12]}), and this run " + (
                      "gives another one" if given else "gives none") +
                  "; nothing was changed. Run it with --recipe and that very file, or make a "
                  "new plan")


def _same_glance(plan: ApprovedPlan, glance: str) -> None:
    """Refused when the plan was made against another Glance (endpoint or partner login)."""
    planned = plan.option.get("glance")
    if planned is not None and planned != glance:
        raise Refused(
            f"the plan {plan.path} was made against {planned}, this run would send to {glance}; "
            "nothing was changed. Run it against the Glance it was made for, or make a new plan "
            "against this one"
        )


def _same_reading(plan: ApprovedPlan, option: str, given: object, planned: object) -> None:
    if given is not None and given != planned:
        raise Refused(
            f"{option} differs from the one the plan {plan.path} was made with (the plan: "
            f"{planned or 'none'!s}); nothing was changed. Leave {option} out (run --plan reads "
            "the roster as the plan did) or make a new plan"
        )


def check_planned_rows(plan: ApprovedPlan, rows: Mapping[str, str]) -> None:
    """Refused unless every planned row reads now as when the plan was made (``rows``:
    ``resume.row_hashes`` of the planned actions), so no password comes from another row."""
    recorded = plan.option.get("rows_sha256")
    if recorded is not None and rows_digest(rows) != recorded:
        raise Refused(
            f"the roster's planned rows do not read as when the plan {plan.path} was made "
            "(another sheet, column map or tool version?); nothing was changed. Make a new plan"
        )


def _read_sheets(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    if not path.is_file():
        raise UsageError(f"--plan {path} does not exist; give the workbook `plan` wrote")
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UsageError(
            f"--plan {path} is not a plan workbook ({exc}); give the workbook `plan` wrote"
        ) from exc
    try:
        missing = [n for n in ("Summary", "Plan", "Actions") if n not in book.sheetnames]
        if missing:
            raise UsageError(
                f"--plan {path} has no {missing[0]} sheet: it was not written by this version's "
                "`bulk-provision plan`; make the plan again"
            )
        return {name: [tuple(read_text(v) for v in line)
                       for line in book[name].iter_rows(values_only=True)]
                for name in ("Summary", "Plan", "Actions")}
    finally:
        book.close()


def _action(line: Sequence[Any]) -> Action:
    cells = [("" if v is None else v) for v in (*line, *[""] * len(ACTION_COLUMNS))]
    row, key, kind, fields, password, changes = cells[: len(ACTION_COLUMNS)]
    if row != "" and not isinstance(row, int):
        raise ValueError(f"row {row!r} is not a row number")
    if password not in ("", PASSWORD_SET):
        raise ValueError(f"password cell {password!r}")
    parsed_fields = json.loads(str(fields))
    parsed_changes = json.loads(str(changes))
    if not isinstance(parsed_fields, dict) or not isinstance(parsed_changes, dict):
        raise ValueError("fields and changes must be JSON objects")
    return Action(
        key=str(key),
        row=row if isinstance(row, int) else None,
        kind=_KINDS[str(kind)],
        fields={str(k): str(v) for k, v in parsed_fields.items()},
        send_password=password == PASSWORD_SET,
        changes={str(k): (str(v[0]), str(v[1])) for k, v in parsed_changes.items()},
    )


def _shown(lines: Sequence[Sequence[Any]]) -> list[list[str]]:
    return [["" if v is None else str(v) for v in line] for line in lines if any(
        v not in (None, "") for v in line)]


def check_roster(plan: ApprovedPlan, roster_sha256: str) -> None:
    """Refused unless the roster is byte for byte the one the plan was made from."""
    if roster_sha256 != plan.header.roster_sha256:
        raise Refused(
            f"the roster is not the one the plan {plan.path} was made from (SHA-256 "
            f"{roster_sha256[:12]}, the plan's {plan.header.roster_sha256[:12]}); nothing was "
            "changed. Pass the roster the plan was made from, or make a new plan"
        )


def check_plan(
    plan: ApprovedPlan,
    snapshot: Mapping[str, KnownUser],
    *,
    protect: Sequence[str],
    max_suspend: str,
) -> None:
    """Refused, listing every difference, unless Glance still shows each planned row's "before"
    values and the plan's sync suspensions stay within ``max_suspend`` and ``protect``."""
    found = differences(plan.actions, snapshot, protect, mode=plan.header.mode)
    leavers = plan.option.get("leavers") if plan.header.mode == "sync" else []
    guard = suspension_guard(plan.actions, snapshot, protect, max_suspend,
                             leavers={int(r) for r in leavers if isinstance(r, int)}
                             if isinstance(leavers, list) else set())
    if guard is not None:
        found.insert(0, guard)
    if found:
        raise Refused(
            f"the plan {plan.path} no longer matches Glance ({len(found)} "
            f"difference{'s' if len(found) != 1 else ''}); nothing was changed. "
            "Make a new plan with `bulk-provision plan` and approve it",
            details=found,
        )


def differences(
    actions: Sequence[Action], snapshot: Mapping[str, KnownUser], protect: Sequence[str],
    *, mode: str = "upsert",
) -> list[str]:
    """One line per planned row whose "before" Glance no longer shows.

    A create-mode plan never read Glance: its creates assume nothing, and a user Glance has is
    reported ``exists`` when the run sends it (DUPLICATE_ID changes nothing), as a plain
    ``run --mode create`` does; so an existing user is no difference there."""
    lines = []
    for action in actions:
        user = snapshot.get(action.key)
        if mode == "create" and action.kind is ActionKind.CREATE:
            continue
        problem = _difference(action, user, protect)
        if problem:
            where = "-" if action.row is None else action.row
            lines.append(f"row {where} {action.key}: planned {action.kind.value}, but {problem}")
    return lines


def _difference(action: Action, user: KnownUser | None, protect: Sequence[str]) -> str:
    kind = action.kind
    if kind is ActionKind.NONE:
        return ""
    if kind is ActionKind.SKIP:
        return "Glance now has this user (the plan skipped them as not in Glance)" if user else ""
    if kind is ActionKind.CREATE:
        return "Glance now has this user" if user is not None else ""
    if user is None:
        return "Glance no longer has this user"
    if kind is ActionKind.SUSPEND and user.suspended:
        return "the user is already suspended"
    if kind is ActionKind.SUSPEND and action.row is None and protected(action.key, user, protect):
        return "the user is protected (--protect, or the signed-in account)"
    if kind is ActionKind.REINSTATE and not user.suspended:
        return "the user is no longer suspended"
    current = _profile(user)
    for name, (before, _after) in action.changes.items():
        if name in current and not same_value(name, current[name], before):
            return f"{name} is now {current[name]!r}, the plan expected {before!r}"
    return ""


def _profile(user: KnownUser) -> dict[str, str]:
    values = (user.user_address, user.user_first, user.user_last, user.user_email,
              user.user_role)
    return dict(zip(PROFILE_FIELDS, values, strict=True))


def suspension_guard(
    actions: Sequence[Action], snapshot: Mapping[str, KnownUser], protect: Sequence[str],
    max_suspend: str, leavers: Collection[int] = (),
) -> str | None:
    """Why the plan's sync suspensions (and the recipe's leavers it suspends) exceed
    ``--max-suspend`` now, or None."""
    suspends = sum(1 for a in actions if a.kind is ActionKind.SUSPEND
                   and (a.row is None or a.row in leavers))
    if not suspends:
        return None
    verdict = guard(suspends, snapshot, protect, max_suspend)
    return None if verdict.allowed else verdict.exceeded("the plan suspends")


def _the(text: str) -> str:
    """A selection's text in a sentence: "first 3" reads "the first 3"."""
    return f"the {text}" if text.startswith("first ") else text
