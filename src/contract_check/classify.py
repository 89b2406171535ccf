"""The heart of a verdict, pure: ``classify(resolved, outcome, baseline, policy) -> Run``.

``outcome`` is what the contracts said in the sandbox (rows, artifacts, installed versions, where modules came
from); ``baseline`` is what the schema and payload layers compare with; ``policy`` is everything else that
decides (strict mode, the checks every run must report, the names of Core and the Store). No I/O here: the
same inputs always give the same run, which is what tests and ``--against`` rely on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from contract_check import accept, compat, config, schema_layer, suite, testdeps
from contract_check.errors import UsageError
from contract_check.models import Check, ExitCode, Layer, Run, Status, run_exit_code, run_status
from contract_check.proc import redact
from contract_check.refs import ResolvedRef
from contract_check.runner import Outcome


@dataclass(frozen=True)
class Baseline:
    """What the candidate's schemas and payloads are compared with."""

    snapshot: compat.Snapshot | None
    label: str  # said in the report: "golden built-in (Core 1.4.61 / Store 0.6.73)", "against 1.2.0 (1.2.0)"


@dataclass(frozen=True)
class Policy:
    """What decides a verdict besides the outcome itself."""

    core_package: str
    store_name: str | None = None
    store_spec: str = ""
    declared_core: str | None = None  # the Store's declared Core range, when known before the run
    strict: bool = False
    declared: tuple[suite.Expected, ...] = field(default_factory=tuple)  # the checks every run must report
    acceptances: tuple[accept.Acceptance, ...] = ()  # known breaks, accepted until a date
    today: dt.date | None = None  # the UTC date acceptances are measured against (None: no acceptances apply)


def apply_acceptances(checks: list[Check], policy: Policy) -> list[Check]:
    """Failures an active entry covers become ``accepted`` (with the entry and its reason); a failure whose
    entry has expired stays a failure and says so."""
    if not policy.acceptances or policy.today is None:
        return checks
    failing = [c.id for c in checks if c.is_failure]
    decisions = accept.decide(failing, policy.acceptances, policy.today)
    out = []
    for check in checks:
        decision = decisions.by_check.get(check.id) if check.is_failure else None
        if decision is not None and decision.accepted:
            check = check.model_copy(update={"status": Status.ACCEPTED, "note": decision.note()})
        elif decision is not None and decision.note():
            check = check.model_copy(update={"note": decision.note()})
        out.append(check)
    return out


def in_range(declared: str | None, version: str | None) -> bool | None:
    if declared is None or version is None:
        return None
    try:
        return SpecifierSet(declared).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None


def verdict(checks: list[Check], outcome: Outcome, declared: tuple[suite.Expected, ...]) -> tuple[int, str | None]:
    """The run's exit code and, when it is not a plain verdict, why.

    A built-in check that ran and failed makes the run BROKEN (1). Otherwise every declared built-in check
    must have a result that is not skipped/xfail, no pytest session may have timed out, the user contracts
    must have run, and Core and the Store must have been imported from the sandbox: else the run could not
    be checked (3). Only then is it COMPATIBLE (0).
    """
    if outcome.foreign:  # a result about another copy of Core says nothing about this one
        return ExitCode.ENVIRONMENT, outcome.foreign
    exit_code = run_exit_code(checks)
    builtin = {c.id: c.status.value for c in checks if c.layer is not Layer.USER}
    gaps = suite.completeness(list(declared), builtin)
    timed_out = set(outcome.timed_out_ids)
    real_failure = any(c.is_failure and c.id not in timed_out for c in checks)
    notes = [n for n in outcome.notes if n.strip()]
    if exit_code == ExitCode.BROKEN and real_failure:
        return exit_code, notes[-1] if notes and not outcome.completed else None
    if exit_code == ExitCode.ENVIRONMENT or not gaps.complete or outcome.timed_out or outcome.unrun:
        if not any(c.status is not Status.SKIPPED for c in checks):
            error = "could not check: no contract ran"
        elif outcome.timed_out:
            error = "could not check: the contracts did not finish within --timeout"
            if timed_out:
                error += f" ({', '.join(sorted(timed_out))} still running)"
        elif not any(c.status is not Status.SKIPPED for c in checks if c.layer is not Layer.USER):
            error = "could not check: none of the built-in contracts ran"
        elif outcome.unrun:
            error = "could not check: " + "; ".join(outcome.unrun)
        else:
            error = "could not check: not every built-in check ran"
        if not gaps.complete:
            error += f" ({gaps.describe()})"
        if notes:
            error += f"\n{notes[-1]}"
        return ExitCode.ENVIRONMENT, error
    return exit_code, notes[-1] if notes and not outcome.completed else None


def _error_kind(exit_code: int, error: str | None, outcome: Outcome) -> str | None:
    if exit_code != ExitCode.ENVIRONMENT or error is None:
        return None
    if outcome.foreign:
        return "shadowed"
    if outcome.timed_out:
        return "timeout"
    if outcome.unrun:
        return "contracts-did-not-run"
    return "incomplete"


def store_facts(outcome: Outcome, policy: Policy) -> tuple[str | None, str | None]:
    """(Store version, its declared Core range) as installed in the sandbox. Raises UsageError when the Store
    does not depend on Core at all (``--store pytest``): it is not a Store of this Core."""
    name = policy.store_name
    if not name or not outcome.versions.get(name):
        return None, policy.declared_core
    requires = outcome.requires.get(name)
    declared = policy.declared_core
    if requires is not None:
        found = config.declared_specifier(requires, policy.core_package, skip_marked=True)
        if found is None:
            raise UsageError(
                f"--store {redact(policy.store_spec or name)}: {name} does not depend on {policy.core_package}, "
                "so it is not a Store of this Core",
                tip="give the Store project or package (or set --core-package to its Core)",
            )
        declared = found or declared
    return outcome.versions[name], declared


def classify(
    resolved: ResolvedRef,
    outcome: Outcome,
    baseline: Baseline,
    policy: Policy,
    *,
    duration_s: float = 0.0,
    phases: dict[str, float] | None = None,
) -> Run:
    """One ref's run from what its contracts said (pure; see the module docstring)."""
    store_version, declared_core = store_facts(outcome, policy)
    core_version = outcome.versions.get(policy.core_package)
    checks = list(outcome.checks)
    if baseline.snapshot is not None:
        checks += schema_layer.rows(outcome.artifacts, strict=policy.strict, golden=baseline.snapshot)
    checks = apply_acceptances(checks, policy)
    if core_version is None and outcome.completed:
        exit_code: int = ExitCode.ENVIRONMENT
        error: str | None = (
            f"could not check: {resolved.display} installed no {policy.core_package}\n"
            "tip: the requirement installed nothing (a marker that excludes this Python, or another name)"
        )
        kind: str | None = "no-core"
    else:
        exit_code, error = verdict(checks, outcome, policy.declared)
        kind = _error_kind(exit_code, error, outcome)
        unmet = testdeps.could_not_check(checks, outcome, store_name=policy.store_name, store_spec=policy.store_spec)
        if exit_code == ExitCode.BROKEN and unmet:  # only user contracts missing a test dependency failed
            exit_code, error, kind = ExitCode.ENVIRONMENT, unmet, "missing-test-dependency"
    return Run(
        core_ref=redact(resolved.ref),
        requirement=resolved.display,
        core_version=core_version,
        source=resolved.source,
        in_declared_range=in_range(declared_core, core_version),
        status=run_status(exit_code),
        exit_code=exit_code,
        duration_s=round(duration_s, 3),
        phases=dict(phases or {}),
        checks=checks,
        error=redact(error) if error else None,
        error_kind=kind,
        versions=dict(outcome.versions),
        store_version=store_version,
        declared_core=declared_core,
        baseline=baseline.label,
    )
