"""Hostile inputs: what reading and validating each costs, beside an honest roster (issue 22).

    .venv/bin/python bench/hostile_inputs.py [--only NAME] [--keep DIR]

Each shape is written to a temporary folder, then ``bulk-provision validate FILE`` runs on it in
a fresh process; the bench prints the exit code, the first line the tool printed, the wall time
over the start-up of a process that validates a five-row roster, and the process's peak RSS
(``os.wait4``). Targets (DESIGN.md section 11, docs/operations.md "What an input may cost"):
every hostile file refused or read within 2 s over start-up and 200 MB peak, with exit 2 or
a normal validation report, never a crash. The honest 100,000-row roster is shown for scale, not
held to the 200 MB target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

TARGET_S = 2.0
TARGET_MB = 200.0
HEADER = "PartnerUserID,UserAddress,UserPW,FirstName,LastName,EmailAddress"
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def _row(i: int) -> str:
    return f"{i:06d},user{i}.acme.glance.net,Welcome-2026!{i:06d},Ana,Lee{i},a{i}@example.com"


def _csv(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _cells(row: int, values: list[str]) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{row}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{row}">{cells}</row>'


def _roster_rows(count: int) -> str:
    rows = [_cells(1, HEADER.split(","))]
    rows += [_cells(i + 2, _row(i + 1).split(",")) for i in range(count)]
    return "".join(rows)


def _xlsx(
    path: Path,
    sheets: list[str],
    *,
    shared: list[str] | None = None,
    styles: str | None = None,
) -> None:
    """A minimal workbook: each item of ``sheets`` is the inner XML of a <sheetData>."""
    entries = "".join(
        f'<sheet name="Sheet{i + 1}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
        for i in range(len(sheets))
    )
    rels = "".join(
        f'<Relationship Id="rId{i + 1}" Target="worksheets/sheet{i + 1}.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
        for i in range(len(sheets))
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(len(sheets))
    )
    extra_rels = ""
    if shared is not None:
        extra_rels += (
            '<Relationship Id="rIdS" Target="sharedStrings.xml" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
        )
        overrides += (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        )
    if styles is not None:
        extra_rels += (
            '<Relationship Id="rIdT" Target="styles.xml" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/styles"/>'
        )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{overrides}</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http:'
            '//schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {_NS} {_R_NS}><sheets>{entries}'
            "</sheets></workbook>",
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            f'openxmlformats.org/package/2006/relationships">{rels}{extra_rels}</Relationships>',
        )
        for i, data in enumerate(sheets):
            archive.writestr(
                f"xl/worksheets/sheet{i + 1}.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}><sheetData>{data}'
                "</sheetData></worksheet>",
            )
        if shared is not None:
            items = "".join(f"<si><t>{s}</t></si>" for s in shared)
            archive.writestr(
                "xl/sharedStrings.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS} count="{len(shared)}" '
                f'uniqueCount="{len(shared)}">{items}</sst>',
            )
        if styles is not None:
            archive.writestr("xl/styles.xml", styles)


# --- the shapes --------------------------------------------------------------------------------


def honest_small(path: Path) -> Path:
    target = path / "five.csv"
    _csv(target, "\n".join([HEADER, *(_row(i) for i in range(1, 6))]) + "\n")
    return target


def honest_100k(path: Path) -> Path:
    target = path / "honest-100k.csv"
    _csv(target, "\n".join([HEADER, *(_row(i) for i in range(1, 100_001))]) + "\n")
    return target


def xlsx_last_cell(path: Path) -> Path:
    target = path / "stray-XFD1048576.xlsx"
    stray = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    _xlsx(target, [_roster_rows(1) + stray])
    return target


def xlsx_far_cell(path: Path) -> Path:
    target = path / "stray-XFD30000.xlsx"
    stray = '<row r="30000"><c r="XFD30000" t="inlineStr"><is><t>x</t></is></c></row>'
    _xlsx(target, [_roster_rows(1) + stray])
    return target


def csv_trailing_commas(path: Path) -> Path:
    target = path / "header-60000-commas.csv"
    _csv(target, "\n".join([HEADER + "," * 60_000, *(_row(i) for i in range(1, 4001))]) + "\n")
    return target


def csv_wide_row(path: Path) -> Path:
    target = path / "row-60000-fields.csv"
    rows = [_row(i) for i in range(1, 4001)]
    rows[1999] += ",x" * 60_000
    _csv(target, "\n".join([HEADER, *rows]) + "\n")
    return target


def csv_huge_values(path: Path) -> Path:
    target = path / "two-8M-char-ids.csv"
    huge = "\ufdfa" * 8_000_000
    _csv(target, f"{HEADER}\n{huge},a.acme.glance.net,Welcome-2026!1,A,B,a@example.com\n"
         f"{huge},b.acme.glance.net,Welcome-2026!2,A,B,b@example.com\n")
    return target


def csv_one_line(path: Path) -> Path:
    target = path / "one-40MB-line.csv"
    target.write_bytes(b"a," * 20_000_000)
    return target


def csv_one_field(path: Path) -> Path:
    target = path / "one-40MB-field.csv"
    target.write_bytes(HEADER.encode() + b"\n" + b"x" * 40_000_000 + b"\n")
    return target


def csv_blank_lines(path: Path) -> Path:
    target = path / "40M-blank-lines.csv"
    target.write_bytes(HEADER.encode() + b"\n" + _row(1).encode() + b"\n" + b"\n" * 40_000_000)
    return target


def csv_blank_then_data(path: Path) -> Path:
    target = path / "20M-blank-lines-then-data.csv"
    target.write_bytes(b"\n" * 20_000_000 + HEADER.encode() + b"\n" + _row(1).encode() + b"\n")
    return target


def csv_comma_lines(path: Path) -> Path:
    target = path / "8M-comma-lines.csv"
    target.write_bytes(
        HEADER.encode() + b"\n" + _row(1).encode() + b"\n" + b",,,,,\n" * 8_000_000
    )
    return target


def _shared_text_book(target: Path, text: str, cells: int) -> Path:
    """A roster whose column F names one shared string ``text`` in ``cells`` rows."""
    rows = [_cells(1, HEADER.split(","))]
    for i in range(2, cells + 2):
        rows.append(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c><c r="F{i}" t="s"><v>0</v></c></row>')
    _xlsx(target, ["".join(rows)], shared=[text])
    return target


def xlsx_shared_string(path: Path) -> Path:
    """One 40 MB shared string referenced by 5,000 cells: calamine copies it into each."""
    return _shared_text_book(path / "huge-shared-string.xlsx", "y" * 40_000_000, 5_000)


def xlsx_repeated_text(path: Path) -> Path:
    """A 30,000-character shared string (a cell can hold it) named by 20,000 cells: 600 MB."""
    return _shared_text_book(path / "repeated-long-text.xlsx", "y" * 30_000, 20_000)


def xlsx_many_sheets(path: Path) -> Path:
    """Twelve sheets of 60 MB each (highly compressible): every one would be inflated."""
    target = path / "many-sheets.xlsx"
    filler = "<row/>" * 10_000_000
    _xlsx(target, [_roster_rows(5)] + [filler] * 11)
    return target


def xlsx_deep_styles(path: Path) -> Path:
    target = path / "deep-styles.xlsx"
    depth = 2_000_000
    styles = (
        f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {_NS}><numFmts count="1">'
        '<numFmt numFmtId="164" formatCode="000000"/></numFmts>'
        + "<x>" * depth + "</x>" * depth + "</styleSheet>"
    )
    _xlsx(target, [_roster_rows(5)], styles=styles)
    return target


def xlsx_formula_only(path: Path) -> Path:
    target = path / "formulas-only.xlsx"
    rows = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{chr(65 + c)}{r}"><f>RAND()</f></c>' for c in range(6))
        + "</row>"
        for r in range(1, 50_001)
    )
    _xlsx(target, [rows])
    return target


SHAPES: dict[str, Callable[[Path], Path]] = {
    "honest-100k": honest_100k,
    "xlsx-XFD1048576": xlsx_last_cell,
    "xlsx-XFD30000": xlsx_far_cell,
    "csv-60000-commas": csv_trailing_commas,
    "csv-wide-row": csv_wide_row,
    "csv-8M-char-ids": csv_huge_values,
    "csv-one-40MB-line": csv_one_line,
    "csv-one-40MB-field": csv_one_field,
    "csv-40M-blank-lines": csv_blank_lines,
    "csv-blank-then-data": csv_blank_then_data,
    "csv-8M-comma-lines": csv_comma_lines,
    "xlsx-shared-string": xlsx_shared_string,
    "xlsx-repeated-text": xlsx_repeated_text,
    "xlsx-many-sheets": xlsx_many_sheets,
    "xlsx-deep-styles": xlsx_deep_styles,
    "xlsx-formula-only": xlsx_formula_only,
}


def measure(roster: Path) -> tuple[int, str, float, float]:
    """(exit code, first line printed, seconds, peak RSS MB) of one validate in a fresh process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bulk_provision", "validate", str(roster)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert process.stdout is not None
    output = process.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    lines = [line for line in output.splitlines() if line.strip()]
    first = next((line for line in lines if "rror" in line or "roblem" in line), lines[0] if lines
                 else "")
    return process.returncode, first.strip()[:110], seconds, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(SHAPES))
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args()
    names = args.only or list(SHAPES)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        _, _, startup, startup_mb = measure(honest_small(folder))
        print(f"start-up (five-row roster): {startup:.2f} s, {startup_mb:.0f} MB peak")
        print(f"{'shape':24} {'size':>9} {'exit':>4} {'over s':>7} {'peak MB':>8}  verdict  "
              "first line")
        failures = 0
        for name in names:
            roster = SHAPES[name](folder)
            size = roster.stat().st_size
            code, first, seconds, peak = measure(roster)
            roster.unlink()
            over = seconds - startup
            honest = name.startswith("honest")
            held = code in (0, 1, 2) and (honest or (over <= TARGET_S and peak <= TARGET_MB))
            failures += not held
            print(f"{name:24} {size / 2**20:7.1f}MB {code:4d} {over:7.2f} {peak:8.0f}  "
                  f"{'ok  ' if held else 'MISS'}     {first}")
        print(f"targets: refused or read within {TARGET_S:.0f} s over start-up and "
              f"{TARGET_MB:.0f} MB peak; {failures} shape(s) miss")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
