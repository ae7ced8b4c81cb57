"""What the command line says a user can do about an error (``errors.Hint``), in its options.

The library raises an error with its message and a hint kind; :func:`said` is the line the
command line prints (and puts in ``--json``): the message, then these words.
"""

from __future__ import annotations

from bulk_provision.errors import BulkProvisionError, Hint, worded

# Each entry starts with the punctuation that joins it to the message.
WORDS: dict[Hint, str] = {
    Hint.PICK_SHEET: "; pick the sheet with --sheet",
    Hint.UNHIDE_SHEET: ": unhide the roster or use --sheet",
    Hint.NO_SHEETS: ", drop --sheet",
    Hint.MAP_HEADER: ". Rename the header or map it with --columns",
    Hint.MAP_IN_RECIPE: ". Name its header in the recipe's [columns] table, or build it under "
                        "[compute]",
    Hint.OTHER_GLANCE: "",  # the message already says how: the same Glance, or --fresh
}


def said(error: BulkProvisionError) -> str:
    """The error as the command line words it."""
    return worded(error, WORDS)
