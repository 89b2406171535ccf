"""One invocation, from options to a report: the suite, the Store, the baseline and policy, the shared base
environment and the result cache are prepared once; ``matrix`` expands and schedules the refs; each ref is
checked by a ``RefChecker`` built with all of that; the Store facts the runs learnt are combined once.

    suite -> Store target (built once if local) -> baseline + policy -> base environment -> refs
          -> RefChecker.check(ref) per ref -> Report
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

import contract_check.suite as suites
from contract_check import PACKAGE_DIR, __version__, config
from contract_check.cache.results import ResultCache
from contract_check.config import Options, declared_specifier
from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.models import ExitCode, Report, Run, Source, Status, StoreInfo, Tool, summarise
from contract_check.run import matrix, pytest_session
from contract_check.run.refcheck import (
    Contracts,
    Progress,
    RefChecker,
    SandboxContracts,
    quiet,
    user_targets,
)
from contract_check.run.settings import contract_run, core_source, ref_selection
from contract_check.sandbox import SandboxSettings, baseenv, find_uv, verdict_environment
from contract_check.sandbox.basebuild import environments
from contract_check.sources import index, refs
from contract_check.sources.stores import StoreTarget, install_requirement, pin_newest, resolve_store
from contract_check.suite import golden as golden_io
from contract_check.suite import golden_write
from contract_check.util import fingerprint, fsread, proc
from contract_check.verdict import accept, compatible_range
from contract_check.verdict.classify import Baseline, Policy

log = logging.getLogger("contract_check")


def golden_label(golden: Path | None, cwd: Path) -> str:
    """How the report names a golden baseline: where it is and what it was recorded from, as in
    "golden contract-golden (Core 1.50.15 / Store 0.2.0)" or "golden built-in (Core 1.4.61 / Store 0.6.73)"."""
    if golden is None:
        return "none"
    meta = fsread.read_cached(golden / "metadata.json", limit=fsread.MIB)
    try:
        data = json.loads(meta) if meta else {}
        core = data.get("core")
        store = (data.get("store") or {}).get("version")
    except (ValueError, AttributeError, RecursionError):
        core = store = None
    where = golden.resolve()
    if where == suites.builtin().golden.resolve():
        name = "built-in"
    elif where.is_relative_to(cwd.resolve()):
        name = where.relative_to(cwd.resolve()).as_posix()
    else:
        name = str(where)
    return f"golden {proc.redact(name)} (Core {core or '?'} / Store {store or '?'})"


@dataclass
class Session:
    """What every ref of one invocation shares."""

    options: Options
    cwd: Path
    suite: suites.Suite
    store: StoreTarget
    store_install: str  # what uv installs for the Store (a local project: its wheel, built once from a clean copy)
    golden: Path | None
    baseline: Baseline
    policy: Policy
    releases: Callable[[], list[index.Release]]
    progress: Progress = quiet
    notes: tuple[str, ...] = ()  # said in the report (a golden that does not declare what it holds)

    def contracts(self, environments: baseenv.Environments) -> SandboxContracts:
        return SandboxContracts(
            settings=contract_run(self.options),
            suite=self.suite,
            store=self.store,
            store_install=self.store_install,
            golden=self.golden,
            environments=environments,
            progress=self.progress,
        )

    def checker(self, contracts: Contracts, results: ResultCache | None = None, *, reuse: bool = True) -> RefChecker:
        return RefChecker(
            core=core_source(self.options),
            cwd=self.cwd,
            policy=self.policy,
            baseline=self.baseline,
            contracts=contracts,
            releases=self.releases,
            results=results,
            reuse=reuse,
        )

    @property
    def settings(self) -> SandboxSettings:
        o = self.options
        return SandboxSettings(python=o.python, index=o.index, timeout=o.timeout, keep=o.keep_venv)


def open_session(options: Options, cwd: Path, progress: Progress = quiet, *, need_baseline: bool = True) -> Session:
    """Validate what can be validated before anything is installed, and prepare what every ref shares.
    *need_baseline*: a suite with subjects must have a golden to compare with (not so for ``snapshot``)."""

    @cache
    def releases() -> list[index.Release]:
        progress(f"listing {options.core_package} versions")
        return index.releases(options.core_package, options.index, uv=find_uv())

    python = index.python_version(options.python)  # the sandbox's: hints name only releases it can install
    for ref in options.core_refs:  # every ref is validated before anything is installed (a mistyped version too)
        refs.parse(ref, core_package=options.core_package, cwd=cwd, releases=releases, python=python)
    if options.against and options.against != "pin":  # "pni" is a typo, not a git branch to fetch
        refs.parse(options.against, core_package=options.core_package, cwd=cwd, releases=releases, python=python,
                   flag="--against", keywords=(*refs.KEYWORDS, "pin"))  # fmt: skip
    if options.python is None:  # the sandbox runs this Python: its grammar is the contracts' grammar
        pytest_session.check_user_contracts(options.contracts)
    suite = suites.load(options.suite) if options.suite else suites.builtin()
    store = resolve_store(options.store, cwd, core_package=options.core_package, default_package=options.store_package)
    store = pin_newest(store.with_extras(options.store_extras), options.index, python=python)
    store, install = install_requirement(
        store, settings=options.index, python=options.python, timeout=options.timeout, progress=progress
    )
    golden = options.golden or suite.golden
    # snapshot and --against do not compare with the golden: one that is damaged must not stop them
    loaded = golden_io.read(golden) if need_baseline else None
    golden_dir = loaded.directory if loaded else None
    snapshot = loaded.snapshot if loaded else None
    if snapshot is None and suite.subjects and need_baseline:
        raise UsageError(
            f"there is no golden snapshot in {golden} to compare the subjects of suite {suite.name!r} with",
            tip="record one from a known-good pair: contract-check snapshot --core-ref REF (see --golden)",
        )
    declared = suite.declared_checks(loaded.payload_subjects if loaded else [])
    policy = Policy(
        core_package=options.core_package,
        store_name=store.name,
        store_spec=store.spec,
        declared_core=store.declared_core,
        strict=options.strict,
        declared=tuple(declared),
        acceptances=options.acceptances,
        today=accept.utc_today(),
    )

    baseline = Baseline(snapshot, golden_label(golden_dir, cwd))
    notes = loaded.notes if loaded else ()
    return Session(options, cwd, suite, store, install, golden_dir, baseline, policy, releases, progress, notes)


def result_cache(session: Session, envs: baseenv.Environments) -> ResultCache | None:
    """The result cache, when the Store is pinned (a result about an unpinned Store means nothing later)."""
    options = session.options
    identity = None if options.no_cache or options.keep_venv else session.store.identity()
    if not identity:
        return None
    golden = fingerprint.content_digest(session.golden) if session.golden else None
    contracts = [fingerprint.tree_digest(session.suite.directory), golden]
    contracts += [fingerprint.content_digest(path) for path in options.contracts]
    grouped = user_targets(options.contracts, session.store.project)
    contracts += [_user_config_digest(root, targets) for root, targets in grouped.items()]
    tool = (__version__, fingerprint.tree_digest(PACKAGE_DIR))  # any changed module changes every key
    common = (
        identity,
        contracts,
        options.python or sys.version,
        tool,
        options.strict,
        options.core_package,
        options.index,
        options.with_,
        verdict_environment(),
        envs.identity,
        session.baseline.label,
        [(a.check, a.reason, str(a.until), a.active(session.policy.today or dt.date.min)) for a in options.acceptances],
    )
    return ResultCache(common, declared=list(session.policy.declared))


def _user_config_digest(root: Path, targets: list[Path]) -> str:
    """The pytest configuration that applies to user contracts: the ini file and every conftest.py from the
    project root down to each contracts path (the contracts' own trees are hashed separately)."""
    files: list[Path] = []
    ini = pytest_session.find_ini(targets[0], root)
    if ini is not None:
        files.append(ini)
    for target in targets:
        folder = target.resolve() if target.is_dir() else target.resolve().parent
        for parent in (folder, *folder.parents):
            if (parent / "conftest.py").is_file():
                files.append(parent / "conftest.py")
            if parent == root:
                break
    parts = [(str(path), fingerprint.content_digest(path)) for path in sorted(set(files))]
    return fingerprint.digest(str(root), parts)


def store_info(session: Session, runs: list[Run]) -> StoreInfo:
    """The Store as the report shows it: what was asked for, and what the runs learnt (combined once); the
    version as installed, else as the spec, wheel or project states it (a run stopped early installed none)."""
    store = session.store
    return StoreInfo(
        spec=proc.redact(store.spec),
        name=store.name,
        version=next((r.store_version for r in runs if r.store_version), None) or stated_version(store),
        declared_core=next((r.declared_core for r in runs if r.declared_core), store.declared_core),
        origin=store.origin,
    )


def stated_version(store: StoreTarget) -> str | None:
    """The Store's version before anything is installed: an exact pin (``name==0.6.73``), a wheel's or sdist's
    file name, a project's static ``[project] version``; None when nothing states one."""
    try:
        if store.requirement is not None:
            pins = [s.version for s in Requirement(store.requirement).specifier if s.operator in ("==", "===")]
            return pins[0] if len(pins) == 1 and "*" not in pins[0] else None
        if store.path is not None and store.path.name.endswith(".whl"):
            return str(parse_wheel_filename(store.path.name)[1])
        if store.project is not None:
            project = (config.read_pyproject(store.project) or {}).get("project") or {}
            version = project.get("version")
            return version if isinstance(version, str) and "version" not in (project.get("dynamic") or []) else None
        if store.path is not None:
            return str(parse_sdist_filename(store.path.name)[1])
    except (ValueError, ContractCheckError):  # InvalidRequirement, a file name that is no wheel or sdist
        return None
    return None


def _versions(runs: list[Run], code: int) -> list[Version]:
    found = []
    for run in runs:
        if run.exit_code == code and run.core_version:
            try:
                found.append(Version(run.core_version))
            except InvalidVersion:
                continue
    return found


def summary_extras(
    runs: list[Run], policy: Policy | None, *, several: bool, listing: list[Version] | None = None
) -> dict[str, Any]:
    """What a report says beyond the counts: the range answer (for several refs) and report-level notes
    (acceptances that matched nothing, refs that could not be checked). *listing*: every release the index
    and --find-links list (None: not known, as in ``merge``), for the range answer."""
    extras: dict[str, Any] = {"notes": []}
    if policy and policy.acceptances and policy.today is not None:
        matched = [c.id for r in runs for c in r.checks if c.is_failure or c.status is Status.ACCEPTED]
        extras["notes"] += accept.decide(matched, policy.acceptances, policy.today).unused_notes(policy.today)
    if several:
        compatible = _versions(runs, ExitCode.OK)
        broken = _versions(runs, ExitCode.BROKEN)
        declared = next((r.declared_core for r in runs if r.declared_core), policy.declared_core if policy else None)
        extras["compatible"] = compatible_range.sorted_versions(compatible)
        published = {*_versions([r for r in runs if r.source is Source.INDEX], ExitCode.OK), *(listing or ())}
        try:
            found = compatible_range.suggest(
                compatible, broken, declared, published=published, complete=listing is not None
            )
            extras["suggested_specifier"] = found.specifier
            extras["notes"] += found.notes
        except compatible_range.Inexpressible as exc:
            extras["notes"].append(f"no specifier can be suggested: {exc}")
        unchecked = [r.core_ref for r in runs if r.exit_code not in (ExitCode.OK, ExitCode.BROKEN)]
        if unchecked:
            extras["notes"].append("not counted in the range (could not check): " + ", ".join(unchecked))
    return extras


def build_report(store: StoreInfo, runs: list[Run], *, strict: bool, extras: dict[str, Any] | None = None) -> Report:
    summary = summarise(runs, **(extras or {}))
    return Report(tool=Tool(version=__version__, strict=strict), store=store, runs=runs, summary=summary)


def declared_core(session: Session, envs: baseenv.Environments) -> str | None:
    """The range the Store declares on Core: from its project or wheel when local, else as the shared base
    installed it (a Store from the index); None when neither can tell (no base: ``--keep-venv``)."""
    if session.store.declared_core:
        return session.store.declared_core
    requires = envs.guard.base.requires(session.store.name) if envs.guard else None
    if requires is None:
        return None
    return declared_specifier(requires, session.options.core_package, skip_marked=True) or ""


def live_baseline(session: Session, contracts: Contracts, workdir: Path, declared: str | None) -> Session:
    """``--against REF``: the baseline is produced now, from that Core with the same Store (its own sandbox),
    and written as a golden directory under *workdir*; the session then compares every ref with it.
    *declared*: the Store's range on Core (``declared_core``), for ``--against pin``."""
    options = session.options
    ref = options.against or ""
    if ref == "pin":  # what the Store was last tested with: its declared lower bound
        try:
            ref = str(matrix.required_lower_bound(declared, options.core_package, flag="--against pin", tip=""))
        except UsageError as exc:
            raise UsageError(exc.message, tip=_against_tip(session)) from None
    resolved = session.checker(contracts).resolve(ref)
    session.progress(f"recording the baseline from {resolved.display}")
    outcome = contracts.run(resolved, {}, recording=True)
    broken = [c.id for c in outcome.checks if c.is_failure]
    snapshot, payloads = outcome.artifacts.get("snapshot"), outcome.artifacts.get("payloads")
    if broken or outcome.foreign or not isinstance(snapshot, dict) or not isinstance(payloads, dict):
        why = ", ".join(broken[:8]) or outcome.foreign or "it reported no schemas"
        raise EnvironmentProblem(
            f"could not check: the baseline pair ({resolved.display} with the Store) fails its own contracts: {why}",
            tip="--against needs a Core that works with the Store; check it alone first",
            kind="baseline",
        )
    metadata = golden_io.recorded_from(
        suite=session.suite.name,
        core_ref=resolved.ref,
        store_spec=session.store.spec,
        store_name=session.store.name,
        versions=outcome.versions,
        core_package=options.core_package,
    )
    written = golden_write.write(workdir / "against", golden_io.Content(snapshot, payloads, metadata), cwd=session.cwd)
    golden = golden_io.read(written)
    assert golden is not None  # just written
    version = outcome.versions.get(options.core_package) or "?"
    baseline = Baseline(golden.snapshot, f"against {proc.redact(ref)} ({version})")
    declared_checks = session.suite.declared_checks(golden.payload_subjects)
    policy = dataclasses.replace(session.policy, declared=tuple(declared_checks))
    return dataclasses.replace(session, golden=written, baseline=baseline, policy=policy)


def _against_tip(session: Session) -> str:
    """What to give instead of ``--against pin``: a release the index really has (the newest the sandbox can
    install), or no example when there is no listing."""
    try:
        newest = index.newest(session.releases(), python=index.python_version(session.options.python))
    except ContractCheckError:
        newest = None
    example = f", e.g. --against {newest}" if newest else ""
    return f"give the baseline's ref (the Core the Store was last known to work with){example}"


class Interrupted(KeyboardInterrupt):
    """An interrupt during the checks, with the report of what had finished (the rest marked not run)."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report


def _not_run(ref: str) -> Run:
    return Run(
        core_ref=proc.redact(ref),
        status=Status.ERROR,
        exit_code=ExitCode.INTERRUPTED,
        error="not run: interrupted",
        error_kind="interrupted",
    )


ContractsFactory = Callable[[Session, baseenv.Environments], Contracts]


def check(
    options: Options,
    cwd: Path,
    progress: Progress = quiet,
    *,
    install_logs: dict[str, str] | None = None,
    contracts: ContractsFactory | None = None,
) -> Report:
    """Check every ref the options name and return the report (exit code in ``report.summary``).

    ``install_logs``, when given, receives uv's install output per run (keyed by ``Run.core_ref``; redacted,
    trimmed) for the CI log; it is not part of the report. ``contracts`` makes what runs the contracts for a
    ref (default: ``SandboxContracts``; a test passes a fake). An interrupt raises ``matrix.Interrupted``
    carrying the runs that had finished.
    """
    try:
        session = open_session(options, cwd, progress, need_baseline=not options.against)
    except EnvironmentProblem as exc:  # the Store could not be built, ...: every ref could not be checked
        return _unchecked(options, cwd, exc)
    make = contracts or Session.contracts
    many = len(options.core_refs) > 1 or options.core_range is not None or options.since_pin
    # a base environment serves real sandboxes; a runner given by the caller (a test's fake) needs none
    prepared = (
        environments(session, many=many)
        if contracts is None
        else contextlib.nullcontext(baseenv.Environments(session.settings))
    )
    with prepared as envs, contextlib.ExitStack() as scratch:
        declared = declared_core(session, envs)
        if options.against:
            workdir = scratch.enter_context(tempfile.TemporaryDirectory(prefix="contract-check-baseline-"))
            session = live_baseline(session, make(session, envs), Path(workdir), declared)
        wanted = matrix.expand_refs(ref_selection(options), declared=declared, releases=session.releases)
        runner_ = make(session, envs)
        checker = session.checker(runner_, result_cache(session, envs))
        several = len(wanted) > 1
        try:
            runs = matrix.run_all(checker.check, wanted, options.jobs, progress)
            if envs.guard and envs.guard.tainted:
                runs = _redo(session, envs, make, checker, wanted, runs)
        except matrix.Interrupted as exc:
            runs = [exc.finished.get(ref) or _not_run(ref) for ref in wanted]
            raise Interrupted(build_report(store_info(session, runs), runs, strict=options.strict)) from None
        finally:
            if install_logs is not None:
                install_logs.update(runner_.install_logs)
    extras = summary_extras(runs, session.policy, several=several, listing=_listing(session) if several else None)
    extras["notes"] = [*session.notes, *extras["notes"]]
    return build_report(store_info(session, runs), runs, strict=options.strict, extras=extras)


def _listing(session: Session) -> list[Version] | None:
    """Every release the index lists, for the range answer; None offline (only --find-links are listed) or
    when the index cannot be read."""
    if session.options.offline:
        return None
    try:
        return [r.version for r in session.releases()]
    except ContractCheckError:
        return None


def _unchecked(options: Options, cwd: Path, problem: EnvironmentProblem) -> Report:
    """The report when nothing could be checked at all (the Store did not build, say): one error run per ref."""
    message = problem.message + (f"\ntip: {problem.tip}" if problem.tip else "")
    asked = list(options.core_refs) or [options.core_range or "since-pin"]
    runs = [
        Run(
            core_ref=proc.redact(ref),
            status=Status.ERROR,
            exit_code=problem.exit_code,
            error=proc.redact(message),
            error_kind=problem.kind,
        )
        for ref in asked
    ]
    store = StoreInfo(spec=proc.redact(options.store or options.store_package or "."), origin="")
    with contextlib.suppress(ContractCheckError, OSError):  # what the spec says, if it can be read at all
        target = resolve_store(options.store, cwd, core_package=options.core_package, default_package=None)
        store = store.model_copy(update={"name": target.name, "version": stated_version(target)})
    return build_report(store, runs, strict=options.strict)


def _redo(
    session: Session,
    envs: baseenv.Environments,
    make: ContractsFactory,
    checker: RefChecker,
    wanted: list[str],
    runs: list[Run],
) -> list[Run]:
    """Check again, each in a fresh venv, the refs whose runs may have seen a changed base environment."""
    assert envs.guard is not None
    tainted = [ref for ref in wanted if ref in envs.guard.tainted]
    log.warning(
        "the shared environment changed while it was in use (a contract wrote to it, or the cache was cleaned up); "
        "checking %s again in fresh environments",
        ", ".join(proc.redact(r) for r in tainted),
    )
    fresh_contracts = make(session, envs.without_base())
    fresh = session.checker(fresh_contracts, checker.results, reuse=False)
    redone = {ref: fresh.check(ref) for ref in tainted}
    checker.contracts.install_logs.update(fresh_contracts.install_logs)
    return [redone.get(ref, run) for ref, run in zip(wanted, runs, strict=True)]
