"""People, not keys: a plan's actions and a run's outcomes as the people they concern.

The page's plan tabs and its finished-run table are lists of :class:`Person` (name, email,
Employee ID, what happens or happened), made here from the plan (with the roster's names and,
for people only Glance has, Glance's) or from the run's results, and searched and paged by
:func:`page_of`, so a 100,000-row plan renders its first screen without the page holding it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
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
        return asdict(self)

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


def plan_people(actions: Iterable[Action], roster: Roster,
                glance: Mapping[str, KnownUser] | None = None) -> list[Person]:
    """The plan's actions as people: names from the roster's row, or from Glance for a person
    only Glance has (a sync suspension). A field that does not change is never listed."""
    cells = _cells(roster)
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
