"""The one suspension guard: its base (active, unprotected users), its limit and its verdict."""

from __future__ import annotations

import pytest

from bulk_provision.errors import UsageError
from bulk_provision.glance.models import GlanceUser
from bulk_provision.plan.guard import active_base, guard


def snapshot(active: int, suspended: int = 0) -> dict[str, GlanceUser]:
    users = {f"{n:04}": GlanceUser(f"{n:04}", f"u{n}.x.glance.net") for n in range(active)}
    users |= {f"s{n}": GlanceUser(f"s{n}", f"s{n}.x.glance.net", suspended=True)
              for n in range(suspended)}
    return users


def test_the_base_leaves_out_suspended_and_protected_users() -> None:
    users = snapshot(10, suspended=5)
    users["admin"] = GlanceUser("admin", "admin.x.glance.net")
    assert active_base(users, ["admin*"]) == 10
    assert active_base(users, []) == 11


@pytest.mark.parametrize(("removals", "max_suspend", "allowed", "limit"), [
    (10, "10%", True, 10), (11, "10%", False, 10), (3, "3", True, 3), (4, "3", False, 3),
    (0, "0", True, 0), (1, "0%", False, 0),
])
def test_the_verdict_counts_against_the_limit(
    removals: int, max_suspend: str, allowed: bool, limit: int,
) -> None:
    verdict = guard(removals, snapshot(100), [], max_suspend)
    assert (verdict.allowed, verdict.limit, verdict.active) == (allowed, limit, 100)


def test_the_refusal_says_how_many_of_how_many_and_the_limit() -> None:
    verdict = guard(30, snapshot(100), [], "10%")
    assert verdict.exceeded("sync would suspend") == (
        "sync would suspend 30 of 100 active users, more than --max-suspend 10% allows (10)")


def test_a_bad_limit_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--max-suspend must be a count"):
        guard(1, snapshot(1), [], "lots")
