"""``Simulator``: a local HTTPS Glance in a background thread (tests, demo, rehearsals)."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

from bulk_provision.errors import ConfigError
from bulk_provision.simulator.app import SimulatorApp
from bulk_provision.simulator.config import SimulatorConfig, check_config
from bulk_provision.simulator.faults import FaultInjector
from bulk_provision.simulator.handlers import Operations
from bulk_provision.simulator.models import RequestRecord, SimUser
from bulk_provision.simulator.persist import StateSaver, load_state
from bulk_provision.simulator.rules import check_address, resolve_role
from bulk_provision.simulator.server import SimulatorHTTPServer
from bulk_provision.simulator.state import SimState
from bulk_provision.simulator.tls import Certificates


class Simulator:
    """A faithful local Glance PAPI server (glance-api.md 4.4) over HTTPS on loopback.

    Use as a context manager, or call ``start()`` and ``stop()``. ``config`` may be given whole,
    or as keyword overrides of the defaults: ``Simulator(latency_ms=50, seed=1)``.
    """

    def __init__(self, config: SimulatorConfig | None = None, **overrides: Any) -> None:
        self.config = dataclasses.replace(config or SimulatorConfig(), **overrides)
        check_config(self.config)
        self.faults = FaultInjector(self.config)
        self._stopping = threading.Event()
        self._saver: StateSaver | None = None
        self.state = SimState(tuple(r.strip() for r in self.config.roles), self._changed)
        self._app = SimulatorApp(
            Operations(self.config, self.state, self.faults.chance), self.faults, self._stopping
        )
        self._certs: Certificates | None = None
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _changed(self) -> None:
        if self._saver is not None:
            self._saver.mark_dirty()

    def start(self) -> Simulator:
        """Mint the certificates, load the state file, bind and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        path = self.config.state_file
        if path is not None:
            saved = load_state(path)
            if saved is not None:
                try:
                    self.state.load_json(saved)
                except (KeyError, TypeError, ValueError) as exc:
                    raise ConfigError(f"simulator state {path} is not usable: {exc}") from exc
        self._certs = Certificates()
        try:
            address = (self.config.host, self.config.port)
            self._server = SimulatorHTTPServer(address, self._app, self._certs.context)
        except OSError as exc:
            self._certs.close()
            self._certs = None
            where = f"{self.config.host}:{self.config.port}"
            raise ConfigError(
                f"cannot listen on {where}: {exc.strerror} (try another --port, or 0 for any)"
            ) from exc
        if path is not None:
            self._saver = StateSaver(path, self.state.to_json)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="glance-sim-accept",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections, join every thread, save the state file."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_all()
        if self._thread is not None:
            self._thread.join()
        if self._saver is not None:
            saver, self._saver = self._saver, None
            saver.close()
        if self._certs is not None:
            self._certs.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` once started."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"https://{shown}:{port}"

    @property
    def ca_bundle(self) -> Path:
        """Path of the CA certificate (PEM) a client must trust; valid while running."""
        if self._certs is None:
            raise RuntimeError("simulator not started")
        return self._certs.ca_bundle

    def environment(self) -> dict[str, str]:
        """The ``GLANCE_*`` settings that point bulk-provision at this simulator."""
        return {
            "GLANCE_BASE_URL": self.base_url,
            "GLANCE_CA_BUNDLE": str(self.ca_bundle),
            "GLANCE_PARTNER_LOGIN": self.config.partner_login,
            "GLANCE_PARTNER_PW": self.config.partner_pw,
        }

    @property
    def request_log(self) -> list[RequestRecord]:
        """A copy of every request received so far, faulted ones included."""
        return self._app.request_log()

    def users(self) -> dict[str, SimUser]:
        """Snapshot of the users keyed by PartnerUserID, in creation order."""
        return self.state.snapshot()

    def created_counts(self) -> Counter[str]:
        """How many times NewUser committed each PartnerUserID (1 everywhere = exactly once)."""
        return self.state.created_counts()

    def set_faults(self, **changes: Any) -> None:
        """Change fault settings while running, e.g. ``set_faults(fail_rate=0, latency_ms=5)``."""
        self.faults.set_faults(**changes)

    def add_user(
        self,
        partner_user_id: str,
        user_address: str,
        *,
        user_pw: str = "",
        user_first: str = "",
        user_last: str = "",
        user_email: str = "",
        user_role: str = "",
        suspended: bool = False,
    ) -> None:
        """Seed a user without a request (not counted as a NewUser creation).

        Raises ApiError for a taken key, an invalid address or an unprovisioned role.
        """
        role = resolve_role(user_role, self.state.roles, max(len(user_role), 1))
        user = SimUser(
            partner_user_id,
            check_address(user_address),
            user_pw,
            user_first,
            user_last,
            user_email,
            role,
            suspended,
        )
        self.state.add(user, count_creation=False)
