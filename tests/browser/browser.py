"""The page's server for browser tests: uvicorn in a thread, or ``bulk-provision serve`` in a
subprocess (for kill -9), and the system Chromium through Playwright."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bulk_provision.simulator import Simulator
from bulk_provision.web.app import WebConfig, create_app
from bulk_provision.web.auth import allowed_hosts
from bulk_provision.web.server import uvicorn_config
from tests.webtools import REPO, web_config

# The distribution's Chromium; BP_CHROMIUM names another build of it (Chrome on a CI image).
CHROMIUM = Path(os.environ.get("BP_CHROMIUM") or "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INSTALL = ("the browser tests need Chromium from the distribution: `make browser` (as root: "
           "apt-get install -y chromium chromium-driver fonts-dejavu-core)")
SHOTS = os.environ.get("BP_SCREENSHOTS")  # `make screenshots`: docs/


def chromium() -> Iterator[Any]:
    """A headless system Chromium (one per session); skipped without it, failed under CI."""
    if not CHROMIUM.is_file() or shutil.which(str(CHROMIUM)) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: no {CHROMIUM}; {INSTALL}")
        pytest.skip(f"no {CHROMIUM}: {INSTALL}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_socket() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0))


class LiveServer:
    """The real app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, workspace: Path, sim: Simulator, *, server: dict[str, Any] | None = None,
                 **overrides: Any) -> None:
        server = server or {}
        self.sock = free_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.config: WebConfig = web_config(
            workspace, sim, hosts=allowed_hosts("127.0.0.1", self.port), **overrides)
        self.app = create_app(self.config)
        self.server = uvicorn.Server(uvicorn_config(self.app, graceful_seconds=2, **server))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        self.server_started()
        return self

    def server_started(self) -> None:
        # uvicorn sets .started once it listens; bounded wait on a condition, not a sleep
        ready = threading.Event()
        for _ in range(1000):
            if self.server.started or not self.thread.is_alive():
                break
            ready.wait(0.01)
        assert self.server.started, "the page's server did not start"

    def login_url(self) -> str:
        return f"{self.url}/login?token={self.config.access.new_token()}"

    def __exit__(self, *exc: object) -> None:
        self.config.closing.set()
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


class ServeProcess:
    """``bulk-provision serve`` in a subprocess, so that it can be killed with SIGKILL."""

    def __init__(self, workspace: Path, env: dict[str, str], config: Path) -> None:
        self.args = [sys.executable, "-m", "bulk_provision", "serve", "--port", "0",
                     "--workspace", str(workspace), "--config", str(config)]
        self.env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        self.proc: subprocess.Popen[str] | None = None
        self.login = ""

    def start(self) -> str:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"(http://\S+/login\?token=\S+)", line)
        assert found, f"serve printed {line!r}"
        self.login = found.group(1)
        return self.login

    @property
    def url(self) -> str:
        return self.login.split("/login", 1)[0]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()


def shot(page: Any, folder: Path, name: str) -> None:
    """A PNG of this step: in the test's folder, and under docs/ for `make screenshots`."""
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    if SHOTS:
        target = REPO / SHOTS
        target.mkdir(exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"), full_page=True)
