"""Errors carry a hint kind; the command line and the page each word it their own way."""

from __future__ import annotations

import pytest

from bulk_provision.cli import hints as cli_hints
from bulk_provision.errors import Hint, RosterError, UsageError, Where
from bulk_provision.web import hints as page_hints


@pytest.mark.parametrize("hint", list(Hint))
def test_every_hint_has_words_on_both_front_ends(hint: Hint) -> None:
    assert hint in cli_hints.WORDS and hint in page_hints.WORDS


def test_the_command_line_names_its_option_and_the_page_does_not() -> None:
    error = RosterError("staff.xlsx, sheet 'Notes': the roster has no rows", hint=Hint.PICK_SHEET,
                        where=Where(file="staff.xlsx"))
    assert cli_hints.said(error) == (
        "staff.xlsx, sheet 'Notes': the roster has no rows; pick the sheet with --sheet")
    page = page_hints.said(error)
    assert page.startswith("staff.xlsx, sheet 'Notes': the roster has no rows; put the roster")
    assert "--" not in page


def test_an_error_without_a_hint_is_its_message() -> None:
    error = UsageError("--workers must be from 1 to 64")
    assert error.hint is None and error.where is None
    assert cli_hints.said(error) == page_hints.said(error) == "--workers must be from 1 to 64"


def test_a_journal_of_another_glance_is_said_in_hr_words_on_the_page(tmp_path: object) -> None:
    from pathlib import Path

    from bulk_provision.errors import CheckpointError
    from bulk_provision.journal.identity import check_same_run

    with pytest.raises(CheckpointError) as caught:
        check_same_run(Path("j.sqlite"), {"glance": "https://127.0.0.1:1 as demo",
                                          "roster_sha256": "ab"}, True, roster_sha256="ab",
                       mode="create", glance="https://127.0.0.1:2 as demo")
    assert "--fresh" in cli_hints.said(caught.value)
    page = page_hints.said(caught.value)
    assert page.startswith("This run was sent to another Glance than the one this server uses")
    assert "--" not in page and "checkpoint" not in page and "127.0.0.1" not in page
