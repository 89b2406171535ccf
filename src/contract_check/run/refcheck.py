"""One Core ref, checked against the Store: resolve, answer from the result cache or run, classify.

``RefChecker`` receives everything it works with when it is built (the environment factory, the result cache,
the baseline, the policy, the index listing); nothing sets its attributes afterwards, so a test passes fakes
through the constructor. It is safe to call from several threads (``--jobs``).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from contract_check.cache.results import ResultCache
from contract_check.errors import ContractCheckError, EnvironmentProblem, UsageError
from contract_check.models import ExitCode, Layer, Run, Source, run_status
from contract_check.run import pytest_session
from contract_check.run.settings import ContractRun, CoreSource
from contract_check.sandbox import Sandbox, scrubbed_env
from contract_check.sandbox.baseenv import Environments
from contract_check.sources import artifacts, index, refs
from contract_check.sources.index import Release
from contract_check.sources.stores import StoreTarget
from contract_check.suite import Suite
from contract_check.util import fingerprint
from contract_check.util.proc import redact
from contract_check.verdict.classify import Baseline, Policy, classify

log = logging.getLogger("contract_check")
Progress = Callable[[str], None]
INSTALL_LOG_LINES = 200  # uv's install output kept per run (the end says what failed)


def quiet(_: str) -> None:
    pass


def trim_log(text: str, lines: int = INSTALL_LOG_LINES) -> str:
    """The last *lines* lines of *text*, redacted, with a note of how many earlier lines were dropped."""
    kept = text.strip("\n").splitlines()
    dropped = len(kept) - lines
    if dropped > 0:
        kept = [f"[{dropped} earlier lines not shown]", *kept[-lines:]]
    return redact("\n".join(kept))


def user_targets(contracts: tuple[Path, ...], store_project: Path | None) -> dict[Path, list[Path]]:
    """User contract paths grouped by the project they belong to (one pytest session each)."""
    grouped: dict[Path, list[Path]] = {}
    for path in contracts:
        grouped.setdefault(pytest_session.project_root(path, store_project), []).append(path)
    return grouped


def core_requirement(resolved: refs.ResolvedRef, box: Sandbox, core_package: str) -> str:
    """What uv installs for Core: a local Core project is built from a copy in the sandbox (``core-src``), never
    in the user's tree (uv builds a directory in place)."""
    source = resolved.local_path
    if source is None or not source.is_dir():
        return resolved.requirement
    copy = box.root / "core-src"
    fingerprint.copy_project(source, copy)
    return f"{core_package} @ {copy.as_uri()}"


class Contracts(Protocol):
    """Runs the contracts for one resolved ref and says what they said (``SandboxContracts``; a test's fake)."""

    install_logs: dict[str, str]

    def run(
        self, resolved: refs.ResolvedRef, phases: dict[str, float], *, recording: bool = False
    ) -> pytest_session.Outcome: ...


class SandboxContracts:
    """The real ``Contracts``: a sandbox per ref (from *environments*), the Store and Core installed, the suite
    run sealed and the user contracts in sessions of their own, and where Core and the Store came from."""

    def __init__(
        self,
        *,
        settings: ContractRun,
        suite: Suite,
        store: StoreTarget,
        store_install: str,
        golden: Path | None,
        environments: Environments,
        progress: Progress = quiet,
    ) -> None:
        self.settings = settings
        self.suite = suite
        self.store = store
        self.store_install = store_install
        self.golden = golden
        self.environments = environments
        self.progress = progress
        # uv's install output per run, keyed like Run.core_ref (redacted, trimmed): for the CI log only
        self.install_logs: dict[str, str] = {}

    def _core_requirement(self, resolved: refs.ResolvedRef, box: Sandbox) -> str:
        return core_requirement(resolved, box, self.settings.core_package)

    def _reread(self, resolved: refs.ResolvedRef, cloned: bool) -> tuple[str, ...]:
        """Packages uv must read again rather than answer from its cache (a clone of the base environment
        already holds the Store, read when the base was built): a local Store; Core from a path, or from
        --find-links, local or remote (uv's cache keys a find-links file by its name or URL alone, so a wheel
        rebuilt with the same version would be served from it)."""
        store = () if cloned or self.store.path is None or not self.store.name else (self.store.name,)
        if resolved.source is Source.PATH or (resolved.source is Source.INDEX and self.settings.find_links):
            return (self.settings.core_package, *store)
        return store

    def _cacheable_by_uv(self, resolved: refs.ResolvedRef) -> bool:
        """Whether uv's cache may answer for Core without asking again: an index release, unless a remote
        --find-links page could offer it (its files may change behind their URLs)."""
        remote = any("://" in link and not link.startswith("file:") for link in self.settings.find_links)
        return resolved.source is Source.INDEX and not remote

    def run(
        self, resolved: refs.ResolvedRef, phases: dict[str, float], *, recording: bool = False
    ) -> pytest_session.Outcome:
        """Sandbox, install, run the contracts; the sandbox is gone when this returns (unless --keep-venv).

        The suite runs sealed; user contracts run in a session of their own, in their project. Afterwards
        every Core and Store module must have come from the sandbox (the Store may also come from its own
        project directory), else the outcome says the run cannot be judged.
        """
        settings = self.settings
        self.progress(f"creating a virtualenv for {resolved.display}")
        with self.environments.open(resolved.ref) as box:
            self.progress(f"installing {redact(self.store.spec)} with {resolved.display}")
            try:
                box.install(
                    [self.store_install, "pytest", *settings.with_],
                    [self._core_requirement(resolved, box)],
                    immutable=self._cacheable_by_uv(resolved),
                    reread=self._reread(resolved, cloned=box.cloned),
                    pinned=(resolved.requirement, resolved.hashes) if resolved.hashes else None,
                )
                installed = artifacts.installed(box.venv, settings.core_package)  # before any contract runs
            except EnvironmentProblem:
                summary = refs.git_failure(resolved, box.install_log)  # one line; git's own words with -v
                if summary is None:
                    raise
                log.info("uv's output for %s:\n%s", resolved.display, trim_log(box.install_log))
                raise summary from None
            finally:
                if box.install_log.strip():
                    self.install_logs[redact(resolved.ref)] = trim_log(box.install_log)
            layout = pytest_session.prepare(box.root, self.suite, self.golden, recording=recording)
            shutil.rmtree(box.root / "core-src", ignore_errors=True)
            self.progress(f"running the contracts against {resolved.display}")
            dists = ",".join(n for n in (settings.core_package, self.store.name) if n)
            env = scrubbed_env({"CONTRACT_CHECK_DISTS": dists})
            outcome = pytest_session.run_builtin(box, layout, env=env, timeout=settings.timeout, strict=settings.strict)
            for root, targets in user_targets(settings.contracts, self.store.project).items():
                user = pytest_session.run_user(
                    box, layout, targets, root, env=env, timeout=settings.timeout, strict=settings.strict
                )
                if user.exitstatus not in (0, 1, 5) or not any(c.layer is Layer.USER for c in user.checks):
                    where = ", ".join(str(t) for t in targets)
                    why = "; ".join(n.strip() for n in user.notes if n.strip()) or (
                        f"pytest exit status {user.exitstatus}" if user.exitstatus is not None else "no result"
                    )
                    outcome.unrun.append(f"the contracts in {where} did not run ({why})")
                outcome.merge(user)
            outcome.foreign = self._foreign_origin(outcome, box.venv)
            outcome.installed = installed
            phases.update(box.phases)
        return outcome

    def _foreign_origin(self, outcome: pytest_session.Outcome, venv: Path) -> str | None:
        """Why the results cannot be trusted when Core or the Store was imported from outside the sandbox
        (the Store may also come from its own project directory); None when every module came from there."""
        allowed = {self.settings.core_package: [venv.resolve()]}
        if self.store.name:
            allowed[self.store.name] = [venv.resolve(), *([self.store.project] if self.store.project else [])]
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


class RefChecker:
    """One ref at a time: resolve it, answer from the result cache when nothing that decides it changed, else
    run the contracts and classify. Every collaborator is given here."""

    def __init__(
        self,
        *,
        core: CoreSource,
        cwd: Path,
        policy: Policy,
        baseline: Baseline,
        contracts: Contracts,
        releases: Callable[[], list[Release]],
        results: ResultCache | None = None,
        reuse: bool = True,
    ) -> None:
        self.core = core
        self.cwd = cwd
        self.policy = policy
        self.baseline = baseline
        self.contracts = contracts
        self.releases = releases
        self.results = results
        self.reuse = reuse  # answer from the result cache (False: check again, and replace what it holds)

    def resolve(self, ref: str) -> refs.ResolvedRef:
        parsed = refs.parse(ref, core_package=self.core.package, cwd=self.cwd)
        return refs.resolve(
            parsed,
            core_package=self.core.package,
            core_git=self.core.git,
            releases=self.releases,
            python=index.python_version(self.core.python),
            offline=self.core.index.offline,
        )

    def check(self, ref: str) -> Run:
        """The run for *ref*: from the cache when nothing that decides it changed, else checked for real."""
        start = time.monotonic()
        resolved: refs.ResolvedRef | None = None
        phases: dict[str, float] = {}
        try:
            resolved = self.resolve(ref)
            planned = artifacts.plan(resolved, releases=self.releases, pin_git=self.results is not None)
            resolved = dataclasses.replace(resolved, hashes=planned.hashes)  # uv verifies what it installs
            phases["resolve"] = round(time.monotonic() - start, 3)
            key = self.results.key(planned) if self.results else None
            cached = self.results.get(key) if self.results and key and self.reuse else None
            if cached is not None:
                return cached.model_copy(update={"cached": True, "core_ref": redact(ref)})
            outcome = self.contracts.run(resolved, phases)
            phases["contracts"] = round(outcome.duration_s, 3)
            verified, artifact = artifacts.verify(planned, outcome.installed, redact=redact)
            run = classify(
                resolved,
                outcome,
                self.baseline,
                self.policy,
                duration_s=time.monotonic() - start,
                phases=phases,
                artifact=artifact,
            )
            if self.results and key and run.exit_code in (ExitCode.OK, ExitCode.BROKEN):
                if verified:
                    self.results.put(key, run)
                else:  # uv installed something other than what the key names: the next run checks again
                    log.info("not caching %s: the installed Core is not the artifact its key names", resolved.display)
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
                error_kind=getattr(exc, "kind", None),
            )


__all__ = ["Contracts", "RefChecker", "SandboxContracts", "core_requirement", "quiet", "trim_log", "user_targets"]
