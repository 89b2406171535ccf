"""Writing a golden: the one writer (``write``), split into a planner and a swap so that both can be tested
on real trees without a sandbox.

``plan`` looks at the target directory and either refuses (UsageError, exit 2: nothing is touched) or says
which files there are the golden's own: a golden's own files are the ones its declaration lists
(``metadata.json``, ``schemas.json`` and the declared ``payloads/<Subject>.json``), or, for a golden recorded
by the second release, the files that make it one (``schemas.json``, ``metadata.json``, ``payloads/*.json``).
It refuses the file system root, the home directory, the current directory or one of its parents, a project
root (``pyproject.toml``, ``setup.py``, ``setup.cfg``, ``.git``), the installed tool, a directory that is not
empty and holds no golden, and a golden whose ``payloads`` is not a plain directory. A symbolic link is
judged by what it points at.

``replace`` writes the new golden into a staging directory inside the target (same file system, so every
step is a rename), then swaps only the golden's own entries, ``metadata.json`` (the declaration) last, and
removes the old golden's files the new one does not have. The old golden stays in place until the new one is
complete; a failure or an interrupt during the swap puts the old files back. Nothing else in the directory
is read, moved or deleted. New directories get the permissions the umask gives.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract_check import PACKAGE_DIR
from contract_check.errors import UsageError
from contract_check.suite.golden import METADATA, METADATA_LIMIT, PAYLOADS, SCHEMAS, SCHEMAS_LIMIT, SUBJECT, Content
from contract_check.suite.golden import render as render_files
from contract_check.util import fsread

STAGING_PREFIX = ".contract-check-staging-"
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
_TIP = (
    "give the golden a directory of its own: a new or empty one, or an earlier golden (e.g. --output contract-golden)"
)


@dataclass(frozen=True)
class Plan:
    """What is at the target: the golden's own files (relative paths) and every other name a write could hit."""

    target: Path  # resolved: a symlinked output is written where it points
    exists: bool
    own: frozenset[str]
    others: frozenset[str]  # top-level names and payloads/<name> entries that are not the golden's

    def conflicts(self, files: Iterable[str]) -> list[str]:
        return sorted(set(files) & self.others)


def _refuse(target: Path, given: Path, why: str, tip: str = _TIP) -> UsageError:
    link = f" ({given} is a symbolic link to it)" if given.is_symlink() else ""
    return UsageError(f"snapshot will not write a golden into {target}{link}: {why}", tip=tip)


def _peek(path: Path, limit: int) -> Any:
    """The JSON value in *path* if it is a readable regular file holding JSON, else None (bounded)."""
    data = fsread.read_cached(path, limit=limit)
    try:
        return json.loads(data) if data is not None else None
    except (ValueError, RecursionError):
        return None


def _entries(folder: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(folder) if not n.startswith(STAGING_PREFIX))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_file_entry(path: Path) -> bool:
    """A regular file, or a symbolic link (replacing a link never touches what it points at)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode)


def own_files(target: Path) -> tuple[frozenset[str] | None, str]:
    """The golden's own files present in *target* (None: it holds no golden, and why not)."""
    meta = _peek(target / METADATA, METADATA_LIMIT)
    payload_names = [f"{PAYLOADS}/{n}" for n in _entries(target / PAYLOADS) if n.endswith(".json")]
    payload_files = {p for p in payload_names if _is_regular(target / p)}
    contents = meta.get("contents") if isinstance(meta, dict) else None
    if isinstance(contents, dict) and isinstance(contents.get("payloads"), dict):  # a declared golden
        declared = {f"{PAYLOADS}/{s}.json" for s in contents["payloads"] if isinstance(s, str) and SUBJECT.fullmatch(s)}
        tops = {p for p in (METADATA, SCHEMAS) if _is_file_entry(target / p)}
        return frozenset(tops | (declared & payload_files)), ""
    schemas = _peek(target / SCHEMAS, SCHEMAS_LIMIT)
    recorded = isinstance(meta, dict) and "tool" in meta  # what the second release's snapshot wrote
    if recorded and isinstance(schemas, dict) and set(schemas) == {"models", "enums"}:
        return frozenset({METADATA, SCHEMAS} | payload_files), ""
    if meta is None and os.path.lexists(target / METADATA):
        return None, f"its {METADATA} is not a readable JSON file"
    return None, "it is not empty and holds no golden (no metadata.json and schemas.json written by snapshot)"


def plan(target: Path, *, cwd: Path) -> Plan:
    """Where a golden may go, and what is there (see the module docstring); UsageError when it may not."""
    given = target if target.is_absolute() else cwd / target
    resolved = given.resolve()
    here = cwd.resolve()
    try:
        home: Path | None = Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        home = None
    if resolved == Path(resolved.anchor):
        raise _refuse(resolved, given, "it is the root of the file system")
    if resolved == home:
        raise _refuse(resolved, given, "it is your home directory")
    if resolved == here:
        raise _refuse(resolved, given, "it is the current directory")
    if here.is_relative_to(resolved):
        raise _refuse(resolved, given, "the current directory is inside it")
    if resolved.is_relative_to(PACKAGE_DIR):
        raise _refuse(
            resolved,
            given,
            "it is inside the installed contract-check; every later check would compare with it",
            tip="write the golden into your project (--output DIR or golden in [tool.contract-check]) and check "
            "with --golden DIR",
        )
    try:
        mode = os.stat(resolved).st_mode
    except FileNotFoundError:
        return Plan(resolved, False, frozenset(), frozenset())
    if not stat.S_ISDIR(mode):
        raise _refuse(resolved, given, f"it is {fsread.describe(mode)}, not a directory")
    markers = [m for m in PROJECT_MARKERS if os.path.lexists(resolved / m)]
    if markers:
        raise _refuse(resolved, given, f"it is a project's root directory (it has {', '.join(markers)})")
    names = _entries(resolved)
    if not names:
        return Plan(resolved, True, frozenset(), frozenset())
    own, why = own_files(resolved)
    if own is None:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise _refuse(resolved, given, f"{why}; it holds {shown}")
    payloads = resolved / PAYLOADS
    if os.path.lexists(payloads) and not (payloads.is_dir() and not payloads.is_symlink()):
        what = "a symbolic link" if payloads.is_symlink() else fsread.describe(os.lstat(payloads).st_mode)
        raise _refuse(
            resolved,
            given,
            f"its {PAYLOADS} is {what}, where the golden keeps its payload files",
            tip=f"move {payloads} away (the golden's payloads go in a directory of that name), then run snapshot again",
        )
    for name in (SCHEMAS, METADATA):
        if os.path.lexists(resolved / name) and not _is_file_entry(resolved / name):
            raise _refuse(resolved, given, f"its {name} is not a file", tip=f"move {resolved / name} away")
    others = {n for n in names if n != PAYLOADS} | {f"{PAYLOADS}/{n}" for n in _entries(payloads)}
    return Plan(resolved, True, own, frozenset(others - own))


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)  # umask applies
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _swap_order(files: Iterable[str]) -> list[str]:
    """Payload files first, then schemas.json, then metadata.json: the declaration is the last to change."""
    rank = {SCHEMAS: 1, METADATA: 2}
    return sorted(files, key=lambda rel: (rank.get(rel, 0), rel))


def replace(where: Plan, files: dict[str, bytes]) -> Path:
    """Write *files* (relative path -> bytes) as the golden at ``where.target``, replacing only its own files."""
    clash = where.conflicts(files)
    if clash:
        raise UsageError(
            f"snapshot will not write the golden into {where.target}: "
            f"{', '.join(clash)} there {'is' if len(clash) == 1 else 'are'} not the golden's own",
            tip="move them away, then run snapshot again",
        )
    target = where.target
    created = [p for p in (target, *target.parents) if not os.path.lexists(p)]
    target.mkdir(parents=True, exist_ok=True)
    payload_dir = target / PAYLOADS
    made_payload_dir = False
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target))
    undo: list[tuple[Path, Path]] = []  # (from, to) renames that put things back, newest last
    try:
        for rel, data in files.items():
            _write_new(staging / "new" / rel, data)
        (staging / "old" / PAYLOADS).mkdir(parents=True)
        if any(rel.startswith(PAYLOADS + "/") for rel in files) and not payload_dir.is_dir():
            payload_dir.mkdir()
            made_payload_dir = True
        for rel in _swap_order(files):
            if rel in where.own and os.path.lexists(target / rel):
                os.replace(target / rel, staging / "old" / rel)
                undo.append((staging / "old" / rel, target / rel))
            os.replace(staging / "new" / rel, target / rel)
            undo.append((target / rel, staging / "new" / rel))
        for rel in sorted(where.own - set(files)):
            if os.path.lexists(target / rel):
                os.replace(target / rel, staging / "old" / rel)
                undo.append((staging / "old" / rel, target / rel))
    except BaseException:  # an interrupt too: the old golden goes back
        for source, dest in reversed(undo):
            with contextlib.suppress(OSError):
                os.replace(source, dest)
        if made_payload_dir:
            with contextlib.suppress(OSError):
                payload_dir.rmdir()
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # only what this call created, and only if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return target


def write(target: Path, content: Content, *, cwd: Path) -> Path:
    """The one writer of a golden: plan (or refuse) and replace. Returns where it was written."""
    files = render_files(content)
    return replace(plan(target, cwd=cwd), files)
