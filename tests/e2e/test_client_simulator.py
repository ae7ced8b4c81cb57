"""GlanceClient against the in-process HTTPS simulator: every operation, error code and fault."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bulk_provision.errors import AuthError, PermanentApiError, TransientApiError
from bulk_provision.glance import CallRecord, Credentials, GlanceClient, GlanceUser, RoleCount
from bulk_provision.glance.loginkey import LoginKeySource
from bulk_provision.simulator import Simulator
from tests.conftest import user_by_id

TIMEOUT = (5.0, 10.0)
Factory = Callable[..., Simulator]


def pw_credentials(sim: Simulator, **changes: str) -> Credentials:
    values = {"partner_login": sim.config.partner_login, "partner_pw": sim.config.partner_pw}
    return Credentials(**{**values, **changes})


def key_credentials(sim: Simulator, **changes: str) -> Credentials:
    values = {
        "partner_login": sim.config.partner_login,
        "api_key": sim.config.api_key,
        "partner_id": sim.config.partner_id,
        "partner_user_id": sim.config.admin_partner_user_id,
    }
    return Credentials(**{**values, **changes})


def connect(sim: Simulator, credentials: Credentials | None = None, **kw: object) -> GlanceClient:
    return GlanceClient(
        sim.base_url,
        credentials or pw_credentials(sim),
        ca_bundle=sim.ca_bundle,
        timeout=TIMEOUT,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(simulator: Simulator) -> Iterator[GlanceClient]:
    with connect(simulator) as c:
        yield c


def test_user_lifecycle(simulator: Simulator, client: GlanceClient) -> None:
    codes = client.new_user(
        {
            "PartnerUserID": "E1",
            "UserAddress": "e1.demo.glance.net",
            "UserPW": "long-enough-pw",
            "UserFirst": "Ann",
            "UserRole": "Agent",
            "AudioProvider": "666",
        }  # fmt: skip
    )
    assert codes and codes.dial_in and codes.host_code and codes.guest_code
    assert not client.new_user({"PartnerUserID": "E2", "UserAddress": "e2.demo.glance.net"})
    assert user_by_id(client, "E1") == GlanceUser(
        "E1", "e1.demo.glance.net", "Ann", "", "", "Agent", False
    )
    client.update_user("E1", {"UserSuspended": "1", "UserLast": "Lee"})
    assert user_by_id(client, "E1") == GlanceUser(
        "E1", "e1.demo.glance.net", "Ann", "Lee", "", "Agent", True
    )
    assert simulator.users()["E1"].suspended
    client.delete_user("E2")
    assert user_by_id(client, "E2") is None and "E2" not in simulator.users()
    roles = {role.name: role for role in client.show_roles()}
    assert roles["Agent"] == RoleCount("Agent", 0, 1, 1)
    operations = [r.operation for r in simulator.request_log]
    assert operations[:3] == ["NewUser", "NewUser", "ShowUsers"]
    assert all(r.result == "OK" for r in simulator.request_log)


def seed(sim: Simulator, count: int, prefix: str = "Sales", domain: str = "demo") -> None:
    for i in range(count):
        sim.add_user(f"{prefix}{i:03d}", f"{prefix.lower()}{i:03d}.{domain}.glance.net")


def test_paging_over_several_pages(simulator: Simulator, client: GlanceClient) -> None:
    seed(simulator, 25)
    users = list(client.show_users(page_count=10))
    assert sorted(u.partner_user_id for u in users) == [f"Sales{i:03d}" for i in range(25)]
    shows = [r for r in simulator.request_log if r.operation == "ShowUsers"]
    assert len(shows) == 3


def test_wildcards_and_no_role(simulator: Simulator, client: GlanceClient) -> None:
    seed(simulator, 3)
    seed(simulator, 2, prefix="Ops", domain="ri.demo")
    simulator.add_user("X34", "x34.demo.glance.net", user_role="Agent")
    assert {u.partner_user_id for u in client.show_users(partner_user_id="Sales*")} == {
        "Sales000", "Sales001", "Sales002"}  # fmt: skip
    assert {u.partner_user_id for u in client.show_users(partner_user_id="*34")} == {"X34"}
    by_domain = client.show_users(user_address="*.ri.demo.glance.net")
    assert {u.partner_user_id for u in by_domain} == {"Ops000", "Ops001"}
    no_role = {u.partner_user_id for u in client.show_users(user_role="-none-")}
    assert "X34" not in no_role and "Sales000" in no_role
    assert [u.partner_user_id for u in client.show_users(user_role="Agent")] == ["X34"]


ERROR_CASES = {
    "MISSING": {"PartnerUserID": "E1"},
    "INVALID": {"PartnerUserID": "E1", "UserAddress": "e1.demo.glance.net", "UserPW": "short"},
    "DUPLICATE_ID": {"PartnerUserID": "Sales000", "UserAddress": "new.demo.glance.net"},
    "DUPLICATE_ADDRESS": {"PartnerUserID": "E9", "UserAddress": "sales000.demo.glance.net"},
    "NO_ROLE": {"PartnerUserID": "E1", "UserAddress": "e1.demo.glance.net", "UserRole": "Ghost"},
}


@pytest.mark.parametrize("code", sorted(ERROR_CASES))
def test_new_user_error_codes(simulator: Simulator, client: GlanceClient, code: str) -> None:
    seed(simulator, 1)
    records: list[CallRecord] = []
    with connect(simulator, on_call=records.append) as c:
        with pytest.raises(PermanentApiError) as info:
            c.new_user(ERROR_CASES[code])
    assert info.value.code == code and info.value.message
    assert records[0].outcome == code and records[0].http_status == 200
    assert simulator.request_log[-1].result == code and not simulator.request_log[-1].committed


def test_not_found_on_update_and_delete(client: GlanceClient) -> None:
    for call in (lambda: client.update_user("nobody", {"UserFirst": "A"}),
                 lambda: client.delete_user("nobody")):  # fmt: skip
        with pytest.raises(PermanentApiError) as info:
            call()
        assert info.value.code == "NOT_FOUND"


def test_wrong_password_is_auth_error(simulator: Simulator) -> None:
    with connect(simulator, pw_credentials(simulator, partner_pw="wrong-pw")) as c:
        with pytest.raises(AuthError) as info:
            c.show_roles()
    assert info.value.exit_code == 4 and "wrong-pw" not in str(info.value)


def test_login_key_accepted(simulator: Simulator) -> None:
    with connect(simulator, key_credentials(simulator)) as c:
        c.new_user({"PartnerUserID": "E1", "UserAddress": "e1.demo.glance.net"})
        assert [u.partner_user_id for u in c.show_users()] == ["E1"]


@pytest.mark.parametrize(
    "changes", [{"api_key": "tampered-api-key"}, {"partner_user_id": "someone-else"}]
)
def test_tampered_login_key_refused(simulator: Simulator, changes: dict[str, str]) -> None:
    with connect(simulator, key_credentials(simulator, **changes)) as c:
        with pytest.raises(AuthError):
            c.show_roles()


def test_expired_login_key_refused(simulator: Simulator) -> None:
    config = simulator.config
    with connect(simulator, key_credentials(simulator)) as c:
        # A source whose clock is two hours behind hands out a key that expired an hour ago.
        c._keys = LoginKeySource(  # reaching in: age the key
            config.partner_id, config.admin_partner_user_id, config.api_key,
            clock=lambda: time.time() - 7200,
        )  # fmt: skip
        with pytest.raises(AuthError):
            c.show_roles()


def test_drop_after_commit_is_maybe_committed(make_simulator: Factory) -> None:
    sim = make_simulator(drop_rate=1.0)
    with connect(sim) as c:
        with pytest.raises(TransientApiError) as info:
            c.new_user({"PartnerUserID": "E1", "UserAddress": "e1.demo.glance.net"})
    assert info.value.maybe_committed
    assert "E1" in sim.users()
    assert [(r.committed, r.result) for r in sim.request_log] == [(True, "DROPPED")]


@pytest.mark.parametrize("status", [503, 500])
def test_server_errors_are_transient(make_simulator: Factory, status: int) -> None:
    sim = make_simulator(fail_rate=1.0, fail_status=status)
    with connect(sim) as c:
        with pytest.raises(TransientApiError) as info:
            c.new_user({"PartnerUserID": "E1", "UserAddress": "e1.demo.glance.net"})
    # 503 says "not handled"; a 500 may have been carried out before the application failed
    assert info.value.status == status and info.value.maybe_committed == (status == 500)
    assert sim.users() == {}


def test_rate_limit_gives_429_with_retry_after(make_simulator: Factory) -> None:
    sim = make_simulator(rate_limit=0.01)  # one request, then one per 100 s
    with connect(sim) as c:
        c.show_roles()
        with pytest.raises(TransientApiError) as info:
            c.show_roles()
    assert info.value.status == 429 and not info.value.maybe_committed
    assert info.value.retry_after is not None and info.value.retry_after > 0


def test_many_threads_share_one_client(simulator: Simulator) -> None:
    errors: list[BaseException] = []
    with connect(simulator, pool_size=8) as c:

        def worker(n: int) -> None:
            try:
                for i in range(20):
                    puid = f"T{n}-{i}"
                    c.new_user({"PartnerUserID": puid, "UserAddress": f"t{n}-{i}.demo.glance.net"})
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(list(c.show_users(page_count=50))) == 160
    assert set(simulator.created_counts().values()) == {1}
