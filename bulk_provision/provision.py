"""Workers executing planned actions against Glance, journaling every outcome.

Exactly once: the checkpoint records ``sending`` before a request leaves and the outcome as soon as
it arrives. A NewUser whose outcome is unknown (the request may have reached Glance: a timeout or
a connection dropped after sending) is never sent again blindly: the user is first looked up with
ShowUsers, and only sent again if Glance does not have it.

Retries: transient failures back off exponentially with jitter, honouring Retry-After. Many
consecutive transient failures pause the run, then stop it (resumable). An AUTH error stops it at
once. A stop request (Ctrl-C, SIGTERM) lets in-flight requests finish and sends nothing new.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bulk_provision import calllog
from bulk_provision.checkpoint import Checkpoint
from bulk_provision.errors import (
    AuthError,
    ConfigError,
    PermanentApiError,
    RunStopped,
    TransientApiError,
)
from bulk_provision.glance.models import GlanceUser, RoleCount
from bulk_provision.model import Action, ActionKind, AudioCodes, Outcome, RowResult
from bulk_provision.ratelimit import RateLimiter
from bulk_provision.retry import EngineOptions, Health, backoff_delay, wait_refusal


class GlanceApi(Protocol):
    """What the engine needs from ``glance.GlanceClient`` (tests may pass anything like it)."""

    def new_user(self, fields: Mapping[str, str]) -> AudioCodes: ...

    def update_user(self, partner_user_id: str, fields: Mapping[str, str]) -> None: ...

    def delete_user(self, partner_user_id: str) -> None: ...

    def show_users(
        self,
        *,
        partner_user_id: str | None = None,
        user_address: str | None = None,
        page_count: int = 1000,
    ) -> Iterator[GlanceUser]: ...

    def show_roles(self) -> list[RoleCount]: ...


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def result(self, result: RowResult) -> None: ...

    def retrying(self, delta: int) -> None: ...

    def notice(self, message: str) -> None: ...


class StopReason(StrEnum):
    COMPLETED = "completed"
    AUTH = "auth"
    TRANSIENT = "transient"
    INTERRUPTED = "interrupted"


@dataclass
class EngineReport:
    reason: StopReason
    message: str = ""
    unresolved: dict[str, str] | None = None  # key -> why its outcome is still unknown


NOT_OURS = "UserAddress differs"
VERIFY_LIMIT = 20  # users a look-up of one exact UserAddress may list before it is absurd

MESSAGES = {
    "verified": (
        "created (confirmed with ShowUsers after an unanswered request); audio codes, if any, "
        "could not be recovered"
    ),
    "no_audio": "created; no audio account was returned",
    "exists": "already exists in Glance (DUPLICATE_ID); not created by this run",
}


class Provisioner:
    """Runs actions on ``workers`` threads sharing one rate limiter and one checkpoint."""

    def __init__(
        self,
        api: GlanceApi,
        journal: Checkpoint,
        passwords: Mapping[str, str],
        options: EngineOptions,
        *,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.api = api
        self.journal = journal
        self._passwords = passwords
        self.options = options
        self.progress = progress
        self.stop = stop or threading.Event()
        self._rng = rng or random.Random()
        self._limiter = RateLimiter(options.rate, burst=max(1, min(options.workers, 4)))
        self._health = Health(options, self.stop)
        self._lock = threading.Lock()
        self._auth_failure: str | None = None
        self._stopped: str | None = None  # a definite stop (RunStopped): why
        self._crash: BaseException | None = None
        self._unresolved: dict[str, str] = {}
        # Every final outcome Glance gave this run, kept in memory too: if the journal cannot be
        # written (a full disk), the results workbook still shows what is known.
        self.outcomes: dict[str, RowResult] = {}

    # -- the run ---------------------------------------------------------------------------

    def run(self, actions: Sequence[Action], in_doubt: Sequence[Action] = ()) -> EngineReport:
        """Execute ``in_doubt`` actions (verified first) then ``actions``; return why it ended."""
        work = [(a, True) for a in in_doubt] + [(a, False) for a in actions]
        if self.progress is not None:
            self.progress.start(len(work))
        work.reverse()  # pop() from the end keeps plan order
        threads = [
            threading.Thread(target=self._worker, args=(work,), name=f"provision-{i}", daemon=True)
            for i in range(max(1, min(self.options.workers, len(work))))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self._crash is not None:
            raise self._crash
        return self._report()

    def _report(self) -> EngineReport:
        unresolved = dict(self._unresolved)
        if self._auth_failure is not None:
            return EngineReport(StopReason.AUTH, self._auth_failure, unresolved)
        if self._stopped is not None:
            return EngineReport(StopReason.TRANSIENT, self._stopped, unresolved)
        if self._health.gave_up:
            return EngineReport(
                StopReason.TRANSIENT,
                "too many consecutive failures talking to Glance",
                unresolved,
            )
        if self.stop.is_set():
            return EngineReport(StopReason.INTERRUPTED, "", unresolved)
        return EngineReport(StopReason.COMPLETED, "", unresolved)

    def _worker(self, work: list[tuple[Action, bool]]) -> None:
        while not self.stop.is_set():
            with self._lock:
                if not work:
                    return
                action, in_doubt = work.pop()
            try:
                self._execute(action, in_doubt)
            except AuthError as exc:
                self._on_auth_failure(action, exc)
            except RunStopped as exc:  # a safety limit: stop everyone, resumably
                self._on_stop(str(exc))
            except BaseException as exc:  # a bug or a full disk: stop everyone, report it once
                with self._lock:
                    self._crash = self._crash or exc
                self.stop.set()
                return

    def _on_stop(self, why: str) -> None:
        with self._lock:
            self._stopped = self._stopped or why
        self.stop.set()

    def _on_auth_failure(self, action: Action, exc: AuthError) -> None:
        with self._lock:
            if self._auth_failure is None:
                self._auth_failure = str(exc) or "Glance rejected the partner credentials"
        self.stop.set()

    # -- one action, with its retries --------------------------------------------------------

    def _execute(self, action: Action, in_doubt: bool) -> None:
        failures = throttled = 0
        last_error = ""
        # Some earlier attempt may have been carried out. Once true it stays true: the row is
        # then never put back to `pending`, so a resume verifies it before sending again.
        doubted = in_doubt
        creating = action.kind is ActionKind.CREATE
        while not self.stop.is_set():
            self._health.wait_if_paused()
            if self.stop.is_set():
                break
            try:
                if action.kind is ActionKind.NONE:
                    result = RowResult(action.key, action.row, action.kind, Outcome.UNCHANGED)
                elif in_doubt and creating:
                    if self._verify(action):
                        return
                    in_doubt = False  # Glance does not have it: only a new send can create it
                    result = self._send(action, doubted)
                else:
                    result = self._send(action, doubted)
                if result.outcome is Outcome.EXISTS and doubted and self._verify(action):
                    return  # our unanswered request did create it after all
            except _Stopped:
                break
            except TransientApiError as exc:
                last_error = str(exc)
                in_doubt = in_doubt or exc.maybe_committed
                doubted = doubted or exc.maybe_committed
                if not doubted:
                    self.journal.mark_pending(action.key, last_error)
                if exc.status == 429 and throttled < self.options.max_throttled:
                    throttled += 1
                else:
                    failures += 1
                    self._notice(self._health.failure())
                if failures > self.options.max_retries:
                    self._give_up(action, doubted, failures + throttled, last_error)
                    return
                refusal = wait_refusal(self.options, exc.retry_after)
                if refusal is not None:
                    self._refuse_wait(action, doubted, refusal)
                    return
                self._backoff(failures, exc.retry_after)
                continue
            self._health.success()
            self._finish(result)
            return
        if doubted:
            with self._lock:
                self._unresolved[action.key] = (
                    f"outcome unknown ({last_error or 'interrupted while sending'}); "
                    "re-run the same command to verify and finish"
                )

    def _send(self, action: Action, doubted: bool) -> RowResult:
        if not self._limiter.acquire(self.stop):
            raise _Stopped()
        attempts = self.journal.mark_sending(action.key)
        try:
            audio = self._call(action, attempts)
        except PermanentApiError as exc:
            if exc.code == "REDIRECT":
                # The endpoint moved: every call would go the same way, so stop the run. The
                # row stays in doubt: a redirect can also follow a request that was carried out.
                raise ConfigError(str(exc)) from exc
            return self._permanent_result(action, exc, attempts, doubted)
        except AuthError:
            # A definite answer: nothing was done. Not in doubt, just not sent yet.
            self.journal.mark_pending(action.key, "not sent: Glance rejected the credentials")
            raise
        return _success(action, audio, attempts)

    def _finish(self, result: RowResult) -> None:
        with self._lock:
            self.outcomes[result.key] = result
        self.journal.mark_done(result)
        with self._lock:
            self._unresolved.pop(result.key, None)
        if self.progress is not None:
            self.progress.result(result)

    def _give_up(self, action: Action, in_doubt: bool, attempts: int, error: str) -> None:
        if in_doubt:
            # Leave it `sending` in the journal: the next run verifies before re-sending.
            with self._lock:
                self._unresolved[action.key] = (
                    f"outcome unknown after {attempts} attempts ({error}); "
                    "re-run the same command to verify and finish"
                )
            if self.progress is not None:
                self.progress.result(
                    RowResult(action.key, action.row, action.kind, Outcome.FAILED, error)
                )
            return
        # Surely not carried out: back to pending, so re-running the command retries it.
        message = f"not done after {attempts} attempts ({error}); re-run the same command to retry"
        self.journal.mark_pending(action.key, message)
        with self._lock:
            self._unresolved[action.key] = message
        if self.progress is not None:
            self.progress.result(RowResult(action.key, action.row, action.kind, Outcome.FAILED))

    def _refuse_wait(self, action: Action, doubted: bool, refusal: str) -> None:
        """Glance asked for a longer wait than --max-wait: stop the run, the row unfinished
        (``pending``, or ``sending`` to be verified when it may have been carried out)."""
        if doubted:
            message = f"outcome unknown ({refusal}); re-run the same command to verify and finish"
        else:
            message = f"not done: {refusal}; re-run the same command later to retry"
        with self._lock:
            self._unresolved[action.key] = message
        self._on_stop(refusal)

    def _backoff(self, failures: int, retry_after: float | None) -> None:
        delay = backoff_delay(self.options, failures, retry_after, self._rng)
        if self.progress is not None:
            self.progress.retrying(+1)
        try:
            self.stop.wait(delay)
        finally:
            if self.progress is not None:
                self.progress.retrying(-1)

    def _notice(self, message: str | None) -> None:
        if message and self.progress is not None:
            self.progress.notice(message)

    # -- requests ----------------------------------------------------------------------------

    def _call(self, action: Action, attempt: int) -> AudioCodes:
        key, kind = action.key, action.kind
        fields = dict(action.fields)
        if action.send_password and self._passwords.get(key):
            fields["UserPW"] = self._passwords[key]
        with calllog.attempt(attempt):
            if kind is ActionKind.CREATE:
                fields["PartnerUserID"] = key
                return self.api.new_user(fields)
            if kind is ActionKind.DELETE:
                self.api.delete_user(key)
            else:
                self.api.update_user(key, fields)
        return AudioCodes()

    def _verify(self, action: Action) -> bool:
        """After an unanswered NewUser: does Glance have this user with the roster's address?

        Looked up by UserAddress, which is exact (an address cannot hold ShowUsers' `*`
        wildcard, while a PartnerUserID can, and `-none-` means "no ID" there).
        """
        if not self._limiter.acquire(self.stop):
            raise _Stopped()
        address = action.fields.get("UserAddress", "")
        try:
            with calllog.attempt(None):
                found = []
                for user in self.api.show_users(user_address=address, page_count=10):
                    found.append(user)
                    if len(found) > VERIFY_LIMIT:
                        raise RunStopped(
                            f"ShowUsers listed more than {VERIFY_LIMIT} users for the one "
                            f"address {address}; the server's paging looks broken: stopped"
                        )
        except PermanentApiError as exc:  # an odd answer to a read: retry like any failure
            raise TransientApiError(f"checking whether the user exists: {exc}") from exc
        if any(
            u.partner_user_id == action.key and u.user_address.lower() == address.lower()
            for u in found
        ):
            self._health.success()
            self._finish(
                RowResult(action.key, action.row, action.kind, Outcome.CREATED,
                          MESSAGES["verified"], attempts=self.journal.attempts(action.key))
            )
            return True
        return False

    def _permanent_result(
        self, action: Action, exc: PermanentApiError, attempts: int, doubted: bool
    ) -> RowResult:
        self._health.success()  # Glance answered: the connection is healthy
        outcome, message = Outcome.FAILED, f"{exc.code}: {exc.message}".rstrip(": ")
        if action.kind is ActionKind.CREATE and exc.code == "DUPLICATE_ID":
            outcome, message = Outcome.EXISTS, MESSAGES["exists"]
        elif action.kind is ActionKind.DELETE and exc.code == "NOT_FOUND" and doubted:
            outcome, message = Outcome.DELETED, "deleted (confirmed: the user is gone)"
        return RowResult(action.key, action.row, action.kind, outcome, message, attempts=attempts)


class _Stopped(TransientApiError):
    """Internal: the run was asked to stop while waiting for a send slot."""

    def __init__(self) -> None:
        super().__init__("stopped before sending")


SUCCESS = {
    ActionKind.CREATE: Outcome.CREATED,
    ActionKind.UPDATE: Outcome.UPDATED,
    ActionKind.SUSPEND: Outcome.SUSPENDED,
    ActionKind.REINSTATE: Outcome.REINSTATED,
    ActionKind.DELETE: Outcome.DELETED,
    ActionKind.NONE: Outcome.UNCHANGED,
}


def _success(action: Action, audio: AudioCodes, attempts: int) -> RowResult:
    message = ""
    if action.kind is ActionKind.CREATE and action.fields.get("AudioProvider") and not audio:
        message = MESSAGES["no_audio"]
    elif action.row is None and action.kind is ActionKind.SUSPEND:
        address = action.changes.get("UserAddress", ("",))[0]
        message = f"not in the roster ({address}): suspended" if address else "not in the roster"
    return RowResult(
        action.key, action.row, action.kind, SUCCESS[action.kind], message, audio, attempts
    )
