"""Deterministic generated rosters for benchmarks and chaos runs."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["PartnerUserID", "UserAddress", "UserPW", "UserFirst", "UserLast", "UserEmail",
          "UserRole", "AudioProvider", "Department"]


def roster_rows(n: int, *, prefix: str = "E", audio_every: int = 4) -> list[list[str]]:
    rows = []
    for i in range(n):
        key = f"{prefix}{i:07d}"
        rows.append([
            key,
            f"user{i}.{prefix.lower()}.bench.glance.net",
            f"Bench-pw-{i:07d}!",
            "Zoë" if i % 7 == 0 else "Alex",
            f"Tester{i}",
            f"user{i}@example.com",
            ("Agent", "Supervisor", "")[i % 3],
            "666" if audio_every and i % audio_every == 0 else "",
            f"Dept {i % 40}",
        ])
    return rows


def write_csv(path: Path, n: int, **kwargs: object) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(roster_rows(n, **kwargs))  # type: ignore[arg-type]
    return path
