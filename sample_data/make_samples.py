"""Write the sample rosters: roster.xlsx, roster.csv and roster_with_errors.xlsx.

Deterministic (no clock, no randomness), so re-running it changes nothing in git.
Every password here is an obvious demo value, never a real one.

    .venv/bin/python sample_data/make_samples.py
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent
COLUMNS = [
    "PartnerUserID",
    "UserAddress",
    "UserPW",
    "UserFirst",
    "UserLast",
    "UserEmail",
    "UserRole",
    "AudioProvider",
    "Department",
]
# First, last, PartnerUserID, role, audio provider, department.
PEOPLE = [
    ("José", "Núñez", "000417", "Agent", "1", "Support"),
    ("Zoë", "Fairbanks", "000418", "Agent", "", "Support"),
    ("Amélie", "Dubois", "000512", "Supervisor", "666", "Support"),
    ("Björn", "Lindqvist", "E-10231", "Agent", "1", "Sales"),
    ("Siobhán", "O'Neill", "E-10232", "", "", "Sales"),
    ("Raúl", "García-Márquez", "E-10233", "Agent", "666", "Sales"),
    ("Priya", "Raghunathan", "E-10234", "Supervisor", "1", "Sales"),
    ("Mei", "Chen", "E-10235", "Agent", "", "Onboarding"),
    ("Łukasz", "Wójcik", "E-10236", "Agent", "1", "Onboarding"),
    ("Chloé", "Lefèvre", "E-10237", "", "666", "Onboarding"),
    ("Kwame", "Mensah", "E-10238", "Agent", "", "Billing"),
    ("Ingrid", "Sørensen", "E-10239", "Supervisor", "1", "Billing"),
    ("Tomás", "Ó Briain", "E-10240", "Agent", "", "Billing"),
    ("Hannah", "Müller", "E-10241", "Agent", "666", "Support"),
    ("Yuki", "Tanaka", "E-10242", "", "", "Support"),
    ("Fatima", "Al-Sayed", "E-10243", "Agent", "1", "Support"),
    ("Noah", "Williams", "E-10244", "Agent", "", "Sales"),
    ("Olivia", "Brown", "E-10245", "Supervisor", "", "Sales"),
    ("Mateo", "Rossi", "E-10246", "Agent", "1", "Onboarding"),
    ("Anaïs", "Moreau", "E-10247", "Agent", "", "Onboarding"),
    ("Ólafur", "Jónsson", "E-10248", "", "666", "Billing"),
    ("Grace", "Okafor", "E-10249", "Agent", "", "Billing"),
    ("Liam", "Murphy", "E-10250", "Agent", "1", "Support"),
    ("Sofía", "Hernández", "E-10251", "Supervisor", "", "Support"),
    ("Ethan", "Nguyen", "000019", "Agent", "", "Sales"),
]
_ASCII = str.maketrans(
    {
        "é": "e",
        "ú": "u",
        "ñ": "n",
        "ë": "e",
        "ö": "o",
        "á": "a",
        "í": "i",
        "Ł": "L",
        "ó": "o",
        "ł": "l",
        "ø": "o",
        "Ó": "O",
        "ü": "u",
        "ï": "i",
        "'": "",
        " ": "",
        "à": "a",
        "è": "e",
    }
)


def sample_users() -> list[dict[str, str]]:
    users = []
    for number, (first, last, puid, role, audio, department) in enumerate(PEOPLE, start=1):
        handle = f"{first}.{last}".lower().translate(_ASCII)
        users.append(
            {
                "PartnerUserID": puid,
                "UserAddress": f"{handle}.demo.glance.net",
                "UserPW": f"Welcome-2026!{chr(96 + number)}",
                "UserFirst": first,
                "UserLast": last,
                "UserEmail": f"{handle}@example.com",
                "UserRole": role,
                "AudioProvider": audio,
                "Department": department,
            }
        )
    return users


def broken_users() -> list[tuple[str, dict[str, str]]]:
    """One row per broken rule, each labelled with the rule it breaks (the Problem column)."""
    base = sample_users()[0]
    cases: list[tuple[str, dict[str, str]]] = [
        ("valid row", {}),
        ("PartnerUserID missing", {"PartnerUserID": ""}),
        ("PartnerUserID duplicated (1 of 2)", {"PartnerUserID": "D-1"}),
        ("PartnerUserID duplicated (2 of 2)", {"PartnerUserID": "D-1"}),
        ("PartnerUserID over 255 characters", {"PartnerUserID": "P" * 256}),
        ("UserAddress missing", {"UserAddress": ""}),
        ("UserAddress has bad characters", {"UserAddress": "jane doe!.demo.glance.net"}),
        ("UserAddress starts with -", {"UserAddress": "-jane.demo.glance.net"}),
        (
            "UserAddress duplicated, case differs (1 of 2)",
            {"UserAddress": "sam.lee.demo.glance.net"},
        ),
        (
            "UserAddress duplicated, case differs (2 of 2)",
            {"UserAddress": "Sam.Lee.demo.glance.net"},
        ),
        ("UserPW of 5 characters", {"UserPW": "Ab-1!"}),
        ("UserPW of 60 characters", {"UserPW": "Welcome-2026!" + "x" * 47}),
        ("UserFirst over 49 characters", {"UserFirst": "Maximiliana" * 5}),
        ("UserEmail not an address", {"UserEmail": "not-an-email"}),
        ("UserEmail over 127 characters", {"UserEmail": "a" * 120 + "@example.com"}),
        ("UserRole unknown", {"UserRole": "Astronaut"}),
        ("AudioProvider not 1 or 666", {"AudioProvider": "2"}),
        ("Action unknown", {"Action": "explode"}),
    ]
    rows = []
    for number, (label, change) in enumerate(cases, start=1):
        row = dict(base, Action="create")
        row["PartnerUserID"] = f"X-{number:03d}"
        row["UserAddress"] = f"broken{number:02d}.demo.glance.net"
        row.update(change)
        rows.append((label, row))
    return rows


def write_xlsx(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    # A fixed creation date keeps the bytes identical from run to run.
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": dt.datetime(2026, 1, 1), "author": "bulk-provision"})
    sheet = workbook.add_worksheet("Roster")
    text = workbook.add_format({"num_format": "@"})
    bold = workbook.add_format({"bold": True, "num_format": "@"})
    sheet.set_column(0, len(columns) - 1, 24, text)
    sheet.write_row(0, 0, columns, bold)
    for r, row in enumerate(rows, start=1):
        for c, column in enumerate(columns):
            sheet.write_string(r, c, row.get(column, ""), text)
    sheet.freeze_panes(1, 0)
    workbook.close()


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def main(out: Path = HERE) -> None:
    users = sample_users()
    write_xlsx(out / "roster.xlsx", COLUMNS, users)
    write_csv(out / "roster.csv", COLUMNS, users)
    broken = broken_users()
    columns = [*COLUMNS[:-1], "Action", "Broken rule"]
    write_xlsx(
        out / "roster_with_errors.xlsx",
        columns,
        [{**row, "Broken rule": label} for label, row in broken],
    )


if __name__ == "__main__":
    main()
