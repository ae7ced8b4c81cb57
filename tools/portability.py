"""``make portability``: what this Linux machine can prove of Windows and macOS (issue 20).

1. Every runtime dependency (pyproject.toml ``[project] dependencies``) resolves to binary wheels
   for ``win_amd64`` and ``macosx_11_0_arm64`` on Python 3.11, 3.12 and 3.13 (``pip download
   --only-binary=:all:``; needs the package registry, nothing is installed).
2. The unit layer passes under ``-X warn_default_encoding``, every EncodingWarning an error
   (pyproject.toml names the one third-party filter and why).
3. The POSIX audit (tests/unit/test_portability_audit.py) is part of that unit layer.

    python tools/portability.py [--skip-download]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("win_amd64", "macosx_11_0_arm64")
PYTHONS = ("3.11", "3.12", "3.13")


def dependencies() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def resolve(platform: str, python: str, dest: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
               "--platform", platform, "--python-version", python, "--dest", str(dest),
               *dependencies()]
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8",
                          timeout=900, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--skip-download", action="store_true",
                        help="leave out the wheel resolution (no registry at hand)")
    args = parser.parse_args()
    failed = []
    if not args.skip_download:
        with tempfile.TemporaryDirectory() as tmp:
            for platform in PLATFORMS:
                for python in PYTHONS:
                    done = resolve(platform, python, Path(tmp) / f"{platform}-{python}")
                    ok = done.returncode == 0
                    print(f"wheels for {platform} / Python {python}: {'ok' if ok else 'FAILED'}")
                    if not ok:
                        failed.append(f"{platform}/{python}: {done.stderr.strip()[-400:]}")
    tests = subprocess.run(
        [sys.executable, "-X", "warn_default_encoding", "-m", "pytest", "-q", "-p",
         "no:cacheprovider", "tests/unit"], cwd=ROOT, timeout=1800, check=False)
    print(f"unit layer under -X warn_default_encoding (with the POSIX audit): "
          f"{'ok' if tests.returncode == 0 else 'FAILED'}")
    if tests.returncode != 0:
        failed.append("the unit layer under -X warn_default_encoding")
    for line in failed:
        print(f"portability: FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
