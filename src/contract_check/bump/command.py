"""``contract-check bump --core-ref REF``: check the Store against REF, and only when it is compatible move the
Store's Core requirement to what was checked (``edits.plan_bump``: the lower bound, or a git reference's
repository and commit; upper bounds and every other byte untouched; ``requirements*.txt`` too, encoding kept).

What is pinned is what was checked:

- A git ref (``git:good``, a branch that moves, a tag) is resolved to its commit first (``git ls-remote``
  against the repository the check uses), and that commit is checked. A requirement that already is a git
  direct reference is rewritten to that commit in that repository (``--core-git file:///...`` is checked, so
  it is what gets written; the same repository under another spelling or with credentials keeps the URL it
  has). An abbreviated SHA cannot be resolved without a clone: give it in full.
- A requirement that is a version specifier gets the checked version as its lower bound, but only a version
  the package index serves (not one found only in ``--find-links``, a wheel, a path or a git tag that was never
  released, such as ``1.5.0.dev0`` from a branch): anything else is refused (exit 2) unless
  ``--allow-unpublished``. Offline, the index cannot be asked, so the same applies.
- A target below the current lower bound is refused (exit 2, naming the bound); one at or above the declared
  upper bound too (a new major version is a decision, not a bump).

When the target version is known before the check (``--core-ref 1.4.61``) these refusals come before it.
Broken: exit 1, nothing written. ``--dry-run`` shows the diff and writes nothing. Lock files that now need
regenerating are named; requirements files that could not be edited byte-exactly are named with the reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from contract_check.bump import edits
from contract_check.config import Options
from contract_check.errors import ContractCheckError, UsageError
from contract_check.models import ExitCode, Report, Source
from contract_check.run import pipeline
from contract_check.run.refcheck import Progress, quiet
from contract_check.run.settings import CoreSource, core_source
from contract_check.sandbox import find_uv
from contract_check.sources import index, refs, stores
from contract_check.sources.gitrev import commit_of
from contract_check.util import proc

Listing = Callable[[], list[index.Release]]


@dataclass(frozen=True)
class Bumped:
    report: Report
    plan: edits.BumpPlan | None  # None when the check did not say compatible
    written: bool
    resolved: str | None = None  # "git:good is commit abc... of URL" when a git ref was resolved first


def project_of(store_spec: str | None, core_package: str, cwd: Path) -> Path:
    """The Store project bump edits (the local directory *store_spec* names, or the one at hand), or a UsageError."""
    store = stores.resolve_store(store_spec, cwd, core_package=core_package, default_package=None)
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


def _pin_commit(
    ref: str, core: CoreSource, timeout: float, cwd: Path
) -> tuple[str, str | None, tuple[str, str] | None]:
    """*ref*, a git ref replaced by its commit; what was said; (repository, commit) or None."""
    parsed = refs.parse(ref, core_package=core.package, cwd=cwd)
    if parsed.source is Source.GIT:
        if not core.git:
            return ref, None, None  # the check says that no repository is known
        url, rev = core.git, parsed.target
    elif parsed.source is Source.URL and "git+" in parsed.target:
        link = parsed.target.split("@", 1)[1].strip()
        base, _, fragment = link.partition("#")
        head, at, rev = base.rpartition("@")
        if not at or "/" in rev or "://" not in head:
            raise UsageError(
                f"bump pins the commit it checks, and {proc.redact(ref)!r} names no revision",
                tip="append @TAG, @BRANCH or @SHA to the URL, or use --core-ref git:REF with --core-git URL",
            )
        url = head
    else:
        return ref, None, None
    commit = commit_of(url, rev, timeout=timeout)
    checked = f"git:{commit}" if parsed.source is Source.GIT else f"{core.package} @ {url}@{commit}"
    if parsed.source is Source.URL and fragment:
        checked += "#" + fragment
    said = f"{proc.redact(ref)} is commit {commit} of {proc.redact(url.removeprefix('git+'))}: checking that commit"
    return checked, said, (url.removeprefix("git+"), commit)


def published_listing(core: CoreSource) -> Listing:
    """The releases the package index serves (``--find-links`` left out: a version only there is unpublished)."""
    settings = index.IndexSettings(core.index.index_url, (), False)
    return lambda: index.releases(core.package, settings, uv=find_uv())


def unpublished(version: Version, core: CoreSource, listing: Listing) -> str | None:
    """Why *version* may not go into a version specifier (it is not on the index); None when it may."""
    name = f"{core.package} {version}"
    if core.index.offline:
        return f"offline, the index cannot confirm that it serves {name}"
    try:
        found = listing()
    except ContractCheckError as exc:
        return f"the index could not be asked whether it serves {name} ({exc.message})"
    if any(r.version == version and not r.yanked for r in found):
        return None
    return f"{name} is not on the package index"


def _plan(
    project: Path,
    core: CoreSource,
    version: Version,
    git: tuple[str, str] | None,
    allowed: bool,
    listing: Listing,
) -> edits.BumpPlan:
    url, commit = git if git else (None, None)
    plan = edits.plan_bump(project, core.package, version, commit, git_url=url)  # every other refusal first
    why = None if allowed or not plan.changed else unpublished(version, core, listing)
    if why is None:
        return plan
    return edits.plan_bump(project, core.package, version, commit, git_url=url, unpublished=why)


def check_and_bump(
    options: Options,
    cwd: Path,
    progress: Progress = quiet,
    *,
    dry_run: bool,
    allow_unpublished: bool = False,
    contracts: object = None,
    listing: Listing | None = None,
) -> Bumped:
    """Run the check of ``options.core_refs[0]``; plan (and unless *dry_run*, write) the bump if compatible.

    *listing* gives the releases the index serves (default: ask the index).
    """
    core = core_source(options)
    project = project_of(options.store, core.package, cwd)
    listing = functools.cache(listing or published_listing(core))  # asked at most once
    checked, said, git = _pin_commit(options.core_refs[0], core, options.timeout, cwd)
    if said:
        progress(said)
    options = replace(options, core_refs=(checked,))
    parsed = refs.parse(checked, core_package=core.package, cwd=cwd)
    if parsed.source is Source.INDEX and not parsed.latest:  # the version is known: refuse before the check
        _plan(project, core, Version(parsed.target), git, allow_unpublished, listing)
    report = pipeline.check(options, cwd, progress, contracts=contracts)  # type: ignore[arg-type]
    (run,) = report.runs
    if run.exit_code != ExitCode.OK or run.core_version is None:
        return Bumped(report, None, False, said)
    try:
        version = Version(run.core_version)
    except InvalidVersion:
        raise UsageError(f"the checked Core has no usable version ({run.core_version!r})") from None
    _below_upper_bound(version, report.store.declared_core, core.package)
    plan = _plan(project, core, version, git, allow_unpublished, listing)
    if not dry_run and plan.changed:
        edits.apply(plan)
    return Bumped(report, plan, written=not dry_run and plan.changed, resolved=said)
