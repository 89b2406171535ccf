"""Digests: of values (cache keys), of files and project trees (what a local artifact holds), and of a tree's
file metadata (a cheap check that nothing changed).

A local project is the files ``git ls-files -co --exclude-standard`` lists (tracked and untracked, ignored
ones left out); without git, every file except VCS directories, virtualenvs, build output and caches. The same
list is what ``copy_project`` copies, so a digest describes exactly what gets built.

What a checkout holds that is not the project's own is left out, and said under ``-v``: another repository
inside it (a nested repository, such as the tool's own checkout in CI; a submodule; a gitlink) is not part of
the project's build; a symbolic link is kept as a link when it points inside the project (rewritten relative,
so the copy points into the copy) and left out when it points outside, which the copy never follows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from contract_check.errors import CommandTimeout
from contract_check.util import fsread, proc

log = logging.getLogger("contract_check")

_SKIP_DIRS = {
    *(".git", ".hg", ".svn", ".bzr"),
    *(".venv", "venv", ".tox", ".nox", "node_modules"),
    *("build", "dist", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"),
}


def digest(*parts: Any) -> str:
    """A short, stable digest of JSON-able *parts* (a cache key)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def file_digest(path: Path, what: str = "input file") -> str:
    """SHA-256 of a regular file, streamed; a FIFO or a device is a UsageError naming it (fsread)."""
    h = hashlib.sha256()
    with fsread.open_regular(path, what) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _git_files(root: Path) -> list[str] | None:
    if not any((parent / ".git").exists() for parent in (root, *root.parents)):
        return None
    env = {"PATH": os.environ.get("PATH", ""), "GIT_TERMINAL_PROMPT": "0", "HOME": os.environ.get("HOME", "/")}
    try:
        done = proc.run(
            ["git", "-c", "core.quotepath=off", "ls-files", "-z", "-co", "--exclude-standard", "--", "."],
            env=env,
            cwd=root,
            timeout=60,
            what="git ls-files",
        )
    except (OSError, CommandTimeout):
        return None
    names = sorted({name for name in done.stdout.split("\0") if name})
    # nothing listed: the project sits in a directory the enclosing repository ignores (a vendored checkout)
    return names if done.ok and names else None


def _walked_files(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel + os.sep
        kept = []
        for d in dirnames:
            if d in _SKIP_DIRS or d.endswith(".egg-info") or Path(dirpath, d, "pyvenv.cfg").exists():
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                found.append(prefix + d)  # an entry of its own, as git lists it; never walked into
            elif os.path.lexists(os.path.join(dirpath, d, ".git")):
                found.append(prefix + d + "/")  # another repository, as git lists a nested one
            else:
                kept.append(d)
        dirnames[:] = kept
        found += [prefix + f for f in filenames if not f.endswith((".pyc", ".pyo"))]
    return sorted(found)


_said: set[tuple[str, str]] = set()  # (project, entry) already reported under -v in this process


def _left_out(root: Path, name: str) -> str | None:
    """Why the listed entry *name* is not part of the project's copy, or None when it is."""
    path = root / name
    if name.endswith("/"):
        return "a nested git repository"
    if os.path.islink(path):
        return None if _inside(root, path) else "a symbolic link to outside the project"
    if path.is_dir():
        return "a submodule or gitlink"  # a commit entry of another repository: a directory, not a file
    return None


def _inside(root: Path, link: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(link)]) == real_root


def project_files(root: Path) -> list[str]:
    """The files that make up the project at *root*, relative paths, sorted (see the module docstring)."""
    listed = _git_files(root)
    if listed is not None and not {"pyproject.toml", "setup.py", "setup.cfg"} & set(listed):
        listed = None  # the project is ignored by (or unknown to) the repository around it: take what is there
    names = listed if listed is not None else _walked_files(root)
    kept = []
    for name in names:
        if not os.path.lexists(root / name.rstrip("/")):
            continue  # a tracked file deleted in the working tree is gone
        why = _left_out(root, name)
        if why is None:
            kept.append(name)
        elif (str(root), name) not in _said:
            _said.add((str(root), name))
            log.info("left out of the project %s: %s (%s, not part of its build)", root, name, why)
    return kept


def tree_digest(root: Path) -> str:
    """Hash of every project file's relative path and content under *root* (a FIFO or a device in it, even
    behind a symlink, is a UsageError: the build would block on it)."""
    fsread.check_tree(root, "the project")
    h = hashlib.sha256()
    for name in project_files(root):
        path = root / name
        h.update(name.encode() + b"\0")
        if path.is_symlink():
            h.update(b"->" + os.readlink(path).encode())
            continue
        try:
            h.update(file_digest(path, "the file").encode())
        except OSError:  # unreadable: its name is hashed
            continue
    return h.hexdigest()


def content_digest(path: Path) -> str | None:
    """``file:<sha>`` for a file, ``tree:<sha>`` for a directory; None when *path* is neither."""
    try:
        if path.is_file():
            return "file:" + file_digest(path)
        if path.is_dir():
            return "tree:" + tree_digest(path)
    except (OSError, ValueError):  # too long for a file name, a NUL byte
        return None
    return None


def copy_project(root: Path, dest: Path) -> None:
    """Copy the project files of *root* to *dest* (symlinks as symlinks), so that a build writes only there."""
    fsread.check_tree(root, "the project")  # a FIFO or a device would block the copy
    for name in project_files(root):
        source, target = root / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # it points inside the project (project_files): at the same place in the copy
            os.symlink(os.path.relpath(os.path.realpath(source), os.path.realpath(source.parent)), target)
        elif source.is_file():
            shutil.copy2(source, target)


def stat_digest(root: Path, *, skip: str = "") -> str:
    """A cheap fingerprint of every file under *root*: relative path, size and mtime (no content read).
    A file named *skip* directly in *root* is left out."""
    h = hashlib.sha256()
    top = str(root)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        rel = os.path.relpath(dirpath, top)  # once per directory: relpath is costly, and a venv has thousands of files
        prefix = "" if rel == "." else rel + os.sep
        for name in sorted(filenames):
            if name == skip and dirpath == top:
                continue
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            h.update(f"{prefix}{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()
