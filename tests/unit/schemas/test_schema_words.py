"""The schemas stand alone (a user's --schema file imports them) yet speak Glance's words."""

from __future__ import annotations

import subprocess
import sys

from bulk_provision.glance.models import NO_ROLE
from schemas import checks


def test_no_role_is_the_word_glance_uses() -> None:
    assert checks.NO_ROLE == NO_ROLE


def test_the_schemas_load_without_the_tool() -> None:
    code = ("import sys, schemas.roster; "
            "print(any(m.startswith('bulk_provision') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         encoding="utf-8",
                         check=True, timeout=60).stdout
    assert out.strip() == "False"
