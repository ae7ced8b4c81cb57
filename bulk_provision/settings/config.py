"""Settings from a TOML file (``--config FILE``, default ``bulk-provision.toml`` if present).

Command-line options win over the environment, the environment over the file, the file over
defaults. The file is flat::

    workers = 16
    rate = 20
    partner_login = "admin.example.glance.net"
    base_url = "https://www.glance.net"
    roles = ["Agent", "Supervisor"]

Connection keys are exposed to the credential resolver as their ``GLANCE_*`` environment names.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulk_provision.errors import ConfigError
from bulk_provision.settings import paths

DEFAULT_CONFIG_NAME = "bulk-provision.toml"

# file key -> environment variable the credential resolver reads
CONNECTION_KEYS = {
    "base_url": "GLANCE_BASE_URL",
    "ca_bundle": "GLANCE_CA_BUNDLE",
    "partner_login": "GLANCE_PARTNER_LOGIN",
    "partner_pw": "GLANCE_PARTNER_PW",
    "api_key": "GLANCE_API_KEY",
    "partner_id": "GLANCE_PARTNER_ID",
    "partner_user_id": "GLANCE_PARTNER_USER_ID",
}

SECRET_KEYS = ("partner_pw", "api_key")

# file key -> expected type(s)
RUN_KEYS: dict[str, tuple[type, ...]] = {
    "mode": (str,),
    "workers": (int,),
    "rate": (int, float),
    "timeout": (int, float),
    "max_retries": (int,),
    "audio_provider": (str, int),
    "max_suspend": (str, int),
    "max_wait": (int, float),
    "roles": (list, str),
    "protect": (list, str),
    "log_file": (str,),
    "skip_invalid": (bool,),
    "set_passwords": (bool,),
    "check_roles": (bool,),
    "columns": (str,),
    "recipe": (str,),
    "sheet": (str,),
    # --notify (bulk_provision/jobs/notify.py); the SMTP password only from GLANCE_SMTP_PASSWORD
    "notify": (list, str),
    "notify_timeout": (int, float),
    "smtp_host": (str,),
    "smtp_port": (int,),
    "smtp_security": (str,),
    "smtp_user": (str,),
    "smtp_from": (str,),
    # monitoring (bulk_provision/jobs/monitor.py): run --ping, --ping-exit-code, --metrics-file
    "ping": (str,),
    "ping_exit_code": (bool,),
    "metrics_file": (str,),
    # serve: how long a sign-in to the page lasts (serve --session-hours)
    "session_hours": (int, float),
    # tuning, rarely needed
    "backoff_base": (int, float),
    "backoff_max": (int, float),
    "max_consecutive_failures": (int,),
    "pause_seconds": (int, float),
    "progress_interval": (int, float),
}


@dataclass
class Settings:
    """Values from the config file, split into run options and connection environment."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)
    connection_env: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # for the command to print
    profile: str = ""  # the [profile.NAME] chosen ("" for the file's flat keys)
    production: bool = False  # that profile says production = true

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """The real environment over the file's connection settings."""
        merged = dict(self.connection_env)
        merged.update({k: v for k, v in env.items() if v})
        return merged


PROFILE_ENV = "BULK_PROVISION_PROFILE"


def load_settings(path: str | Path | None, *, cwd: Path | None = None,
                  profile: str | None = None) -> Settings:
    """Read ``path``, or ``bulk-provision.toml`` in ``cwd`` when ``path`` is None and it exists.

    ``profile`` (``--profile``, else ``BULK_PROVISION_PROFILE``): the file's
    ``[profile.NAME]`` table over its flat keys (which stay the default profile); an unknown
    name is a ConfigError listing the known ones."""
    if profile is None:
        profile = os.environ.get(PROFILE_ENV) or None
    if path is None:
        default = (cwd or Path.cwd()) / DEFAULT_CONFIG_NAME
        if not default.is_file():
            if profile:
                raise ConfigError(f"profile {profile[:64]!r} was asked for, but there is no "
                                  f"config file ({DEFAULT_CONFIG_NAME} here, or --config FILE) "
                                  "to hold [profile.NAME] tables")
            return Settings()
        path = default
    path = Path(path)
    data = read_toml(path, "config file")
    profiles = data.pop("profile", {})
    if not isinstance(profiles, dict) or not all(isinstance(t, dict) for t in profiles.values()):
        raise ConfigError(f"config file {path}: profiles are tables: [profile.staging], "
                          "[profile.production]")
    production = False
    if profile:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none: add a [profile.NAME] table"
            raise ConfigError(f"config file {path} has no profile {profile[:64]!r} (known: "
                              f"{known})")
        table = dict(profiles[profile])
        production = table.pop("production", False)
        if not isinstance(production, bool):
            raise ConfigError(f"config file {path}: [profile.{profile}] production must be "
                              "true or false")
        unknown = [key for key in table if key not in CONNECTION_KEYS and key not in RUN_KEYS]
        if unknown:
            known = ", ".join(sorted([*CONNECTION_KEYS, *RUN_KEYS, "production"]))
            raise ConfigError(f"config file {path}: [profile.{profile}] has an unknown setting "
                              f"{unknown[0]!r} (known: {known})")
        data = {**data, **table}
    settings = _settings_from(path, data)
    settings.profile, settings.production = profile or "", production
    settings.warnings.extend(check_permissions(path, settings))
    return settings


def check_permissions(path: Path, settings: Settings) -> list[str]:
    """Refuse a file that others may change; warn when it holds a secret others may read.

    Whatever the file holds, whoever can change it can redirect or capture: ``base_url`` and
    ``ca_bundle`` send the environment's password (a cron job's GLANCE_PARTNER_PW) to their own
    server, ``log_file``, ``columns``, ``notify`` and ``smtp_*`` send rows where they choose,
    ``roles`` or ``protect`` change what sync suspends. So any config file writable by group or
    others, or owned by another user (not you, not root), is refused (exit 2), even one without a
    secret. Windows has no mode bits: there the file must lie inside the user's profile
    (:func:`~bulk_provision.settings.paths.outside_profile`), else it is refused the same way.
    """
    paths.check_not_shared(path, "config file",
                           consequence=" and so send your password to their server",
                           windows_home="%APPDATA%\\bulk-provision\\bulk-provision.toml")
    if paths.WINDOWS:
        return []
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return []
    fix = f"run: chmod 600 {path}"
    secrets = [key for key in SECRET_KEYS if CONNECTION_KEYS[key] in settings.connection_env]
    if secrets and mode & (stat.S_IRGRP | stat.S_IROTH):
        return [f"config file {path} holds {secrets[0]} and other users can read it "
                f"(mode {mode:03o}); {fix}"]
    return []


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file (a BOM is tolerated); any problem is one ConfigError naming ``what``."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} does not exist") from exc
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ConfigError(f"cannot read {what} {path}: {reason}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from exc


def _settings_from(path: Path, data: dict[str, Any]) -> Settings:
    settings = Settings(path=path)
    for key, value in data.items():
        if key in CONNECTION_KEYS:
            if not isinstance(value, str | int):
                raise ConfigError(f"config file {path}: {key} must be text")
            settings.connection_env[CONNECTION_KEYS[key]] = str(value)
        elif key in RUN_KEYS:
            if not isinstance(value, RUN_KEYS[key]) or isinstance(value, bool) != (
                bool in RUN_KEYS[key]
            ):
                raise ConfigError(f"config file {path}: {key} has the wrong type ({value!r})")
            settings.values[key] = value
        else:
            known = ", ".join(sorted([*CONNECTION_KEYS, *RUN_KEYS]))
            raise ConfigError(f"config file {path}: unknown setting {key!r} (known: {known})")
    return settings


def pick(cli_value: Any, settings: Settings, key: str, default: Any) -> Any:
    """The command-line value if given, else the file's, else ``default``."""
    if cli_value is not None:
        return cli_value
    return settings.get(key, default)
