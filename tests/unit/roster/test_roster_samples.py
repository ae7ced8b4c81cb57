"""The committed sample rosters: readable, equal to each other, and up to date with their script."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from bulk_provision.columns import CANONICAL_COLUMNS
from bulk_provision.roster.read import read_roster

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data"
ADDRESS = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def test_roster_xlsx_and_csv_hold_the_same_users() -> None:
    xlsx = read_roster(SAMPLES / "roster.xlsx")
    csv = read_roster(SAMPLES / "roster.csv")
    assert xlsx.warnings == [] and csv.warnings == []
    assert xlsx.frame.equals(csv.frame)
    frame = xlsx.frame
    assert 20 <= len(frame) <= 30
    assert list(frame.columns) == [*CANONICAL_COLUMNS[:-1], "Department"]
    assert frame.loc[2, "PartnerUserID"] == "000417"  # leading zeros stored as text
    assert frame.loc[2, "UserFirst"] == "José" and frame.loc[2, "UserLast"] == "Núñez"
    assert frame.loc[2, "UserAddress"] == "jose.nunez.demo.glance.net"
    assert set(frame["AudioProvider"]) == {"", "1", "666"}
    assert set(frame["UserRole"]) == {"", "Agent", "Supervisor"}
    assert frame["UserAddress"].str.lower().is_unique and frame["PartnerUserID"].is_unique
    assert all(ADDRESS.fullmatch(address) for address in frame["UserAddress"])
    assert all(8 <= len(password) <= 49 for password in frame["UserPW"])


def test_roster_with_errors_breaks_one_rule_per_row() -> None:
    roster = read_roster(SAMPLES / "roster_with_errors.xlsx")
    labels = roster.frame["Broken rule"].tolist()
    assert labels[0] == "valid row"
    assert len(labels) >= 16
    broken = dict(zip(labels, roster.frame.to_dict("records"), strict=True))
    assert broken["UserPW of 5 characters"]["UserPW"] == "Ab-1!"
    assert len(broken["UserPW of 60 characters"]["UserPW"]) == 60
    assert broken["UserRole unknown"]["UserRole"] == "Astronaut"
    assert broken["Action unknown"]["Action"] == "explode"
    assert len(broken["PartnerUserID over 255 characters"]["PartnerUserID"]) == 256


def test_committed_samples_match_the_script(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("roster.xlsx", "roster.csv", "roster_with_errors.xlsx"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name
