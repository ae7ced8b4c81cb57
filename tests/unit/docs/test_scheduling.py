"""The scheduling examples of docs/scheduling.md: the systemd units parse (and pass
``systemd-analyze verify`` where it exists), carry the hardening the page promises, and every
command line in the units and the Windows script is one ``bulk-provision run`` accepts."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bulk_provision.cli import build_parser

DOCS = Path(__file__).resolve().parents[3] / "docs"
UNITS = DOCS / "scheduling"
SERVICE = UNITS / "bulk-provision-nightly.service"
TIMER = UNITS / "bulk-provision-nightly.timer"


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section -> key -> every value given (keys may repeat), with
    backslash-continued lines joined and comments dropped, as systemd reads it."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    logical = re.sub(r"\\\n[ \t]*", " ", path.read_text(encoding="utf-8"))
    for number, line in enumerate(logical.splitlines(), start=1):
        text = line.strip()
        if not text or text[0] in "#;":
            continue
        header = re.fullmatch(r"\[([A-Za-z]+)\]", text)
        if header:
            current = sections.setdefault(header.group(1), {})
            continue
        key, equals, value = text.partition("=")
        assert current is not None and equals and re.fullmatch(r"[A-Za-z]+", key.strip()), (
            f"{path.name}, line {number}: {line!r}")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def run_arguments(words: list[str]) -> list[str]:
    """The arguments after the program name, checked to be a ``bulk-provision run``."""
    assert Path(words[0]).name == "bulk-provision" and words[1] == "run", words[:2]
    return words[1:]


def test_the_service_is_hardened_and_gets_its_password_as_a_credential() -> None:
    service = unit(SERVICE)["Service"]
    one = {key: values[-1] for key, values in service.items()}
    assert one["Type"] == "oneshot" and one["User"] == "bulk-provision"
    assert one["NoNewPrivileges"] == "yes" and one["ProtectSystem"] == "strict"
    assert one["ProtectHome"] == "yes" and one["PrivateTmp"] == "yes"
    assert one["CapabilityBoundingSet"] == "" and one["UMask"] == "0077"
    assert one["LoadCredential"].startswith("bulk-provision.toml:/etc/")
    assert "Environment" not in service  # no password in the unit or its environment
    assert set(one["SuccessExitStatus"].split()) == {"1", "3"}
    words = shlex.split(one["ExecStart"])
    args = build_parser().parse_args(run_arguments(words))
    assert args.mode == "sync" and str(args.config).startswith("${CREDENTIALS_DIRECTORY}/")
    assert str(args.checkpoint).startswith(one["WorkingDirectory"])
    assert unit(TIMER)["Timer"]["Persistent"] == ["true"]
    assert unit(TIMER)["Install"]["WantedBy"] == ["timers.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_itself_accepts_the_units(tmp_path: Path) -> None:
    program = tmp_path / "bulk-provision"
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)  # verify checks that ExecStart's program exists
    service = tmp_path / SERVICE.name
    service.write_text(SERVICE.read_text(encoding="utf-8").replace(
        "/opt/bulk-provision/bin/bulk-provision", str(program)), encoding="utf-8")
    shutil.copy(TIMER, tmp_path / TIMER.name)
    done = subprocess.run(["systemd-analyze", "verify", str(service), str(tmp_path / TIMER.name)],
                          capture_output=True, text=True, timeout=60, check=False)
    said = [line for line in (done.stdout + done.stderr).splitlines() if "bulk-provision" in line]
    assert done.returncode == 0 and said == [], done.stdout + done.stderr


def test_the_windows_task_runs_a_real_command_and_passes_its_exit_code_on() -> None:
    script = (UNITS / "nightly.ps1").read_text(encoding="utf-8")
    command = re.search(r"^& (bulk-provision run .*?)\*>>", script.replace("`\n", " "),
                        re.MULTILINE)
    assert command, "nightly.ps1 runs bulk-provision run"
    words = [w for w in shlex.split(command.group(1)) if not w.startswith("(")]
    words = [w for w in words if not w.endswith(")")]
    args = build_parser().parse_args(run_arguments(["bulk-provision", *words[1:]]))
    assert args.mode == "sync"
    assert "ConvertTo-SecureString" in script and script.rstrip().endswith("exit $code")
    assert "Remove-Item Env:\\GLANCE_PARTNER_PW" in script
    store = (UNITS / "store-password.ps1").read_text(encoding="utf-8")
    assert "Read-Host -AsSecureString" in store and "ConvertFrom-SecureString" in store
    assert "/inheritance:r" in store  # the folder: that account only
    page = (DOCS / "scheduling.md").read_text(encoding="utf-8")
    schtasks = next(line for line in page.splitlines() if line.startswith("schtasks /Create"))
    assert "nightly.ps1" in schtasks and "/RU " in schtasks and "/RP *" in schtasks
