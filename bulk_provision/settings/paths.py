"""Output-path safety: no output may be an input, the journal or another output of the same run.

``run --out staff.xlsx`` on the roster ``staff.xlsx`` would replace the HR roster with a results
workbook whose passwords are masked; ``--log-file`` on the journal would append JSON lines to the
database. :func:`check_distinct` refuses such a command before anything is written or created
(DESIGN.md section 11). Two paths name the same file when ``os.stat`` says so (symlinks, hard
links, ``./a/../x``); a path that does not exist yet is compared after resolving its links. Names
that differ only by case on a case-insensitive filesystem (Windows, macOS) are caught once the
file exists (the stat comparison); before that they are not.

Files that hold personal data are created owner-only (:func:`create_private`, folders with
:func:`make_private_dirs`); an existing file keeps the permissions its owner gave it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bulk_provision.errors import ConfigError, UsageError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700

# Files SQLite and the run's lock put beside a journal: none of them may be another file of the run.
JOURNAL_SIDE_FILES = ("-wal", "-shm", "-journal", ".lock")


@dataclass(frozen=True)
class Role:
    """One file of a command: the option that names it (``--out``; "" for the roster), what it
    is ("the roster itself", "the results workbook"), and whether the command writes it."""

    option: str
    noun: str
    path: Path
    output: bool = True


def default_journal(roster: Path) -> Path:
    """The journal ``run`` keeps for ``roster`` without ``--checkpoint``, beside it."""
    return Path(roster).with_name(f"{Path(roster).name}.checkpoint.sqlite")


def journal_roles(path: Path) -> list[Role]:
    """The journal and the side files SQLite and the lock create beside it (given and resolved).

    A path that cannot be resolved (a loop of symbolic links) is refused here (UsageError)."""
    roles = [Role("--checkpoint", "the checkpoint (journal)", Path(path))]
    for base in dict.fromkeys((Path(path), resolved(path, "--checkpoint"))):
        for side in JOURNAL_SIDE_FILES:
            side_path = base.with_name(base.name + side)
            roles.append(Role("--checkpoint", f"a side file of the checkpoint {path}", side_path))
    return roles


def resolved(path: Path, option: str) -> Path:
    """``path`` with its links resolved; a loop of symbolic links is a UsageError (exit 2)."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop, before Python 3.13
        raise UsageError(
            f"{option} {path}: its symbolic links cannot be followed (a loop?); choose another file"
        ) from exc


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name one file (stat when both exist, resolved paths otherwise)."""
    try:
        return os.path.samestat(os.stat(a), os.stat(b))
    except (OSError, ValueError):
        pass
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare as written
        return os.path.abspath(a) == os.path.abspath(b)


def check_distinct(roles: Sequence[Role]) -> None:
    """Refuse (UsageError, exit 2) an output that is an input, the journal or another output.

    Of two clashing outputs, the message names the later one in ``roles`` as the one to change.
    """
    for i, first in enumerate(roles):
        for second in roles[i + 1:]:
            if first.option and first.option == second.option:
                continue  # one file and its own side files
            if not (first.output or second.output) or not same_file(first.path, second.path):
                continue
            change, kept = (second, first) if second.output else (first, second)
            label = f"{change.option} {change.path}" if change.option else str(change.path)
            raise UsageError(f"{label} is {kept.noun}; choose another file")


def check_workbook_output(
    option: str, noun: str, path: Path, protected: Sequence[Role],
    *, later: Sequence[Role] = (), suffixes: Sequence[str] = (".xlsx",),
) -> None:
    """Refuse (UsageError, exit 2) a workbook path that cannot work, before any work is done.

    The one check of every workbook a command writes (``run --out``, ``plan --out``, ``validate
    --report``, ``export --out``): named ``.xlsx``; not one of the ``protected`` files (the roster,
    the inputs, the roster's journal and its side files, the other outputs); and writable
    (:func:`check_writable`). ``noun`` says what it is ("the plan workbook"). Of two clashing
    outputs the later is named as the one to change: ``later`` lists those after this one.
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {path}: {noun} is an Excel file, name it .xlsx")
    check_distinct([*protected, Role(option, noun, path), *later])
    check_writable(path)


def check_writable(path: Path) -> None:
    """Refuse a file that cannot be written atomically: its folder is missing or not writable,
    it is a folder, it may not be replaced, or its name is one the file system refuses (too
    long). A file that does not exist yet is created and removed to find out; the temporary file
    written beside it always has a short name (report/common.py ``temp_beside``)."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a folder; name a file")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {path}: permission denied")
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:  # a name the file system refuses, a read-only disk
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    os.close(handle)
    os.unlink(path)


def create_private(path: Path, flags: int = os.O_WRONLY) -> int:
    """Open ``path`` for writing, creating it owner-only (0600) when it does not exist yet.

    Returns the descriptor. An existing file is opened as it is: its permissions are the
    owner's choice. ``flags`` may add ``os.O_APPEND`` or ``os.O_TRUNC``.
    """
    return os.open(path, flags | os.O_CREAT | getattr(os, "O_BINARY", 0), PRIVATE_FILE)


def make_private_dirs(path: Path) -> None:
    """``mkdir -p`` where every folder created is owner-only (0700); existing ones are kept."""
    missing = []
    current = Path(path)
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)


def who_else_may_change(info: os.stat_result) -> str | None:
    """Why a file whose ``stat`` is ``info`` may be changed by someone other than its user (or
    root), in a few words, or None: writable by group or others, or owned by another user.
    POSIX only: Windows has no such mode bits (callers skip the check there)."""
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users can change it (mode {mode:03o})"
    euid = getattr(os, "geteuid", lambda: info.st_uid)()
    if info.st_uid not in (euid, 0):  # root may change anything anyway
        return f"it belongs to another user (uid {info.st_uid})"
    return None


#: Windows has no mode bits: owner-only there means "inside the user's own profile" (below).
WINDOWS = os.name == "nt"


def outside_profile(path: Path, profile: Path | None = None) -> str | None:
    """Windows' stand-in for the mode checks: why ``path`` may be changed by other accounts, or
    None when it lies inside the user's profile folder (%USERPROFILE%).

    A profile's default ACL grants only the user, SYSTEM and Administrators, who may change
    anything anyway; a file elsewhere (C:\\, a share, C:\\ProgramData) usually inherits ACLs that
    let every user of the machine write it. Checking the file's own ACL would need the Win32 API
    (no standard-library call reads it), so the rule is the folder: keep the config and the
    users file in your profile, e.g. %APPDATA%\\bulk-provision\\. docs/scheduling.md says so.
    """
    home = profile if profile is not None else Path.home()
    try:
        target = os.path.normcase(os.path.realpath(path))
        base = os.path.normcase(os.path.realpath(home))
    except (OSError, ValueError):
        return "its location cannot be resolved"
    if os.path.commonpath([target, base]) == base:
        return None
    return f"it is outside your user profile ({home}), where other accounts may change it"


def check_not_shared(path: Path, what: str, *, consequence: str = "",
                     windows_home: str = "") -> None:
    """Refuse a file whose content steers the tool (the config file, the page's users file, a
    ``--schema`` file, which is Python run with the password in the environment, a ``--columns``
    map) when another user may change or swap it: writable by group or others, owned by another
    user, or in a folder anyone may write without the sticky bit. On Windows (no mode bits) it
    must lie inside the user's profile. One ConfigError (exit 2) naming ``what`` and the fix;
    ``consequence`` says what a stranger could do with it, ``windows_home`` where it belongs."""
    if WINDOWS:
        why = outside_profile(path)
        if why is not None:
            where = f", e.g. {windows_home}" if windows_home else ""
            raise ConfigError(f"{what} {path} is not used: {why}; move it into your profile{where}")
        return
    try:
        info, folder = path.stat(), path.resolve().parent.stat()
    except OSError:
        return  # the reader says the file is missing
    fix = f"run: chmod 600 {path}"
    why = who_else_may_change(info)
    if why is not None and stat.S_IMODE(info.st_mode) & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"{what} {path} is not used: {why}{consequence}; {fix}")
    if why is not None:
        raise ConfigError(f"{what} {path} is not used: {why}; copy it to a file of your own "
                          f"(or chown it) and {fix}")
    mode = stat.S_IMODE(folder.st_mode)
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise ConfigError(f"{what} {path} is not used: other users may replace it (its folder "
                          f"has mode {mode:03o}); move it to a folder of your own")


def check_private_folder(path: Path, what: str) -> None:
    """Refuse (ConfigError, exit 2) a folder that is not owner-only: one that other users may
    read, enter or change (:func:`who_else_may_change`; the workspace of the page, whose files
    let people in). Windows has no mode bits and a workspace often lies outside the profile
    (C:\\bp): there the folder's ACL is the owner's business, and nothing is checked. A folder
    that does not exist passes: the caller finds out it is missing."""
    if WINDOWS:
        return
    try:
        info = Path(path).stat()
    except OSError:
        return
    mode = stat.S_IMODE(info.st_mode)
    why = who_else_may_change(info)
    if why is None and mode & 0o077:
        why = f"other users can look inside it (mode {mode:03o})"
    if why is not None:
        raise ConfigError(f"{what} {path} is not owner-only: {why}; run: chmod 700 {path}")
