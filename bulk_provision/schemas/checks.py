"""Checkout-only window onto ``schemas/checks.py``; the wheel ships the real file here instead."""

from schemas.checks import *  # noqa: F403 (the same objects under the installed name)
