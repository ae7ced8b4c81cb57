"""The simulator's users, kept consistent under one lock (never held while sleeping)."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from bulk_provision.simulator.models import ApiError, SimUser
from bulk_provision.simulator.rules import NO_ROLE, matches, wildcard_matcher

# ShowUsers criterion -> (SimUser attribute, case-folded?)
_CRITERIA = {
    "PartnerUserID": ("partner_user_id", False),
    "UserAddress": ("user_address", True),
    "UserRole": ("user_role", True),
}
_FIELDS = [f.name for f in dataclasses.fields(SimUser)]


class SimState:
    """Users keyed by PartnerUserID, an address index, and NewUser commit counts."""

    def __init__(self, roles: tuple[str, ...], on_change: Callable[[], None] | None = None) -> None:
        self.roles = roles
        self._lock = threading.Lock()
        self._users: dict[str, SimUser] = {}  # insertion order == creation order
        self._by_address: dict[str, str] = {}  # lower-cased address -> PartnerUserID
        self._created: Counter[str] = Counter()
        self._next_seq = 1
        self._on_change = on_change or (lambda: None)

    def add(self, user: SimUser, *, count_creation: bool = True) -> SimUser:
        """Create ``user``; DUPLICATE_ID or DUPLICATE_ADDRESS if either key is taken."""
        with self._lock:
            if user.partner_user_id in self._users:
                raise ApiError("DUPLICATE_ID", "a user with this PartnerUserID already exists")
            address = user.user_address.lower()
            if address in self._by_address:
                raise ApiError("DUPLICATE_ADDRESS", "another user already has this UserAddress")
            user = dataclasses.replace(user, seq=self._next_seq)
            self._next_seq += 1
            self._users[user.partner_user_id] = user
            self._by_address[address] = user.partner_user_id
            if count_creation:
                self._created[user.partner_user_id] += 1
        self._on_change()
        return user

    def update(self, partner_user_id: str, changes: dict[str, Any]) -> bool:
        """Apply ``changes`` (SimUser field -> value); True if anything changed.

        NOT_FOUND for an unknown PartnerUserID, DUPLICATE_ADDRESS for an address in use.
        """
        with self._lock:
            old = self._get(partner_user_id)
            new = dataclasses.replace(old, **changes)
            old_key, new_key = old.user_address.lower(), new.user_address.lower()
            if new_key != old_key:
                if new_key in self._by_address:
                    raise ApiError("DUPLICATE_ADDRESS", "another user already has this UserAddress")
                del self._by_address[old_key]
                self._by_address[new_key] = partner_user_id
            if new == old:
                return False
            self._users[partner_user_id] = new
        self._on_change()
        return True

    def delete(self, partner_user_id: str) -> None:
        """Remove a user for good, freeing its PartnerUserID and UserAddress; NOT_FOUND."""
        with self._lock:
            user = self._get(partner_user_id)
            del self._users[partner_user_id]
            del self._by_address[user.user_address.lower()]
        self._on_change()

    def _get(self, partner_user_id: str) -> SimUser:
        try:
            return self._users[partner_user_id]
        except KeyError:
            raise ApiError("NOT_FOUND", "no user has this PartnerUserID") from None

    def query(
        self, criteria: dict[str, str], start_seq: int, count: int
    ) -> tuple[list[SimUser], int | None]:
        """Up to ``count`` users matching every criterion, from ``start_seq`` on, creation order.

        Returns the page and the sequence number to start the next page at (None on the last).
        """
        tests = [_criterion(name, value) for name, value in criteria.items()]
        page: list[SimUser] = []
        with self._lock:
            for user in self._candidates(criteria):
                if user.seq < start_seq or not all(test(user) for test in tests):
                    continue
                if len(page) == count:
                    return page, user.seq
                page.append(user)
        return page, None

    def _candidates(self, criteria: dict[str, str]) -> Iterable[SimUser]:
        """Users that may match, in creation order: an index lookup for an exact key."""
        puid = criteria.get("PartnerUserID")
        if puid is not None and _is_exact(puid):
            found = self._users.get(puid)
            return [found] if found else []
        address = criteria.get("UserAddress")
        if address is not None and _is_exact(address):
            key = self._by_address.get(address.lower())
            return [self._users[key]] if key is not None else []
        return self._users.values()

    def role_counts(self, list_empty: bool) -> list[tuple[str, int, int]]:
        """(role, active, inactive) per provisioned role with users (all if ``list_empty``),
        then ``-none-`` for users without a role."""
        active: Counter[str] = Counter()
        inactive: Counter[str] = Counter()
        with self._lock:
            for user in self._users.values():
                (inactive if user.suspended else active)[user.user_role] += 1
        rows = [(role, active[role], inactive[role]) for role in self.roles]
        rows = [row for row in rows if list_empty or row[1] + row[2]]
        if active[""] + inactive[""]:
            rows.append((NO_ROLE, active[""], inactive[""]))
        return rows

    def snapshot(self) -> dict[str, SimUser]:
        """A copy of all users keyed by PartnerUserID (records are immutable)."""
        with self._lock:
            return dict(self._users)

    def created_counts(self) -> Counter[str]:
        """How many times NewUser committed each PartnerUserID."""
        with self._lock:
            return Counter(self._created)

    def to_json(self) -> dict[str, Any]:
        """Everything needed to restart where this state left off."""
        with self._lock:
            users = list(self._users.values())
            created = dict(self._created)
            next_seq = self._next_seq
        return {
            "version": 1,
            "next_seq": next_seq,
            "users": [{name: getattr(user, name) for name in _FIELDS} for user in users],
            "created_counts": created,
        }

    def load_json(self, data: dict[str, Any]) -> None:
        """Replace the state with one saved by ``to_json``."""
        users = [SimUser(**{k: v for k, v in raw.items() if k in _FIELDS}) for raw in data["users"]]
        with self._lock:
            self._users = {user.partner_user_id: user for user in users}
            self._by_address = {u.user_address.lower(): u.partner_user_id for u in users}
            self._created = Counter({str(k): int(v) for k, v in data["created_counts"].items()})
            self._next_seq = max([int(data["next_seq"])] + [u.seq + 1 for u in users])


def _is_exact(value: str) -> bool:
    return "*" not in (value[:1], value[-1:]) and value.strip().lower() != NO_ROLE


def _criterion(name: str, value: str) -> Callable[[SimUser], bool]:
    attribute, fold = _CRITERIA[name]
    if value.strip().lower() == NO_ROLE:
        # -none- finds users with no role / no PartnerUserID (the latter never exists here).
        return lambda user: getattr(user, attribute) == ""
    matcher = wildcard_matcher(value, fold_case=fold)
    return lambda user: matches(getattr(user, attribute), matcher, fold_case=fold)
