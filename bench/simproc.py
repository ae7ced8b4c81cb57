"""A simulator in its own process, so a benchmark's client and server do not share one GIL.

``SimulatorProcess(**config)`` starts it and exposes ``base_url``, ``ca_bundle`` and a few
queries (request log, creation counts, users) answered over a pipe.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from bulk_provision.simulator import Simulator, SimulatorConfig


def _serve(overrides: dict[str, Any], conn: Connection) -> None:
    with Simulator(SimulatorConfig(**overrides)) as sim:
        conn.send((sim.base_url, str(sim.ca_bundle)))
        while True:
            command, args = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            if command == "log":
                conn.send([(r.time, r.operation, r.partner_user_id, r.committed, r.result)
                           for r in sim.request_log])
            elif command == "created":
                conn.send(dict(sim.created_counts()))
            elif command == "users":
                conn.send({k: (u.user_address, u.audio, u.suspended)
                           for k, u in sim.users().items()})
            elif command == "faults":
                sim.set_faults(**args)
                conn.send(None)


class SimulatorProcess:
    def __init__(self, **overrides: Any) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(overrides, child), daemon=True)
        self._proc.start()
        if not self._conn.poll(60):
            self._proc.kill()
            raise RuntimeError("simulator process did not start within 60 s")
        self.base_url, self.ca_bundle = self._conn.recv()
        self.config = SimulatorConfig(**overrides)

    def _ask(self, command: str, args: Any = None) -> Any:
        self._conn.send((command, args))
        if not self._conn.poll(120):
            raise RuntimeError(f"simulator process did not answer {command!r}")
        return self._conn.recv()

    def request_log(self) -> list[tuple[float, str, str, bool, str]]:
        return list(self._ask("log"))

    def created_counts(self) -> Counter[str]:
        return Counter(self._ask("created"))

    def users(self) -> dict[str, tuple[str, dict[str, str] | None, bool]]:
        return dict(self._ask("users"))

    def set_faults(self, **changes: Any) -> None:
        self._ask("faults", changes)

    def env(self) -> dict[str, str]:
        """Environment variables pointing ``bulk-provision`` at this simulator."""
        return {
            "GLANCE_BASE_URL": self.base_url,
            "GLANCE_CA_BUNDLE": self.ca_bundle,
            "GLANCE_PARTNER_LOGIN": self.config.partner_login,
            "GLANCE_PARTNER_PW": self.config.partner_pw,
        }

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._ask("stop")
            except (RuntimeError, OSError, EOFError):
                pass
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()
        self._conn.close()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
