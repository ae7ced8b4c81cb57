"""``run --notify``: a real local SMTP server (aiosmtpd, STARTTLS with a trustme certificate) and
a local HTTPS receiver hear how each run ended; failing receivers change nothing."""

from __future__ import annotations

import email
import email.policy
import io
import json
import signal
import socket
import ssl
import threading
import zipfile
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bulk_provision.simulator import Simulator
from tests.e2e import test_run
from tests.e2e.test_run import PASSWORDS, run_cli, write_roster
from tests.hostile import tls_http_server
from tests.workbooks import sheet_rows

workdir = test_run.workdir  # the same fixture
SMTP_PASSWORD = "smtp-Secret-77!"
GHOST = ["99999", "ghost.demo.glance.net", "Ghost-pw-123456", "G", "H", "g@example.com",
         "Ghost", "", ""]
BAD = ["88888", "bad.demo.glance.net", "Bad-pw-1234567", "B", "C", "bad-address@", "Agent",
       "", ""]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Receiver:
    """An HTTPS server on loopback recording POSTs; ``mode`` ok | 500 | hang."""

    def __init__(self, ca: trustme.CA, mode: str) -> None:
        self.mode, self.posts = mode, []  # type: ignore[var-annotated]
        self.entered, self.release = threading.Event(), threading.Event()
        self.answered = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - the base class's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((dict(self.headers), body))
                if receiver.mode == "hang":
                    receiver.entered.set()
                    receiver.release.wait(30)  # bounded: released at teardown
                status = {"500": 500, "302": 302}.get(receiver.mode, 204)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                receiver.answered.set()

        self.server = tls_http_server(ca, Handler)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/hooks/T0K3N-in-path"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(ca: trustme.CA) -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def start(mode: str = "ok", authority: trustme.CA | None = None) -> Receiver:
        made.append(Receiver(authority or ca, mode))
        return made[-1]

    yield start
    for one in made:
        one.close()


class Inbox:
    def __init__(self, refuse: bool) -> None:
        self.refuse, self.messages = refuse, []  # type: ignore[var-annotated]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return "554 5.7.1 relaying refused"
        self.messages.append(envelope.content)
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                  data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data == LoginPassword(b"mailer",
                                                                   SMTP_PASSWORD.encode())
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server(ca: trustme.CA) -> Iterator[Callable[..., tuple[Inbox, int]]]:
    started: list[Controller] = []

    def start(*, refuse: bool = False, tls: bool = True) -> tuple[Inbox, int]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        inbox, port = Inbox(refuse), free_port()
        extra: dict[str, Any] = {"tls_context": context, "require_starttls": True} if tls else {}
        controller = Controller(inbox, hostname="127.0.0.1", port=port,
                                authenticator=_authenticate, auth_require_tls=tls, **extra)
        controller.start()
        started.append(controller)
        return inbox, port

    yield start
    for controller in started:
        controller.stop()


def setup_run(workdir: Path, sim: Simulator, ca: trustme.CA, use: Callable[..., None],
              config: str = "") -> tuple[Path, str]:
    """A roster with one row Glance refuses and one invalid row; a config with fast retries."""
    bundle = workdir / "cas.pem"
    bundle.write_bytes(sim.ca_bundle.read_bytes() + ca.cert_pem.bytes())
    use(sim, GLANCE_CA_BUNDLE=str(bundle), GLANCE_SMTP_PASSWORD=SMTP_PASSWORD)
    roster = write_roster(workdir / "staff.csv", 3, extra=[GHOST, BAD])
    settings = workdir / "t.toml"
    settings.write_text("backoff_base = 0.01\nbackoff_max = 0.05\npause_seconds = 0.05\n"
                        "notify_timeout = 1.5\n" + config, encoding="utf-8")
    return roster, str(settings)


def assert_no_secret(data: bytes) -> None:
    for secret in [*PASSWORDS, GHOST[2], BAD[2], SMTP_PASSWORD, "demo-password"]:
        assert secret.encode() not in data, secret


def test_mailto_over_starttls_brings_the_ending_the_failed_rows_and_the_workbook(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path, ca: trustme.CA,
    smtp_server: Callable[..., tuple[Inbox, int]], capsys: pytest.CaptureFixture[str],
) -> None:
    inbox, port = smtp_server()
    roster, config = setup_run(workdir, simulator, ca, use_sim, (
        f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_user = "mailer"\n'
        'smtp_from = "provisioning@example.com"\n'))
    code = run_cli(str(roster), "--skip-invalid", "--rate", "0", "--config", config,
                   "--notify", "mailto:hr-ops@example.com")
    assert code == 1
    assert "notification" not in capsys.readouterr().err
    [raw] = inbox.messages
    assert_no_secret(raw)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "bulk-provision staff.csv: finished with failures (exit code 1)"
    assert message["To"] == "hr-ops@example.com"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "  created              3" in text and "  failed               1" in text
    assert "  5  99999  failed  NO_ROLE:" in text
    assert "  6  88888  invalid  invalid: Email" in text
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == "staff.results.xlsx"
    workbook = attached.get_content()
    assert workbook == (workdir / "staff.results.xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:  # the attachment, unpacked
        for name in archive.namelist():
            assert_no_secret(archive.read(name))


def test_https_webhook_gets_the_json_summary_and_no_secret(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path, ca: trustme.CA,
    receiver: Callable[..., Receiver], capsys: pytest.CaptureFixture[str],
) -> None:
    hook = receiver("ok")
    roster, config = setup_run(workdir, simulator, ca, use_sim, f'notify = ["{hook.url}"]\n')
    assert run_cli(str(roster), "--skip-invalid", "--rate", "0", "--config", config) == 1
    assert "notification" not in capsys.readouterr().err
    [(headers, body)] = hook.posts
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert_no_secret(body)
    assert b"bad-address@" not in body  # no roster data beyond the keys of the failed rows
    document = json.loads(body)
    assert (document["ending"], document["exit_code"]) == ("finished with failures", 1)
    assert document["counts"]["created"] == 3 and document["counts"]["invalid"] == 1
    assert document["files"]["results"] == str(workdir / "staff.results.xlsx")
    assert document["files"]["failed_rows"] == str(workdir / "staff.failed.csv")
    assert [(r["row"], r["key"], r["outcome"]) for r in document["rows"]] == [
        (5, "99999", "failed"), (6, "88888", "invalid")]
    assert document["rows"][1]["message"] == "invalid: Email"


def test_every_ending_is_notified_invalid_stopped_and_refused(
    simulator: Simulator, use_sim: Callable[..., None], workdir: Path, ca: trustme.CA,
    receiver: Callable[..., Receiver], capsys: pytest.CaptureFixture[str],
) -> None:
    hook = receiver("ok")
    roster, config = setup_run(workdir, simulator, ca, use_sim)
    assert run_cli(str(roster), "--config", config, "--notify", hook.url) == 3
    use_sim(simulator, GLANCE_CA_BUNDLE=str(workdir / "cas.pem"),
            GLANCE_PARTNER_PW="Wrong-Partner-Pw-1")
    assert run_cli(str(roster), "--skip-invalid", "--config", config, "--notify", hook.url) == 4
    use_sim(simulator, GLANCE_CA_BUNDLE=str(workdir / "cas.pem"))
    simulator.add_user("x1", "x1.demo.glance.net")  # sync would suspend it: over the limit
    assert run_cli(str(roster), "--skip-invalid", "--mode", "sync", "--max-suspend", "0",
                   "--fresh", "--config", config, "--notify", hook.url) == 2
    documents = [json.loads(body) for _, body in hook.posts]
    assert [(d["ending"], d["exit_code"]) for d in documents] == [
        ("invalid", 3), ("stopped", 4), ("usage", 2)]
    assert documents[0]["rows"] == [
        {"row": 6, "key": "88888", "outcome": "invalid", "message": "invalid: Email"}]
    assert documents[1]["message"].startswith("Glance rejected the partner credentials")
    assert documents[1]["counts"]["not attempted"] == 4
    assert "sync would suspend 1 of" in documents[2]["message"]
    sent = b"".join(body for _, body in hook.posts)
    assert_no_secret(sent)
    assert b"Wrong-Partner-Pw-1" not in sent


@pytest.mark.parametrize("failure", ["down", "500", "hang", "302", "untrusted", "smtp refuses",
                                     "no starttls"])
def test_a_failed_notification_changes_neither_exit_code_nor_files(
    failure: str, simulator: Simulator, use_sim: Callable[..., None], workdir: Path,
    ca: trustme.CA, receiver: Callable[..., Receiver],
    smtp_server: Callable[..., tuple[Inbox, int]], capsys: pytest.CaptureFixture[str],
) -> None:
    hook, inbox = None, None
    if failure in ("500", "hang", "302"):
        hook = receiver(failure)
        target = hook.url
    elif failure == "untrusted":  # a certificate from a CA nobody told the run about
        stranger = receiver("ok", trustme.CA())
        target = stranger.url
    elif failure == "down":
        target = f"https://127.0.0.1:{free_port()}/hook"
    else:
        inbox, port = smtp_server(refuse=failure == "smtp refuses", tls=failure != "no starttls")
        target = "mailto:ops@example.com"
    extra = (f'smtp_host = "127.0.0.1"\nsmtp_port = {inbox and port}\n'
             'smtp_from = "bp@example.com"\n' if inbox else "")
    roster, config = setup_run(workdir, simulator, ca, use_sim, extra)
    code = run_cli(str(roster), "--skip-invalid", "--rate", "0", "--config", config,
                   "--notify", target)
    assert code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "notification" in line]
    assert len(err) == 1 and err[0].startswith("bulk-provision: warning: notification to ")
    assert err[0].endswith("; the run's results are unchanged")
    assert "T0K3N" not in err[0] and SMTP_PASSWORD not in err[0]
    rows = sheet_rows(workdir / "staff.results.xlsx")
    assert [r["Outcome"] for r in rows] == ["created"] * 3 + ["failed", "invalid"]
    assert (workdir / "staff.failed.csv").is_file()
    if failure == "500":
        assert len(hook.posts) == 2 and "HTTP 500 (tried twice)" in err[0]  # type: ignore[union-attr]
    if failure == "hang":  # the run did not wait for the receiver: it is still holding on
        assert hook is not None and hook.entered.is_set() and not hook.answered.is_set()
    if failure == "302":
        assert "HTTP 302: redirects are not followed" in err[0]
        assert len(hook.posts) == 1  # type: ignore[union-attr]
    if failure == "untrusted":
        assert "certificate is not trusted" in err[0] and stranger.posts == []
    if inbox is not None:
        assert inbox.messages == []
        assert ("554" in err[0]) if failure == "smtp refuses" else "STARTTLS" in err[0]


@pytest.mark.parametrize(("target", "config", "message"), [
    ("http://hooks.example.com/x", "", "notifications go over https:// only"),
    ("ftp://example.com", "", "give https://... or mailto:ADDRESS"),
    ("mailto:ops@example.com", "", "needs smtp_host"),
    ("mailto:a@example.com,b@example.com", 'smtp_host = "h"\n', "one email address"),
    ("mailto:ops@example.com", 'smtp_host = "h"\nsmtp_user = "u"\nsmtp_from = "f@x.org"\n',
     None),
])
def test_a_target_that_cannot_work_is_refused_before_anything_is_sent(
    target: str, config: str, message: str | None, simulator: Simulator,
    use_sim: Callable[..., None], workdir: Path, ca: trustme.CA,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    roster, settings = setup_run(workdir, simulator, ca, use_sim, config)
    monkeypatch.delenv("GLANCE_SMTP_PASSWORD")
    assert run_cli(str(roster), "--config", settings, "--notify", target) == 2
    err = capsys.readouterr().err
    assert (message or "put its password in GLANCE_SMTP_PASSWORD") in err
    assert simulator.request_log == []
    assert not (workdir / "staff.results.xlsx").exists()


def test_an_interrupted_run_is_notified_too(
    make_simulator: Callable[..., Simulator], use_sim: Callable[..., None], workdir: Path,
    ca: trustme.CA, receiver: Callable[..., Receiver],
) -> None:
    sim = make_simulator(latency_ms=30)
    hook = receiver("ok")
    roster, config = setup_run(workdir, sim, ca, use_sim)
    roster = write_roster(workdir / "many.csv", 200)
    env = test_run.env_for(sim, GLANCE_CA_BUNDLE=str(workdir / "cas.pem"))
    proc = test_run.spawn(roster, sim, "--config", config, "--notify", hook.url, env=env)
    test_run.wait_for_requests(sim, 10, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    [(_, body)] = hook.posts
    document = json.loads(body)
    assert (document["ending"], document["exit_code"]) == ("interrupted", 130)
    assert document["counts"]["created"] > 0 and document["counts"]["not attempted"] > 0
