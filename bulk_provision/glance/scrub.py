"""Scrubbing secrets out of text a server sent back, in whatever spelling it echoes them.

A server may echo a password raw, form-encoded (``+`` for a space), percent-encoded (``%20``,
``%2f`` or ``%2F``, even twice: ``%2520``), HTML/XML-escaped (``&amp;``, ``&#60;``, ``&#x3C;``),
with its whitespace collapsed or changed, or decoded once more than it was sent (a password that
holds ``%20`` echoed with a space). Each secret becomes one pattern in which every character
matches any of those spellings, and runs of whitespace match any run of whitespace spellings; the
decoded forms of the secret are patterns too. Scrubbing runs before any other normalising of the
text, so no normalising step can turn a spelling the pattern misses into the secret.

Spellings cannot be listed exhaustively (a server's own code page: ``%EB`` or the mojibake
``Ã«`` for ``ë``, decomposed accents, a changed case, ``\u00eb`` or backslash escapes), so a
second pass compares *normalised* forms (see ``_normalised``): escapes decoded, case folded, every
run of non-ASCII characters one wildcard, whitespace one space. Any run of at least
``_fragment(n)`` consecutive units of a secret's n normalised units (half of it, at least 5) is
masked together with the rest of the word it stands in; no readable piece as long as half the
secret survives, whatever the spelling. Audio codes (data, not prose) ask for ``partial=False``:
only the whole normalised secret is masked there, so a code that shares a few digits with a
password is never lost.
"""

from __future__ import annotations

import html
import re
import sys
import unicodedata
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


def scrub(text: str, secrets: Collection[str], *, partial: bool = True) -> str:
    """``text`` with every spelling of every secret replaced by ``***`` (and, unless
    ``partial`` is False, every readable run of half a secret or more: see the module)."""
    wanted = tuple(sorted({s for s in secrets if s}))
    if not wanted or not text:
        return text
    return _mask_normalised(_scrub_spellings(text, wanted), wanted, partial)


def _scrub_spellings(text: str, wanted: tuple[str, ...]) -> str:
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


# --- the normalised pass -------------------------------------------------------------------------

_WILD = "?"
_ESCAPES = re.compile(
    r"(?P<pct>(?:%(?:25)*[0-9A-Fa-f]{2})+)"
    r"|(?P<ent>&(?:amp;)*(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)"
    r"|(?P<uni>(?:\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}|\\x[0-9A-Fa-f]{2})+)"
    r"|(?P<bs>\\[^\s])"
)
_MIN_FRAGMENT = 5


def _decode_escape(match: re.Match[str]) -> str:
    token = match.group(0)
    if match.lastgroup == "pct":
        raw = bytes(int(part[-2:], 16) for part in token.split("%")[1:])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")
    if match.lastgroup == "ent":
        return html.unescape(re.sub(r"^&(?:amp;)+", "&", token))
    if match.lastgroup == "uni":  # \u00eb, \U000000eb, \xeb: each a code point, if it is one
        return "".join(
            chr(code) if code <= sys.maxunicode else "\ufffd"
            for code in (int(part[1:], 16) for part in token.split("\\")[1:])
        )
    return token[1:]


def _unit(c: str) -> str:
    """What one character counts as: ASCII folded to lower case, whitespace (and ``+``, a
    form-encoded space) a space, anything else not ASCII after NFKC the wildcard."""
    if c.isspace() or c == "+":
        return " "
    if c.isascii():
        return c.lower()
    folded = unicodedata.normalize("NFKC", c).casefold()
    return "".join(f if f.isascii() else _WILD for f in folded) or _WILD


def _normalised(text: str, *, decode: bool) -> tuple[str, list[tuple[int, int]]]:
    """``text``'s units (see ``_unit``; runs of wildcards or spaces are one unit, combining
    marks turn the letter they follow into the wildcard, format characters such as zero-width
    spaces are ignored), and for each unit the span of ``text`` it stands for."""
    units: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    while position < len(text):
        match = _ESCAPES.match(text, position) if decode else None
        end = match.end() if match else position + 1
        chars = _decode_escape(match) if match else text[position]
        for c in chars:
            category = unicodedata.category(c)
            if category == "Cf":
                continue
            if category.startswith("M") and units:
                units[-1], spans[-1] = _WILD, (spans[-1][0], end)
                continue
            for unit in _unit(c):
                if units and unit == units[-1] and unit in (_WILD, " "):
                    spans[-1] = (spans[-1][0], end)
                else:
                    units.append(unit)
                    spans.append((position, end))
        position = end
    return "".join(units), spans


def _fragment(length: int) -> int:
    return max(_MIN_FRAGMENT, -(-length // 2))


@lru_cache(maxsize=256)
def _pieces(secret: str, partial: bool) -> frozenset[str]:
    """The normalised runs of ``secret`` that are never left readable (cached per secret: the
    partner's are the same for every call, a row's UserPW for the answers of its call)."""
    pieces: set[str] = set()
    for form in _forms(secret):
        units = _normalised(form, decode=False)[0].strip()
        if len(units) < _MIN_FRAGMENT:
            continue  # mostly non-ASCII: clean_text blanks all of that anyway
        size = _fragment(len(units)) if partial else len(units)
        for start in range(len(units) - size + 1):
            piece = units[start : start + size]
            if piece.strip(_WILD + " "):
                pieces.add(piece)
    return frozenset(pieces)


_QUICK_SPACES = re.compile(r"[\s+]+")


def _mask_normalised(text: str, wanted: tuple[str, ...], partial: bool) -> str:
    pieces = frozenset().union(*(_pieces(secret, partial) for secret in wanted))
    if not pieces:
        return text
    if text.isascii() and not any(c in text for c in "%&\\"):
        # The usual case, quickly: for such text the units are its lower case with runs of
        # spaces as one; the spans are only worked out when a piece is there.
        quick = _QUICK_SPACES.sub(" ", text.lower())
        if not any(piece in quick for piece in pieces):
            return text
    units, spans = _normalised(text, decode=True)
    hits: list[tuple[int, int]] = []
    for piece in pieces:
        found = units.find(piece)
        while found >= 0:
            hits.append((spans[found][0], spans[found + len(piece) - 1][1]))
            found = units.find(piece, found + 1)
    if not hits:
        return text
    return _mask_words(text, hits)


def _mask_words(text: str, hits: list[tuple[int, int]]) -> str:
    """``text`` with each hit, widened to the whole word it is in, replaced by one mask."""
    widened = []
    for start, end in hits:
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        widened.append((start, end))
    out: list[str] = []
    done = 0
    for start, end in sorted(widened):
        if start < done:  # overlaps the mask before it: one mask
            done = max(done, end)
            continue
        out += [text[done:start], MASK]
        done = end
    out.append(text[done:])
    return "".join(out)
