"""From a parsed request to an HTTP answer: faults, the operation, and the request log."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus

from bulk_provision.simulator import responses
from bulk_provision.simulator.faults import FaultInjector
from bulk_provision.simulator.handlers import Operations
from bulk_provision.simulator.models import RequestRecord
from bulk_provision.simulator.rules import Params, given

# Parameter names left out of RequestRecord.fields: credentials say nothing about the request.
AUTH_PARAMS = frozenset({"partnerlogin", "partnerpw", "partnerauth", "partnerid"})


@dataclass
class HttpAnswer:
    """What the HTTP layer must send (or, with ``drop``, must not send) for one request."""

    status: int
    body: bytes
    content_type: str = responses.CONTENT_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    byte_delay: float = 0.0

    @property
    def reason(self) -> str:
        return HTTPStatus(self.status).phrase


class SimulatorApp:
    """Applies the fault plan around ``operations`` and records every request."""

    def __init__(
        self, operations: Operations, faults: FaultInjector, stopping: threading.Event
    ) -> None:
        self.operations = operations
        self.faults = faults
        self.stopping = stopping
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()

    def request_log(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def _record(
        self, operation: str, puid: str, committed: bool, result: str, params: Params
    ) -> None:
        names = tuple(sorted(k for k in params if k.lower() not in AUTH_PARAMS))
        record = RequestRecord(time.time(), operation, puid, committed, result, names)
        with self._log_lock:
            self._log.append(record)

    def handle(self, operation: str | None, params: Params) -> HttpAnswer:
        """Answer one request for ``operation`` (None: an unknown path)."""
        puid = given(params, "PartnerUserID") or ""
        if operation is None:
            self._record("", puid, False, "HTTP404", params)
            return HttpAnswer(404, b"Not Found\n", content_type="text/plain; charset=utf-8")
        plan = self.faults.plan()
        if plan.refuse_status is not None:
            status = plan.refuse_status
            self._record(operation, puid, False, f"HTTP{status}", params)
            headers = [("Retry-After", "1")] if status == 429 else []
            body = responses.fault_page(status, HTTPStatus(status).phrase)
            return HttpAnswer(status, body, "text/html; charset=utf-8", headers)
        if plan.delay > 0:
            self.stopping.wait(plan.delay)  # never under a lock; stop() cuts it short
        reply = self.operations.run(operation, params)
        result = "DROPPED" if plan.drop else reply.result
        self._record(operation, puid, reply.committed, result, params)
        status, headers = 200, []
        if reply.location is not None:
            status, headers = 302, [("Location", reply.location)]
        return HttpAnswer(
            status, reply.body, headers=headers, drop=plan.drop, byte_delay=plan.byte_delay
        )
