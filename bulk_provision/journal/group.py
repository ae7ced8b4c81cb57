"""Group commit of the journal's answers: one transaction for many rows' outcomes.

A worker hands a row's answer to :class:`GroupCommit` and goes on with its next row; a flusher
thread commits whatever has queued, every ``window`` seconds or as soon as ``batch`` answers wait,
and only then tells the caller (``on_durable``: progress, counts). So a row is reported done only
once its outcome is committed, and the journal does one commit per batch instead of one per row.

Exactly once holds because the ``sending`` mark is still committed, on its own, before the
request leaves: a process killed between an answer arriving and its group commit leaves that row
``sending``, which the next run moves to ``in_doubt`` and verifies with ShowUsers before sending
anything again. ``flush`` (the engine's end, a stop) and ``close`` commit everything queued.

A commit that fails (a full disk) drops its batch (those rows stay ``sending`` in the file, and
in doubt for the next run) and is raised to the next caller of ``put`` or ``flush``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bulk_provision.model import RowResult


@dataclass(frozen=True)
class Queued:
    """One answer waiting for its commit, stamped when it arrived."""

    result: RowResult
    finished_at: str
    on_durable: Callable[[RowResult], None] | None = None


class GroupCommit:
    """Answers queued by many threads, committed together by ``commit`` (one transaction)."""

    def __init__(
        self, commit: Callable[[Sequence[Queued]], None], *, window: float = 0.1,
        batch: int = 256,
    ) -> None:
        self._commit = commit
        self._window = window
        self._batch = batch
        self._cond = threading.Condition()
        self._queue: list[Queued] = []
        self._error: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._flushing = threading.Lock()  # one batch at a time, in arrival order

    def put(self, item: Queued) -> None:
        """Queue one answer; raises an earlier commit's failure instead."""
        with self._cond:
            self._raise_failure()
            if self._closed:
                raise RuntimeError("the journal is closed")
            self._queue.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="journal-flusher",
                                                daemon=True)
                self._thread.start()
            elif len(self._queue) in (1, self._batch):  # the first starts a window, the
                self._cond.notify()  # batch-th ends it

    def flush(self) -> None:
        """Commit every queued answer now, then report them; raises a commit's failure."""
        with self._flushing:
            with self._cond:
                batch, self._queue = self._queue, []
                self._raise_failure()
            if not batch:
                return
            try:
                self._commit(batch)
            except BaseException as exc:
                with self._cond:
                    self._error = self._error or exc
                raise
            try:
                for item in batch:
                    if item.on_durable is not None:
                        item.on_durable(item.result)
            except BaseException as exc:  # a reporting bug: told to the next caller too
                with self._cond:
                    self._error = self._error or exc
                raise

    def close(self) -> None:
        """Stop the flusher and commit what is left (idempotent)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.flush()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return  # close() flushes what is left
                self._cond.wait_for(
                    lambda: self._closed or len(self._queue) >= self._batch, self._window
                )
            try:
                self.flush()
            except BaseException:  # noqa: BLE001 - kept, and raised to the next caller
                pass
