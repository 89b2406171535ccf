"""The one place a child process is started.

Every command runs from an argv list (never a shell) in its own process group, so that a timeout or an
interrupt kills the whole tree: a hung contract, uv and whatever they spawned. Output is captured and
redacted before it can reach a message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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


def _kill_tree(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL does not get ignored
        proc.wait(timeout=5)


_live: set[subprocess.Popen[str]] = set()
_live_lock = threading.Lock()
_cancelled = threading.Event()


def cancel_all() -> None:
    """Kill every running child's process group and make further ``run`` calls raise KeyboardInterrupt.

    Called from the main thread on Ctrl-C/SIGTERM while worker threads (``--jobs``) wait on children.
    """
    _cancelled.set()
    with _live_lock:
        live = list(_live)
    for proc in live:
        _kill_tree(proc)


def run(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float | None = None,
    what: str = "",
) -> Completed:
    """Run *argv* to completion and return what it did; never raises for a non-zero exit.

    Raises :class:`CommandTimeout` (after killing the process group) when *timeout* passes, and lets
    ``KeyboardInterrupt`` through after killing the group, so nothing outlives the tool.
    """
    args = tuple(str(a) for a in argv)
    if _cancelled.is_set():
        raise KeyboardInterrupt
    log.debug("$ %s", redact(subprocess.list2cmdline(args)))
    start = time.monotonic()
    proc = subprocess.Popen(
        args,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    with _live_lock:
        _live.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        raise CommandTimeout(what or args[0], timeout or 0.0) from None
    except BaseException:
        _kill_tree(proc)
        raise
    finally:
        # the leader may have exited while its children live on (a contract that forked): reap the group
        if proc.returncode is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        with _live_lock:
            _live.discard(proc)
    if _cancelled.is_set():
        raise KeyboardInterrupt
    done = Completed(args, proc.returncode, stdout, stderr, time.monotonic() - start)
    log.debug("exit %s after %.2fs", done.returncode, done.duration_s)
    if done.returncode != 0:
        log.debug("%s", done.tail(40))
    return done
