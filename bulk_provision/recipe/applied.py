"""What applying a recipe to an export did: the fields it built, the leavers, its problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from bulk_provision.recipe.file import Recipe


@dataclass(frozen=True)
class RecipeProblem:
    """A row the recipe could not translate (a status or lookup value it does not know)."""

    row: int
    column: str  # the frame column, as the roster names it
    value: str
    rule: str
    message: str


@dataclass(frozen=True)
class Derivation:
    """How the recipe built a frame column: ``how`` for a person, from ``inputs`` (frame
    columns)."""

    how: str
    inputs: tuple[str, ...] = ()
    computed: bool = False  # a [compute] template (not a lookup or the status)


@dataclass
class Applied:
    recipe: Recipe
    problems: list[RecipeProblem] = field(default_factory=list)
    derived: dict[str, Derivation] = field(default_factory=dict)
    leavers: frozenset[int] = frozenset()
    unused: list[str] = field(default_factory=list)  # the export's headers nothing uses

    @property
    def has_status(self) -> bool:
        return self.recipe.status is not None

    @property
    def notes(self) -> list[str]:
        """File-level warnings, one line each, for every front end."""
        return [f'"{header}" is not used: map it or list it under [ignore]'
                for header in self.unused]
