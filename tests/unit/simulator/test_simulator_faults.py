"""Injected faults, the request log, the state file, TLS and concurrency of the simulator."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from bulk_provision.errors import ConfigError
from bulk_provision.simulator import RequestRecord, Simulator, SimulatorConfig
from bulk_provision.simulator.faults import FaultInjector

if TYPE_CHECKING:
    from conftest import RawPapi

MakeSim = Callable[..., Simulator]
PapiFor = Callable[[Simulator], "RawPapi"]
NEW = {"PartnerUserID": "agent001", "UserAddress": "agent001.demo.glance.net"}


@pytest.mark.parametrize("status", [503, 500])
def test_fail_rate_answers_5xx_and_commits_nothing(
    make_simulator: MakeSim, papi_for: PapiFor, status: int
) -> None:
    sim = make_simulator(fail_rate=1.0, fail_status=status)
    response = papi_for(sim).call("NewUser", **NEW)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.reason == {503: "Service Unavailable", 500: "Internal Server Error"}[status]
    assert str(status) in response.text
    assert sim.users() == {}
    assert sim.request_log == [
        RequestRecord(sim.request_log[0].time, "NewUser", "agent001", False, f"HTTP{status}",
                      ("partneruserid", "useraddress"))
    ]


def test_drop_commits_then_closes_without_an_answer(
    make_simulator: MakeSim, papi_for: PapiFor
) -> None:
    sim = make_simulator(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        papi_for(sim).call("NewUser", **NEW)
    assert set(sim.users()) == {"agent001"}
    assert sim.created_counts() == {"agent001": 1}
    (record,) = sim.request_log
    assert (record.operation, record.partner_user_id, record.committed, record.result) == (
        "NewUser",
        "agent001",
        True,
        "DROPPED",
    )


def test_drop_of_a_failing_request_is_logged_uncommitted(
    make_simulator: MakeSim, papi_for: PapiFor
) -> None:
    sim = make_simulator(drop_rate=1.0)
    sim.add_user("agent001", "x.demo.glance.net")
    with pytest.raises(requests.ConnectionError):
        papi_for(sim).call("NewUser", **NEW)
    assert sim.request_log[-1].committed is False
    assert sim.created_counts() == {}


def test_rate_limit_answers_429_with_retry_after(
    make_simulator: MakeSim, papi_for: PapiFor
) -> None:
    # 0.001 requests/s: a bucket of one token that takes 1000 s to refill.
    sim = make_simulator(rate_limit=0.001)
    caller = papi_for(sim)
    caller.ok("NewUser", **NEW)
    response = caller.call("NewUser", PartnerUserID="b", UserAddress="b.demo.glance.net")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert set(sim.users()) == {"agent001"}
    assert [r.result for r in sim.request_log] == ["OK", "HTTP429"]
    sim.set_faults(rate_limit=0)
    caller.ok("NewUser", PartnerUserID="b", UserAddress="b.demo.glance.net")


def test_set_faults_changes_behaviour_at_run_time(simulator: Simulator, papi: RawPapi) -> None:
    simulator.set_faults(fail_rate=1, fail_status=500)
    assert papi.call("ShowRoles").status_code == 500
    simulator.set_faults(fail_rate=0, latency_ms=2.5, jitter_ms=1)
    papi.ok("ShowRoles")
    assert (simulator.config.latency_ms, simulator.config.jitter_ms) == (2.5, 1.0)
    with pytest.raises(ConfigError):
        simulator.set_faults(drop_rate=1.5)
    with pytest.raises(TypeError):
        simulator.set_faults(partner_pw="x")


def test_latency_and_jitter_plans_are_bounded_and_seeded() -> None:
    def delays() -> list[float]:
        injector = FaultInjector(SimulatorConfig(latency_ms=50, jitter_ms=20, seed=7))
        return [injector.plan().delay for _ in range(50)]

    plans = delays()
    assert plans == delays()
    assert all(0.05 <= delay <= 0.07 for delay in plans)
    assert len(set(plans)) > 1


def test_partial_fault_rates_follow_the_seed() -> None:
    def outcomes() -> list[tuple[int | None, bool]]:
        injector = FaultInjector(SimulatorConfig(fail_rate=0.3, drop_rate=0.2, seed=11))
        return [(p.refuse_status, p.drop) for p in (injector.plan() for _ in range(200))]

    first = outcomes()
    assert first == outcomes()
    counts = Counter(first)
    assert counts[(503, False)] and counts[(None, True)] and counts[(None, False)]


def test_slow_responses_are_dribbled_a_byte_at_a_time(make_simulator: MakeSim) -> None:
    sim = make_simulator(slow_rate=1.0, slow_seconds=0.001)
    context = ssl.create_default_context(cafile=str(sim.ca_bundle))
    body = "PartnerLogin=admin.demo.glance.net&PartnerPW=demo-password"
    request = (
        "POST /PAPI/ShowRoles.asp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    port = int(sim.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(request)
            chunks = []
            for _ in range(5000):  # bounded
                chunk = tls.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    data = b"".join(chunks)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"</roles></response>\n")
    assert max(len(chunk) for chunk in chunks) == 1  # one byte per TLS record


def test_request_log_records_every_request(simulator: Simulator, papi: RawPapi) -> None:
    papi.ok("NewUser", **NEW)
    papi.error("NewUser", **NEW)
    papi.ok("UpdateUser", PartnerUserID="agent001", UserSuspended="1")
    papi.ok("ShowUsers", PageCount="3")
    papi.ok("ShowRoles")
    papi.error("DeleteUser", auth={"PartnerLogin": "x"}, PartnerUserID="agent001")
    papi.ok("DeleteUser", PartnerUserID="agent001")
    log = [(r.operation, r.partner_user_id, r.committed, r.result) for r in simulator.request_log]
    assert log == [
        ("NewUser", "agent001", True, "OK"),
        ("NewUser", "agent001", False, "DUPLICATE_ID"),
        ("UpdateUser", "agent001", True, "OK"),
        ("ShowUsers", "", False, "OK"),
        ("ShowRoles", "", False, "OK"),
        ("DeleteUser", "agent001", False, "AUTH"),
        ("DeleteUser", "agent001", True, "OK"),
    ]
    times = [r.time for r in simulator.request_log]
    assert times == sorted(times)
    simulator.request_log.clear()  # a copy: the simulator's log is untouched
    assert len(simulator.request_log) == 7


def test_concurrent_creates_of_one_user_commit_exactly_once(
    simulator: Simulator, papi: RawPapi
) -> None:
    def create(index: int) -> str:
        root = papi.xml("NewUser", PartnerUserID="race", UserAddress=f"race{index}.demo.glance.net")
        return root.findtext("code") or "OK"

    with ThreadPoolExecutor(16) as pool:
        results = Counter(pool.map(create, range(32)))
    assert results == {"OK": 1, "DUPLICATE_ID": 31}
    assert simulator.created_counts() == {"race": 1}


def test_many_clients_in_parallel_lose_nothing(simulator: Simulator, papi: RawPapi) -> None:
    def create(index: int) -> None:
        papi.ok("NewUser", PartnerUserID=f"u{index:04d}", UserAddress=f"u{index}.demo.glance.net")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, range(300)))
    assert len(simulator.users()) == 300
    assert set(simulator.created_counts().values()) == {1}


def test_state_file_survives_a_restart(
    make_simulator: MakeSim, papi_for: PapiFor, tmp_path: Path
) -> None:
    path = tmp_path / "glance-state.json"
    first = make_simulator(state_file=path)
    caller = papi_for(first)
    caller.ok("NewUser", **NEW, UserRole="Agent", AudioProvider="1", UserPW="secret-pw-1")
    caller.ok("NewUser", PartnerUserID="b", UserAddress="b.demo.glance.net")
    caller.ok("UpdateUser", PartnerUserID="b", UserSuspended="yes")
    before = first.users()
    first.stop()
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 1

    second = make_simulator(state_file=path)
    assert second.users() == before
    assert second.created_counts() == {"agent001": 1, "b": 1}
    caller = papi_for(second)
    assert caller.error("NewUser", **NEW) == "DUPLICATE_ID"
    caller.ok("NewUser", PartnerUserID="c", UserAddress="c.demo.glance.net")
    root = caller.ok("ShowUsers", PageCount="10")
    assert [u.findtext("PartnerUserID") for u in root.iter("user")] == ["agent001", "b", "c"]


def test_unusable_state_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not usable"):
        Simulator(state_file=path).start()


@pytest.mark.parametrize(
    "overrides",
    [
        {"host": "0.0.0.0"},
        {"host": "192.168.1.10"},
        {"host": "glance.example"},
        {"fail_rate": 2.0},
        {"latency_ms": -1},
        {"fail_status": 404},
        {"roles": ("Agent", "-none-")},
        {"port": 70000},
    ],
)
def test_bad_configurations_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Simulator(SimulatorConfig(), **overrides)


def test_certificate_is_for_loopback_names_and_needs_the_ca(simulator: Simulator) -> None:
    port = simulator.base_url.rsplit(":", 1)[1]
    with requests.Session() as session:
        session.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"{simulator.base_url}/PAPI/ShowRoles.asp", timeout=10)  # system CAs
        response = session.post(
            f"https://localhost:{port}/PAPI/ShowRoles.asp",
            data={"PartnerLogin": "admin.demo.glance.net", "PartnerPW": "demo-password"},
            verify=str(simulator.ca_bundle),
            timeout=10,
        )
    assert response.status_code == 200


def test_keep_alive_serves_many_requests_on_one_connection(simulator: Simulator) -> None:
    context = ssl.create_default_context(cafile=str(simulator.ca_bundle))
    port = int(simulator.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    body = "PartnerLogin=admin.demo.glance.net&PartnerPW=demo-password"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        sockets = []
        for _ in range(3):
            conn.request("POST", "/PAPI/ShowRoles.asp", body=body, headers=headers)
            response = conn.getresponse()
            assert response.status == 200
            assert int(response.headers["Content-Length"]) == len(response.read())
            assert response.headers.get("Connection") is None
            sockets.append(conn.sock)
        assert sockets[0] is not None and sockets[0] is sockets[1] is sockets[2]
    finally:
        conn.close()


def test_stop_is_prompt_with_idle_connections_and_idempotent(papi_for: PapiFor) -> None:
    sim = Simulator().start()
    caller = papi_for(sim)
    caller.ok("ShowRoles")  # leaves an idle keep-alive connection open
    ca_bundle = sim.ca_bundle
    sim.stop()
    sim.stop()
    assert not ca_bundle.exists()
    with pytest.raises(RuntimeError):
        _ = sim.base_url
