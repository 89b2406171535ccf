"""Typed errors. Core code raises these; only the entry point turns them into an exit code."""

from __future__ import annotations

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
        self.kind = kind  # ref-not-found | resolution | network | build | uv | timeout | environment


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
