"""The recipe draft job: read an export, decide what can be decided, write the draft.

``bulk-provision recipe EXPORT`` and the page's Columns step both start from :func:`draft_job`.
"""

from __future__ import annotations

from pathlib import Path

from bulk_provision.errors import UsageError
from bulk_provision.recipe.draft import RecipeDraft, render
from bulk_provision.roster.draft import draft_for
from bulk_provision.roster.read import Roster, read_roster


def draft_job(path: Path, *, sheet: str | None = None) -> tuple[Roster, RecipeDraft, str]:
    """The export at ``path``, the draft made from it, and the draft as recipe text."""
    roster = read_roster(path, sheet=sheet)
    draft = draft_for(roster)
    return roster, draft, render(draft, source=path.name)


def write_draft(out: Path, text: str, *, inputs: tuple[Path, ...] = ()) -> None:
    """Write a new recipe file; an existing file (a recipe someone edited, or the export
    itself) is never replaced."""
    if any(out.resolve() == p.resolve() for p in inputs):
        raise UsageError(f"--out {out} is the export itself: name the recipe "
                         f"{out.with_suffix('.recipe.toml').name}")
    if out.suffix.lower() != ".toml":
        raise UsageError(f"--out {out}: a recipe is a TOML file: name it .recipe.toml")
    try:
        with out.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except FileExistsError as exc:
        raise UsageError(f"{out} already exists: a recipe may hold someone's decisions, so it "
                         "is never replaced; choose another --out or delete it first") from exc
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from exc
