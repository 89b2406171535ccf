"""Work done once and reused: the base environment and the result cache.

Most of a check is identical across Core refs: the Store, its dependencies, pytest and their bytecode. The
*base environment* holds exactly that and no Core at all; every ref's sandbox starts as a hard-link clone of
it and uv then adds that ref's Core, so no run ever sees another run's Core (a clone shares files, never
directories, and neither uv nor Python rewrites a file in place).

A base is kept in the user's cache directory only when its inputs are pinned (an exact Store version or a
Store file whose hash is known), for at most ``BASE_TTL`` seconds; otherwise it lives for one invocation.
The *result cache* stores finished runs keyed by everything that decides a verdict.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contract_check import fsread

BASE_TTL = 24 * 3600.0
RESULT_LIMIT = 16 * 1024 * 1024  # a cached run is a few KiB; anything this large is not one of ours
_COMPLETE = "contract-check-base.json"


def cache_root() -> Path:
    explicit = os.environ.get("CONTRACT_CHECK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "contract-check"


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def file_digest(path: Path, what: str = "input file") -> str:
    """SHA-256 of a regular file, streamed; a FIFO or a device is a UsageError naming it (fsread)."""
    h = hashlib.sha256()
    with fsread.open_regular(path, what) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_digest(root: Path) -> str:
    """Hash of every file's relative path and content under *root* (caches and VCS dirs skipped)."""
    h = hashlib.sha256()
    skip = {".git", "__pycache__", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", "node_modules"}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath) / name
            h.update(str(path.relative_to(root)).encode() + b"\0")
            with contextlib.suppress(OSError):  # a dangling symlink, an unreadable file: its name is hashed
                h.update(file_digest(path, "the file").encode())
    return h.hexdigest()


def clone(base: Path, dest: Path) -> None:
    """Copy a venv as hard links (a copy where links are impossible, e.g. across filesystems)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(base, dest, symlinks=True, copy_function=link)


@contextlib.contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fresh(base: Path) -> bool:
    marker = base / _COMPLETE
    try:
        created = float(json.loads(fsread.read_cached(marker, limit=64 * fsread.KIB) or b"")["created"])
    except (ValueError, KeyError, TypeError, RecursionError):  # a missing, odd or damaged marker: rebuild
        return False
    return 0 <= time.time() - created < BASE_TTL  # nan, inf or a time in the future: rebuild


@contextlib.contextmanager
def persistent_base(key: str, build: Any) -> Iterator[Path]:
    """A cached base env for *key*: reused when fresh, else rebuilt by ``build(path)`` under a lock.

    Held under a shared lock while the caller clones it, so a concurrent rebuild never removes it midway.
    """
    envs = cache_root() / "envs"
    base, lock = envs / key, envs / f"{key}.lock"
    if not _fresh(base):
        with _locked(lock, exclusive=True):
            if not _fresh(base):
                staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=envs))
                try:
                    build(staging / "venv")
                    (staging / "venv" / _COMPLETE).write_text(json.dumps({"created": time.time()}))
                    if base.exists():
                        trash = envs / f"{key}.old.{os.getpid()}"
                        base.rename(trash)
                        shutil.rmtree(trash, ignore_errors=True)
                    (staging / "venv").rename(base)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
    with _locked(lock, exclusive=False):
        yield base


@contextlib.contextmanager
def transient_base(build: Any) -> Iterator[Path]:
    """A base env that lives for one invocation."""
    root = Path(tempfile.mkdtemp(prefix="contract-check-base-"))
    try:
        build(root / "venv")
        yield root / "venv"
    finally:
        shutil.rmtree(root, ignore_errors=True)


class ResultCache:
    """Finished runs, as JSON, keyed by everything that decides a verdict."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "results"

    def get(self, key: str) -> dict[str, Any] | None:
        raw = fsread.read_cached(self.root / f"{key}.json", limit=RESULT_LIMIT)  # a FIFO or a device: a miss
        try:
            data = json.loads(raw) if raw is not None else None
        except (ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, run: dict[str, Any]) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(run, fh)
            os.replace(tmp, self.root / f"{key}.json")
        except OSError:
            pass  # a cache that cannot be written only costs speed
