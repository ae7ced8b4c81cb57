"""An in-memory Glance behind the engine's ``GlanceApi`` protocol: no TLS, no threads of its own.

Each call takes the next scripted outcome for its (operation, PartnerUserID), else ``OK``:

- ``OK``: carried out (NewUser of an existing ID still answers DUPLICATE_ID, as Glance does);
- ``Error("NO_ROLE")``: an ERROR document, nothing done;
- ``THROTTLED`` / ``Throttled(retry_after)``: HTTP 429, nothing done;
- ``UNAVAILABLE``: HTTP 503, nothing done;
- ``TIMEOUT_AFTER_COMMIT``: carried out, then the answer is lost (maybe committed);
- ``TIMEOUT_BEFORE_COMMIT``: lost before it was carried out, though the client cannot know;
- ``DROP_BEFORE_SEND``: the connection failed before anything was sent (surely not committed);
- ``AUTH``: the credentials are refused.

``calls`` records every call (operation, key, attempt) in order; ``created`` counts NewUsers
carried out per key, the "exactly once" proof.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from bulk_provision.errors import AuthError, PermanentApiError, TransientApiError
from bulk_provision.glance.models import AudioCodes, GlanceUser, RoleCount


@dataclass(frozen=True)
class Error:
    code: str
    message: str = ""


@dataclass(frozen=True)
class Throttled:
    retry_after: float | None = 0.0


T = TypeVar("T")

OK = "ok"
THROTTLED = Throttled()
UNAVAILABLE = "503"
TIMEOUT_AFTER_COMMIT = "timeout after commit"
TIMEOUT_BEFORE_COMMIT = "timeout before commit"
DROP_BEFORE_SEND = "drop before send"
AUTH = "auth"

Scripted = str | Error | Throttled


@dataclass(frozen=True)
class Call:
    operation: str
    key: str | None
    attempt: int | None
    fields: Mapping[str, str] = field(default_factory=dict)


class FakeGlance:
    """A scripted, thread-safe stand-in for ``glance.GlanceClient``."""

    def __init__(self, users: Mapping[str, GlanceUser] | None = None) -> None:
        self.users: dict[str, GlanceUser] = dict(users or {})
        self.calls: list[Call] = []
        self.created: Counter[str] = Counter()
        self.roles = ["Agent", "Supervisor"]
        self._script: dict[tuple[str, str | None], deque[Scripted]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.before_call: Callable[[Call], None] | None = None

    def script(self, operation: str, key: str | None, *outcomes: Scripted) -> None:
        """The next calls of ``operation`` for ``key`` get ``outcomes``, in order."""
        self._script[(operation, key)].extend(outcomes)

    def ops(self, operation: str, key: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.operation == operation and key in (None, c.key)]

    # -- the GlanceApi protocol ------------------------------------------------------------

    def new_user(self, fields: Mapping[str, str], *, attempt: int | None = None) -> AudioCodes:
        key = fields["PartnerUserID"]

        def commit() -> AudioCodes:
            if key in self.users:
                raise PermanentApiError("DUPLICATE_ID", f"PartnerUserID {key} already exists")
            self.users[key] = GlanceUser(key, fields.get("UserAddress", ""),
                                         fields.get("UserFirst", ""), fields.get("UserLast", ""))
            self.created[key] += 1
            if fields.get("AudioProvider"):
                return AudioCodes("1 (555) 010-0000", f"*{len(self.users):06d}",
                                  f"{len(self.users):06d}")
            return AudioCodes()

        return self._call("NewUser", key, attempt, commit, fields)

    def update_user(
        self, partner_user_id: str, fields: Mapping[str, str], *, attempt: int | None = None
    ) -> None:
        def commit() -> None:
            user = self.users.get(partner_user_id)
            if user is None:
                raise PermanentApiError("NOT_FOUND", f"no user {partner_user_id}")
            changed = replace(user, user_first=fields.get("UserFirst", user.user_first))
            if "UserSuspended" in fields:
                changed = replace(changed, suspended=fields["UserSuspended"] == "1")
            self.users[partner_user_id] = changed

        self._call("UpdateUser", partner_user_id, attempt, commit, fields)

    def delete_user(self, partner_user_id: str, *, attempt: int | None = None) -> None:
        def commit() -> None:
            if self.users.pop(partner_user_id, None) is None:
                raise PermanentApiError("NOT_FOUND", f"no user {partner_user_id}")

        self._call("DeleteUser", partner_user_id, attempt, commit)

    def show_users(
        self,
        *,
        partner_user_id: str | None = None,
        user_address: str | None = None,
        page_count: int = 1000,
    ) -> Iterator[GlanceUser]:
        def listing() -> list[GlanceUser]:
            return [
                u for u in self.users.values()
                if (partner_user_id is None or u.partner_user_id == partner_user_id)
                and (user_address is None or u.user_address.lower() == user_address.lower())
            ]

        return iter(self._call("ShowUsers", partner_user_id or user_address, None, listing))

    def show_roles(self) -> list[RoleCount]:
        return self._call("ShowRoles", None, None,
                          lambda: [RoleCount(r, 1, 0, 1) for r in self.roles])

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, operation: str, key: str | None, attempt: int | None,
              commit: Callable[[], T], fields: Mapping[str, str] | None = None) -> T:
        call = Call(operation, key, attempt, dict(fields or {}))
        if self.before_call is not None:
            self.before_call(call)
        with self._lock:
            self.calls.append(call)
            queue = self._script.get((operation, key))
            outcome: Scripted = queue.popleft() if queue else OK
            return self._apply(operation, outcome, commit)

    @staticmethod
    def _apply(operation: str, outcome: Scripted, commit: Callable[[], T]) -> T:
        if isinstance(outcome, Error):
            raise PermanentApiError(outcome.code, outcome.message or f"{operation} refused")
        if isinstance(outcome, Throttled):
            raise TransientApiError(f"{operation}: HTTP 429", status=429,
                                    retry_after=outcome.retry_after)
        if outcome == UNAVAILABLE:
            raise TransientApiError(f"{operation}: HTTP 503", status=503)
        if outcome == AUTH:
            raise AuthError("Glance rejected the partner credentials (AUTH: wrong PartnerPW)")
        if outcome == DROP_BEFORE_SEND:
            raise TransientApiError(f"{operation}: could not connect")
        if outcome == TIMEOUT_BEFORE_COMMIT:
            raise TransientApiError(f"{operation}: no answer within 1 s", maybe_committed=True)
        result = commit()
        if outcome == TIMEOUT_AFTER_COMMIT:
            raise TransientApiError(f"{operation}: no answer within 1 s", maybe_committed=True)
        return result
