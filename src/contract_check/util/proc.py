"""The one place a child process is started.

Every command runs from an argv list (never a shell) in its own session, with a tracker variable in its
environment. When it ends, times out or is interrupted, everything it started is killed: its process group,
its session, and any process still carrying its tracker (a ``setsid`` daemon or a double fork; on Linux this
process is also a child subreaper, so such orphans stay its children). Output goes to bounded temporary
files and is redacted before it can reach a message.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from contract_check.errors import CommandTimeout

log = logging.getLogger("contract_check")

# the user-info is everything up to the LAST "@" before the path: a password may hold an unescaped "@",
# and the user name may be empty ("https://:token@host")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# "://", then the authority up to the path, query, fragment or whitespace, backtracking to its last "@"; each
# "://" is tried once (the engine searches for that literal) and two authorities never overlap: linear
_USERINFO = re.compile(r"://[^/?#\s]*@")


def _has_scheme(text: str, colon: int) -> bool:
    """Whether the characters before *colon* end in a URL scheme (a letter, then letters, digits, ``+.-``)."""
    at = colon
    while at > 0 and text[at - 1] in _SCHEME_CHARS:  # stops at the previous "://" at the latest: linear overall
        at -= 1
        if text[at] in _LETTERS:
            return True
    return False


def redact(text: str) -> str:
    """Hide the user-info part of every URL in *text* (``https://user:token@host`` -> ``https://***@host``).

    Linear in ``len(text)`` (a 320,000-character message takes milliseconds; the single regular expression
    this used to be, with the scheme in it, was quadratic and took 71 s).
    """
    if "@" not in text:
        return text
    return _USERINFO.sub(lambda m: "://***@" if _has_scheme(text, m.start()) else m.group(0), text)


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 25) -> str:
        """The last lines of what the command printed (stderr, else stdout), redacted."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return redact("\n".join(text[-lines:]))


OUTPUT_LIMIT = 4 << 20  # bytes of each stream kept (the end: that is where errors are)
TRACKER = "CONTRACT_CHECK_PROC"  # set in every child's environment; its descendants inherit it
_INVOCATION = uuid.uuid4().hex[:12]
_counter = itertools.count(1)


def enable_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``); best effort.

    A contract that double-forks or calls ``setsid`` then still has this process as an ancestor, so the
    end-of-run sweep (``_sweep``) can find and kill it. Returns whether the kernel accepted it.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(36, 1, 0, 0, 0)) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _processes() -> list[tuple[int, int, int]]:
    """(pid, ppid, session) of every process this user can see in /proc ([] where there is no /proc)."""
    out: list[tuple[int, int, int]] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read(4096).rsplit(b")", 1)[1].split()
            out.append((int(name), int(fields[1]), int(fields[3])))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _carries(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return marker in fh.read(1 << 20).split(b"\0")
    except OSError:
        return False


def _sweep(leader: int | None, marker: bytes) -> None:
    """SIGKILL every process that belongs to one run: its process group, its session, and every process
    whose environment still carries the run's tracker (a ``setsid`` daemon keeps it); then reap those that
    became this process's children (subreaper). Repeated while anything is found (a fork during the sweep)."""
    me = os.getpid()
    for _ in range(5):
        if leader is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader, signal.SIGKILL)
        found = [
            (pid, ppid)
            for pid, ppid, session in _processes()
            if pid != me and ((leader is not None and session == leader) or _carries(pid, marker))
        ]
        for pid, _ppid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid, ppid in found:
            if ppid == me:
                _reap(pid)
        if not found:
            return


def _reap(pid: int) -> None:
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.005)


def sweep_all() -> None:
    """Kill whatever any child of this invocation left behind (called once, when the tool ends)."""
    prefix = f"{TRACKER}={_INVOCATION}:".encode()
    me = os.getpid()
    for pid, _ppid, _session in _processes():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                tagged = any(item.startswith(prefix) for item in fh.read(1 << 20).split(b"\0"))
        except OSError:
            continue
        if tagged:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)


_live: dict[subprocess.Popen[bytes], bytes] = {}
_live_lock = threading.Lock()
_cancelled = threading.Event()


def cancel_all() -> None:
    """Kill every running child's process tree and make further ``run`` calls raise KeyboardInterrupt.

    Called from the main thread on Ctrl-C/SIGTERM/SIGHUP while worker threads (``--jobs``) wait on children.
    """
    _cancelled.set()
    with _live_lock:
        live = list(_live.items())
    for child, marker in live:
        _sweep(child.pid, marker)


def _tail(fh: IO[bytes], limit: int) -> str:
    size = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, size - limit))
    data = fh.read(limit)
    text = data.decode("utf-8", errors="replace")
    if size > limit:
        text = f"[{size - limit} earlier bytes not kept]\n" + text.split("\n", 1)[-1]
    return text


def run(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float | None = None,
    what: str = "",
) -> Completed:
    """Run *argv* to completion and return what it did; never raises for a non-zero exit.

    Output goes to temporary files, not pipes, so a descendant that keeps a copy of them open cannot hold
    the run; at most ``OUTPUT_LIMIT`` bytes of each stream are kept. When the command ends (or times out,
    or is interrupted) everything it started is killed (``_sweep``). Raises :class:`CommandTimeout` when
    *timeout* passes, and lets ``KeyboardInterrupt`` through, after the sweep.
    """
    args = tuple(str(a) for a in argv)
    if _cancelled.is_set():
        raise KeyboardInterrupt
    log.debug("$ %s", redact(subprocess.list2cmdline(args)))
    token = f"{_INVOCATION}:{next(_counter)}"
    marker = f"{TRACKER}={token}".encode()
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            args,
            env={**env, TRACKER: token},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        with _live_lock:
            _live[child] = marker
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _sweep(child.pid, marker)
            child.wait()
            raise CommandTimeout(what or args[0], timeout or 0.0) from None
        except BaseException:
            _sweep(child.pid, marker)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
            raise
        finally:
            with _live_lock:
                _live.pop(child, None)
        _sweep(child.pid, marker)  # the leader is gone: whatever it started goes too
        stdout, stderr = _tail(out, OUTPUT_LIMIT), _tail(err, OUTPUT_LIMIT)
    if _cancelled.is_set():
        raise KeyboardInterrupt
    done = Completed(args, child.returncode, stdout, stderr, time.monotonic() - start)
    log.debug("exit %s after %.2fs", done.returncode, done.duration_s)
    if done.returncode != 0:
        log.debug("%s", done.tail(40))
    return done
