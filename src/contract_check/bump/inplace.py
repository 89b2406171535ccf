"""Edits of a user's files, written all or none, each in place: the same inode, so its owner, group, mode,
extended attributes, ACLs and hard links stay what they were.

``write(changes)`` goes through four steps:

1. **Check** every file, before anything is written: it is a regular file (the real file behind a symlink),
   it can be opened for writing (an immutable file, a read-only file system, a missing permission fail
   here), it has a write permission bit (a read-only file is refused even for root, who could write it), and
   it still holds the bytes the edit was planned from. Any problem: ``WriteRefused`` (exit 2) naming every
   file and why; nothing written.
2. **Back up** each file's old bytes to a hidden file next to it (``.NAME.XXXX.contract-check-backup``, mode
   0600), flushed to disk and read back. A failure here (a full disk) removes the backups: nothing written.
3. **Write** each file from its start, flush it and read it back; a file that gets shorter is cut to its new
   length only once every file holds its new bytes (so putting the old bytes back never needs new disk
   space). Any failure, and a SIGINT, SIGTERM or SIGHUP arriving at any moment of steps 1-3 (held until the
   step in progress is done), puts the old bytes back into every file touched, from memory, and says so
   (``WriteFailed``: exit 3; ``WriteInterrupted``: exit 130). A file that cannot be put back keeps its
   backup, named in the message.
4. **Remove** the backups.

Reads here are bounded like every read of a user's file (``fsread``): at most one byte more than expected.
``FileOps`` holds every system call the writer makes; tests replace it to fail at any one of them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.models import ExitCode
from contract_check.util import fsread

_OPEN = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
_HELD = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
BACKUP_SUFFIX = ".contract-check-backup"


@dataclass(frozen=True)
class Change:
    path: Path  # the file to edit; a symlink is followed (``target``)
    old: bytes  # what it must hold now
    new: bytes


class WriteRefused(UsageError):
    """A file cannot be written as planned (read-only, immutable, changed): nothing was written (exit 2)."""


class WriteFailed(EnvironmentProblem):
    """Writing failed part-way (a full disk, an I/O error); what was written was put back (exit 3)."""


class WriteInterrupted(ContractCheckError):
    """A signal arrived while writing; what was written was put back (exit 130)."""

    exit_code = ExitCode.INTERRUPTED


class FileOps:
    """The system calls of a write, one method each (the seam tests use to fail at any of them)."""

    def open(self, path: Path) -> int:
        return os.open(path, _OPEN)

    def fstat(self, fd: int) -> os.stat_result:
        return os.fstat(fd)

    def read(self, fd: int, limit: int) -> bytes:
        chunks, size = [], 0
        while size < limit:
            chunk = os.pread(fd, limit - size, size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    def write(self, fd: int, data: bytes) -> None:
        view, offset = memoryview(data), 0
        while offset < len(data):
            offset += os.pwrite(fd, view[offset:], offset)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def sync(self, fd: int) -> None:
        os.fsync(fd)

    def backup(self, path: Path, data: bytes) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=BACKUP_SUFFIX, dir=path.parent)
        try:
            self.write(fd, data)
            self.sync(fd)
            if self.read(fd, len(data) + 1) != data:
                raise OSError(errno.EIO, "the backup did not read back as written", name)
        except BaseException:
            os.close(fd)
            Path(name).unlink(missing_ok=True)
            raise
        os.close(fd)
        return Path(name)

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def close(self, fd: int) -> None:
        os.close(fd)


@dataclass
class _File:
    change: Change
    target: Path
    fd: int
    backup: Path | None = None
    touched: bool = False
    restored: bool = True
    problem: str = field(default="")


def target_of(path: Path) -> Path:
    """The file *path* names: itself, or what its symlinks lead to."""
    return Path(os.path.realpath(path))


def other_links(path: Path) -> int:
    """How many other hard links the file *path* has (0 when it cannot be told)."""
    try:
        return max(0, path.stat().st_nlink - 1)
    except OSError:
        return 0


def problems(changes: Sequence[Change], ops: FileOps | None = None) -> list[str]:
    """Why ``write`` would refuse *changes* (step 1 only); empty when it would go ahead. Writes nothing."""
    ops = ops or FileOps()
    files, found = _check(changes, ops)
    for f in files:
        ops.close(f.fd)
    return found


def write(changes: Sequence[Change], ops: FileOps | None = None) -> None:
    """Write every change or none (see the module docstring)."""
    ops = ops or FileOps()
    doing = ["checking the files"]  # what the writer is at, for a message
    with _held_signals() as arrived:
        files, found = _check(changes, ops)
        try:
            if found:
                raise WriteRefused(
                    "nothing was written: " + "; ".join(found),
                    tip="make the file writable (or edit it by hand), then run bump again",
                )
            _back_up(files, ops, doing)
            if arrived:
                raise _Stop
            _commit(files, ops, arrived, doing)
            if arrived:
                raise _Stop
        except BaseException as exc:
            raise _undo(files, ops, exc, doing[0]) from None
        finally:
            for f in files:
                with contextlib.suppress(OSError):
                    ops.close(f.fd)
        for f in files:
            if f.backup is not None:
                with contextlib.suppress(OSError):
                    ops.remove(f.backup)


class _Stop(Exception):
    """A held signal arrived: stop and put the old bytes back."""


@contextlib.contextmanager
def _held_signals() -> Iterator[list[int]]:
    """SIGINT, SIGTERM and SIGHUP recorded instead of acted on, while the block runs (main thread only)."""
    arrived: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived
        return
    previous = {}
    for sig in _HELD:
        previous[sig] = signal.signal(sig, lambda signum, frame: arrived.append(signum))
    try:
        yield arrived
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check(changes: Sequence[Change], ops: FileOps) -> tuple[list[_File], list[str]]:
    files: list[_File] = []
    found: list[str] = []
    seen: dict[tuple[int, int], Path] = {}
    for change in changes:
        target = target_of(change.path)
        shown = str(change.path) if target == change.path else f"{change.path} (a symbolic link to {target})"
        try:
            fd = ops.open(target)
        except OSError as exc:
            found.append(f"{shown} cannot be opened for writing: {_why(exc)}")
            continue
        files.append(_File(change, target, fd))
        try:
            st = ops.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                found.append(f"{shown} is {fsread.describe(st.st_mode)}, not a regular file")
                continue
            if not st.st_mode & 0o222:
                found.append(f"{shown} is read-only (mode {stat.S_IMODE(st.st_mode):04o})")
                continue
            if (st.st_dev, st.st_ino) in seen:
                found.append(f"{shown} is the same file as {seen[(st.st_dev, st.st_ino)]}")
                continue
            seen[(st.st_dev, st.st_ino)] = change.path
            os.set_blocking(fd, True)
            if ops.read(fd, len(change.old) + 1) != change.old:
                found.append(f"{shown} changed since the bump was planned")
        except OSError as exc:
            found.append(f"{shown} cannot be read: {_why(exc)}")
    return files, found


def _why(exc: OSError) -> str:
    if exc.errno == errno.EPERM:
        return "operation not permitted (an immutable or append-only file? see lsattr)"
    if exc.errno == errno.EROFS:
        return "it is on a read-only file system"
    if exc.errno == errno.ELOOP:
        return "it became a symbolic link"
    return exc.strerror or str(exc)


def _back_up(files: list[_File], ops: FileOps, doing: list[str]) -> None:
    for f in files:
        doing[0] = f"writing a backup of {f.target}"
        f.backup = ops.backup(f.target, f.change.old)


def _commit(files: list[_File], ops: FileOps, arrived: list[int], doing: list[str]) -> None:
    for f in files:
        if arrived:
            raise _Stop
        doing[0] = f"writing {f.target}"
        f.touched, f.restored = True, False
        ops.write(f.fd, f.change.new)
        ops.sync(f.fd)
        if ops.read(f.fd, len(f.change.new)) != f.change.new:
            raise OSError(errno.EIO, "the file did not read back as written", str(f.target))
    for f in files:  # every file holds its new bytes: cut the ones that got shorter
        if len(f.change.new) < len(f.change.old):
            doing[0] = f"cutting {f.target} to its new length"
            ops.truncate(f.fd, len(f.change.new))
            ops.sync(f.fd)


def _restore(f: _File, ops: FileOps) -> None:
    if ops.read(f.fd, len(f.change.old) + 1) == f.change.old:
        return  # the write failed before it changed anything
    ops.write(f.fd, f.change.old)
    ops.truncate(f.fd, len(f.change.old))
    ops.sync(f.fd)
    if ops.read(f.fd, len(f.change.old) + 1) != f.change.old:
        raise OSError(errno.EIO, "the file did not read back as it was", str(f.target))


def _undo(files: list[_File], ops: FileOps, cause: BaseException, doing: str) -> BaseException:
    """Put the old bytes back into every touched file; the error to raise, saying what happened."""
    if isinstance(cause, WriteRefused):
        return cause
    stuck: list[str] = []
    for f in files:
        if f.touched:
            try:
                _restore(f, ops)
                f.restored = True
            except OSError as exc:
                stuck.append(f"{f.target} ({_why(exc)}; its old bytes are in {f.backup})")
    for f in files:
        if f.backup is not None and f.restored:
            with contextlib.suppress(OSError):
                ops.remove(f.backup)
    touched = [str(f.change.path) for f in files if f.touched]
    if stuck:
        said = "could not put back " + "; ".join(stuck)
    elif touched:
        said = f"put back the old bytes of {', '.join(touched)}: nothing changed"
    else:
        said = "nothing was written"
    if isinstance(cause, _Stop | KeyboardInterrupt):
        return WriteInterrupted(f"interrupted while writing the bumped files; {said}", tip="run bump again")
    if isinstance(cause, OSError):
        if cause.errno == errno.ENOSPC:
            return WriteFailed(
                f"no space left on device while {doing}; {said}", tip="free disk space, then run bump again"
            )
        if doing.startswith("writing a backup") and cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return WriteRefused(
                f"cannot write a backup next to each file ({doing}: {_why(cause)}); {said}",
                tip="bump keeps a backup next to each file until all are written: make the directory writable",
            )
        return WriteFailed(f"{doing} failed: {_why(cause)}; {said}", tip="run bump again")
    if isinstance(cause, ContractCheckError):
        return cause
    return cause
