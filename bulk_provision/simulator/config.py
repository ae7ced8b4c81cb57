"""Settings of the local Glance simulator: credentials, roles, limits and injected faults."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bulk_provision.errors import ConfigError

#: Fault settings that may change while the simulator runs (``Simulator.set_faults``).
FAULT_FIELDS = frozenset(
    {
        "latency_ms",
        "jitter_ms",
        "fail_rate",
        "fail_status",
        "drop_rate",
        "rate_limit",
        "slow_rate",
        "slow_seconds",
        "audio_fail_rate",
    }
)

_RATES = ("fail_rate", "drop_rate", "slow_rate", "audio_fail_rate")
_NON_NEGATIVE = ("latency_ms", "jitter_ms", "rate_limit", "slow_seconds")


@dataclass
class SimulatorConfig:
    """Everything a simulator instance needs; the defaults are the documented demo account.

    ``slow_seconds`` is the pause between two bytes of a slowed response (``slow_rate`` picks
    which responses are slowed). ``drop_rate`` commits the change and then closes the connection
    without answering: the ambiguous outcome a careful client must resolve with ShowUsers.
    """

    host: str = "127.0.0.1"
    port: int = 0
    partner_login: str = "admin.demo.glance.net"
    partner_pw: str = "demo-password"
    api_key: str = "demo-api-key-0123456789"
    partner_id: str = "12345"
    admin_partner_user_id: str = "admin"
    roles: tuple[str, ...] = ("Agent", "Supervisor")
    list_empty_roles: bool = False
    role_max_new: int = 70
    role_max_update: int = 31
    latency_ms: float = 0
    jitter_ms: float = 0
    fail_rate: float = 0
    fail_status: int = 503
    drop_rate: float = 0
    rate_limit: float = 0
    slow_rate: float = 0
    slow_seconds: float = 0
    audio_fail_rate: float = 0
    state_file: Path | None = None
    seed: int | None = None

    def __repr__(self) -> str:
        # The demo secrets are harmless, but a user-supplied password must not reach a log.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["partner_pw"] = "***"
        shown["api_key"] = "***"
        return "SimulatorConfig(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def check_config(config: SimulatorConfig) -> None:
    """Raise ConfigError if ``config`` cannot run: non-loopback host, bad port, bad rates."""
    if config.host != "localhost":
        try:
            loopback = ipaddress.ip_address(config.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(f"the simulator binds to loopback only, not {config.host!r}")
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"port {config.port} is out of range")
    check_faults(vars(config))
    if config.role_max_new < 1 or config.role_max_update < 1:
        raise ConfigError("role name limits must be at least 1")
    if any(not role.strip() or role.strip().lower() == "-none-" for role in config.roles):
        raise ConfigError("role names must be non-empty and not '-none-'")


def check_faults(values: dict[str, Any]) -> None:
    """Raise ConfigError for an out-of-range fault setting among ``values``."""
    for name in _RATES:
        if name in values and not 0 <= float(values[name]) <= 1:
            raise ConfigError(f"{name} must be between 0 and 1, not {values[name]!r}")
    for name in _NON_NEGATIVE:
        if name in values and float(values[name]) < 0:
            raise ConfigError(f"{name} must not be negative, not {values[name]!r}")
    if "fail_status" in values and not 500 <= int(values["fail_status"]) <= 599:
        raise ConfigError(f"fail_status must be a 5xx code, not {values['fail_status']!r}")
