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
      .sessions.json                   sign-ins, hashed (sessions.py)
      .server.json  .sign-in-links/    the running server's address; serve --new-link (links.py)

An uploaded file's name is shown, never used as a path: only its suffix is kept, and only when
it is one the roster reader accepts. Files are created 0600 and folders 0700 (personal data),
missing parents of the workspace too.

An upload is copied into a private ``.incoming-*`` folder of its own and validated there; only
an accepted roster is moved into its roster folder, under that roster's lock, and a roster's
record never changes because of a rejected upload. One server per workspace: ``.serve.lock``
(an OS lock, released even on kill -9) refuses a second one, which would otherwise take the
first one's live runs for interrupted ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bulk_provision.errors import ConfigError, UploadTooLarge, UsageError

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".tsv", ".txt")
SHA_PATTERN = re.compile(r"[0-9a-f]{64}")
RUN_ID_PATTERN = re.compile(r"[0-9]{8}T[0-9]{12}-[0-9a-f]{6}")
CHUNK = 1 << 20
NAME_LIMIT = 120
LOCK_NAME = ".serve.lock"


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def display_name(name: str) -> str:
    """The uploaded name as shown on the page: the last path part, printable, at most 120
    characters; a long name is shortened in its stem, so that it keeps its suffix."""
    last = re.split(r"[\\/]", name or "")[-1]
    clean = "".join(c for c in last if unicodedata.category(c)[0] != "C").strip()
    if len(clean) > NAME_LIMIT:
        suffix = Path(clean).suffix[:10]
        clean = clean[:NAME_LIMIT - len(suffix) - 1].rstrip() + "…" + suffix
    return clean or "roster"


def suffix_of(name: str) -> str:
    suffix = Path(display_name(name)).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(
            f"{display_name(name)}: not a roster file; upload an Excel workbook (.xlsx, .xlsm, "
            ".xls) or a CSV file (.csv, .tsv, .txt)"
        )
    return suffix


def make_dir(path: Path) -> Path:
    """``path`` as an owner-only folder; missing parents are created owner-only too (whatever
    the umask: a world-writable parent would let anyone swap the folder)."""
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        else:
            os.chmod(folder, 0o700)
    if not path.is_dir():
        raise NotADirectoryError(20, "not a folder", str(path))
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


@dataclass
class Incoming:
    """An upload copied into a private folder of its own, not yet a roster."""

    sha256: str
    path: Path
    name: str
    size: int

    @property
    def suffix(self) -> str:
        return self.path.suffix


class Workspace:
    def __init__(self, root: Path) -> None:
        try:
            self.root = make_dir(Path(root).resolve())
        except OSError as exc:
            raise ConfigError(f"cannot use {root} as the workspace: "
                              f"{exc.strerror or exc}; give --workspace a folder "
                              "this account may create and write") from exc
        self._serve_lock: Any = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def take(self) -> None:
        """Hold the workspace's server lock, or raise ConfigError if another server has it."""
        with warnings.catch_warnings():  # no flock at all: filelock falls back to a lock file
            warnings.simplefilter("ignore")
            from filelock import FileLock, Timeout
        lock = FileLock(self.root / LOCK_NAME, timeout=0, mode=0o600, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise ConfigError(f"workspace {self.root} is in use by another bulk-provision "
                              "serve; stop that one, or give this one another --workspace"
                              ) from None
        except OSError as exc:
            raise ConfigError(f"cannot lock the workspace {self.root}: "
                              f"{exc.strerror or exc}") from exc
        self._serve_lock = lock
        for left in self.root.glob(".incoming-*"):  # uploads a killed server left behind
            shutil.rmtree(left, ignore_errors=True)
        for left in self.root.glob(".deleted-*"):
            shutil.rmtree(left, ignore_errors=True)

    @staticmethod
    def busy(root: Path) -> bool:
        """True while a server holds the lock of workspace ``root`` (this takes nothing)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from filelock import FileLock, Timeout
        if not (Path(root) / LOCK_NAME).is_file():
            return False
        lock = FileLock(Path(root) / LOCK_NAME, timeout=0, mode=0o600, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            return True
        except OSError:
            return False
        lock.release()
        return False

    def release(self) -> None:
        if self._serve_lock is not None:
            self._serve_lock.release()
            self._serve_lock = None

    def roster_lock(self, sha256: str) -> threading.Lock:
        """The lock that serialises changes to one roster's folder."""
        with self._locks_lock:
            return self._locks.setdefault(sha256, threading.Lock())

    def folder(self, sha256: str) -> Path:
        if not SHA_PATTERN.fullmatch(sha256):
            raise KeyError(sha256)
        folder = self.root / sha256
        if not folder.is_dir():
            raise KeyError(sha256)
        return folder

    def receive(self, upload: IO[bytes], name: str, limit: int) -> Incoming:
        """Copy an upload into a new private folder (not yet a roster)."""
        suffix = suffix_of(name)
        digest, size = hashlib.sha256(), 0
        place = Path(tempfile.mkdtemp(dir=self.root, prefix=".incoming-"))
        path = place / f"roster{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                     | getattr(os, "O_BINARY", 0), 0o600)  # Windows: no \r\n
            with os.fdopen(fd, "wb") as out:
                while chunk := upload.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise UploadTooLarge(too_large(limit))
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            shutil.rmtree(place, ignore_errors=True)
            raise
        return Incoming(digest.hexdigest(), path, display_name(name), size)

    def discard(self, incoming: Incoming) -> None:
        shutil.rmtree(incoming.path.parent, ignore_errors=True)

    def commit(self, incoming: Incoming, user: str, validation: dict[str, Any]) -> str:
        """Make an accepted upload a roster (or a new upload of a known one); its SHA-256.

        A known roster keeps its file, journal and runs; the same bytes uploaded with the
        same suffix only update the name and uploader shown."""
        sha = incoming.sha256
        with self.roster_lock(sha):
            try:
                known = self.roster_info(sha)
            except KeyError:
                known = None
            record = {"name": incoming.name, "sha256": sha, "suffix": incoming.suffix,
                      "size": incoming.size, "uploaded_at": now_text(), "uploaded_by": user,
                      "sheet": validation.get("sheet")}
            if known is None:
                folder = make_dir(self.root / sha)
                os.replace(incoming.path, folder / incoming.path.name)
                if validation:  # an HR export has none until its Columns step
                    write_json(folder / "validation.json", validation)
                write_json(folder / "roster.json", record)  # last: the folder is complete
            elif known.get("suffix") == incoming.suffix:
                write_json(self.root / sha / "roster.json", record)
        self.discard(incoming)
        return sha

    def delete(self, sha256: str) -> None:
        """Remove a roster's folder (its upload, journal, workbooks and run records)."""
        with self.roster_lock(sha256):
            folder = self.folder(sha256)
            gone = folder.with_name(f".deleted-{sha256}-{secrets.token_hex(3)}")
            os.replace(folder, gone)  # at once: nobody finds a half-deleted roster
            shutil.rmtree(gone, ignore_errors=True)

    def keep_only_plan(self, sha256: str, plan_id: str) -> None:
        """Remove the roster's earlier plan workbooks (disk space; they hold personal data)."""
        for path in self.folder(sha256).glob("plan-*"):
            if not path.name.startswith(f"plan-{plan_id}."):
                path.unlink(missing_ok=True)

    def roster_info(self, sha256: str) -> dict[str, Any]:
        info = read_json(self.folder(sha256) / "roster.json")
        if not isinstance(info, dict) or info.get("suffix") not in SUFFIXES:
            raise KeyError(sha256)
        return info

    def roster_sheet(self, sha256: str) -> str | None:
        """The sheet the roster was read from (None: the reader's own choice)."""
        sheet = self.roster_info(sha256).get("sheet")
        return str(sheet) if sheet else None

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
                if not RUN_ID_PATTERN.fullmatch(path.stem):  # a plan's or a run's people
                    continue
                record = read_json(path)
                if isinstance(record, dict) and RUN_ID_PATTERN.fullmatch(str(record.get("id"))):
                    yield record

    def rosters(self) -> Iterable[Path]:
        return (p for p in sorted(self.root.iterdir()) if SHA_PATTERN.fullmatch(p.name)
                and p.is_dir())

    def shown(self, text: str, names: dict[Path, str] | None = None) -> str:
        """``text`` as the page shows it: the server's paths become file names (``names``
        maps a path to the name people know it by, such as the uploaded roster's)."""
        for path, name in (names or {}).items():
            text = text.replace(str(path), name)
        root = re.escape(str(self.root))
        return re.sub(root + r"[\\/]?([^\s'\"]*)",
                      lambda m: Path(m.group(1)).name or "the workspace", text)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f-") + secrets.token_hex(3)


def too_large(limit: int) -> str:
    return (f"The file is larger than this server accepts ({limit / 1_000_000:g} MB). Split the "
            "roster into smaller files, or ask IT to start the page with a larger --max-upload.")
