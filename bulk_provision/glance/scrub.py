"""Scrubbing secrets out of text a server sent back, in whatever spelling it echoes them.

A server may echo a password raw, form-encoded (``+`` for a space), percent-encoded (``%20``,
``%2f`` or ``%2F``, even twice: ``%2520``), HTML/XML-escaped (``&amp;``, ``&#60;``, ``&#x3C;``),
with its whitespace collapsed or changed, or decoded once more than it was sent (a password that
holds ``%20`` echoed with a space). Each secret becomes one pattern in which every character
matches any of those spellings, and runs of whitespace match any run of whitespace spellings; the
decoded forms of the secret are patterns too. Scrubbing runs before any other normalising of the
text, so no normalising step can turn a spelling the pattern misses into the secret.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from functools import lru_cache
from html.entities import codepoint2name
from urllib.parse import unquote, unquote_plus

MASK = "***"
_AMP = "&(?:amp;)*"
_SPACE_ENTITIES = r"(?:nbsp|#0*(?:32|9|10|13|160)|#x0*(?:20|9|a|d|a0))"
_SPACE_SPELLINGS = rf"(?:\s|\+|(?i:%(?:25)?(?:20|09|0a|0d)|{_AMP}{_SPACE_ENTITIES};))"


def _char(c: str) -> str:
    """A regex for one character of a secret in any spelling a server might echo."""
    spellings = [re.escape(c)]
    code = ord(c)
    hexes = "".join(f"%(?:25)?{byte:02x}" for byte in c.encode("utf-8"))
    spellings.append(f"(?i:{hexes})")
    names = [f"#0*{code}", f"#x0*{code:x}"]
    if code in codepoint2name:
        names.append(codepoint2name[code])
    if c == "'":
        names.append("apos")
    # an entity, possibly escaped again (&amp;lt;)
    spellings.append(f"(?i:{_AMP}(?:{'|'.join(names)});)")
    return "(?:" + "|".join(spellings) + ")"


def _pattern(secret: str) -> str:
    parts: list[str] = []
    for run in re.split(r"(\s+)", secret):
        if not run:
            continue
        if run.isspace():
            parts.append(_SPACE_SPELLINGS + "*")  # changed, collapsed or dropped
        else:
            parts.extend(_char(c) for c in run)
    return "".join(parts)


def _forms(secret: str) -> set[str]:
    """The secret and what it becomes decoded once more (percent, form or HTML decoding)."""
    forms = {secret, unquote(secret), unquote_plus(secret), html.unescape(secret)}
    return {f for f in forms if f.strip()}


@lru_cache(maxsize=64)
def _compiled(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    patterns = {_pattern(form) for secret in secrets for form in _forms(secret)}
    if not patterns:
        return None
    # Longest first: a secret that contains another is masked whole.
    return re.compile("|".join(sorted(patterns, key=len, reverse=True)))


def scrub(text: str, secrets: Collection[str]) -> str:
    """``text`` with every spelling of every secret replaced by ``***``."""
    wanted = tuple(sorted({s for s in secrets if s}))
    if not wanted or not text:
        return text
    if "%" not in text and "&" not in text:
        # No escape in the text: only the plain forms can be in it. Unless one holds
        # whitespace (which may have been changed), a plain replace finds them all, without
        # compiling a pattern per password (this runs for every NewUser's audio codes).
        forms = sorted({f for s in wanted for f in _forms(s)}, key=len, reverse=True)
        if not any(c.isspace() for form in forms for c in form):
            for form in forms:
                text = text.replace(form, MASK)
            return text
    pattern = _compiled(wanted)
    return text if pattern is None else pattern.sub(MASK, text)
