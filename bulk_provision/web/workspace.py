"""The server's workspace: one owner-only folder per roster, keyed by the roster's SHA-256.

::

    <workspace>/                       0700
      <sha256>/                        0700, one per roster content
        roster.xlsx                    the upload (the name is "roster" + a known suffix)
        roster.json                    the name shown to people, size, who uploaded it, when
        validation.json                the validation result the page shows
        report.xlsx  plan-*.xlsx       workbooks written on request
        journal.sqlite                 the run's checkpoint: the same roster resumes it
        runs/<run-id>.json             one record per run (History)
        results-<run-id>.xlsx          each run's results workbook

An uploaded file's name is shown, never used as a path: only its suffix is kept, and only when
it is one the roster reader accepts. Files are created 0600 and folders 0700 (personal data).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bulk_provision.errors import UsageError

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".tsv", ".txt")
SHA_PATTERN = re.compile(r"[0-9a-f]{64}")
RUN_ID_PATTERN = re.compile(r"[0-9]{8}T[0-9]{12}-[0-9a-f]{6}")
CHUNK = 1 << 20


class TooLarge(UsageError):
    """An upload over --max-upload."""


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def display_name(name: str) -> str:
    """The uploaded name as shown on the page: the last path part, printable, at most 120."""
    last = re.split(r"[\\/]", name or "")[-1]
    clean = "".join(c for c in last if unicodedata.category(c)[0] != "C").strip()
    return clean[:120] or "roster"


def suffix_of(name: str) -> str:
    suffix = Path(display_name(name)).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(
            f"{display_name(name)}: not a roster file; upload an Excel workbook (.xlsx, .xlsm, "
            ".xls) or a CSV file (.csv, .tsv, .txt)"
        )
    return suffix


def make_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to ``path``, owner-only."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    write_private(path, json.dumps(value, indent=1, sort_keys=True).encode("utf-8"))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = make_dir(Path(root).resolve())

    def folder(self, sha256: str) -> Path:
        if not SHA_PATTERN.fullmatch(sha256):
            raise KeyError(sha256)
        folder = self.root / sha256
        if not folder.is_dir():
            raise KeyError(sha256)
        return folder

    def store(self, upload: IO[bytes], name: str, user: str, limit: int) -> str:
        """Copy an upload into its roster folder; returns the roster's SHA-256."""
        suffix = suffix_of(name)
        digest, size = hashlib.sha256(), 0
        fd, temp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := upload.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(too_large(limit))
                    digest.update(chunk)
                    out.write(chunk)
            os.chmod(temp, 0o600)
            sha = digest.hexdigest()
            folder = make_dir(self.root / sha)
            os.replace(temp, folder / f"roster{suffix}")
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        write_json(folder / "roster.json", {
            "name": display_name(name), "sha256": sha, "suffix": suffix, "size": size,
            "uploaded_at": now_text(), "uploaded_by": user,
        })
        (folder / "validation.json").unlink(missing_ok=True)
        return sha

    def roster_info(self, sha256: str) -> dict[str, Any]:
        info = read_json(self.folder(sha256) / "roster.json")
        if not isinstance(info, dict) or info.get("suffix") not in SUFFIXES:
            raise KeyError(sha256)
        return info

    def roster_path(self, sha256: str) -> Path:
        return self.folder(sha256) / f"roster{self.roster_info(sha256)['suffix']}"

    def journal_path(self, sha256: str) -> Path:
        return self.folder(sha256) / "journal.sqlite"

    def runs_dir(self, sha256: str) -> Path:
        return make_dir(self.folder(sha256) / "runs")

    def save_run(self, sha256: str, run_id: str, record: dict[str, Any]) -> None:
        write_json(self.runs_dir(sha256) / f"{run_id}.json", record)

    def run_records(self) -> Iterator[dict[str, Any]]:
        for folder in self.rosters():
            for path in sorted((folder / "runs").glob("*.json")):
                record = read_json(path)
                if isinstance(record, dict) and RUN_ID_PATTERN.fullmatch(str(record.get("id"))):
                    yield record

    def rosters(self) -> Iterable[Path]:
        return (p for p in sorted(self.root.iterdir()) if SHA_PATTERN.fullmatch(p.name)
                and p.is_dir())


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f-") + secrets.token_hex(3)


def too_large(limit: int) -> str:
    return (f"The file is larger than this server accepts ({limit / 1_000_000:g} MB). Split the "
            "roster into smaller files, or ask IT to start the page with a larger --max-upload.")
