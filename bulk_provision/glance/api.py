"""What the engine, the planner and the exporter need of Glance: a Protocol that
:class:`~bulk_provision.glance.client.GlanceClient` and the tests' in-memory fake both meet."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from bulk_provision.glance.models import AudioCodes, GlanceUser, RoleCount


class GlanceApi(Protocol):
    """What the engine needs from Glance: ``glance.GlanceClient`` or the tests' in-memory fake.

    ``attempt`` is the row's attempt number, recorded in the call log.
    """

    def new_user(
        self, fields: Mapping[str, str], *, attempt: int | None = None
    ) -> AudioCodes: ...

    def update_user(
        self, partner_user_id: str, fields: Mapping[str, str], *, attempt: int | None = None
    ) -> None: ...

    def delete_user(self, partner_user_id: str, *, attempt: int | None = None) -> None: ...

    def show_users(
        self,
        *,
        partner_user_id: str | None = None,
        user_address: str | None = None,
        page_count: int = 1000,
    ) -> Iterator[GlanceUser]: ...

    def show_roles(self) -> list[RoleCount]: ...
