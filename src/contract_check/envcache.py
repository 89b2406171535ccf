"""Work done once and reused: the base environment and the result cache.

Most of a check is identical across Core refs: the Store, its dependencies, pytest and their bytecode. The
*base environment* holds exactly that and no Core at all; every ref's sandbox starts as a hard-link clone of
it and uv then adds that ref's Core, so no run ever sees another run's Core (a clone shares files, never
directories). The base's own files are copies, never links into uv's cache. Because a clone shares the
base's files, a contract that writes to an installed file would change the base: every base records a
stat digest of its files (sizes, mtimes) and is verified before use and after each run that used it; a base
that changed is discarded (see ``Base``).

A base is kept in the user's cache directory only when its inputs are pinned (an exact Store version or a
Store file whose hash is known), for at most ``BASE_TTL`` seconds; otherwise it lives for one invocation.
The *result cache* stores finished runs keyed by everything that decides a verdict, for ``RESULT_TTL``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
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


def stat_digest(root: Path) -> str:
    """A cheap fingerprint of every file under *root*: relative path, size and mtime (no content read).

    The base's own completion marker is left out (it is written after the fingerprint is taken).
    """
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name == _COMPLETE and dirpath == str(root):
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            h.update(f"{os.path.relpath(path, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def installed_identity(venv: Path) -> str:
    """What a base environment holds, independent of when it was built: its Python and distributions."""
    found = sorted(p.name for p in venv.glob("lib*/python*/site-packages/*.dist-info"))
    cfg = venv / "pyvenv.cfg"
    try:
        version = next((ln for ln in cfg.read_text().splitlines() if ln.startswith("version")), "")
    except OSError:
        version = ""
    return digest(version, found)


class Base:
    """A prepared base environment and the fingerprint it must keep while clones of it are in use."""

    def __init__(self, path: Path, fingerprint: str, identity: str, marker: Path | None = None) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.identity = identity  # part of the result cache's key
        self.marker = marker  # the persistent base's completion marker, removed when the base is discarded
        self.discarded = False

    def intact(self) -> bool:
        """Whether no file of the base changed since it was built (a contract may write through a clone)."""
        return not self.discarded and stat_digest(self.path) == self.fingerprint

    def discard(self) -> None:
        """Stop using this base; a persistent one is rebuilt by the next invocation that needs it."""
        self.discarded = True
        if self.marker is not None:
            with contextlib.suppress(OSError):
                self.marker.unlink()


@contextlib.contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[None]:
    import fcntl  # POSIX only: imported here so that the CLI can say so on other platforms instead of failing

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _marker(base: Path) -> dict[str, Any] | None:
    """The completion marker of a persistent base when it is fresh and its files are as built, else None."""
    marker = base / _COMPLETE
    try:
        data = json.loads(fsread.read_cached(marker, limit=64 * fsread.KIB) or b"")
        created, fingerprint, identity = float(data["created"]), str(data["fingerprint"]), str(data["identity"])
    except (ValueError, KeyError, TypeError, RecursionError):  # a missing, odd or damaged marker: rebuild
        return None
    # too old, in the future, nan or inf; or damaged since it was built (a file changed, went or was added)
    if not (0 <= time.time() - created < BASE_TTL) or stat_digest(base) != fingerprint:
        return None
    return {"fingerprint": fingerprint, "identity": identity}


def _seal(venv: Path) -> dict[str, Any]:
    """Write the completion marker of a freshly built base; return its fingerprint and identity."""
    info = {"created": time.time(), "fingerprint": stat_digest(venv), "identity": installed_identity(venv)}
    (venv / _COMPLETE).write_text(json.dumps(info))
    return info


@contextlib.contextmanager
def persistent_base(key: str, build: Any) -> Iterator[Base]:
    """A cached base env for *key*: reused when fresh and intact, else rebuilt by ``build(path)`` under a lock.

    Held under a shared lock while the caller clones it, so a concurrent rebuild never removes it midway.
    """
    envs = cache_root() / "envs"
    base, lock = envs / key, envs / f"{key}.lock"
    if _marker(base) is None:
        with _locked(lock, exclusive=True):
            if _marker(base) is None:
                staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=envs))
                try:
                    build(staging / "venv")
                    _seal(staging / "venv")
                    if base.exists():
                        trash = envs / f"{key}.old.{os.getpid()}"
                        base.rename(trash)
                        shutil.rmtree(trash, ignore_errors=True)
                    (staging / "venv").rename(base)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
    with _locked(lock, exclusive=False):
        info = _marker(base)
        if info is None:  # changed between the check and the lock: never hand out a damaged base
            raise OSError(f"the shared environment {base} changed while it was being prepared")
        yield Base(base, info["fingerprint"], info["identity"], marker=base / _COMPLETE)


@contextlib.contextmanager
def transient_base(build: Any) -> Iterator[Base]:
    """A base env that lives for one invocation."""
    root = Path(tempfile.mkdtemp(prefix="contract-check-base-"))
    try:
        build(root / "venv")
        info = _seal(root / "venv")
        yield Base(root / "venv", info["fingerprint"], info["identity"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


RESULT_TTL = 7 * 24 * 3600.0
_RESULT_FORMAT = 1


class ResultCache:
    """Finished runs, as JSON, keyed by everything that decides a verdict; entries expire after RESULT_TTL.

    Each file is ``{"format", "stored", "run"}``. ``get`` hands back only entries that are fresh and well
    formed; what "well formed" means for a run (schema, completeness) is the caller's ``accept``.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "results"

    def get(self, key: str, now: float | None = None) -> dict[str, Any] | None:
        raw = fsread.read_cached(self.root / f"{key}.json", limit=RESULT_LIMIT)  # a FIFO or a device: a miss
        try:
            data = json.loads(raw) if raw is not None else None
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or data.get("format") != _RESULT_FORMAT:
            return None
        stored, run = data.get("stored"), data.get("run")
        age = (time.time() if now is None else now) - stored if isinstance(stored, int | float) else -1
        if not (0 <= age < RESULT_TTL) or not isinstance(run, dict):
            return None
        return run

    def put(self, key: str, run: dict[str, Any]) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": _RESULT_FORMAT, "stored": time.time(), "run": run}, fh)
            os.replace(tmp, self.root / f"{key}.json")
        except OSError:
            pass  # a cache that cannot be written only costs speed


@dataclass(frozen=True)
class CacheInfo:
    root: Path
    results: int
    expired: int
    bases: int
    size_bytes: int


def info(root: Path | None = None) -> CacheInfo:
    """What the cache directory holds (``contract-check cache info``)."""
    root = root or cache_root()
    results = expired = bases = size = 0
    now = time.time()
    for path in sorted((root / "results").glob("*.json")):
        results += 1
        if ResultCache(root).get(path.stem, now) is None:
            expired += 1
    envs = root / "envs"
    if envs.is_dir():
        bases = sum(1 for p in envs.iterdir() if p.is_dir() and (p / _COMPLETE).is_file())
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(dirpath, name)).st_size
    return CacheInfo(root, results, expired, bases, size)


def clear(root: Path | None = None) -> CacheInfo:
    """Remove every cached result and base environment (``contract-check cache clear``); return what was there.

    Each base is removed under its exclusive lock, so a check that is cloning it right now finishes first.
    """
    root = root or cache_root()
    before = info(root)
    shutil.rmtree(root / "results", ignore_errors=True)
    envs = root / "envs"
    if envs.is_dir():
        for path in sorted(envs.iterdir()):
            if path.is_dir():
                lock = envs / f"{path.name}.lock"
                with _locked(lock, exclusive=True):
                    shutil.rmtree(path, ignore_errors=True)
        for lock in envs.glob("*.lock"):
            with contextlib.suppress(OSError):
                lock.unlink()
    return before


@dataclass
class _Use:
    start: float
    end: float | None = None


class BaseGuard:
    """Hands the shared base to runs and verifies it after each one; names the runs a change may have reached.

    A contract can write to an installed file through its clone's hard link, and so change the base under
    every other clone. After each run the base's fingerprint is compared; on a change the base is discarded
    (later runs start from a fresh venv) and every run that was in flight since the last good verification
    is *tainted*: its result must be redone without the base. Thread-safe (``--jobs``).
    """

    def __init__(self, base: Base) -> None:
        self.base = base
        self._lock = threading.Lock()
        self._good_at = time.monotonic()
        self._uses: dict[str, _Use] = {}
        self.tainted: list[str] = []

    def acquire(self, ref: str) -> Base | None:
        with self._lock:
            if self.base.discarded:
                return None
            self._uses[ref] = _Use(time.monotonic())
            return self.base

    def release(self, ref: str) -> None:
        with self._lock:
            use = self._uses.get(ref)
            if use is None:
                return
            use.end = time.monotonic()
            if self.base.discarded:
                if ref not in self.tainted:
                    self.tainted.append(ref)
                return
            if self.base.intact():
                self._good_at = use.end
                return
            self.base.discard()
            for other, seen in self._uses.items():
                if (seen.end is None or seen.end > self._good_at) and other not in self.tainted:
                    self.tainted.append(other)
