"""Talking to Glance's User Provisioning API (PAPI): the only package that touches the network."""

from bulk_provision.glance.client import GlanceClient
from bulk_provision.glance.loginkey import LoginKeySource, login_key, verify_login_key
from bulk_provision.glance.models import CallRecord, Credentials, GlanceUser, RoleCount, UsersPage

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
