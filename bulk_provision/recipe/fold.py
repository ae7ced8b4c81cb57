"""Accent folding for the ``ascii`` filter: ``Müller`` -> ``Muller``, ``Łukasz`` -> ``Lukasz``.

Two steps, both from the standard library plus one small table, no third-party transliterator:

1. :data:`LETTERS`, a table of the Latin letters that Unicode does not decompose into a base
   letter and an accent (``ß``, ``Ø``, ``Ł``, ``ı``, ``æ``, ``Þ``...), written as the ASCII that
   people in those languages write when they cannot type the letter;
2. NFKD (``unicodedata``) splits the rest into a base letter and combining marks (``ü`` -> ``u``
   + diaeresis, ``Š`` -> ``S`` + caron, ``ﬁ`` -> ``fi``), and the marks are dropped.

Whatever is still not ASCII after that (Cyrillic, Greek, CJK, emoji) is dropped: an address can
only hold ASCII, and a template that leaves nothing is reported per row (empty UserAddress).
"""

from __future__ import annotations

import re
import unicodedata

LETTERS = {
    "ß": "ss", "ẞ": "SS",
    "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe",
    "Ø": "O", "ø": "o", "Ł": "L", "ł": "l",
    "Đ": "D", "đ": "d", "Ð": "D", "ð": "d",
    "Þ": "Th", "þ": "th", "Ħ": "H", "ħ": "h",
    "ı": "i", "ĸ": "k", "Ŋ": "N", "ŋ": "n", "Ŧ": "T", "ŧ": "t", "ſ": "s",
    "Ŀ": "L", "ŀ": "l",  # Catalan middle dot: NFKD keeps the dot as a letter of its own
}
_SPECIAL = re.compile("[" + "".join(LETTERS) + "]")


def _spell(found: re.Match[str]) -> str:
    return LETTERS[found.group()]


def fold(text: str) -> str:
    """``text`` in plain ASCII: accents dropped, special letters spelled out, the rest dropped."""
    if text.isascii():
        return text
    # only the special letters cost a call: a whole column of names is one scan in C
    spelled = unicodedata.normalize("NFKD", _SPECIAL.sub(_spell, text))
    return spelled.encode("ascii", "ignore").decode("ascii")  # marks are never ASCII
