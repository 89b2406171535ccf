"""The cache directory: the marker that makes a directory contract-check's, the names and contents of what the
tool writes there, the locks, and removing one entry safely.

Layout, relative to the cache root (``config.cache_root``)::

    CACHEDIR.TAG               the marker, written when the tool creates the directory (or adopts one)
    ledger.jsonl, ledger.lock  the size and last use of each entry (``cacheledger``)
    results/<key>.json         a result envelope (``results.ResultCache``)
    envs/<key>/                a shared base environment with its completion marker (``baseenv``)
    wheels/<digest>/           a Store wheel built from a clean copy of a checkout, with its marker (``target``)
    envs|wheels/<key>.lock     the entry's lock: shared while a check uses it, exclusive to build or remove it
    envs|wheels/<key>.<x>/     a staging or trash directory, holding ``STAGING`` (removed under the entry's lock)

The tool deletes an entry only when the root holds the marker, the entry's name fits its pattern *and* its
content is recognisably the tool's (``recognise``); anything else in the directory is never touched. A
directory that exists without the marker is used only when it is empty, or when everything in it is an
earlier release's cache (every name and content recognised): then it is marked (adopted, ``cacheroot``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from contract_check.errors import UsageError
from contract_check.util import fsread

TAG = "CACHEDIR.TAG"
SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"  # the Cache Directory Tagging Specification's
OWNER = "# This file is a cache directory tag created by contract-check."
TAG_TEXT = f"{SIGNATURE}\n{OWNER}\n# For information about cache directory tags, see https://bford.info/cachedir/\n"
TAG_TEXT += "# contract-check cache layout: 1\n"

BASE_MARKER = "contract-check-base.json"  # a base environment's completion marker (baseenv)
WHEEL_MARKER = "contract-check-wheel.json"  # a built Store wheel's directory (target)
STAGING = "contract-check-staging"  # a staging or trash directory, while it exists
LEDGER, LEDGER_LOCK = "ledger.jsonl", "ledger.lock"
FOLDERS = ("results", "envs", "wheels")
TOP_LEVEL = {TAG, LEDGER, LEDGER_LOCK, *FOLDERS}
RESULT_LIMIT = 16 * fsread.MIB

_KEY = {"results": r"[0-9a-f]{32,64}", "envs": r"[0-9a-f]{32}", "wheels": r"[0-9a-f]{64}"}
RESULT_NAME = re.compile(r"([0-9a-f]{32,64})\.json")
RESULT_PARTIAL_NAME = re.compile(r"(?:[0-9a-f]{32,64}\.json\.|tmp)[A-Za-z0-9_]+\.tmp")  # (tmp: the second release's)
ENTRY_NAME = {f: re.compile(rf"({k})") for f, k in _KEY.items()}
LOCK_NAME = {f: re.compile(rf"({k})\.lock") for f, k in _KEY.items()}
PARTIAL_NAME = {f: re.compile(rf"({k})\.[A-Za-z0-9_.-]+") for f, k in _KEY.items()}
TOP_PARTIAL_NAME = re.compile(rf"\.(?:{re.escape(TAG)}|{re.escape(LEDGER)})\.[A-Za-z0-9_]+")  # being written


@dataclass(frozen=True)
class Entry:
    """One thing the tool wrote: ``kind`` is result, base, wheel, partial (staging, trash, a result being
    written) or lock; ``key`` names its lock (``<folder>/<key>.lock``) where it has one."""

    folder: str
    name: str
    kind: str
    key: str

    @property
    def rel(self) -> str:
        return f"{self.folder}/{self.name}"

    @property
    def locked_by(self) -> str | None:
        return None if self.folder == "results" else f"{self.folder}/{self.key}.lock"


# ------------------------------------------------------------------------------------------------ the marker


def is_marked(root: Path) -> bool:
    """Whether *root* holds the marker contract-check writes (a regular file, not a link)."""
    tag = root / TAG
    try:
        if not stat.S_ISREG(tag.lstat().st_mode):
            return False
    except (OSError, ValueError):
        return False
    text = (fsread.read_cached(tag, limit=4 * fsread.KIB) or b"").decode("utf-8", "replace")
    return text.startswith(SIGNATURE) and OWNER in text.splitlines()


def write_tag(root: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{TAG}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(TAG_TEXT)
        os.chmod(tmp, 0o644)
        os.replace(tmp, root / TAG)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------------------------- what is the tool's


def _json(path: Path, limit: int) -> Any:
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return None
        raw = fsread.read_cached(path, limit=limit)
        return json.loads(raw) if raw is not None else None
    except (OSError, ValueError, RecursionError):
        return None


def is_envelope(path: Path) -> bool:
    """A result the tool stored: ``{"format": N, "stored": time, "run": {...}}``."""
    data = _json(path, RESULT_LIMIT)
    return (
        isinstance(data, dict)
        and isinstance(data.get("format"), int)
        and isinstance(data.get("stored"), int | float)
        and isinstance(data.get("run"), dict)
    )


def is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def _is_base(path: Path, *, legacy: bool = False) -> bool:
    """A base environment: it holds the completion marker. *legacy*: also a uv-made venv without it (the second
    release removed the marker of a base it discarded)."""
    if not is_real_dir(path):
        return False
    data = _json(path / BASE_MARKER, 64 * fsread.KIB)
    if isinstance(data, dict) and isinstance(data.get("fingerprint"), str):
        return True
    if not legacy:
        return False
    try:
        if not stat.S_ISREG((path / "pyvenv.cfg").lstat().st_mode):
            return False
    except OSError:
        return False
    cfg = (fsread.read_cached(path / "pyvenv.cfg", limit=64 * fsread.KIB) or b"").decode("utf-8", "replace")
    return any(line.partition("=")[0].strip() == "uv" for line in cfg.splitlines())


def _is_wheel_dir(path: Path, *, legacy: bool = False) -> bool:
    """A built Store's directory: it holds the marker. *legacy* (judging an unmarked directory for adoption):
    the second release's layout, one or more wheel files and nothing else, counts too."""
    if not is_real_dir(path):
        return False
    if isinstance(_json(path / WHEEL_MARKER, 64 * fsread.KIB), dict):
        return True
    if not legacy:
        return False
    try:
        names = list(path.iterdir())
        for p in names:
            parse_wheel_filename(p.name)
            if not stat.S_ISREG(p.lstat().st_mode):
                return False
    except (OSError, InvalidWheelFilename):
        return False
    return bool(names)


def _is_partial(path: Path, folder: str, legacy: bool = False) -> bool:
    if not is_real_dir(path):
        return False
    try:
        if stat.S_ISREG((path / STAGING).lstat().st_mode):
            return True
    except OSError:
        pass
    return _is_base(path, legacy=legacy) if folder == "envs" else _is_wheel_dir(path, legacy=legacy)  # renamed


def _is_lock(path: Path) -> bool:
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0


def recognise(root: Path, rel: str, *, legacy: bool = False) -> Entry | None:
    """The entry at *rel* (``folder/name``) when its name fits the tool's pattern and its content is the tool's
    (*legacy*: as the second release wrote it, for judging an unmarked directory)."""
    folder, _, name = rel.partition("/")
    if folder not in FOLDERS or not name or "/" in name:
        return None
    path = root / folder / name
    if folder == "results":
        if (m := RESULT_NAME.fullmatch(name)) and is_envelope(path):
            return Entry(folder, name, "result", m[1])
        if RESULT_PARTIAL_NAME.fullmatch(name) and _starts_like_an_envelope(path):
            return Entry(folder, name, "partial", name.split(".")[0])
        return None
    if m := ENTRY_NAME[folder].fullmatch(name):
        ok = _is_base(path, legacy=legacy) if folder == "envs" else _is_wheel_dir(path, legacy=legacy)
        return Entry(folder, name, "base" if folder == "envs" else "wheel", m[1]) if ok else None
    if m := LOCK_NAME[folder].fullmatch(name):
        return Entry(folder, name, "lock", m[1]) if _is_lock(path) else None
    if m := PARTIAL_NAME[folder].fullmatch(name):
        return Entry(folder, name, "partial", m[1]) if _is_partial(path, folder, legacy) else None
    return None


def _starts_like_an_envelope(path: Path) -> bool:
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        with fsread.open_regular(path, "cache file") as fh:
            return fh.read(11) == b'{"format": '
    except (OSError, UsageError):
        return False


def partials(root: Path) -> list[Entry]:
    """The staging and trash directories in ``envs/`` and ``wheels/`` (two listings, nothing walked)."""
    found = []
    for folder in ("envs", "wheels"):
        try:
            names = sorted(os.listdir(root / folder)) if is_real_dir(root / folder) else []
        except OSError:
            continue
        for name in names:
            entry = recognise(root, f"{folder}/{name}") if PARTIAL_NAME[folder].fullmatch(name) else None
            if entry is not None and entry.kind == "partial":
                found.append(entry)
    return found


# ---------------------------------------------------------------------------------------------------- locks


class Held(Exception):
    """The lock is held by someone else (a running check, a build)."""


def _acquire(path: Path, exclusive: bool, wait: bool) -> int:
    import fcntl  # POSIX only: imported here so that the CLI can say so on other platforms instead of failing

    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UsageError(
                    f"the cache lock {path} is not a regular file", tip="remove it (contract-check cache clear)"
                )
            flags = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            try:
                fcntl.flock(fd, flags if wait else flags | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Held(str(path)) from None
            try:  # a remover unlinks a lock only while holding it: the file locked must still be the one named
                now = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if now is not None and (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # removed or replaced since it was opened: lock the file that is there now


@contextlib.contextmanager
def locked(path: Path, exclusive: bool, *, wait: bool = True) -> Iterator[int]:
    """Hold the lock file *path* (shared or exclusive); ``wait=False`` raises ``Held`` instead of waiting."""
    fd = _acquire(path, exclusive, wait)
    try:
        yield fd
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


_held: dict[Path, int] = {}


def hold(path: Path) -> None:
    """Keep a shared lock on *path* until ``release_held`` (the end of the command) or the process ends: the
    entry it guards is in use and must not be removed."""
    if path not in _held:
        _held[path] = _acquire(path, exclusive=False, wait=True)


def release(path: Path) -> None:
    """Stop holding *path* (``hold``)."""
    fd = _held.pop(path, None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def release_held() -> None:
    while _held:
        _path, fd = _held.popitem()
        with contextlib.suppress(OSError):
            os.close(fd)


# ------------------------------------------------------------------------------------------ staging and removal


def mark_wheel_dir(folder: Path, wheel: str) -> None:
    """Write the marker of a built Store's directory (before it is renamed into place)."""
    (folder / WHEEL_MARKER).write_text(json.dumps({"built": time.time(), "wheel": wheel}), encoding="utf-8")


def staging(folder: Path, key: str) -> Path:
    """A new staging directory for *key* in *folder*, marked as the tool's from its first moment."""
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=folder))
    (path / STAGING).touch()
    return path


def drop(path: Path) -> None:
    """Remove a staging or trash directory made by ``staging``: its content first, the marker last, so that an
    interrupted removal still leaves a directory recognisably the tool's."""
    try:
        children = [p for p in path.iterdir() if p.name != STAGING]
    except OSError:
        return
    for child in children:
        if is_real_dir(child):
            shutil.rmtree(child, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                child.unlink()
    with contextlib.suppress(OSError):
        (path / STAGING).unlink()
    with contextlib.suppress(OSError):
        path.rmdir()


def discard_dir(path: Path, key: str) -> None:
    """Move the directory *path* into a fresh trash directory next to it and remove it from there (the caller
    holds its key's lock exclusively). A link in its place is never followed."""
    if not is_real_dir(path):
        return
    trash = staging(path.parent, f"{key}.trash")
    try:
        path.rename(trash / "entry")
    finally:
        drop(trash)


class Outcome:
    REMOVED, HELD, GONE, FAILED = "removed", "held", "gone", "failed"


def remove(root: Path, entry: Entry) -> str:
    """Remove *entry* (recognised again first). Results and results being written are plain files; everything
    else is removed only while this process holds its lock exclusively, never while a check holds it (``HELD``)."""
    current = recognise(root, entry.rel)
    if current is None:
        return Outcome.GONE
    path = root / entry.rel
    if entry.folder == "results":
        try:
            path.unlink()
        except FileNotFoundError:
            return Outcome.GONE
        except OSError:
            return Outcome.FAILED
        return Outcome.REMOVED
    assert entry.locked_by is not None
    try:
        with locked(root / entry.locked_by, exclusive=True, wait=False):
            if recognise(root, entry.rel) is None:  # changed while the lock was taken
                return Outcome.GONE
            if current.kind == "lock":
                path.unlink()
            elif current.kind == "partial" and (path / STAGING).is_file():
                drop(path)
            elif current.kind == "partial":  # an earlier release's renamed entry
                discard_dir(path, entry.key)
            else:
                discard_dir(path, entry.key)
                (root / entry.locked_by).unlink()  # held exclusively: no one can be using it
    except Held:
        return Outcome.HELD
    except (OSError, UsageError):  # its lock is not a lock file, or the file system refused
        return Outcome.FAILED
    return Outcome.REMOVED


def tree_size(path: Path) -> int:
    """The bytes of the files under *path* (sizes as ``lstat`` says; links not followed)."""
    try:
        st = path.lstat()
    except OSError:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total
