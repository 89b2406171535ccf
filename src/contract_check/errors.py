"""Typed errors. Core code raises these; only the entry point turns them into an exit code."""

from __future__ import annotations

import errno

from contract_check.models import ExitCode


class ContractCheckError(Exception):
    """An error the user can act on: a message, an optional tip, and the exit code it maps to."""

    exit_code: int = ExitCode.INTERNAL

    def __init__(self, message: str, *, tip: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip


class UsageError(ContractCheckError):
    """Bad input: a malformed ref, option value, store spec or configuration entry (exit 2)."""

    exit_code = ExitCode.USAGE


class EnvironmentProblem(ContractCheckError):
    """The check could not be carried out: ref not found, resolution, network, uv, timeout (exit 3)."""

    exit_code = ExitCode.ENVIRONMENT

    def __init__(self, message: str, *, tip: str | None = None, kind: str = "environment") -> None:
        super().__init__(message, tip=tip)
        # ref-not-found | resolution | network | damaged-artifact | build | uv | timeout | environment
        self.kind = kind


class CommandTimeout(EnvironmentProblem):
    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(
            f"{what} did not finish within {seconds:g}s and was stopped",
            tip="raise --timeout if the network or the machine is slow",
            kind="timeout",
        )
        self.seconds = seconds


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; unwinding (exit 130)."""


MESSAGE_LIMIT = 2000  # characters of an error message printed; a copy error can list every file it skipped


def bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """*text* cut to about *limit* characters in the middle (both ends say something), saying how much went."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} ... ({len(text) - 2 * half} characters not shown) ... {text[-half:]}"


def from_os_error(exc: OSError) -> EnvironmentProblem:
    """An OSError that reached the top (a full disk, a vanished file) as a short environment problem (exit 3).

    ``shutil.Error`` (from copying a tree) holds one (source, destination, reason) entry per file that could
    not be copied: on a full disk, thousands of them. Only their number and the first reason are kept.
    """
    entries = exc.args[0] if exc.args and isinstance(exc.args[0], list) else None
    if entries:
        first = entries[0]
        reason = str(first[-1]) if isinstance(first, tuple | list) and first else str(first)
        text = f"{len(entries)} file(s) could not be copied; the first: {reason}"
    else:
        text = str(exc.strerror or exc) + (f": {exc.filename}" if exc.filename else "")
    if exc.errno == errno.ENOSPC or "No space left on device" in text:
        return EnvironmentProblem(
            f"no space left on device ({bounded(text, 300)})",
            tip="free disk space, or point TMPDIR at a file system with room (each sandbox is a virtualenv)",
            kind="environment",
        )
    return EnvironmentProblem(f"a file operation failed: {bounded(text, 500)}", tip="run again with -v for details")
