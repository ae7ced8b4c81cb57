"""People, not keys: a plan's actions and a run's outcomes as the people they concern.

The page's plan tabs and its finished-run table are lists of :class:`Person` (name, email,
Employee ID, what happens or happened), made here from the plan (with the roster's names and,
for people only Glance has, Glance's) or from the run's results, and searched and paged by
:func:`page_of`. The page keeps them in a small SQLite file (:func:`write_people`) and asks it
for one screen at a time (:func:`people_page`): a 100,000-person plan or run answers its first
screen and a search without reading the whole list (P10).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulk_provision.model import Action, ActionKind, RowResult
from bulk_provision.plan.actions import KnownUser
from bulk_provision.roster.read import Roster

FIELD_WORDS = {"UserAddress": "Glance user name", "UserFirst": "First name",
               "UserLast": "Last name", "UserEmail": "Email", "UserRole": "Role",
               "UserPW": "Password", "UserSuspended": "Suspended"}
TABS = {  # ActionKind -> the plan tab it is listed on
    ActionKind.CREATE: "create", ActionKind.UPDATE: "update", ActionKind.SUSPEND: "suspend",
    ActionKind.REINSTATE: "reinstate", ActionKind.DELETE: "delete", ActionKind.NONE: "none",
    ActionKind.SKIP: "skip",
}


@dataclass(frozen=True)
class Person:
    """One person of a plan or a run, as an HR admin checks them."""

    tab: str  # a TABS value (the plan), or the outcome (a run)
    row: int | None
    key: str  # the Employee ID (PartnerUserID)
    name: str
    email: str
    address: str  # the Glance user name
    changes: tuple[tuple[str, str, str], ...] = ()  # (field in words, before, after)
    message: str = ""
    codes: tuple[str, str, str] = ("", "", "")  # dialIn, hostCode, guestCode

    @property
    def text(self) -> str:
        """What a search looks in: name, email, ID and user name, in lower case."""
        return f"{self.name}\n{self.email}\n{self.key}\n{self.address}".casefold()

    def record(self) -> dict[str, Any]:
        return {"tab": self.tab, "row": self.row, "key": self.key, "name": self.name,
                "email": self.email, "address": self.address,
                "changes": [list(c) for c in self.changes], "message": self.message,
                "codes": list(self.codes)}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> Person:
        return cls(str(data["tab"]), data.get("row"), str(data["key"]), str(data["name"]),
                   str(data["email"]), str(data["address"]),
                   tuple(tuple(c) for c in data.get("changes") or ()),
                   str(data.get("message", "")), tuple(data.get("codes") or ("", "", "")))


def _cells(roster: Roster) -> dict[int, tuple[str, str, str]]:
    frame = roster.frame
    columns = [frame[c] if c in frame.columns else None
               for c in ("UserFirst", "UserLast", "UserEmail", "UserAddress")]
    out = {}
    for position, row in enumerate(frame.index):
        first, last, email, address = (str(c.iat[position]) if c is not None else ""
                                       for c in columns)
        out[int(row)] = (f"{first} {last}".strip(), email, address)
    return out


def plan_people(actions: Iterable[Action], roster: Roster | None,
                glance: Mapping[str, KnownUser] | None = None) -> list[Person]:
    """The plan's actions as people: names from the roster's row, or from Glance for a person
    only Glance has (a sync suspension; every person of an undo, ``roster=None``). A field
    that does not change is never listed."""
    cells = _cells(roster) if roster is not None else {}
    glance = glance or {}
    people = []
    for action in actions:
        user = glance.get(action.key)
        if action.row is not None and action.row in cells:
            name, email, address = cells[action.row]
        elif user is not None:
            name = f"{user.user_first} {user.user_last}".strip()
            email, address = user.user_email, user.user_address
        else:
            name, email = "", ""
            address = action.changes.get("UserAddress", ("",))[0]
        address = address or action.fields.get("UserAddress", "")
        changes = tuple((FIELD_WORDS.get(n, n), before, after)
                        for n, (before, after) in action.changes.items()
                        if before != after and n != "UserSuspended")
        people.append(Person(TABS[action.kind], action.row, action.key, name, email, address,
                             changes))
    return people


def run_people(results: Iterable[RowResult], roster: Roster | None,
               glance_names: Mapping[str, Person] | None = None,
               invalid: Mapping[int, str] | None = None) -> list[Person]:
    """A run's rows as people, with the outcome, its reason and the audio codes; the rows
    validation held back (``invalid``: row -> what is wrong) first, as "invalid"."""
    cells = _cells(roster) if roster is not None else {}
    known = glance_names or {}
    people = []
    frame = roster.frame if roster is not None else None
    for row, message in (invalid or {}).items():
        name, email, address = cells.get(row, ("", "", ""))
        key = (str(frame.at[row, "PartnerUserID"]) if frame is not None
               and "PartnerUserID" in frame.columns and row in frame.index else "")
        people.append(Person("invalid", row, key, name, email, address, (), message))
    for result in results:
        if result.row is not None and result.row in cells:
            name, email, address = cells[result.row]
        elif result.key in known:
            name, email, address = (known[result.key].name, known[result.key].email,
                                    known[result.key].address)
        else:
            name, email, address = "", "", ""
        audio = result.audio
        people.append(Person(result.outcome.value, result.row, result.key, name, email, address,
                             (), result.message,
                             (audio.dial_in, audio.host_code, audio.guest_code)))
    return people


@dataclass
class Page:
    """One screen of a list of people: which, how many in all and per tab."""

    people: list[Person]
    total: int  # in the chosen tab, after the search
    offset: int
    limit: int
    counts: dict[str, int] = field(default_factory=dict)  # per tab, after the search


def page_of(people: Sequence[Person], *, tab: str = "", query: str = "", offset: int = 0,
            limit: int = 50) -> Page:
    """The people of ``tab`` ("" = all) whose name, email, ID or user name holds ``query``,
    ``limit`` of them from ``offset``."""
    words = query.casefold().split()
    found = [p for p in people if all(w in p.text for w in words)] if words else list(people)
    counts: dict[str, int] = {}
    for person in found:
        counts[person.tab] = counts.get(person.tab, 0) + 1
    chosen = [p for p in found if p.tab == tab] if tab else found
    offset = max(0, min(offset, max(0, len(chosen) - 1)))
    return Page(chosen[offset:offset + limit], len(chosen), offset, limit, counts)


_SCHEMA = ("CREATE TABLE people (seq INTEGER PRIMARY KEY, tab TEXT NOT NULL, "
           "text TEXT NOT NULL, data TEXT NOT NULL); CREATE INDEX by_tab ON people (tab, seq)")


def write_people(path: Path, people: Iterable[Person]) -> None:
    """Store ``people`` at ``path`` (owner-only; replaced whole, never half-written)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(partial)) as db:
        partial.chmod(0o600)  # owner-only before any person is written
        db.executescript(_SCHEMA)
        db.executemany("INSERT INTO people (tab, text, data) VALUES (?, ?, ?)",
                       ((p.tab, p.text, json.dumps(p.record(), ensure_ascii=False))
                        for p in people))
        db.commit()
    os.replace(partial, path)


def _where(words: Sequence[str]) -> tuple[str, list[str]]:
    clauses = " AND ".join("instr(text, ?) > 0" for _ in words)
    return (f" WHERE {clauses}" if clauses else ""), list(words)


def people_page(path: Path, *, tab: str = "", query: str = "", offset: int = 0,
                limit: int = 50) -> Page:
    """:func:`page_of` over a :func:`write_people` file: one screen read, the counts per tab
    counted by SQLite; an empty page when there is no such file."""
    if not path.is_file():
        return Page([], 0, 0, limit)
    words = query.casefold().split()[:10]
    where, args = _where(words)
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        counts = dict(db.execute(f"SELECT tab, count(*) FROM people{where} GROUP BY tab", args))
        total = counts.get(tab, 0) if tab else sum(counts.values())
        offset = max(0, min(offset, max(0, total - 1)))
        chosen = where + (" AND " if where else " WHERE ") + "tab = ?" if tab else where
        rows = db.execute(f"SELECT data FROM people{chosen} ORDER BY seq LIMIT ? OFFSET ?",
                          [*args, *([tab] if tab else []), limit, offset]).fetchall()
    people = [Person.from_record(json.loads(data)) for (data,) in rows]
    return Page(people, total, offset, limit, {str(k): int(v) for k, v in counts.items()})


def rows_shown(path: Path, *, tab: str, query: str = "") -> list[int]:
    """The roster rows of the people one tab shows under a search (every screen of it): what
    the page's "Run only the rows shown" takes as its wave. People without a roster row
    (suspended by sync) are left out."""
    if not path.is_file():
        return []
    where, args = _where(query.casefold().split()[:10])
    chosen = where + (" AND " if where else " WHERE ") + "tab = ?"
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        found = db.execute(f"SELECT data FROM people{chosen} ORDER BY seq", [*args, tab])
        rows = [Person.from_record(json.loads(data)).row for (data,) in found]
    return [row for row in rows if isinstance(row, int)]


def read_people(path: Path) -> list[Person]:
    """Every person of a :func:`write_people` file ([] when there is none)."""
    if not path.is_file():
        return []
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        return [Person.from_record(json.loads(data))
                for (data,) in db.execute("SELECT data FROM people ORDER BY seq")]
