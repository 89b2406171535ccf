"""The check pipeline for one Store and one or more Core refs: resolve, sandbox, run, classify, report."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from contract_check import __version__, config, envcache, fsread, index, refs, runner, schema_layer, suite
from contract_check.config import Options
from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.models import (
    Check,
    ExitCode,
    Layer,
    Report,
    Run,
    Source,
    Status,
    StoreInfo,
    Tool,
    run_exit_code,
    run_status,
    summarise,
)
from contract_check.proc import redact
from contract_check.sandbox import Sandbox, find_uv, scrubbed_env

Progress = Callable[[str], None]


class ResultStore(Protocol):
    """Where finished runs are looked up and kept (matrix.ResultLookup implements it)."""

    def key(self, resolved: refs.ResolvedRef) -> str | None: ...
    def get(self, key: str) -> Run | None: ...
    def put(self, key: str, run: Run) -> None: ...


def _quiet(_: str) -> None:
    pass


INSTALL_LOG_LINES = 200  # uv's install output kept per run (the end says what failed)


def trim_log(text: str, lines: int = INSTALL_LOG_LINES) -> str:
    """The last *lines* lines of *text*, redacted, with a note of how many earlier lines were dropped."""
    kept = text.strip("\n").splitlines()
    dropped = len(kept) - lines
    if dropped > 0:
        kept = [f"[{dropped} earlier lines not shown]", *kept[-lines:]]
    return redact("\n".join(kept))


@dataclass(frozen=True)
class StoreTarget:
    spec: str  # what the user gave (or the default chosen)
    install: str  # what uv installs
    name: str | None
    declared_core: str | None  # from the project's pyproject, when it is a local project
    origin: str


def resolve_store(options: Options, cwd: Path) -> StoreTarget:
    """Which Store to check: --store / config, else the current project if it depends on Core, else the newest."""
    spec = options.store
    if spec is None:
        pyproject = config.read_pyproject(cwd)
        declared = config.depends_on(pyproject, options.core_package)
        if declared is not None:
            name = ((pyproject or {}).get("project") or {}).get("name")
            fsread.check_tree(cwd, "the Store project")  # a FIFO or a device would block its build
            return StoreTarget(".", str(cwd.resolve()), name, declared or None, "the project in the current directory")
        name = config.DEFAULT_STORE_PACKAGE
        return StoreTarget(name, name, name, None, "newest on the index; no Store project in the current directory")
    try:
        path = cwd / Path(spec).expanduser()
    except (RuntimeError, ValueError):  # ~user of an unknown user, or a NUL byte in the name
        path = cwd / spec
    # "name @ https://host/store.whl" is a direct reference, not a path, whatever it ends with
    looks_like_path = "://" not in spec and (
        spec.startswith((".", "/", "~")) or spec.endswith((".whl", ".tar.gz", ".zip"))
    )
    if refs.path_exists(path) and (path.is_dir() or looks_like_path):
        return _store_from_path(spec, path.resolve(), options.core_package)
    if looks_like_path:
        raise UsageError(f"--store {spec!r}: no such file or directory", tip="give a project path or a requirement")
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        raise UsageError(
            f"--store {redact(spec)!r} is neither a path nor a valid requirement: {exc}",
            tip="e.g. --store ../market-data-store or --store market-data-store==0.6.73",
        ) from None
    return StoreTarget(spec, str(req), req.name, None, "--store")


def _store_from_path(spec: str, path: Path, core_package: str) -> StoreTarget:
    if path.is_dir():
        pyproject = config.read_pyproject(path)
        if pyproject is None and not (path / "setup.py").is_file():
            raise UsageError(f"--store {spec!r}: {path} is not a Python project (no pyproject.toml or setup.py)")
        fsread.check_tree(path, "the Store project")  # a FIFO or a device would block its build
        name = ((pyproject or {}).get("project") or {}).get("name")
        return StoreTarget(spec, str(path), name, config.depends_on(pyproject, core_package) or None, "--store")
    try:
        if path.name.endswith(".whl"):
            name = str(parse_wheel_filename(path.name)[0])
        else:
            name = str(parse_sdist_filename(path.name)[0])
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise UsageError(f"--store {spec!r}: {exc}") from None
    return StoreTarget(spec, str(path), name, None, "--store")


def in_range(declared: str | None, version: str | None) -> bool | None:
    if declared is None or version is None:
        return None
    try:
        return SpecifierSet(declared).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None


class Checker:
    """Checks refs against one Store; holds what is shared between refs (the store target, index listing)."""

    def __init__(self, options: Options, cwd: Path, progress: Progress = _quiet) -> None:
        self.options = options
        self.cwd = cwd
        self.progress = progress
        self.store = resolve_store(options, cwd)
        self.store_version: str | None = None
        self.store_declared: str | None = self.store.declared_core
        self.store_name: str | None = self.store.name
        self.guard: envcache.BaseGuard | None = None  # hands out the shared base venv (see matrix.py), if any
        self.results: ResultStore | None = None  # result cache, if enabled
        self.base_requires: list[str] = []  # the Store's Requires-Dist, read from the base env
        # uv's install output per run, keyed like Run.core_ref (redacted, trimmed): for the CI log only,
        # never part of the report
        self.install_logs: dict[str, str] = {}
        self.suite = suite.builtin()
        self.golden: Path | None = self.suite.golden
        # what every run must report: the suite's own checks and the generic layer's
        self.declared = self.suite.declared_checks(runner.golden_payload_subjects(self.golden))

    def pin_default_store(self) -> None:
        """The default Store ("newest on the index") becomes an exact version, reported and cacheable."""
        if not self.store.origin.startswith("newest") or self.store.name is None:
            return
        try:
            found = index.releases(self.store.name, self.options.index, uv=find_uv())
        except ContractCheckError:
            return  # uv will pick the newest itself; the report then reads the version from the sandbox
        newest = index.newest(found)
        if newest is not None:
            self.store = dataclasses.replace(self.store, install=f"{self.store.name}=={newest}")

    def declared_from_base(self) -> str | None:
        return config.declared_specifier(self.base_requires, self.options.core_package, skip_marked=True)

    @cache  # noqa: B019 - one Checker per invocation; the listing is shared by every ref of the run
    def releases(self) -> list[index.Release]:
        self.progress(f"listing {self.options.core_package} versions")
        return index.releases(self.options.core_package, self.options.index, uv=find_uv())

    def resolve(self, ref: str) -> refs.ResolvedRef:
        parsed = refs.parse(ref, core_package=self.options.core_package, cwd=self.cwd)
        return refs.resolve(
            parsed,
            core_package=self.options.core_package,
            core_git=self.options.core_git,
            releases=self.releases,
        )

    def check_ref(self, ref: str) -> Run:
        start = time.monotonic()
        resolved: refs.ResolvedRef | None = None
        phases: dict[str, float] = {}
        try:
            resolved = self.resolve(ref)
            phases["resolve"] = round(time.monotonic() - start, 3)
            key = self.results.key(resolved) if self.results else None
            cached = self.results.get(key) if self.results and key else None
            if cached is not None:
                if self.store_name and not self.store_version:  # the report names the Store's version either way
                    self.store_version = cached.versions.get(self.store_name)
                return cached.model_copy(update={"cached": True, "core_ref": redact(ref)})
            run = self._check_resolved(resolved, start, phases)
            if self.results and key and run.exit_code in (0, 1):
                self.results.put(key, run)
            return run
        except UsageError:
            raise
        except ContractCheckError as exc:
            message = exc.message + (f"\ntip: {exc.tip}" if exc.tip else "")
            return Run(
                core_ref=redact(ref),
                requirement=resolved.display if resolved else None,
                source=resolved.source if resolved else None,
                status=run_status(exc.exit_code),
                exit_code=exc.exit_code,
                duration_s=round(time.monotonic() - start, 3),
                phases=phases,
                error=redact(message),
            )

    def store_reread(self) -> tuple[str, ...]:
        """The Store, when uv must read it again from a local file or directory rather than from its cache."""
        local = self.store.name and refs.path_exists(Path(self.store.install))
        return (self.store.name,) if local and self.store.name else ()

    def _reread(self, resolved: refs.ResolvedRef, cloned: bool) -> tuple[str, ...]:
        """Packages uv must read again from local files rather than answer from its cache (a clone of the
        base environment already holds the Store, read when the base was built)."""
        store = () if cloned else self.store_reread()
        local_links = any("://" not in link or link.startswith("file:") for link in self.options.find_links)
        if resolved.source is Source.PATH or (resolved.source is Source.INDEX and local_links):
            return (self.options.core_package, *store)
        return store

    def execute(self, resolved: refs.ResolvedRef, phases: dict[str, float]) -> runner.Outcome:
        """Sandbox, install, run the contracts; the sandbox is gone when this returns (unless --keep-venv).

        The built-in suite runs sealed; user contracts run in a session of their own, in their project.
        Afterwards every Core and Store module must have come from the sandbox (the Store may also come
        from its own project directory), else the run cannot be judged.
        """
        self.progress(f"creating a virtualenv for {resolved.display}")
        base = self.guard.acquire(resolved.ref) if self.guard else None
        try:
            return self._execute_in(resolved, phases, base)
        finally:
            if self.guard and base is not None:
                self.guard.release(resolved.ref)

    def _execute_in(
        self, resolved: refs.ResolvedRef, phases: dict[str, float], base: envcache.Base | None
    ) -> runner.Outcome:
        options = self.options
        with Sandbox(
            python=options.python,
            index=options.index,
            timeout=options.timeout,
            keep=options.keep_venv,
            base=base.path if base else None,
        ) as box:
            if options.keep_venv:
                logging.getLogger("contract_check").warning("keeping the sandbox at %s", box.root)
            self.progress(f"installing {redact(self.store.spec)} with {resolved.display}")
            try:
                immutable = resolved.source is Source.INDEX
                box.install(
                    [self.store.install, "pytest"],
                    [resolved.requirement],
                    immutable=immutable,
                    reread=self._reread(resolved, cloned=base is not None),
                )
            finally:
                if box.install_log.strip():
                    self.install_logs[redact(resolved.ref)] = trim_log(box.install_log)
            layout = runner.prepare(box.root, self.suite, self.golden)
            self.progress(f"running the contracts against {resolved.display}")
            dists = ",".join(n for n in (options.core_package, self.store_name) if n)
            env = scrubbed_env({"CONTRACT_CHECK_DISTS": dists})
            run = functools.partial(runner.run_builtin, env=env, timeout=options.timeout, strict=options.strict)
            outcome = run(box.interpreter, layout)
            for root, targets in self._user_targets().items():
                user = runner.run_user(
                    box.interpreter, layout, targets, root, env=env, timeout=options.timeout, strict=options.strict
                )
                if user.exitstatus not in (0, 1, 5) or not any(c.layer is Layer.USER for c in user.checks):
                    where = ", ".join(str(t) for t in targets)
                    why = "; ".join(n.strip() for n in user.notes if n.strip()) or (
                        f"pytest exit status {user.exitstatus}" if user.exitstatus is not None else "no result"
                    )
                    outcome.unrun.append(f"the contracts in {where} did not run ({why})")
                outcome.merge(user)
            outcome.foreign = self._foreign_origin(outcome, box.venv)
            phases.update(box.phases)
        return outcome

    def _user_targets(self) -> dict[Path, list[Path]]:
        """User contract paths grouped by the project they belong to (one pytest session each)."""
        store_root = Path(self.store.install) if Path(self.store.install).is_dir() else None
        grouped: dict[Path, list[Path]] = {}
        for path in self.options.contracts:
            grouped.setdefault(runner.project_root(path, store_root), []).append(path)
        return grouped

    def _foreign_origin(self, outcome: runner.Outcome, venv: Path) -> str | None:
        """Why the results cannot be trusted when Core or the Store was imported from outside the sandbox
        (the Store may also come from its own project directory); None when every module came from there."""
        allowed = {self.options.core_package: [venv.resolve()]}
        if self.store_name:
            roots = [venv.resolve()]
            if Path(self.store.install).is_dir():
                roots.append(Path(self.store.install).resolve())
            allowed[self.store_name] = roots
        for dist, modules in outcome.origins.items():
            for module, file in sorted(modules.items()):
                permitted = allowed.get(dist)
                if permitted and not any(Path(file).is_relative_to(root) for root in permitted):
                    return (
                        f"could not check: {module} ({dist}) was imported from {file}, not from the sandbox\n"
                        "tip: a conftest.py, a pytest 'pythonpath' setting or a .pth file puts another copy "
                        "first on sys.path; remove it, or keep it out of the directories the contracts run from"
                    )
        return None

    def _check_resolved(self, resolved: refs.ResolvedRef, start: float, phases: dict[str, float]) -> Run:
        options = self.options
        outcome = self.execute(resolved, phases)
        phases["contracts"] = round(outcome.duration_s, 3)
        versions = outcome.versions
        core_version = versions.get(options.core_package)
        if self.store_name:
            self.store_version = versions.get(self.store_name, self.store_version)
            declared = outcome.requires.get(self.store_name)
            if declared is not None and versions.get(self.store_name):
                found = config.declared_specifier(declared, options.core_package, skip_marked=True)
                if found is None:
                    raise UsageError(
                        f"--store {redact(self.store.spec)}: {self.store_name} does not depend on "
                        f"{options.core_package}, so it is not a Store of this Core",
                        tip="give the Store project or package (or set --core-package to its Core)",
                    )
                self.store_declared = found or self.store_declared
        if core_version is None and outcome.completed:
            raise EnvironmentProblem(
                f"could not check: {resolved.display} installed no {options.core_package}",
                tip="the requirement installed nothing (a marker that excludes this Python, or another name)",
            )
        checks: list[Check] = list(outcome.checks)
        checks += schema_layer.checks(outcome.artifacts, strict=options.strict)
        exit_code, error = classify(checks, outcome, self.declared)
        return Run(
            core_ref=redact(resolved.ref),
            requirement=resolved.display,
            core_version=core_version,
            source=resolved.source,
            in_declared_range=in_range(self.store_declared, core_version),
            status=run_status(exit_code),
            exit_code=exit_code,
            duration_s=round(time.monotonic() - start, 3),
            phases=phases,
            checks=checks,
            error=redact(error) if error else None,
            versions=versions,
        )

    def store_info(self) -> StoreInfo:
        return StoreInfo(
            spec=redact(self.store.spec),
            name=self.store_name,
            version=self.store_version,
            declared_core=self.store_declared,
            origin=self.store.origin,
        )


def classify(checks: list[Check], outcome: runner.Outcome, declared: list[suite.Expected]) -> tuple[int, str | None]:
    """The run's exit code and, when it is not a plain verdict, why.

    A built-in check that ran and failed makes the run BROKEN (1). Otherwise every declared built-in check
    must have a result that is not skipped/xfail, and no pytest session may have timed out: else the run
    could not be checked (3). Only then is it COMPATIBLE (0).
    """
    if outcome.foreign:  # a result about another copy of Core says nothing about this one
        return ExitCode.ENVIRONMENT, outcome.foreign
    exit_code = run_exit_code(checks)
    builtin = {c.id: c.status.value for c in checks if c.layer is not Layer.USER}
    gaps = suite.completeness(declared, builtin)
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


def build_report(store: StoreInfo, runs: list[Run], *, strict: bool) -> Report:
    return Report(tool=Tool(version=__version__, strict=strict), store=store, runs=runs, summary=summarise(runs))


__all__ = ["Checker", "EnvironmentProblem", "build_report", "resolve_store"]
