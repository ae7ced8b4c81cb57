"""Roster rules as pandera schemas; see ``schemas.roster`` and ``schemas.checks``.

The wheel installs this folder as ``bulk_provision.schemas`` (pyproject.toml, force-include),
so its imports are relative: the same files work under either name.
"""

from .roster import build_schema

__all__ = ["build_schema"]
