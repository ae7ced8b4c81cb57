"""One open row carried through the journal's lifecycle to a final outcome, or left open.

The engine (``provision.engine.Engine``) runs one :class:`RowRun` per open row on its worker
threads; every step of the row is one journal transition (lifecycle.py), and a NewUser in doubt is
verified with ShowUsers before it is ever sent again.
"""

from __future__ import annotations

from dataclasses import replace

from bulk_provision.errors import (
    AuthError,
    ConfigError,
    PermanentApiError,
    RunStopped,
    StopRequested,
    TransientApiError,
)
from bulk_provision.glance.models import AudioCodes
from bulk_provision.journal.checkpoint import Todo
from bulk_provision.journal.lifecycle import RowState
from bulk_provision.model import NOT_IN_GLANCE, Action, ActionKind, Outcome, RowResult
from bulk_provision.provision.ports import RowContext
from bulk_provision.provision.retry import WaitBudget, wait_refusal

NOT_OURS = "UserAddress differs"
VERIFY_LIMIT = 20  # users a look-up of one exact UserAddress may list before it is absurd

MESSAGES = {
    "verified": (
        "created (confirmed with ShowUsers after an unanswered request); audio codes, if any, "
        "could not be recovered"
    ),
    "no_audio": "created; no audio account was returned",
    "exists": "already in Glance with this Employee ID (DUPLICATE_ID); not added again by "
              "this run",
}


class RowRun:
    """One open row carried to a final outcome, or left open (and resumable) in the journal.

    ``state`` mirrors the row's journal state; every change goes through one journal transition.
    ``doubted`` is True once any attempt may have been carried out: a DUPLICATE_ID or NOT_FOUND
    answer may then be our own earlier request's doing.
    """

    def __init__(self, engine: RowContext, item: Todo) -> None:
        self.engine = engine
        self.journal = engine.journal
        self.action = item.action
        self.state = item.state
        self.doubted = item.doubted or item.state is RowState.IN_DOUBT

    def execute(self) -> None:
        engine, options = self.engine, self.engine.options
        failures = throttled = 0
        budget = WaitBudget(options)
        last_error = ""
        while not engine.stop.is_set():
            engine.health.wait_if_paused()
            if engine.stop.is_set():
                return
            try:
                self._attempt()
                engine.health.success()
                return
            except StopRequested:
                return
            except TransientApiError as exc:
                last_error = str(exc)
                if exc.status == 429 and throttled < options.max_throttled:
                    throttled += 1
                else:
                    failures += 1
                    engine.notice(engine.health.failure())
                if failures > options.max_retries:
                    self._give_up(failures + throttled, last_error)
                    return
                refusal = budget.refusal(exc.retry_after)
                if refusal is not None:  # the row stays open in the journal; stop everyone
                    raise RunStopped(refusal) from exc
                engine.backoff(failures, exc.retry_after)

    def _attempt(self) -> None:
        """Resolve a doubt, then send; returns once the row is final (else raises)."""
        if self.state is RowState.IN_DOUBT and self._resolve_doubt():
            return
        result = self._send()
        self.engine.remember(result)
        # Group-committed: reported (progress, counts) only once the answer is committed; a
        # crash before that leaves the row sending, verified with ShowUsers by the next run.
        self.journal.answer_soon(result, self.engine.report)
        self.state = RowState.DONE

    def _resolve_doubt(self) -> bool:
        """in_doubt -> done when Glance has the created user, else -> pending to send again
        (UpdateUser, suspend, reinstate and delete may simply be repeated)."""
        action = self.action
        if action.kind is ActionKind.CREATE:
            found = self._verify()
            if found is not None:
                self.engine.remember(found)
                self.journal.confirm(found)
                self.state = RowState.DONE
                self.engine.report(found)
                return True
        self.journal.release(action.key, "checked: not carried out; sending again")
        self.state = RowState.PENDING
        return False

    def _send(self) -> RowResult:
        """pending -> sending -> the answer (journaled by the caller); on an error the row goes
        back to pending or into doubt and the error is raised."""
        action = self.action
        self.engine.acquire()
        attempt = self.journal.send(action.key)
        self.state = RowState.SENDING
        try:
            audio = self._call(attempt)
        except PermanentApiError as exc:
            if exc.code == "REDIRECT":
                # The endpoint moved: every call would go the same way, so stop the run. The
                # row is in doubt: a redirect can also follow a request that was carried out.
                self._doubt(str(exc))
                raise ConfigError(str(exc)) from exc
            return self._refusal(exc, attempt)
        except AuthError:
            self._not_sent("not sent: Glance rejected the partner credentials")
            raise
        except TransientApiError as exc:
            error = wait_refusal(self.engine.options, exc.retry_after) or str(exc)
            if exc.maybe_committed:
                self._doubt(error)
            else:
                self._not_sent(error)
            raise
        except Exception as exc:  # an insecure redirect, a bug: it may have been carried out
            self._doubt(str(exc) or type(exc).__name__)
            raise
        return _success(action, audio, attempt)

    def _not_sent(self, error: str) -> None:
        self.journal.not_sent(self.action.key, f"{error}; a re-run sends it again")
        self.state = RowState.PENDING

    def _doubt(self, error: str) -> None:
        self.journal.doubt(
            self.action.key,
            f"outcome unknown ({error}); a re-run checks with ShowUsers before sending again",
        )
        self.state = RowState.IN_DOUBT
        self.doubted = True

    def _give_up(self, attempts: int, error: str) -> None:
        """Retries ran out: the row stays open in the journal (a plain re-run finishes it)."""
        action = self.action
        self.engine.report(
            RowResult(action.key, action.row, action.kind, Outcome.UNFINISHED,
                      f"not done after {attempts} attempts ({error})")
        )

    def _call(self, attempt: int) -> AudioCodes:
        api, action = self.engine.api, self.action
        fields = dict(action.fields)
        password = self.engine.password(action.key) if action.send_password else None
        if password:
            fields["UserPW"] = password
        if action.kind is ActionKind.CREATE:
            fields["PartnerUserID"] = action.key
            return api.new_user(fields, attempt=attempt)
        if action.kind is ActionKind.DELETE:
            api.delete_user(action.key, attempt=attempt)
        else:
            api.update_user(action.key, fields, attempt=attempt)
        return AudioCodes()

    def _verify(self) -> RowResult | None:
        """After an unanswered NewUser: the ``created`` result if Glance has this user with the
        roster's address, else None.

        Looked up by UserAddress, which is exact (an address cannot hold ShowUsers' ``*``
        wildcard, while a PartnerUserID can, and ``-none-`` means "no ID" there).
        """
        self.engine.acquire()
        action = self.action
        address = action.fields.get("UserAddress", "")
        found = []
        try:
            for user in self.engine.api.show_users(user_address=address, page_count=10):
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
            return RowResult(action.key, action.row, action.kind, Outcome.CREATED,
                             MESSAGES["verified"])
        return None

    def _refusal(self, exc: PermanentApiError, attempt: int) -> RowResult:
        """An ERROR document: final. DUPLICATE_ID or NOT_FOUND after an attempt that may have
        been carried out can be our own doing, and is checked."""
        self.engine.health.success()  # Glance answered: the connection is healthy
        action = self.action
        outcome, message = Outcome.FAILED, f"{exc.code}: {exc.message}".rstrip(": ")
        if action.kind is ActionKind.CREATE and exc.code == "DUPLICATE_ID":
            verified = self._verify() if self.doubted else None
            if verified is not None:
                return replace(verified, attempts=attempt)
            outcome, message = Outcome.EXISTS, MESSAGES["exists"]
        elif action.kind is ActionKind.DELETE and exc.code == "NOT_FOUND" and self.doubted:
            outcome, message = Outcome.DELETED, "deleted (confirmed: the user is gone)"
        elif action.kind is ActionKind.SUSPEND and exc.code == "NOT_FOUND" and action.row:
            # create mode reads no snapshot: a leaver Glance does not know is told here
            outcome, message = Outcome.SKIPPED, NOT_IN_GLANCE
        return RowResult(action.key, action.row, action.kind, outcome, message, attempts=attempt)


SUCCESS = {
    ActionKind.CREATE: Outcome.CREATED,
    ActionKind.UPDATE: Outcome.UPDATED,
    ActionKind.SUSPEND: Outcome.SUSPENDED,
    ActionKind.REINSTATE: Outcome.REINSTATED,
    ActionKind.DELETE: Outcome.DELETED,
    ActionKind.NONE: Outcome.UNCHANGED,
    ActionKind.SKIP: Outcome.SKIPPED,
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
