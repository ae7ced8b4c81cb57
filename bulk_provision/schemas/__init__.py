"""The roster rules, importable as ``bulk_provision.schemas`` (in the checkout, a window onto them).

The repository keeps the rules in top-level ``schemas/``. The wheel installs that folder here
instead (pyproject.toml: excluded from the package, then force-included under this name), so an
installed tool has no top-level ``schemas`` module to clash with anyone else's. In a checkout
these three files re-export ``schemas`` so that both names give the very same objects; the wheel
test (tests/unit/test_wheel.py) proves the installed copy is the real one, not this window.
"""

from schemas import build_schema

__all__ = ["build_schema"]
