"""Property: any text in a name or an unknown column survives roster -> Glance -> results workbook.

``test_roster_properties.py`` proves the reader keeps any text; this file follows the same text
through the whole ``bulk-provision run``: the CSV or xlsx roster, the NewUser request (the
simulator's stored user), ShowUsers read back by the client (the wire format both ways, against a
server that does not share ``wire.py``), and the results workbook read back with openpyxl as a
text cell (data type ``s``), never a formula and with nothing added.

What the strategy leaves out, on purpose:

* leading and trailing whitespace (and the invisible characters the reader trims): trimmed by
  design (DESIGN.md section 4), so the text is generated already trimmed and non-empty;
* characters XML 1.0 cannot carry (C0 controls other than tab, newline and carriage return,
  surrogates, U+FFFE and U+FFFF): no workbook can hold them, the writer shows them as U+FFFD;
* control characters a roster may not hold (DESIGN.md section 11): DEL and C1 anywhere, line
  breaks in names (they stay allowed in the unknown Notes column); validation refuses them;
* more than 40 characters: UserFirst and UserLast are limited to 49 by Glance;
The results workbook is read back twice: with openpyxl (the value and its data type ``s``) and with
python-calamine, which decodes cells the way Excel shows them.
"""

from __future__ import annotations

import csv
import itertools
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from bulk_provision.cli import main
from bulk_provision.glance import Credentials, GlanceClient
from bulk_provision.roster.read import _TRIM
from bulk_provision.simulator import Simulator
from tests.conftest import user_by_id

pytestmark = pytest.mark.timeout(120)

OOXML_ESCAPE = re.compile("_x[0-9A-Fa-f]{4}_")
_NOT_IN_ANY_CELL = "".join(chr(c) for c in [*range(32), *range(0x7F, 0xA0)] if chr(c) not in "\t\n")
_XML_SAFE = st.characters(
    blacklist_categories=("Cs",), blacklist_characters=_NOT_IN_ANY_CELL + "\ufffe\uffff"
)
_NAME_SAFE = st.characters(
    blacklist_categories=("Cs",), blacklist_characters=_NOT_IN_ANY_CELL + "\n\ufffe\uffff"
)
_PIECES = [
    "=", "+", "-", "@", '"', "'", ",", ";", "\t", "0", "00123", " ", "\u00a0",
    "=SUM(A1:A2)", "=HYPERLINK(\"http://x\",\"y\")", "_x0041_", "_x000D_", "NaN", "TRUE",
    "1E5", "-1",
    "מרים", "محمد", "李小龍", "Zoë", "👩🏽\u200d💻", "🙂", "\u202e",
]
_LINE_BREAKS = ["\n", "\r\n", "\r"]


def _text(pieces: list[str], alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # Pieces glued together, so formula signs and zeros also come first, quotes sit mid-cell...
    return (
        st.lists(st.sampled_from(pieces) | st.text(alphabet=alphabet, min_size=1, max_size=8),
                 min_size=1, max_size=6)
        .map(lambda parts: "".join(parts).strip(_TRIM)[:40].strip(_TRIM))
        .filter(bool)
    )


NAME = _text(_PIECES, _NAME_SAFE)
TEXT = _text(_PIECES + _LINE_BREAKS, _XML_SAFE)
CELLS = st.tuples(NAME, NAME, TEXT)  # UserFirst, UserLast, Notes (a column Glance never sees)
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER = ["PartnerUserID", "UserAddress", "UserFirst", "UserLast", "Notes"]
KEYS = itertools.count(1)  # a new PartnerUserID for every example: one simulator serves them all


@pytest.fixture
def glance(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Simulator]:
    for key in ("GLANCE_API_KEY", "GLANCE_PARTNER_ID", "GLANCE_PARTNER_USER_ID",
                "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GLANCE_BASE_URL", simulator.base_url)
    monkeypatch.setenv("GLANCE_CA_BUNDLE", str(simulator.ca_bundle))
    monkeypatch.setenv("GLANCE_PARTNER_LOGIN", simulator.config.partner_login)
    monkeypatch.setenv("GLANCE_PARTNER_PW", simulator.config.partner_pw)
    monkeypatch.chdir(tmp_path)  # no stray bulk-provision.toml
    yield simulator


def write_csv(path: Path, row: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerow(row)


def write_xlsx(path: Path, row: list[str]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for column, value in enumerate(HEADER, start=1):
        sheet.cell(1, column, value)
    for column, value in enumerate(row, start=1):
        # openpyxl escapes neither "_xHHHH_" (OOXML reads it as one character) nor a carriage
        # return (XML reads a bare CR as LF): do both the OOXML way here.
        escaped = OOXML_ESCAPE.sub(lambda m: "_x005F" + m.group(), value).replace("\r", "_x000D_")
        cell = sheet.cell(2, column, escaped)
        cell.data_type = "s"  # "=SUM(...)" stays the text it is, as a user typing '=... would
    book.save(path)
    book.close()


def provision_one(simulator: Simulator, cells: tuple[str, str, str],
                  write: Callable[[Path, list[str]], None], suffix: str) -> None:
    """Run one roster row through ``bulk-provision run``; check Glance and the workbook."""
    first, last, notes = cells
    key = f"P{next(KEYS):06d}"
    with tempfile.TemporaryDirectory() as folder:
        roster = Path(folder) / f"roster{suffix}"
        write(roster, [key, f"{key.lower()}.demo.glance.net", first, last, notes])
        out = Path(folder) / "results.xlsx"
        assert main(["run", str(roster), "--rate", "0", "--quiet", "--out", str(out)]) == 0
        book = openpyxl.load_workbook(out)
        try:
            sheet = book["Results"]
            header = [c.value for c in sheet[1]]
            cells_out = {h: sheet.cell(2, i + 1) for i, h in enumerate(header)}
        finally:
            book.close()
        shown = dict(zip(header, CalamineWorkbook.from_path(str(out))
                         .get_sheet_by_name("Results").to_python()[1], strict=True))
    stored = simulator.users()[key]
    assert (stored.user_first, stored.user_last) == (first, last)
    assert cells_out["PartnerUserID"].value == key
    for column, text in (("UserFirst", first), ("UserLast", last), ("Notes", notes)):
        assert shown[column] == text, column  # as Excel shows it
        assert cells_out[column].data_type == "s", column
        if not OOXML_ESCAPE.search(text):  # openpyxl does not decode _xHHHH_ in inline strings
            assert cells_out[column].value == text, column
    assert cells_out["Outcome"].value == "created"


@SETTINGS
@given(cells=CELLS)
@example(cells=("=1+2", "+33 6 12", "@SUM(A1)"))
@example(cells=("00123", "-2+3", '"quoted", and; more'))
@example(cells=("tab\tinside", "two\t\ttabs", "line one\nline two\r\ncrlf\rcr"))
@example(cells=("_x0041_", "_x000D_", "a_x005F_b"))
def test_any_text_survives_a_csv_run(glance: Simulator, cells: tuple[str, str, str]) -> None:
    provision_one(glance, cells, write_csv, ".csv")


@SETTINGS
@given(cells=CELLS)
@example(cells=("=1+2", "+33 6 12", "@SUM(A1)"))
@example(cells=("tab\tinside", "two\t\ttabs", "line one\nline two\r\ncrlf\rcr"))
@example(cells=("_x0041_", "_x000D_", "a_x005F_b"))
def test_any_text_survives_an_xlsx_run(glance: Simulator, cells: tuple[str, str, str]) -> None:
    provision_one(glance, cells, write_xlsx, ".xlsx")


@SETTINGS
@given(cells=CELLS)
@example(cells=("a < b & c > d", "]]>", "<![CDATA[x]]>"))
@example(cells=("carriage\rreturn", "crlf\r\ninside", "tab\tinside"))
def test_names_survive_the_wire_both_ways(glance: Simulator, cells: tuple[str, str, str]) -> None:
    """NewUser built by the client, stored by the simulator, ShowUsers parsed by the client."""
    first, last, _ = cells
    key = f"W{next(KEYS):06d}"
    credentials = Credentials(glance.config.partner_login, partner_pw=glance.config.partner_pw)
    with GlanceClient(glance.base_url, credentials, ca_bundle=glance.ca_bundle) as client:
        client.new_user({"PartnerUserID": key, "UserAddress": f"{key.lower()}.demo.glance.net",
                         "UserFirst": first, "UserLast": last})
        found = user_by_id(client, key)
    stored = glance.users()[key]
    assert (stored.user_first, stored.user_last) == (first, last)
    assert found is not None
    assert (found.user_first, found.user_last) == (first, last)
