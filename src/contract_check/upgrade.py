"""``contract-check bump --core-ref REF``: check the Store against REF, and only when it is compatible move the
Store's Core requirement to REF's version (``bump.plan_bump``: the lower bound, or a git reference's ``@ref``;
upper bounds and every other byte untouched; ``requirements*.txt`` too, encoding kept).

Broken: exit 1, nothing written. Not a local Store project, a REF at or above the declared upper bound, a
Core requirement that cannot be rewritten safely: exit 2, nothing written (``bump`` raises before writing).
``--dry-run`` shows the diff and writes nothing. Lock files that now need regenerating are named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from contract_check import bump, pipeline, refs, target
from contract_check.config import Options
from contract_check.errors import UsageError
from contract_check.models import ExitCode, Report, Source
from contract_check.refcheck import Progress, quiet


@dataclass(frozen=True)
class Bumped:
    report: Report
    plan: bump.BumpPlan | None  # None when the check did not say compatible
    written: bool


def _project(options: Options, cwd: Path) -> Path:
    store = target.resolve_store(options.store, cwd, core_package=options.core_package, default_package=None)
    if store.project is None:
        raise UsageError(
            f"bump edits a Store project, and {store.spec!r} is not a local project directory",
            tip="run bump in the Store checkout, or give --store PATH to it",
        )
    return store.project


def _below_upper_bound(version: Version, declared: str | None, core_package: str) -> None:
    try:
        uppers = [s for s in SpecifierSet(declared or "") if s.operator in ("<", "<=")]
    except InvalidSpecifier:
        return
    for clause in uppers:
        if not clause.contains(version, prereleases=True):
            raise UsageError(
                f"{core_package} {version} is at or above the Store's declared upper bound ({clause}): "
                "bump moves the lower bound only",
                tip="raise the upper bound by hand (a new major version is a decision, not a bump)",
            )


def check_and_bump(
    options: Options, cwd: Path, progress: Progress = quiet, *, dry_run: bool, contracts: object = None
) -> Bumped:
    """Run the check of ``options.core_refs[0]``; plan (and unless *dry_run*, write) the bump if compatible."""
    project = _project(options, cwd)
    report = pipeline.check(options, cwd, progress, contracts=contracts)  # type: ignore[arg-type]
    (run,) = report.runs
    if run.exit_code != ExitCode.OK or run.core_version is None:
        return Bumped(report, None, False)
    try:
        version = Version(run.core_version)
    except InvalidVersion:
        raise UsageError(f"the checked Core has no usable version ({run.core_version!r})") from None
    _below_upper_bound(version, report.store.declared_core, options.core_package)
    git_ref = None
    if run.source is Source.GIT:
        parsed = refs.parse(options.core_refs[0], core_package=options.core_package, cwd=cwd)
        git_ref = parsed.target
    plan = bump.plan_bump(project, options.core_package, version, git_ref)
    if not dry_run and plan.changed:
        bump.apply(plan)
    return Bumped(report, plan, written=not dry_run and plan.changed)
