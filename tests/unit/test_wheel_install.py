"""The wheel stands alone: built from the checkout, installed into a fresh environment, run from
a folder that is not the checkout (``demo``, ``serve --demo``, ``template``), and holding only
the package: no top-level ``schemas``, no tests, bench or docs.

The fresh environment is a venv without pip into which the wheel is installed with ``--no-deps``;
the dependencies come from this interpreter's site-packages through a plain path line in a
``.pth`` file (which adds the folder but does not run the editable install's own ``.pth``, so
the checkout is not importable from there: the test would fail if the wheel needed it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import openpyxl
import pytest
import requests

from tests.webtools import REPO, csrf_of, follow_link, http_start

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ALLOWED_TOP = {"bulk_provision", "bulk_provision-0.1.0.dist-info"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    # sdist first, then the wheel built from that sdist: both artefacts are proven
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "-o", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=180)
    wheel, = out.glob("*.whl")
    sdist, = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def installed(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(built["wheel"])],
                   check=True, capture_output=True, timeout=180)
    purelib = subprocess.run([str(python), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True,
                                 encoding="utf-8", timeout=60).stdout
    deps = sysconfig.get_paths()["purelib"]
    Path(purelib.strip(), "dependencies.pth").write_text(deps + "\n", encoding="utf-8")
    return python


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "GLANCE_", "BULK_PROVISION"))}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def scripts(python: Path) -> Path:
    return python.parent


def test_the_wheel_holds_the_package_and_nothing_else(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = wheel.namelist()
        checks = wheel.read("bulk_provision/schemas/checks.py").decode("utf-8")
        schemas_init = wheel.read("bulk_provision/schemas/__init__.py").decode("utf-8")
    assert {name.split("/")[0] for name in names} == ALLOWED_TOP
    for shipped in ("bulk_provision/sample_data/roster.xlsx",
                    "bulk_provision/sample_data/roster_with_errors.xlsx",
                    "bulk_provision/sample_data/roster.csv",
                    "bulk_provision/schemas/roster.py",
                    "bulk_provision/web/templates/upload.html"):
        assert shipped in names
    # the real rules, not the checkout's re-exporting window
    assert "class Rule" in checks and "import *" not in checks
    assert "from .roster import build_schema" in schemas_init
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "bench/", "docs/", "schemas/"))]
    assert not [n for n in names if "make_samples" in n]


def test_the_sdist_can_rebuild_everything(built: dict[str, Path]) -> None:
    import tarfile
    with tarfile.open(built["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"pyproject.toml", "schemas/checks.py", "sample_data/roster.xlsx",
            "bulk_provision/cli/demo.py"} <= names
    assert ".venv" not in {n.split("/")[0] for n in names}


def test_demo_runs_from_any_folder(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(scripts(installed) / "bulk-provision"), "demo",
                           "--latency-ms", "0", "--workers", "4"], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True,
                              encoding="utf-8", timeout=180)
    assert done.returncode == 0, done.stderr
    assert "25 created" in done.stdout
    book = openpyxl.load_workbook(tmp_path / "demo-results.xlsx", read_only=True)
    try:
        sheet = book["Results"] if "Results" in book.sheetnames else book.worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
    finally:
        book.close()
    outcomes = [row for row in rows[1:] if "created" in row]
    assert len(outcomes) == 25


def test_the_installed_tool_imports_nothing_from_the_checkout(installed: Path,
                                                               tmp_path: Path) -> None:
    probe = ("import importlib.util, json, bulk_provision, bulk_provision.schemas.checks as c; "
             "print(json.dumps([bulk_provision.__file__, c.__file__, "
             "importlib.util.find_spec('schemas') is None]))")
    done = subprocess.run([str(installed), "-c", probe], cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, encoding="utf-8", timeout=60, check=True)
    package, checks, no_schemas = json.loads(done.stdout)
    venv = installed.parent.parent
    assert Path(package).is_relative_to(venv) and Path(checks).is_relative_to(venv)
    assert no_schemas, "the wheel must not install a top-level schemas module"


def test_template_writes_a_workbook_from_any_folder(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(scripts(installed) / "bulk-provision"), "template", "new.xlsx"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                              encoding="utf-8",
                          timeout=120)
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(tmp_path / "new.xlsx", read_only=True)
    try:
        assert "Roster" in book.sheetnames
    finally:
        book.close()


def test_serve_demo_offers_and_runs_the_shipped_samples(installed: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    proc = subprocess.Popen([str(scripts(installed) / "bulk-provision"), "serve", "--demo",
                             "--port", "0", "--latency-ms", "0"], cwd=run_dir, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                encoding="utf-8")
    http = requests.Session()
    http.trust_env = False
    http.headers["Connection"] = "close"
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # bounded by the test's timeout
        login = first.split("open ", 1)[1].strip()
        assert "demo simulator" in follow_link(http, login).text
        base = login.split("/login")[0]
        page = http.get(base + "/", timeout=10).text
        assert "roster_with_errors.xlsx" in page
        roster = http.post(base + "/samples", timeout=30,
                           data={"csrf": csrf_of(page), "sample": "roster.xlsx"}).url
        assert "0 problems" in http.get(roster, timeout=10).text
        run = http_start(http, roster, csrf_of(page))
        with http.get(f"{run}/events", stream=True, timeout=60) as stream:
            snaps = [json.loads(line[6:]) for line in stream.iter_lines(decode_unicode=True)
                     if line.startswith("data: {\"")]
        assert snaps[-1]["counts"] == {"created": 25}
    finally:
        http.close()
        proc.terminate()
        assert proc.wait(30) == 0
        proc.stdout.close()  # type: ignore[union-attr]
