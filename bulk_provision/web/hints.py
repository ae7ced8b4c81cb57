"""What the page says an HR admin can do about an error (``errors.Hint``): in the spreadsheet
and on the page, never in command-line options."""

from __future__ import annotations

from bulk_provision.errors import BulkProvisionError, Hint, worded

# Each entry starts with the punctuation that joins it to the message.
WORDS: dict[Hint, str] = {
    Hint.PICK_SHEET: "; put the roster on the first sheet of the workbook (move that sheet to "
                     "the front), then upload it again",
    Hint.UNHIDE_SHEET: ": unhide the roster's sheet",
    Hint.NO_SHEETS: "",
    Hint.MAP_HEADER: ". Rename that column's header in the spreadsheet, then upload it again",
    Hint.OTHER_GLANCE: "",  # said instead of the message (INSTEAD)
    Hint.MAP_IN_RECIPE: ". Choose the column that holds it in the Columns step, then save the "
                        "recipe",
}


# Hints whose whole message the page says in its own words (the command line's names options).
INSTEAD: dict[Hint, str] = {
    Hint.OTHER_GLANCE: "This run was sent to another Glance than the one this server uses now "
                       "(the demo's built-in Glance starts empty each time the server starts), "
                       "so it cannot be finished here: nothing more was sent. Start a new run "
                       "from the roster's page",
}


def said(error: BulkProvisionError) -> str:
    """The error as the page words it."""
    if error.hint in INSTEAD:
        return INSTEAD[error.hint]
    return worded(error, WORDS)
