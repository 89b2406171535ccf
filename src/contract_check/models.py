"""Typed results: what a check produced, independent of how it is rendered.

The JSON report (``--json``) is ``Report.model_dump(mode="json")``; its shape is part of the public interface
(docs/report.md). Compatibility policy: within one ``schema_version`` fields are only added, never renamed
or removed, and every object is open, so a reader ignores what it does not know (these models do, too: they
drop unknown keys when reading). A new value of an enumeration (a status, a layer) is a new
``schema_version``; a reader refuses versions newer than its own.

Words a report shows for a verdict, a finding's tag, and what counts as notable live here, once.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2  # 2: status "accepted"; acceptance notes; the range answer; the baseline
READABLE_VERSIONS = (1, 2)  # what this version reads (merge): every older one is a subset


class ExitCode(IntEnum):
    OK = 0
    BROKEN = 1
    USAGE = 2
    ENVIRONMENT = 3
    INTERNAL = 4
    INTERRUPTED = 130


_VERDICTS: dict[int, tuple[str, str]] = {
    ExitCode.OK: ("COMPATIBLE", "compatible"),
    ExitCode.BROKEN: ("BROKEN", "broken"),
    ExitCode.USAGE: ("USAGE ERROR", "error"),
    ExitCode.ENVIRONMENT: ("COULD NOT CHECK", "error"),
    ExitCode.INTERNAL: ("INTERNAL ERROR", "error"),
    ExitCode.INTERRUPTED: ("INTERRUPTED", "error"),
}


def verdict(code: int) -> str:
    """The verdict a report shows for an exit code: COMPATIBLE, BROKEN, COULD NOT CHECK, ..."""
    return _VERDICTS.get(code, (f"EXIT {code}", ""))[0]


def verdict_slug(code: int) -> str:
    """The machine-readable verdict (a CI step output): ``compatible``, ``broken`` or ``error``."""
    return _VERDICTS.get(code, ("", "error"))[1]


def worst(codes: list[int]) -> int:
    """The exit code that wins when several runs are reported together."""
    order = [0, 1, 3, 2, 4, 130]  # increasing badness
    return max(codes, key=lambda c: order.index(c) if c in order else len(order), default=0)


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    ACCEPTED = "accepted"  # failed, but an acceptance entry covers it (see ``note``)


class Severity(StrEnum):
    ERR = "ERR"
    WARN = "WARN"
    INFO = "INFO"

    def fails(self, strict: bool) -> bool:
        """The severity policy, in one place: ERR always fails, WARN only under ``--strict``, INFO never."""
        return self is Severity.ERR or (self is Severity.WARN and strict)


class Layer(StrEnum):
    ASSERTION = "assertion"
    SCHEMA = "schema"
    PAYLOAD = "payload"
    USER = "user"


class Source(StrEnum):
    INDEX = "index"
    GIT = "git"
    PATH = "path"
    URL = "url"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")  # open objects: unknown keys are ignored


class Check(_Frozen):
    """One row of the report: an assertion, a schema finding or a payload validation."""

    id: str
    subject: str
    layer: Layer
    status: Status
    severity: Severity | None = None
    rule: str | None = None
    message: str = ""
    duration_s: float = 0.0
    note: str | None = None  # which acceptance entry accepted it, or that the one that would have has expired

    @property
    def is_failure(self) -> bool:
        return self.status in (Status.FAILED, Status.ERROR)

    @property
    def notable(self) -> bool:
        """Worth showing above the passes: a failure, an accepted failure, a WARN finding, or a check that did
        not run (only a user contract can be skipped; a skipped built-in check is a failure of the run)."""
        return self.is_failure or self.status in (Status.ACCEPTED, Status.SKIPPED) or self.severity is Severity.WARN

    @property
    def word(self) -> str:
        """How a report names the row's result: pass, FAIL, ERROR, skip, warn, accepted."""
        if self.status is Status.PASSED and self.severity is Severity.WARN:
            return "warn"
        return {Status.PASSED: "pass", Status.FAILED: "FAIL", Status.ERROR: "ERROR", Status.SKIPPED: "skip"}.get(
            self.status, self.status.value
        )

    @property
    def tag(self) -> str:
        """``RULE [SEV]``, ``[SEV]`` or "": how every report labels a finding."""
        return " ".join(p for p in (self.rule, f"[{self.severity.value}]" if self.severity else None) if p)


class StoreInfo(_Frozen):
    spec: str
    name: str | None = None
    version: str | None = None
    declared_core: str | None = None
    # how the Store was chosen: "--store", "config", "current directory", "newest on the index"
    origin: str = ""


class Run(_Frozen):
    """The result of checking one Core ref against the Store."""

    core_ref: str
    requirement: str | None = None
    core_version: str | None = None
    source: Source | None = None
    in_declared_range: bool | None = None
    core_commit: str | None = None  # a Core from git: the commit installed (its direct_url.json), full SHA
    status: Status
    exit_code: int
    duration_s: float = 0.0
    phases: dict[str, float] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)
    error: str | None = None  # why the run could not check (environment/usage), already redacted
    versions: dict[str, str] = Field(default_factory=dict)  # installed distributions that matter
    cached: bool = False
    error_kind: str | None = None  # why it could not check: ref-not-found, network, build, timeout, ...
    # what the run learnt about the Store (so that a cached run reports it, and shards can be merged)
    store_version: str | None = None
    declared_core: str | None = None
    # what the schemas were compared with: "golden built-in (Core X / Store Y)", "against REF (V)"
    baseline: str | None = None

    @property
    def verdict(self) -> str:
        return verdict(self.exit_code)


class Summary(_Frozen):
    passed: int
    failed: int
    errors: int
    warnings: int
    exit_code: int
    accepted: int = 0
    skipped: int = 0  # user contracts that did not run (a skipif, a missing service): neither pass nor fail
    compatible: list[str] | None = None  # several refs: the versions found compatible, oldest first
    suggested_specifier: str | None = None  # PEP 440: admits exactly those, excludes every broken one
    notes: list[str] = Field(default_factory=list)  # report-level: unused or expired acceptances, ...


class Tool(_Frozen):
    name: str = "contract-check"
    version: str
    strict: bool = False


class Report(_Frozen):
    schema_version: int = SCHEMA_VERSION
    tool: Tool
    store: StoreInfo
    runs: list[Run]
    summary: Summary


def plural(count: int, word: str) -> str:
    """``1 payload``, ``2 payloads``, ``0 errors``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def summarise(runs: list[Run], **extra: Any) -> Summary:
    checks = [c for r in runs for c in r.checks]
    return Summary(
        passed=sum(c.status is Status.PASSED for c in checks),
        failed=sum(c.status is Status.FAILED for c in checks),
        errors=sum(c.status is Status.ERROR for c in checks) + sum(r.error is not None for r in runs),
        warnings=sum(c.severity is Severity.WARN for c in checks),
        accepted=sum(c.status is Status.ACCEPTED for c in checks),
        skipped=sum(c.status is Status.SKIPPED for c in checks),
        exit_code=worst([r.exit_code for r in runs]),
        **extra,
    )


def run_exit_code(checks: list[Check]) -> int:
    """Reduce a completed run's checks to its exit code (0 compatible, 1 broken, 3 could not check).

    Severity has already been applied when a row was made: a WARN finding is a ``passed`` row with
    severity WARN, or a ``failed`` one under ``--strict``; INFO findings are always ``passed``.
    """
    ran = [c for c in checks if c.status in (Status.PASSED, Status.FAILED, Status.ERROR, Status.ACCEPTED)]
    if not ran:
        return ExitCode.ENVIRONMENT  # nothing ran: "could not check" is never "compatible"
    if any(c.is_failure for c in ran):
        return ExitCode.BROKEN
    if all(c.layer is Layer.USER for c in ran):
        return ExitCode.ENVIRONMENT  # only the user's own contracts ran (a user conftest skipped the built-ins)
    return ExitCode.OK


def run_status(exit_code: int) -> Status:
    return {0: Status.PASSED, 1: Status.FAILED}.get(exit_code, Status.ERROR)


def report_json_schema() -> dict[str, Any]:
    """The published JSON Schema of the report (docs/report.schema.json): open objects, one per version."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:contract-check:report:{SCHEMA_VERSION}",
        **Report.model_json_schema(),
    }
