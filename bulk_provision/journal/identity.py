"""Whether a journal on disk belongs to the run reopening it: same Glance, roster, recipe, mode
and wave."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bulk_provision.errors import CheckpointError, Hint


def check_same_run(
    path: Path, stored: Mapping[str, str], has_plan: bool, *, roster_sha256: str, mode: str,
    glance: str, recipe: str = "",
) -> None:
    """Refuse to reopen a journal made for another Glance, roster, recipe or mode
    (CheckpointError, saying how to finish it or start over)."""
    old_glance = stored.get("glance", "")
    if old_glance and glance and old_glance != glance and has_plan:
        raise CheckpointError(
            f"checkpoint {path} holds a run against {old_glance}, not {glance}: its "
            "outcomes say nothing about this Glance. Finish it against the Glance it was "
            "made for, or use --fresh (or another --checkpoint) to start over",
            hint=Hint.OTHER_GLANCE,
        )
    old_sha = stored.get("roster_sha256", "")
    if old_sha != roster_sha256:
        raise CheckpointError(
            f"checkpoint {path} was made for a different roster "
            f"({stored.get('roster_path', '?')}, SHA-256 {old_sha[:12]}). "
            "Use --fresh to start over, or pass the original roster"
        )
    old_recipe = stored.get("recipe_sha256", "")
    if has_plan and old_recipe != recipe:
        said = (f"the recipe with SHA-256 {old_recipe[:12]}" if old_recipe
                else "no recipe")
        raise CheckpointError(
            f"checkpoint {path} holds a run made with {said}, and this run reads the "
            "roster " + ("with another recipe" if recipe else "without one") + ": the "
            "same rows may mean other people. Finish it with the recipe it was made with, "
            "or use --fresh (or another --checkpoint) to start over"
        )
    old_mode = stored.get("mode", "")
    if has_plan and old_mode != mode:
        raise CheckpointError(
            f"checkpoint {path} holds a --mode {old_mode} run. "
            f"Re-run with --mode {old_mode} to finish it, or use --fresh to start over"
        )


def check_same_wave(path: Path, old: str, selection: str, has_plan: bool) -> None:
    """A wave's journal is that wave's alone: another selection never resumes it."""
    if has_plan and old != selection:
        raise CheckpointError(
            f"checkpoint {path} holds an unfinished run of {_wave(old)}, and this run "
            f"takes {_wave(selection)}: finish that one first (the same --rows, --where and "
            "--first), or use --fresh (or another --checkpoint) to start over")


def _wave(selection: str) -> str:
    return f"the wave {selection}" if selection else "the whole roster"
