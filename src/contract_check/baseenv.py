"""The shared base environment, and the factory that hands out a sandbox per ref.

Most of a check is identical across Core refs: the Store, its dependencies, pytest and their bytecode. The
*base environment* holds exactly that and no Core at all; every ref's sandbox starts as a hard-link clone of
it and uv then adds that ref's Core, so no run ever sees another run's Core (a clone shares files, never
directories). The base's own files are copies, never links into uv's cache.

Because a clone shares the base's files, a contract that writes to an installed file would change the base:
every base records a stat fingerprint of its files (sizes, mtimes), is verified before use and after each run
that used it (``BaseGuard``), and is discarded when anything changed.

A base is kept in the user's cache directory only when its inputs are pinned (an exact Store version or a
Store whose content digest is known), for at most ``BASE_TTL`` seconds; otherwise it lives for one invocation.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract_check import fsread
from contract_check.config import cache_root
from contract_check.errors import UsageError
from contract_check.fingerprint import digest, stat_digest
from contract_check.sandbox import ClonedSandbox, FreshSandbox, Sandbox, SandboxSettings

BASE_TTL = 24 * 3600.0
COMPLETE = "contract-check-base.json"


def installed_identity(venv: Path) -> str:
    """What a base environment holds, independent of when it was built: its Python and distributions."""
    found = sorted(p.name for p in venv.glob("lib*/python*/site-packages/*.dist-info"))
    cfg = (fsread.read_cached(venv / "pyvenv.cfg", limit=64 * fsread.KIB) or b"").decode("utf-8", "replace")
    version = next((ln for ln in cfg.splitlines() if ln.startswith("version")), "")
    return digest(version, found)


class Base:
    """A prepared base environment and the fingerprint it must keep while clones of it are in use."""

    def __init__(self, path: Path, fingerprint: str, identity: str, marker: Path | None = None) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.identity = identity  # part of the result cache's key
        self.marker = marker  # the persistent base's completion marker, removed when the base is discarded
        self.discarded = False

    def requires(self, name: str | None) -> list[str] | None:
        """Requires-Dist of the distribution *name* as installed in the base (read from its metadata, so a base
        reused from an earlier invocation answers too); None when the base does not hold it."""
        if not name:
            return None
        site = [str(p) for p in self.path.glob("lib*/python*/site-packages")]
        found = next(iter(importlib.metadata.distributions(name=name, path=site)), None)
        return None if found is None else list(found.requires or [])

    def intact(self) -> bool:
        """Whether no file of the base changed since it was built (a contract may write through a clone)."""
        return not self.discarded and stat_digest(self.path, skip=COMPLETE) == self.fingerprint

    def discard(self) -> None:
        """Stop using this base; a persistent one is rebuilt by the next invocation that needs it."""
        self.discarded = True
        if self.marker is not None:
            with contextlib.suppress(OSError):
                self.marker.unlink()


@contextlib.contextmanager
def locked(path: Path, exclusive: bool) -> Iterator[None]:
    import fcntl  # POSIX only: imported here so that the CLI can say so on other platforms instead of failing

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)  # a FIFO must not block
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(
                f"the cache lock {path} is not a regular file", tip="remove it (contract-check cache clear)"
            )
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _marker(base: Path) -> dict[str, Any] | None:
    """The completion marker of a persistent base when it is fresh and its files are as built, else None."""
    marker = base / COMPLETE
    try:
        data = json.loads(fsread.read_cached(marker, limit=64 * fsread.KIB) or b"")
        created, fingerprint, identity = float(data["created"]), str(data["fingerprint"]), str(data["identity"])
    except (ValueError, KeyError, TypeError, RecursionError):  # a missing, odd or damaged marker: rebuild
        return None
    # too old, in the future, nan or inf; or damaged since it was built (a file changed, went or was added)
    if not (0 <= time.time() - created < BASE_TTL) or stat_digest(base, skip=COMPLETE) != fingerprint:
        return None
    return {"fingerprint": fingerprint, "identity": identity}


def _seal(venv: Path) -> dict[str, Any]:
    """Write the completion marker of a freshly built base; return its fingerprint and identity."""
    info = {
        "created": time.time(),
        "fingerprint": stat_digest(venv, skip=COMPLETE),
        "identity": installed_identity(venv),
    }
    (venv / COMPLETE).write_text(json.dumps(info))
    return info


Builder = Callable[[Path], None]


@contextlib.contextmanager
def persistent_base(key: str, build: Builder) -> Iterator[Base]:
    """A cached base env for *key*: reused when fresh and intact, else rebuilt by ``build(path)`` under a lock.

    Held under a shared lock while the caller clones it, so a concurrent rebuild never removes it midway.
    """
    envs = cache_root() / "envs"
    base, lock = envs / key, envs / f"{key}.lock"
    if _marker(base) is None:
        with locked(lock, exclusive=True):
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
    with locked(lock, exclusive=False):
        info = _marker(base)
        if info is None:  # changed between the check and the lock: never hand out a damaged base
            raise OSError(f"the shared environment {base} changed while it was being prepared")
        yield Base(base, info["fingerprint"], info["identity"], marker=base / COMPLETE)


@contextlib.contextmanager
def transient_base(build: Builder) -> Iterator[Base]:
    """A base env that lives for one invocation."""
    root = Path(tempfile.mkdtemp(prefix="contract-check-base-"))
    try:
        build(root / "venv")
        info = _seal(root / "venv")
        yield Base(root / "venv", info["fingerprint"], info["identity"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


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


class Environments:
    """Hands out one sandbox per ref: a clone of the shared base while there is an intact one, else a fresh
    venv (two implementations of ``sandbox.Sandbox``)."""

    def __init__(self, settings: SandboxSettings, guard: BaseGuard | None = None) -> None:
        self.settings = settings
        self.guard = guard

    @property
    def identity(self) -> str | None:
        """What the shared base holds (part of the result cache's key); None without one."""
        return self.guard.base.identity if self.guard else None

    @contextlib.contextmanager
    def open(self, ref: str) -> Iterator[Sandbox]:
        base = self.guard.acquire(ref) if self.guard else None
        try:
            box = ClonedSandbox(self.settings, base.path) if base else FreshSandbox(self.settings)
            with box:
                yield box
        finally:
            if self.guard and base is not None:
                self.guard.release(ref)

    def without_base(self) -> Environments:
        """The same, always fresh (to redo the runs a changed base may have reached)."""
        return Environments(self.settings)
