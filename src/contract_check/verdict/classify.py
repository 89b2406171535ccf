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

from contract_check import config, suite
from contract_check.errors import UsageError
from contract_check.models import Artifact, Check, Layer, Run, Status
from contract_check.run.pytest_session import Outcome
from contract_check.sources.refs import ResolvedRef
from contract_check.util.proc import redact
from contract_check.verdict import accept, judge, schema_rows, schema_rules, testdeps


@dataclass(frozen=True)
class Baseline:
    """What the candidate's schemas and payloads are compared with."""

    snapshot: schema_rules.Snapshot | None
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

    def __post_init__(self) -> None:
        """An acceptance whose pattern covers every check the suite declares would accept any Core at all."""
        accept.refuse_blanket(self.acceptances, judge.labels(self.declared))


def apply_acceptances(checks: list[Check], policy: Policy) -> list[Check]:
    """Failures an active entry covers become ``accepted`` (with the entry and its reason); a failure whose
    entry has expired stays a failure and says so; a failure no entry may cover (an import failure, a missing
    model, an error) stays a failure and says which entry it refused."""
    if not policy.acceptances or policy.today is None:
        return checks
    failing = [c.id for c in checks if c.is_failure]
    decisions = accept.decide(failing, policy.acceptances, policy.today)
    out = []
    for check in checks:
        decision = decisions.by_check.get(check.id) if check.is_failure else None
        if decision is not None and decision.accepted and not check.acceptable:
            assert decision.accepted_by is not None
            check = check.model_copy(update={"note": f"{check.unacceptable_reason} ({decision.accepted_by.origin})"})
        elif decision is not None and decision.accepted:
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


def evidence(checks: list[Check], outcome: Outcome, policy: Policy, requirement: str = "") -> judge.Evidence:
    """What the outcome says beyond its rows (see ``judge.Evidence``); *requirement* as the report shows it."""
    notes = [n for n in outcome.notes if n.strip()]
    no_core = None
    if policy.core_package and outcome.versions.get(policy.core_package) is None and outcome.completed:
        no_core = (
            "no-core",
            f"could not check: {requirement or 'the requirement'} installed no {policy.core_package}\n"
            "tip: the requirement installed nothing (a marker that excludes this Python, or another name)",
        )
    unmet = testdeps.could_not_check(checks, outcome, store_name=policy.store_name, store_spec=policy.store_spec)
    return judge.Evidence(
        could_not_check=no_core or (("shadowed", outcome.foreign) if outcome.foreign else None),
        timed_out=outcome.timed_out,
        timed_out_ids=frozenset(outcome.timed_out_ids),
        unrun=tuple(outcome.unrun),
        test_dependency=unmet,
        test_dependency_ids=frozenset(check_id for check_id, _ in testdeps.unmet(checks, outcome)),
        note=notes[-1] if notes and not outcome.completed else None,
    )


def verdict(checks: list[Check], outcome: Outcome, declared: tuple[suite.Expected, ...]) -> tuple[int, str | None]:
    """The exit code and error of *checks* with what *outcome* saw (``judge.judge``; for tests)."""
    judged = judge.judge(checks, declared, evidence(checks, outcome, Policy(core_package="", declared=declared)))
    return judged.exit_code, judged.error


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
    artifact: Artifact | None = None,
) -> Run:
    """One ref's run from what its contracts said (pure; see the module docstring). *artifact*: what was
    installed for Core, when the caller could tell."""
    store_version, declared_core = store_facts(outcome, policy)
    core_version = outcome.versions.get(policy.core_package)
    checks = list(outcome.checks)
    if baseline.snapshot is not None:
        checks += schema_rows.rows(outcome.artifacts, strict=policy.strict, golden=baseline.snapshot)
    _refuse_clashes(checks)
    checks = apply_acceptances(checks, policy)
    judged = judge.judge(checks, policy.declared, evidence(checks, outcome, policy, resolved.display))
    error = judged.error
    return Run(
        core_ref=redact(resolved.ref),
        requirement=resolved.display,
        core_version=core_version,
        source=resolved.source,
        in_declared_range=in_range(declared_core, core_version),
        status=judged.status,
        exit_code=judged.exit_code,
        duration_s=round(duration_s, 3),
        phases=dict(phases or {}),
        checks=judged.checks,
        error=redact(error) if error else None,
        error_kind=judged.kind,
        versions=dict(outcome.versions),
        store_version=store_version,
        declared_core=declared_core,
        baseline=baseline.label,
        declared_checks=judge.labels(policy.declared),
        artifact=artifact,
    )


def _refuse_clashes(checks: list[Check]) -> None:
    """A user contract reported under a built-in check's id would stand in for it: a usage error."""
    builtin = {c.id for c in checks if c.layer is not Layer.USER}
    clash = next((c.id for c in checks if c.layer is Layer.USER and c.id in builtin), None)
    if clash is not None:
        raise UsageError(
            f"a user contract has the id {clash!r}, which is a built-in check's",
            tip="user contracts are reported by their pytest node id: rename the test or its file",
        )
