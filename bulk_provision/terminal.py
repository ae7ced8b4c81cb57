"""Text bound for a terminal, made harmless (DESIGN.md section 11).

A roster cell, a header, a file name or a server's message may hold control characters: ESC starts
the sequences that clear the screen, retitle the window or rewrite what was printed before (CSI,
OSC), CR and BS overwrite a line, and bidirectional overrides reorder it. :func:`printable` shows
each such character as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``) so none of them reaches
the terminal; everything else, including any letter of any script, is printed as it is. The CLI
passes every line it prints that holds such text through it.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls (0x9b is a one-byte CSI), and the bidirectional overrides.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: object) -> str:
    """``str(text)`` with every control or reordering character shown as a visible escape."""
    line = str(text)
    if _UNSAFE.search(line) is None:
        return line
    return _UNSAFE.sub(_escape, line)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
