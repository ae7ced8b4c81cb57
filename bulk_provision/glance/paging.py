"""ShowUsers paging, bounded (DESIGN.md section 11): a server that pages forever is stopped.

The cursor is opaque (glance-api.md 5.1): the listing goes on while the server gives a next
cursor. A cursor seen before ends it as an unreadable answer; more users than a Glance group
could hold, or more pages than such a group could fill, stop it with RunStopped (a definite
stop, never retried), within minutes and a bounded amount of memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from bulk_provision.errors import ResponseFormatError, RunStopped
from bulk_provision.glance.models import GlanceUser, UsersPage

MAX_LISTED_USERS = 1_000_000
MAX_LISTED_PAGES = 20_000


def every_user(
    fetch: Callable[[str | None], UsersPage],
    *,
    max_users: int | None = None,
    max_pages: int | None = None,
) -> Iterator[GlanceUser]:
    """Every user of the pages ``fetch(cursor)`` returns, first page with ``cursor=None``.

    A page with fewer users than asked for does not end the listing by itself (a server may cap
    page sizes); an empty page or no next cursor does.
    """
    user_cap = MAX_LISTED_USERS if max_users is None else max_users
    page_cap = MAX_LISTED_PAGES if max_pages is None else max_pages
    seen: set[str] = set()
    cursor: str | None = None
    listed = 0
    while True:
        page = fetch(cursor)
        listed += len(page.users)
        if listed > user_cap or (page.next_page_start and len(seen) + 1 >= page_cap):
            raise RunStopped(
                f"ShowUsers kept paging past {min(listed, user_cap):,} users in "
                f"{len(seen) + 1:,} pages, more than a Glance group could hold ({user_cap:,} "
                f"users or {page_cap:,} pages); the server's paging looks broken: stopped, "
                "nothing was changed"
            )
        yield from page.users
        cursor = page.next_page_start
        if cursor is None or not page.users:
            return
        if cursor in seen:
            raise ResponseFormatError(
                "ShowUsers: the server repeated a paging cursor; the listing would never end",
                maybe_committed=True,
            )
        seen.add(cursor)
