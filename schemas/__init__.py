"""Roster rules as pandera schemas; see ``schemas.roster`` and ``schemas.checks``."""

from schemas.roster import build_schema

__all__ = ["build_schema"]
