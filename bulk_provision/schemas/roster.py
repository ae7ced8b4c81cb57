"""Checkout-only window onto ``schemas/roster.py``; the wheel ships the real file here instead."""

from schemas.roster import *  # noqa: F403 (the same objects under the installed name)
