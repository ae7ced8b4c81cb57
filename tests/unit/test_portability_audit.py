"""The POSIX audit: no call that fails or misbehaves on Windows unless a platform check guards it.

The tool runs on Windows laptops and servers too (README, docs/scheduling.md), where no interpreter
can run here; so the source is read instead. Every module of ``bulk_provision`` and ``schemas``
is parsed and each use below is either guarded (an ``if`` or conditional expression testing
``os.name``, ``sys.platform``, ``WINDOWS`` or ``hasattr``; ``getattr(module, name, default)``;
a ``try`` catching ImportError, AttributeError or OSError) or listed in ``REMAINING`` with what
it does on Windows. ``REMAINING`` is the list the issue's closing note quotes; a stale entry
fails too, so it stays the truth.

- POSIX-only modules: fcntl, pwd, grp, resource, termios, tty, pty, posix;
- POSIX-only ``os`` functions and flags (fork, getuid, chown, link, symlink, killpg, setsid,
  O_NOFOLLOW, ...) and ``signal`` names Windows lacks (SIGHUP, SIGKILL, SIGUSR1, alarm, ...);
- ``os.open`` without ``O_BINARY`` (on Windows the descriptor is in text mode: every ``\\n``
  written becomes ``\\r\\n``, corrupting a workbook or an upload);
- ``os.replace``/``os.rename`` of a file still open in an enclosing ``with`` (Windows refuses to
  replace or move an open file);
- a generated file name holding a character Windows refuses (``<>:"|?*``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import bulk_provision

PACKAGE = Path(bulk_provision.__file__).parent
SOURCES = sorted([*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "schemas").glob("*.py")])

POSIX_MODULES = {"fcntl", "pwd", "grp", "resource", "termios", "tty", "pty", "posix"}
POSIX_OS = {
    "fork", "forkpty", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getpgid",
    "getpgrp", "setsid", "setuid", "setgid", "killpg", "chown", "lchown", "fchown", "link",
    "symlink", "mkfifo", "mknod", "getloadavg", "nice", "sync", "fchmod", "statvfs", "lockf",
    "posix_fadvise", "pipe2", "wait3", "wait4", "O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC",
    "O_NONBLOCK", "O_SYNC", "O_DSYNC", "WNOHANG", "sched_setaffinity", "sched_getaffinity",
}
POSIX_SIGNAL = {
    "SIGHUP", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGQUIT", "SIGCHLD", "SIGPIPE",
    "SIGWINCH", "SIGCONT", "SIGSTOP", "SIGTSTP", "alarm", "setitimer", "pause",
    "siginterrupt", "pthread_kill", "pthread_sigmask", "SIG_BLOCK",
}
# Names that are not refused on Windows but behave differently there: each use is listed.
DIFFERENT_ON_WINDOWS = {("os", "chmod"), ("os", "umask"), ("signal", "SIGTERM")}
GUARD_NAMES = {"name", "platform", "WINDOWS", "hasattr"}
GUARD_EXCEPTIONS = {"ImportError", "ModuleNotFoundError", "AttributeError", "OSError"}
WINDOWS_REFUSES = set('<>:"|?*')
FILE_SUFFIXES = (".xlsx", ".csv", ".sqlite", ".json", ".jsonl", ".log", ".txt", ".toml", ".lock")

# (file relative to the repository, what is used) -> what it does on Windows.
REMAINING: dict[tuple[str, str], str] = {
    ("bulk_provision/web/auth.py", "os.chmod"):
        "sets or clears only the read-only flag; owner-only there is the profile rule "
        "(settings/paths.outside_profile)",
    ("bulk_provision/web/workspace.py", "os.chmod"):
        "sets or clears only the read-only flag; the workspace inherits its folder's ACL "
        "(keep it in your profile or a folder only the service account may read)",
    ("bulk_provision/cli/serve.py", "os.umask"):
        "accepted but only the owner-write bit means anything; files inherit the folder's ACL",
    ("bulk_provision/cli/signals.py", "signal.SIGTERM"):
        "the handler is installed but nothing sends SIGTERM on Windows; Ctrl+C (SIGINT) and "
        "Ctrl+Break (SIGBREAK) stop the run resumably; taskkill /F and Task Scheduler's End "
        "kill it outright, which the journal survives like kill -9",
    ("bulk_provision/cli/__init__.py", "os.open without O_BINARY"):
        "opens os.devnull to stand in for a closed stdout: nothing is written through it",
    ("bulk_provision/journal/files.py", "os.open without O_BINARY"):
        "creates the empty journal 0600 and closes it at once: nothing is written through it",
    ("bulk_provision/settings/paths.py", "os.open without O_BINARY"):
        "a probe that the output can be created, closed and removed at once",
}


@dataclass(frozen=True)
class Use:
    path: str
    line: int
    what: str

    def key(self) -> tuple[str, str]:
        return self.path, self.what


def relative(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def mentions_guard(test: ast.AST) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Attribute) and node.attr in GUARD_NAMES:
            return True
        if isinstance(node, ast.Name) and node.id in GUARD_NAMES:
            return True
    return False


def guarded(node: ast.AST, up: dict[ast.AST, ast.AST]) -> bool:
    current = node
    while current in up:
        parent = up[current]
        if isinstance(parent, ast.If | ast.IfExp) and mentions_guard(parent.test):
            return True
        if isinstance(parent, ast.Try) and current in parent.body:
            caught = {n.id for h in parent.handlers for n in ast.walk(h.type or ast.Name("x"))
                      if isinstance(n, ast.Name)}
            if caught & GUARD_EXCEPTIONS:
                return True
        current = parent
    return False


def getattr_name(node: ast.Call) -> tuple[str, str] | None:
    """``getattr(os, "geteuid", default)``: a guarded use of ``os.geteuid``."""
    if (isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2 and isinstance(node.args[0], ast.Name)
            and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        return node.args[0].id, node.args[1].value
    return None


def opened_names(with_node: ast.With) -> set[str]:
    names = set()
    for item in with_node.items:
        call = item.context_expr
        if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Name):
            names.add(call.args[0].id)
    return names


def audit(path: Path) -> list[Use]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    up = parents(tree)
    where = relative(path)
    found: list[Use] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""])
            for module in modules:
                if module.split(".")[0] in POSIX_MODULES and not guarded(node, up):
                    found.append(Use(where, node.lineno, f"import {module}"))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            pair = node.value.id, node.attr
            posix = ((pair[0] == "os" and pair[1] in POSIX_OS)
                     or (pair[0] == "signal" and pair[1] in POSIX_SIGNAL))
            if posix and not guarded(node, up):
                found.append(Use(where, node.lineno, f"{pair[0]}.{pair[1]}"))
            elif pair in DIFFERENT_ON_WINDOWS and not guarded(node, up):
                found.append(Use(where, node.lineno, f"{pair[0]}.{pair[1]}"))
        if isinstance(node, ast.Call):
            name = getattr_name(node)
            if name is not None and name[1] in POSIX_OS | POSIX_SIGNAL and len(node.args) < 3 \
                    and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                found.append(Use(where, node.lineno, f"{name[0]}.{name[1]} (getattr, no default)"))
            func = node.func
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == "os" and func.attr == "open"
                    and "O_BINARY" not in ast.unparse(node)):
                found.append(Use(where, node.lineno, "os.open without O_BINARY"))
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == "os" and func.attr in ("replace", "rename")
                    and node.args and isinstance(node.args[0], ast.Name)):
                current: ast.AST = node
                while current in up:
                    current = up[current]
                    if isinstance(current, ast.With) and node.args[0].id in opened_names(current):
                        found.append(Use(where, node.lineno, f"os.{func.attr} of an open file"))
        if isinstance(node, ast.JoinedStr | ast.Constant):
            found.extend(refused_file_name(node, where))
    return found


def refused_file_name(node: ast.JoinedStr | ast.Constant, where: str) -> list[Use]:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str):
            return []
        parts = [node.value]
    else:
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            elif isinstance(value, ast.FormattedValue) and isinstance(value.format_spec,
                                                                       ast.JoinedStr):
                parts += [v.value for v in value.format_spec.values
                          if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    text = "".join(parts)
    looks_like_file = (" " not in text and text.endswith(FILE_SUFFIXES)
                       and "://" not in text and "*" not in text)  # "*": a glob, not a name
    if looks_like_file and WINDOWS_REFUSES & set(text):
        return [Use(where, node.lineno, f"file name {text!r}")]
    return []


def all_uses() -> list[Use]:
    return [use for path in SOURCES for use in audit(path)]


def test_every_posix_only_use_is_guarded_or_listed_with_its_windows_behaviour() -> None:
    unexplained = [f"{u.path}:{u.line}: {u.what}" for u in all_uses() if u.key() not in REMAINING]
    assert unexplained == [], (
        "guard these with a platform check, or list them in REMAINING with what they do on "
        "Windows")


def test_the_list_of_remaining_uses_is_not_stale() -> None:
    present = {u.key() for u in all_uses()}
    stale = [key for key in REMAINING if key not in present]
    assert stale == []


def test_the_audit_catches_what_it_is_meant_to(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text(
        "import fcntl\nimport os, signal\n"
        "os.getuid()\nsignal.signal(signal.SIGHUP, None)\n"
        "fd = os.open('x', os.O_WRONLY)\n"
        "with open(tmp) as f:\n    os.replace(tmp, 'y')\n"
        "name = f'run-{stamp:%H:%M}.xlsx'\n"
        "if os.name != 'nt':\n    os.fork()\n"
        "try:\n    import pwd\nexcept ImportError:\n    pwd = None\n"
        "uid = getattr(os, 'geteuid', lambda: 0)()\n",
        encoding="utf-8")
    global PACKAGE
    saved = PACKAGE
    PACKAGE = tmp_path / "pkg"
    try:
        whats = [u.what for u in audit(sample)]
    finally:
        PACKAGE = saved
    assert whats.count("import fcntl") == 1 and "import pwd" not in whats
    assert {"os.getuid", "signal.SIGHUP", "os.open without O_BINARY",
            "os.replace of an open file", "file name 'run-%H:%M.xlsx'"} <= set(whats)
    assert "os.fork" not in whats and not [w for w in whats if "geteuid" in w]
