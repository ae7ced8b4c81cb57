"""Apply the schemas in ``schemas/`` to a roster and turn failures into Problems.

CONTRACT (stub; the implementation is in progress):

* ``validate_roster(roster, *, roles=None, schema=None) -> ValidationResult``
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One broken rule in one cell. ``value`` is already masked (``***``) for passwords."""

    row: int
    column: str
    value: str
    rule: str
    message: str


@dataclass
class ValidationResult:
    rows: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def invalid_rows(self) -> set[int]:
        return {p.row for p in self.problems}

    @property
    def ok(self) -> bool:
        return not self.problems
