"""The suspension guard (DESIGN.md section 5): how many users a plan may take away at most.

One rule for sync's plan, an approved plan carried out later (``run --plan``) and an undo: the
base is the active users Glance lists that could be suspended (protected ones, the signed-in
account among them, do not count), and ``--max-suspend`` (a count, or a percentage of that base)
is the most that may be suspended or deleted. Each caller words the refusal for its own case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bulk_provision.plan.actions import KnownUser, protected
from bulk_provision.settings.spec import suspend_limit


@dataclass(frozen=True)
class GuardVerdict:
    """``removals`` of ``active`` active users, against the ``limit`` ``max_suspend`` gives."""

    removals: int
    active: int
    limit: int
    max_suspend: str

    @property
    def allowed(self) -> bool:
        return self.removals <= self.limit

    def exceeded(self, what: str) -> str:
        """``what`` (e.g. "sync would suspend") with the counts, for a refusal."""
        return (f"{what} {self.removals} of {self.active} active users, more than "
                f"--max-suspend {self.max_suspend} allows ({self.limit})")


def active_base(snapshot: Mapping[str, KnownUser], protect: Sequence[str]) -> int:
    """The active users the guard counts from: not suspended, not protected."""
    return sum(1 for key, user in snapshot.items()
               if not user.suspended and not protected(key, user, protect))


def guard(
    removals: int, snapshot: Mapping[str, KnownUser], protect: Sequence[str], max_suspend: str,
) -> GuardVerdict:
    """The verdict on taking ``removals`` users away from ``snapshot``'s active ones."""
    active = active_base(snapshot, protect)
    return GuardVerdict(removals, active, suspend_limit(max_suspend, active), str(max_suspend))
