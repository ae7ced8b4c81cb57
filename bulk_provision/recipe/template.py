"""The recipe's template language: text with ``{field|filter|...}`` holes. Nothing else.

``"{UserFirst|ascii|lower}.{UserLast|ascii|lower}.acme.glance.net"`` is parsed once into a
:class:`Template`: literal pieces and :class:`Hole` s, each naming a field and the filters to
apply left to right. The language is closed on purpose (DESIGN.md section 12): a hole holds a
name and filter names, never an expression; nothing is evaluated (no ``eval``, no
``str.format``, no attribute or index access, no environment, no files). ``{{`` and ``}}`` write
a literal brace. Anything else is a :class:`TemplateError` saying what and where.

Filters work on one text value (:data:`FILTERS`); ``recipe.apply`` applies them to each distinct
value of a column once, so a 100,000-row export costs its distinct names, not its rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bulk_provision.recipe.fold import fold

MAX_TEMPLATE = 1000  # characters: an address is at most 255; a template ten times that is a typo
MAX_HOLES = 20
MAX_FILTERS = 10  # per hole: ``ascii|lower`` is typical; more than ten is not a recipe


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _NOT_SLUG.sub(".", fold(text).lower()).strip(".")


def _local(text: str) -> str:
    return text.split("@", 1)[0]


FILTERS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "trim": str.strip,
    "ascii": fold,
    "slug": _slug,
    "local": _local,
    "initial": lambda text: text.strip()[:1],
    "digits": lambda text: "".join(c for c in text if "0" <= c <= "9"),
}
FILTER_HELP = {
    "lower": "lower case",
    "upper": "upper case",
    "trim": "spaces removed at both ends",
    "ascii": "accents folded (Müller -> Muller, Łukasz -> Lukasz)",
    "slug": "ascii, lower case, anything outside a-z and 0-9 becomes one dot",
    "local": "an e-mail's part before the @",
    "initial": "the first letter",
    "digits": "only the digits 0-9",
}


class TemplateError(ValueError):
    """A template that cannot be parsed; the message says what, for a person."""


@dataclass(frozen=True)
class Hole:
    """``{field|filter|...}``: the field's value with ``filters`` applied left to right."""

    field: str
    filters: tuple[str, ...] = ()

    def apply(self, value: str) -> str:
        for name in self.filters:
            value = FILTERS[name](value)
        return value

    def __str__(self) -> str:
        return "{" + "|".join((self.field, *self.filters)) + "}"


@dataclass(frozen=True)
class Template:
    """A parsed template: ``parts`` alternate literal text and holes, in order."""

    text: str
    parts: tuple[str | Hole, ...]

    @property
    def holes(self) -> tuple[Hole, ...]:
        return tuple(p for p in self.parts if isinstance(p, Hole))

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the template reads, each once, in order."""
        return tuple(dict.fromkeys(h.field for h in self.holes))

    def render(self, values: dict[str, str]) -> str:
        """The text for one row; ``values`` maps every field in :attr:`fields` to its cell."""
        return "".join(p if isinstance(p, str) else p.apply(values[p.field]) for p in self.parts)


_NAME = re.compile(r"[^{}|]+")


def parse(text: str) -> Template:
    """Parse ``text`` (a template) or raise :class:`TemplateError`."""
    if not isinstance(text, str):
        raise TemplateError("must be text in quotes")
    if len(text) > MAX_TEMPLATE:
        raise TemplateError(f"is {len(text):,} characters long; at most {MAX_TEMPLATE:,}")
    parts: list[str | Hole] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if text.startswith("{{", position) or text.startswith("}}", position):
            literal.append(char)
            position += 2
        elif char == "}":
            raise TemplateError(f"has a }} without its {{ (character {position + 1}); "
                                "write }} for a brace")
        elif char == "{":
            end = text.find("}", position + 1)
            if end < 0:
                raise TemplateError(f"has a {{ that is never closed (character {position + 1})")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_hole(text[position + 1 : end], position))
            if sum(isinstance(p, Hole) for p in parts) > MAX_HOLES:
                raise TemplateError(f"has more than {MAX_HOLES} {{fields}}")
            position = end + 1
        else:
            literal.append(char)
            position += 1
    if literal:
        parts.append("".join(literal))
    if not any(isinstance(p, Hole) for p in parts):
        raise TemplateError("has no {field}: every row would get the same value")
    return Template(text, tuple(parts))


def _hole(inside: str, position: int) -> Hole:
    if "{" in inside:
        raise TemplateError(f"has a {{ inside a {{field}} (character {position + 1})")
    name, *filters = (piece.strip() for piece in inside.split("|"))
    if not name or not _NAME.fullmatch(name):
        raise TemplateError(f"has an empty {{}} (character {position + 1}): name a field")
    if len(filters) > MAX_FILTERS:
        raise TemplateError(f"applies {len(filters):,} filters to {{{name}}}; at most "
                            f"{MAX_FILTERS}")
    for filter_name in filters:
        if filter_name not in FILTERS:
            shown = filter_name[:40] or "(empty)"
            raise TemplateError(f"uses the unknown filter {shown!r} in {{{name[:60]}}}; "
                                f"the filters are {', '.join(FILTERS)}")
    return Hole(name, tuple(filters))


# -- a whole column at once ------------------------------------------------------------------
SEPARATOR = "\x00"  # between cells while a column is filtered as one text (never in a cell)
_SLUG_RUNS = re.compile(r"[^a-z0-9\x00]+")
_DOTS_AT_SEPARATOR = re.compile(r"\.*\x00\.*")
_NOT_DIGITS = re.compile(r"[^0-9\x00]+")
_AFTER_AT = re.compile(r"@[^\x00]*")
_INITIAL = re.compile(r"(?:^|(?<=\x00))\s*([^\x00]?)[^\x00]*")
_TRIM = re.compile(r"(?:^|(?<=\x00))\s+|\s+(?=\x00|$)")
_WHOLE: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "ascii": fold,
    "slug": lambda text: _DOTS_AT_SEPARATOR.sub(
        SEPARATOR, _SLUG_RUNS.sub(".", fold(text).lower())).strip("."),
    "digits": lambda text: _NOT_DIGITS.sub("", text),
    "local": lambda text: _AFTER_AT.sub("", text),
    "initial": lambda text: _INITIAL.sub(r"\1", text),
    "trim": lambda text: _TRIM.sub("", text),
}


def apply_all(hole: Hole, values: list[str]) -> list[str]:
    """``hole``'s filters applied to every value, as :meth:`Hole.apply` does one by one, but
    on the column joined into one text: each filter then runs once, in C, however many rows
    there are. Values holding the separator (a NUL from a hostile file) go one by one."""
    if not hole.filters or not values:
        return list(values)
    text = SEPARATOR.join(values)
    if text.count(SEPARATOR) != len(values) - 1:
        return [hole.apply(v) for v in values]
    for name in hole.filters:
        text = _WHOLE[name](text)
    out = text.split(SEPARATOR)
    if len(out) != len(values):  # a filter must never merge or split cells: be sure
        return [hole.apply(v) for v in values]
    return out
