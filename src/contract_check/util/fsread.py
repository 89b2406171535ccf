"""Reading the files users point at: only regular files, never more than a stated number of bytes.

A FIFO, a device (``/dev/zero``, a terminal), a socket or a directory where a file is expected would hang
the tool or exhaust its memory. Every open here is non-blocking (a FIFO opens at once, without a writer),
the opened file is checked with ``fstat`` (so a symlink to a device is seen for what it points at), and a
read stops after *limit* bytes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from contract_check.errors import UsageError

KIB = 1024
MIB = 1024 * KIB

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
_TIP = "contract-check reads only regular files: replace it with a file or remove it"


def describe(mode: int) -> str:
    """What a file of this ``st_mode`` is, for a message ("a FIFO (named pipe)", "a character device")."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _link_note(path: Path | str) -> str:
    try:
        return f" (a symbolic link to {os.readlink(path)})" if os.path.islink(path) else ""
    except (OSError, ValueError):
        return ""


def not_regular(path: Path | str, what: str, mode: int) -> UsageError:
    return UsageError(f"{what} {path}{_link_note(path)} is {describe(mode)}, not a regular file", tip=_TIP)


def kind_of(path: Path) -> str | None:
    """``describe`` of what *path* points at (symlinks followed); None if it does not exist or cannot be seen."""
    try:
        return describe(path.stat().st_mode)
    except (OSError, ValueError):
        return None


def check_regular_or_dir(path: Path, what: str) -> None:
    """UsageError unless *path* (symlinks followed) is missing, a regular file or a directory."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UsageError(f"{what} {path}{_link_note(path)} is {describe(mode)}, not a file or a directory", tip=_TIP)


def skip_hidden_and_caches(name: str) -> bool:
    return name.startswith(".") or name in ("__pycache__", "node_modules")


def check_tree(root: Path, what: str, skip: Callable[[str], bool] = skip_hidden_and_caches) -> None:
    """UsageError when the directory *root* holds a FIFO, a device or a socket (symlinks followed), which a
    build or a test run would block on. Subdirectories for which ``skip(name)`` holds are not entered."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not skip(d)]
        for name in filenames:
            path = Path(dirpath, name)
            try:
                mode = path.stat().st_mode
            except (OSError, ValueError):  # a dangling symlink: nothing there to block on
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise UsageError(f"{what} {root} holds {path}{_link_note(path)}, which is {describe(mode)}", tip=_TIP)


@contextlib.contextmanager
def open_regular(path: Path, what: str) -> Iterator[BinaryIO]:
    """*path* opened for binary reading, after checking that it is a regular file.

    Raises UsageError (exit 2) naming *path* and what it is when it is anything else; OSError when it
    cannot be opened at all (missing, permission denied), as ``open`` would.
    """
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno not in (errno.ENXIO, errno.EISDIR, errno.EOPNOTSUPP):  # what a socket or a directory gives
            raise
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise exc from None
        raise not_regular(path, what, mode) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(path, what, mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        yield fh


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // KIB} KiB" if limit >= KIB else f"{limit} bytes"


def read_bytes(path: Path, *, limit: int, what: str) -> bytes:
    """The content of the regular file *path*, at most *limit* bytes.

    UsageError when it is not a regular file or holds more than *limit* bytes (both named); OSError when it
    cannot be opened or read.
    """
    with open_regular(path, what) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UsageError(
            f"{what} {path} is larger than {_size(limit)}, more than contract-check reads",
            tip="check that it is the file you meant",
        )
    return data


def read_text(path: Path, *, limit: int, what: str, errors: str = "strict") -> str:
    """``read_bytes`` decoded as UTF-8 (UnicodeDecodeError with ``errors="strict"``)."""
    return read_bytes(path, limit=limit, what=what).decode("utf-8", errors)


def read_cached(path: Path, *, limit: int) -> bytes | None:
    """For cache files: the content, or None when it is missing, not a regular file, too large or unreadable.

    A damaged or odd cache entry is a miss: it must never hang, crash or answer.
    """
    try:
        return read_bytes(path, limit=limit, what="cache file")
    except (OSError, ValueError, UsageError):
        return None
