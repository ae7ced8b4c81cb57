"""Talking to Glance's User Provisioning API (PAPI): the only package that touches the network.

The names below load lazily: importing ``bulk_provision.glance.loginkey`` (as the simulator does)
does not pull in the client and its wire format, so the simulator's independence from the
client's wire code holds at run time too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bulk_provision.glance.client import GlanceClient
    from bulk_provision.glance.loginkey import LoginKeySource, login_key, verify_login_key
    from bulk_provision.glance.models import (
        CallRecord,
        Credentials,
        GlanceUser,
        RoleCount,
        UsersPage,
    )

_WHERE = {
    "GlanceClient": "client",
    "LoginKeySource": "loginkey",
    "login_key": "loginkey",
    "verify_login_key": "loginkey",
    "CallRecord": "models",
    "Credentials": "models",
    "GlanceUser": "models",
    "RoleCount": "models",
    "UsersPage": "models",
}

__all__ = [
    "CallRecord",
    "Credentials",
    "GlanceClient",
    "GlanceUser",
    "LoginKeySource",
    "RoleCount",
    "UsersPage",
    "login_key",
    "verify_login_key",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
