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
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract_check.cache import cachedir, cacheledger, cacheroot
from contract_check.cache.cachedir import locked
from contract_check.sandbox import ClonedSandbox, FreshSandbox, Sandbox, SandboxSettings, venvcheck
from contract_check.util import fsread
from contract_check.util.fingerprint import digest, stat_digest

BASE_TTL = 24 * 3600.0
COMPLETE = cachedir.BASE_MARKER


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
        """Stop using this base; a persistent one is rebuilt by the next invocation that needs it. Its marker
        is rewritten, not removed, so that the base stays recognisably the tool's (``cache clear`` removes it)."""
        self.discarded = True
        if self.marker is not None:
            with contextlib.suppress(OSError):
                _write_marker(self.marker.parent, {"discarded": time.time(), "fingerprint": ""})


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
    if not venvcheck.whole(base):  # sealed after a clean-up emptied it while it was being built
        return None
    return {"fingerprint": fingerprint, "identity": identity, "created": created}


def _write_marker(venv: Path, info: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=venv, prefix=f".{COMPLETE}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info, fh)
    os.replace(tmp, venv / COMPLETE)


def _seal(venv: Path) -> dict[str, Any]:
    """Write the completion marker of a freshly built base; return its fingerprint, identity and size."""
    if not venvcheck.whole(venv):
        raise OSError(f"the shared environment {venv} lost its pyvenv.cfg or interpreter while it was built")
    info = {
        "created": time.time(),
        "fingerprint": stat_digest(venv, skip=COMPLETE),
        "identity": installed_identity(venv),
        "size": cachedir.tree_size(venv),
    }
    _write_marker(venv, info)
    return info


Builder = Callable[[Path], None]


@contextlib.contextmanager
def persistent_base(key: str, build: Builder) -> Iterator[Base]:
    """A cached base env for *key*: reused when fresh and intact, else rebuilt by ``build(path)`` under a lock.

    Built in a staging directory under the key's exclusive lock (a clean-up removes staging directories only
    when it can take that lock), then held under a shared lock while the caller clones it, so that neither a
    concurrent rebuild nor ``cache clear``/``prune`` removes it midway. Without a usable cache directory (one
    that is not contract-check's), the base lives for this invocation only.
    """
    root = cacheroot.usable()
    if root is None:
        with transient_base(build) as once:
            yield once
        return
    envs = root / "envs"
    base, lock, rel = envs / key, envs / f"{key}.lock", f"envs/{key}"
    if _marker(base) is None:
        with locked(lock, exclusive=True):
            if _marker(base) is None:
                staging = cachedir.staging(envs, key)
                try:
                    build(staging / "venv")
                    info = _seal(staging / "venv")
                    cachedir.discard_dir(base, key)  # an expired or damaged base of this key
                    (staging / "venv").rename(base)
                    cacheledger.record(root, rel, "base", int(info["size"]), expires=info["created"] + BASE_TTL)
                finally:
                    cachedir.drop(staging)
    with locked(lock, exclusive=False):
        found = _marker(base)
        if found is None:  # changed between the check and the lock: never hand out a damaged base
            raise OSError(f"the shared environment {base} changed while it was being prepared")
        cacheledger.touch(root, rel)
        yield Base(base, found["fingerprint"], found["identity"], marker=base / COMPLETE)


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
