"""What an existing journal file says of the run it holds, before a new run decides whether to
resume it, start over or refuse (``plan/resume.start_over`` and the undo's own journal)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bulk_provision.errors import CheckpointError
from bulk_provision.journal.checkpoint import Checkpoint
from bulk_provision.journal.lifecycle import OPEN_STATES


@dataclass(frozen=True)
class PreviousRun:
    """A journal's meta (roster, mode, Glance, plan checksum...) and whether every row is final."""

    meta: Mapping[str, str]
    finished: bool


def previous_run(path: Path) -> PreviousRun | None:
    """The run journaled at ``path``, read without locking or changing it; None when there is
    no such file or it cannot be read (opening it for the new run then gives the clear message)."""
    if not path.is_file():
        return None
    try:
        with Checkpoint.read_only(path) as old:
            meta, states = old.meta(), old.state_counts()
    except CheckpointError:
        return None
    return PreviousRun(meta, not any(states[state] for state in OPEN_STATES))
