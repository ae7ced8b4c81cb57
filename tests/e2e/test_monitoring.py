"""``run --ping URL`` and ``run --metrics-file FILE.prom``: a local HTTPS monitor hears the start
and the end with the exit code; one that is down, slow or failing changes nothing of the run;
the metrics file is what Prometheus' own parser reads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import trustme

from bulk_provision.jobs import monitor
from bulk_provision.simulator import Simulator
from tests.e2e.test_run import run_cli, write_roster
from tests.hostile import tls_http_server

pytestmark = pytest.mark.timeout(90)
BAD = ["88888", "bad.demo.glance.net", "Bad-pw-1234567", "B", "C", "bad-address@", "Agent", "",
       ""]


class Monitor:
    """A cron monitor on loopback HTTPS recording the paths it was pinged on; ``mode`` ok | 500 |
    hang (answers only when released, at teardown)."""

    def __init__(self, ca: trustme.CA, mode: str = "ok") -> None:
        self.paths: list[str] = []
        self.mode, self.release = mode, threading.Event()
        seen = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - the base class's name
                seen.paths.append(self.path)
                if seen.mode == "hang":
                    seen.release.wait(30)  # bounded
                self.send_response(500 if seen.mode == "500" else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

        self.server = tls_http_server(ca, Handler)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/ping/s3cret-uuid"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pinged(simulator: Simulator, use_sim: Callable[..., None], tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Monitor]]:
    """``pinged(mode)``: a monitor whose CA the run trusts beside the simulator's."""
    ca, made = trustme.CA(), []
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(simulator.ca_bundle.read_bytes() + ca.cert_pem.bytes())
    use_sim(simulator, GLANCE_CA_BUNDLE=str(bundle))
    monkeypatch.chdir(tmp_path)

    def start(mode: str = "ok") -> Monitor:
        made.append(Monitor(ca, mode))
        return made[-1]

    yield start
    for one in made:
        one.close()


def metrics(path: Path) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{label}}}" if label else sample.name] = sample.value
    return found


def test_a_run_pings_start_and_end_and_writes_metrics_prometheus_reads(
    pinged: Callable[[str], Monitor], simulator: Simulator, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    watcher = pinged("ok")
    roster = write_roster(tmp_path / "staff.csv", 3)
    prom = tmp_path / "bulk_provision.prom"
    assert run_cli(str(roster), "--rate", "0", "--ping", watcher.url,
                   "--metrics-file", str(prom)) == 0
    assert watcher.paths == ["/ping/s3cret-uuid/start", "/ping/s3cret-uuid"]
    seen = metrics(prom)
    assert seen["bulk_provision_rows{outcome=created}"] == 3
    assert seen["bulk_provision_rows_planned"] == 3 and seen["bulk_provision_exit_code"] == 0
    assert seen["bulk_provision_running"] == 0
    success = seen["bulk_provision_last_success_timestamp_seconds"]
    assert success >= seen["bulk_provision_last_run_timestamp_seconds"]
    assert oct(prom.stat().st_mode & 0o777) == "0o644"  # node_exporter reads it
    assert "warning" not in capsys.readouterr().err
    # a failing run: /fail, exit 1 in the file, and the last success is kept
    bad = write_roster(tmp_path / "bad.csv", 1, extra=[BAD])
    assert run_cli(str(bad), "--rate", "0", "--skip-invalid", "--ping", watcher.url,
                   "--metrics-file", str(prom)) == 1
    assert watcher.paths[2:] == ["/ping/s3cret-uuid/start", "/ping/s3cret-uuid/fail"]
    after = metrics(prom)
    assert after["bulk_provision_exit_code"] == 1
    assert after["bulk_provision_last_success_timestamp_seconds"] == success
    # a refused run (exit 2) is still reported, with its code where the monitor takes it
    assert run_cli(str(tmp_path / "missing.csv"), "--ping", watcher.url, "--ping-exit-code",
                   "--metrics-file", str(prom)) == 2
    assert watcher.paths[4:] == ["/ping/s3cret-uuid/start", "/ping/s3cret-uuid/2"]
    assert metrics(prom)["bulk_provision_exit_code"] == 2


@pytest.mark.parametrize("mode", ["down", "500", "hang"])
def test_a_monitor_that_is_down_failing_or_silent_changes_nothing_of_the_run(
    mode: str, pinged: Callable[[str], Monitor], simulator: Simulator, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(monitor, "PING_SECONDS", 1.0)
    watcher = pinged("ok" if mode == "down" else mode)
    url = watcher.url
    if mode == "down":
        watcher.close()
    roster = write_roster(tmp_path / "staff.csv", 2)
    assert run_cli(str(roster), "--rate", "0", "--ping", url) == 0
    assert simulator.created_counts() == {"00000": 1, "00001": 1}
    err = capsys.readouterr().err
    assert err.count("bulk-provision: warning: the ping to https://127.0.0.1") == 2, err
    assert "s3cret" not in err  # the path is the monitor's secret


@pytest.mark.parametrize(("option", "said"), [
    (["--ping", "http://hc.example.com/x"], "a ping URL must start with https://"),
    (["--ping", "https://u:p@hc.example.com/x"], "cannot carry a user name or password"),
    (["--metrics-file", "out.txt"], "node_exporter reads only files ending in .prom"),
    (["--metrics-file", "no/such/folder/x.prom"], "does not exist"),
])
def test_an_unusable_ping_or_metrics_file_is_refused_before_any_work(
    option: list[str], said: str, pinged: Callable[[str], Monitor], simulator: Simulator,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    roster = write_roster(tmp_path / "staff.csv", 2)
    assert run_cli(str(roster), "--rate", "0", *option) == 2
    assert said in capsys.readouterr().err
    assert not [r for r in simulator.request_log if r.operation == "NewUser"]


@pytest.mark.parametrize("clash", ["checkpoint", "log"])
def test_the_metrics_file_never_overwrites_the_journal_or_the_call_log(
    clash: str, pinged: Callable[[str], Monitor], simulator: Simulator, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    watcher = pinged("ok")
    roster = write_roster(tmp_path / "staff.csv", 2)
    same = tmp_path / "same.prom"
    same.write_bytes(b"what was there")
    option = ["--checkpoint", str(same)] if clash == "checkpoint" else ["--log-file", str(same)]
    assert run_cli(str(roster), "--rate", "0", *option, "--metrics-file", str(same),
                   "--ping", watcher.url) == 2
    err = capsys.readouterr().err
    assert f"--metrics-file {same} is" in err and "choose another file" in err, err
    assert same.read_bytes() == b"what was there"
    assert watcher.paths == []  # refused before its start: nothing to report of this run
    assert not [r for r in simulator.request_log if r.operation == "NewUser"]
